"""Streamed, upright, sampled frames at analysis size.

Every frame must be decoded (inter-coded video depends on its neighbours), but only the frames
that are sampled are converted to RGB, and they are converted straight from the decoder's YUV
planes to the small analysis size in one swscale call: converting full-size frames costs more
than decoding them. Nothing is buffered: a 2-minute clip uses the memory of a 4-second one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .errors import InputError

DEFAULT_SAMPLE_FPS = 10.0
DEFAULT_ANALYSIS_LONG_SIDE = 640
# A clip whose packets fail to decode more often than this is reported as damaged, not analysed.
_MAX_DECODE_ERRORS = 50


@dataclass(frozen=True)
class Frame:
    """One sampled frame: its time from the start of the clip, and upright RGB pixels."""

    index: int  # position among the sampled frames (0, 1, 2, ...)
    time_s: float  # presentation time relative to the first frame, in seconds
    rgb: np.ndarray  # H x W x 3 uint8, upright, at analysis size


@dataclass
class DecodeStats:
    """What the decoder met on the way (filled while frames are iterated)."""

    decoded: int = 0
    sampled: int = 0
    errors: int = 0
    last_time_s: float = 0.0


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
) -> Iterator[Frame]:
    """Yield upright frames sampled at about ``sample_fps`` (every frame if the clip is slower).

    ``stats``, when given, is updated as frames are decoded (decode errors, last timestamp).
    Raises :class:`InputError` when the file has no decodable video.
    """
    import av

    stats = stats if stats is not None else DecodeStats()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InputError(f"{os.fspath(path)}: cannot open ({exc})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{os.fspath(path)}: no video stream", code="no_video")
        stream = container.streams.video[0]
        # Frame+slice threading: the decode is the floor of the analysis, so use every core.
        stream.thread_type = "AUTO"
        yield from _sampled(container, stream, sample_fps, long_side, stats)


def _sampled(container, stream, sample_fps: float, long_side: int, stats: DecodeStats):
    period = 1.0 / sample_fps if sample_fps > 0 else 0.0
    next_time = 0.0
    origin: float | None = None
    for frame in _decoded(container, stream, stats):
        if frame.time is None:
            continue
        origin = frame.time if origin is None else origin
        time_s = frame.time - origin
        stats.last_time_s = max(stats.last_time_s, time_s)
        # Half a frame of slack so 30 fps sampled at 10 fps takes every third frame exactly.
        if time_s + 1e-3 < next_time:
            continue
        next_time = max(next_time + period, time_s + period / 2)
        rgb = _upright_rgb(frame, long_side)
        yield Frame(index=stats.sampled, time_s=round(time_s, 6), rgb=rgb)
        stats.sampled += 1


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
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    pixels = rgb.to_ndarray()
    # PyAV's rotation is FFmpeg's: degrees the player turns the picture counter-clockwise,
    # which is exactly what np.rot90 does for k = rotation / 90.
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, k=turns)) if turns else pixels
