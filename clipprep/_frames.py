"""Streamed, upright, sampled frames at analysis size.

Where the time goes, measured on a 30 s 1080p30 H.264 clip on 2 cores (see benchmarks/run.py),
and what is done about it:

- Decoding every frame took 1.2 s. When the clip has at least twice as many frames as are
  sampled, frames that no other frame refers to (most B-frames) are not decoded at all: they can
  never be needed to decode another frame, and the sampler takes the nearest decoded one, at
  most one frame later. That decode took 0.7 s. Should an encoder leave gaps longer than a
  sampling period between reference frames, skipping is switched off for the rest of the clip.
- Only sampled frames are converted, from the decoder's YUV planes straight to analysis size:
  OpenCV's area resize of the planes plus a small YUV→RGB conversion took 1.4 ms a frame,
  swscale's area filter to RGB 3.3 ms (mean difference 1.5/255: OpenCV converts with BT.601).
- Decoding runs in a thread (PyAV releases the GIL while it decodes) and keeps a few converted
  frames ready, so the face models never wait for the decoder and the decoder never waits for
  them. The analysis keeps one core busy, so the decoder gets the others (:func:`spare_cores`):
  on 2 cores FFmpeg's default of 3 frame threads cost more CPU than they saved (a 30 s check
  took 2.3-2.8 s with them, 2.0-2.4 s with one decoding thread).

Nothing piles up: at most ``_PREFETCH`` frames at analysis size are held, so a 2-minute clip
uses the memory of a 4-second one.

Every decoded frame, sampled or not, can leave a :class:`Signature` (thumbnails of its planes,
~0.5 ms at 1080p) for the scene-cut finder (_cuts.py), which locates cuts to the frame. The first
and the last ``_EDGE_S`` of a clip are decoded in full even on the fast path, so a flash of
another shot in a clip's first or last frames (a cut a frame too late) is always seen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import _media as media
from . import _tonemap as tonemap
from ._errors import InputError

DEFAULT_SAMPLE_FPS = 10.0
DEFAULT_ANALYSIS_LONG_SIDE = 640
# A clip whose packets fail to decode more often than this is reported as damaged, not analysed.
_MAX_DECODE_ERRORS = 50
# Converted frames the decoding thread may hold ready (each ~0.7 MB at 640 px).
_PREFETCH = 4
# Full-range ("JPEG") video: OpenCV's conversion assumes limited range, so it goes to swscale.
_FULL_RANGE = 2
# Every frame of the first and last this-many seconds is decoded, even on the fast path.
_EDGE_S = 0.25
_SIGNATURE_SIZE = (64, 36)  # luma thumbnail (width, height); chroma is half that


@dataclass(frozen=True)
class Frame:
    """One sampled frame: its time from the start of the clip, and upright RGB pixels."""

    index: int  # position among the sampled frames (0, 1, 2, ...)
    time_s: float  # presentation time relative to the first frame, in seconds
    rgb: np.ndarray  # H x W x 3 uint8, upright, at analysis size
    # What iter_frames' ``prepare`` made of ``rgb`` on the decoding thread (None without one).
    prepared: object = None


@dataclass
class DecodeStats:
    """What the decoder met on the way (filled while frames are iterated)."""

    decoded: int = 0
    sampled: int = 0
    errors: int = 0
    last_time_s: float = 0.0


@dataclass(frozen=True)
class Signature:
    """A decoded frame in brief, for telling shots apart: luma (36 x 64) and chroma (2 x 18 x
    32) thumbnails, uint8, as stored (not turned upright: a cut is a cut either way)."""

    luma: np.ndarray
    chroma: np.ndarray


def spare_cores() -> int:
    """Cores left when one runs the analysis (at least 1): the decoder's and OpenCV's share."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def analysis_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Scale (width, height) down so the long side is at most ``long_side`` (even numbers)."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def iter_frames(
    path: str | os.PathLike,
    *,
    sample_fps: float = DEFAULT_SAMPLE_FPS,
    long_side: int = DEFAULT_ANALYSIS_LONG_SIDE,
    stats: DecodeStats | None = None,
    skip_unreferenced: bool = True,
    on_decoded: Callable[[float, Signature], None] | None = None,
    duration_s: float | None = None,
    prepare: Callable[[np.ndarray], object] | None = None,
) -> Iterator[Frame]:
    """Yield upright frames sampled at about ``sample_fps`` (every frame if the clip is slower).

    ``stats``, when given, is updated as frames are decoded (decode errors, last timestamp).
    ``skip_unreferenced=False`` decodes every frame even when sampling would allow skipping.
    ``on_decoded(time_s, signature)`` is called for every decoded frame, in display order (from
    the decoding thread). ``duration_s`` (the probed duration) lets the last frames be decoded
    in full. ``prepare(rgb)``, when given, runs on every sampled frame in order on the decoding
    thread (work that needs no face, taken off the analysis thread); its result is
    ``Frame.prepared``. Raises :class:`InputError` when the file has no decodable video.
    """
    stats = stats if stats is not None else DecodeStats()
    with _opened_video(path, threads=spare_cores()) as (container, stream):
        sampler = _Sampler(stream, sample_fps, skip_unreferenced, duration_s)
        frames = _sampled(container, stream, sampler, long_side, stats, on_decoded, prepare)
        yield from _prefetched(frames)


@contextlib.contextmanager
def _opened_video(path: str | os.PathLike, threads: int = media.AUTO):
    """(container, its first video stream set for threaded decoding), closed after the block.
    Raises :class:`InputError` when the file cannot be opened or has no video."""
    with media.open_clip(path) as container:
        stream = media.video_stream(container, threads=threads)
        if stream is None:
            raise InputError(f"{os.fspath(path)}: no video stream", code="no_video")
        yield container, stream


class _Sampler:
    """Decides which decoded frames are sampled, and whether unreferenced frames are decoded."""

    def __init__(
        self, stream, sample_fps: float, skip_unreferenced: bool, duration_s: float | None
    ):
        self.period = 1.0 / sample_fps if sample_fps > 0 else 0.0
        self._next_time = 0.0
        self._last_time: float | None = None
        self._context = stream.codec_context
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        self._may_skip = bool(skip_unreferenced and self.period and rate >= 2 * sample_fps)
        # Skipping runs between the clip's edges, whose frames are all decoded (see _EDGE_S);
        # the decoder works a few frames ahead, so the switch back comes a little early.
        self._skip_until = (duration_s - 2 * _EDGE_S) if duration_s else float("inf")

    def wants(self, time_s: float) -> bool:
        """Whether the frame at ``time_s`` (from the first frame) is sampled."""
        self._watch_gaps(time_s)
        self._watch_edges(time_s)
        # Half a frame of slack so 30 fps sampled at 10 fps takes every third frame exactly.
        if time_s + 1e-3 < self._next_time:
            return False
        self._next_time = max(self._next_time + self.period, time_s + self.period / 2)
        return True

    def _watch_gaps(self, time_s: float) -> None:
        """Decode every frame again once skipping leaves a gap longer than a sampling period."""
        gap = time_s - self._last_time if self._last_time is not None else 0.0
        self._last_time = time_s
        if gap > self.period + 1e-3 and self._context.skip_frame != "DEFAULT":
            self._context.skip_frame = "DEFAULT"
            self._may_skip = False

    def _watch_edges(self, time_s: float) -> None:
        """Skip unreferenced frames only past the clip's first and before its last frames."""
        skipping = self._may_skip and _EDGE_S <= time_s < self._skip_until
        wanted = "NONREF" if skipping else "DEFAULT"
        if self._context.skip_frame != wanted:
            self._context.skip_frame = wanted


def _sampled(
    container, stream, sampler: _Sampler, long_side: int, stats: DecodeStats, on_decoded, prepare
):
    origin: float | None = None
    for frame in _decoded(container, stream, stats):
        if frame.time is None:
            continue
        origin = frame.time if origin is None else origin
        time_s = frame.time - origin
        stats.last_time_s = max(stats.last_time_s, time_s)
        if on_decoded is not None:
            on_decoded(round(time_s, 6), signature(frame))
        if not sampler.wants(time_s):
            continue
        rgb = _upright_rgb(frame, long_side)
        prepared = prepare(rgb) if prepare is not None else None
        yield Frame(index=stats.sampled, time_s=round(time_s, 6), rgb=rgb, prepared=prepared)
        stats.sampled += 1


def _prefetched(frames: Iterator[Frame]) -> Iterator[Frame]:
    """Run ``frames`` in a thread, a few items ahead of the consumer.

    Errors raised while decoding reach the consumer at the point they happened; a consumer that
    stops early (an error of its own, a time limit, Ctrl+C) stops the thread before returning.
    """
    ready: queue.Queue = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for frame in frames:
                if not _put(ready, frame, stop):
                    return
            _put(ready, done, stop)
        except BaseException as exc:  # handed to the consumer, raised there
            _put(ready, exc, stop)
        finally:
            frames.close()

    worker = threading.Thread(target=produce, name="clipprep-decode", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _put(ready: queue.Queue, item, stop: threading.Event) -> bool:
    """Queue ``item`` unless the consumer has gone; False when it has."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _decoded(container, stream, stats: DecodeStats):
    """Decode packet by packet so one corrupt packet costs one frame, not the rest of the clip."""
    import av

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.InvalidDataError, av.FFmpegError):
            stats.errors += 1
            if stats.errors > _MAX_DECODE_ERRORS:
                raise InputError(
                    f"{container.name}: too many decoding errors ({stats.errors})",
                    code="unreadable",
                    hint="the file is damaged; re-export or re-download it",
                ) from None
            continue
        for frame in frames:
            stats.decoded += 1
            yield frame


def _upright_rgb(frame, long_side: int) -> np.ndarray:
    width, height = analysis_size(frame.width, frame.height, long_side)
    if tonemap.hdr_of(frame):  # HLG/PQ code values are not SDR luma: judge what SDR shows
        pixels = tonemap.sdr_rgb(frame, width, height)
    elif _opencv_convertible(frame):
        pixels = _i420_to_rgb(frame, width, height)
    else:
        rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
        pixels = rgb.to_ndarray()
    return np.ascontiguousarray(media.upright(pixels, frame))


def _opencv_convertible(frame) -> bool:
    """8-bit 4:2:0 in limited range with even sides: the layout OpenCV's I420 conversion reads."""
    return (
        frame.format.name == "yuv420p"
        and frame.color_range != _FULL_RANGE
        and frame.width % 2 == 0
        and frame.height % 2 == 0
    )


def _i420_to_rgb(frame, width: int, height: int) -> np.ndarray:
    """Area-resize the Y, U and V planes to analysis size, then convert to RGB there."""
    import cv2

    sizes = ((width, height), (width // 2, height // 2), (width // 2, height // 2))
    resized = [
        cv2.resize(_plane(plane), size, interpolation=cv2.INTER_AREA)
        for plane, size in zip(frame.planes, sizes, strict=True)
    ]
    if int(frame.colorspace or 0) == tonemap.SPACE_BT709:
        return _bt709_to_rgb(*resized)
    i420 = np.concatenate([p.ravel() for p in resized]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def _bt709_to_rgb(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Limited-range BT.709 planes (chroma at half size) to RGB. OpenCV's I420 conversion knows
    only the BT.601 matrix; prepare writes BT.709 (and phones record it), and read with BT.601 a
    prepared astronaut close-up's mean red came out 4.8 levels below its source's. Untagged
    frames stay BT.601, as swscale reads them in prepare, so check and prepare agree."""
    import cv2

    size = luma.shape[::-1]
    chroma = [cv2.resize(plane, size, interpolation=cv2.INTER_LINEAR) for plane in (cb, cr)]
    to_rgb = tonemap.yuv_to_rgb_matrix(tonemap.SPACE_BT709, False, 8) * 255
    return cv2.transform(cv2.merge([luma, *chroma]), to_rgb)  # uint8: rounded, saturated


def _plane(plane) -> np.ndarray:
    """A decoder plane as a (height, width) array, without copying (rows may be padded)."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def signature(frame) -> Signature:
    """Thumbnails of a decoded frame's planes (see :class:`Signature`).

    Every few rows and columns are taken before the area resize: at 1080p that cost 0.5 ms a
    frame, the area resize of the whole plane 7 ms (a mean difference of 0.7/255 between them).
    """
    width, height = _SIGNATURE_SIZE
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        # 10-bit, 4:2:2, RGB...: point-sampled to 8-bit 4:2:0 at twice the thumbnail size, like
        # the strided picking below (0.04-0.7 ms at 1080p; swscale's default filter 0.5-9 ms).
        frame = frame.reformat(
            width=2 * width, height=2 * height, format="yuv420p", interpolation="POINT"
        )
    luma = _thumbnail(_plane(frame.planes[0]), (width, height))
    chroma = [_thumbnail(_plane(p), (width // 2, height // 2)) for p in frame.planes[1:3]]
    return Signature(luma, np.stack(chroma))


def _thumbnail(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    step_y = max(1, plane.shape[0] // (2 * size[1]))
    step_x = max(1, plane.shape[1] // (2 * size[0]))
    picked = np.ascontiguousarray(plane[::step_y, ::step_x])
    return cv2.resize(picked, size, interpolation=cv2.INTER_AREA)


# full_frames_at seeks instead of decoding on when the next wanted frame is this far ahead.
_SEEK_AHEAD_S = 3.0


def full_frames_at(path: str | os.PathLike, times: list[float]) -> list[Frame]:
    """Upright RGB frames at full resolution, one per time in ``times`` (seconds from the first
    frame, as the analysis measures them): the first frame at or after each time, so a sampled
    frame's own time gives that very frame.

    Far-apart times are reached by seeking, not by decoding every frame between them. Raises
    :class:`InputError` when the file has no decodable video or a time lies past its end.
    """
    with _opened_video(path) as (container, stream):
        found = dict(_frames_at(container, stream, sorted(set(times))))
    missing = [t for t in times if t not in found]
    if missing:
        raise InputError(
            f"{os.fspath(path)}: no frame at {missing[0]:.3f} s could be decoded",
            code="unreadable",
        )
    return [dataclasses.replace(found[t], index=i) for i, t in enumerate(times)]


def _frames_at(container, stream, wanted: list[float]) -> Iterator[tuple[float, Frame]]:
    """(wanted time, frame) for each wanted time (sorted) the clip reaches."""
    frames = _timed(container, stream)
    first = next(frames, None)
    if first is None:
        return
    origin, time_s = first[1], 0.0
    frames = itertools.chain([first], frames)
    for target in wanted:
        if target - time_s > _SEEK_AHEAD_S:  # the keyframe a second before, then decode on
            seek_to = origin + target - 1.0
            container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
            frames = _timed(container, stream)
        for frame, stamp in frames:
            time_s = stamp - origin
            if time_s + 1e-3 >= target:
                rgb = _upright_rgb(frame, max(frame.width, frame.height))
                yield target, Frame(0, round(time_s, 6), rgb)
                break
        else:
            return


def _timed(container, stream) -> Iterator[tuple]:
    """(frame, presentation time in s) of each decoded frame that has a time."""
    for frame in _decoded(container, stream, DecodeStats()):
        if frame.time is not None:
            yield frame, frame.time
