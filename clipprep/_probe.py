"""Facts about a media file, read with PyAV without decoding every frame.

``probe(path)`` opens the container, reads the stream headers, demuxes the video packets (no
decoding) to learn the real timestamps, and decodes exactly one frame to learn the display
rotation that phone clips carry. Field names follow ffprobe's spirit: flat, with the unit in the
name (``duration_s``, ``size_bytes``).
"""

from __future__ import annotations

import itertools
import os
import shlex
import stat
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from . import _media as media
from ._errors import InputError

# MP4 and MOV share FFmpeg's "mov" demuxer; the major brand tells them apart.
_QUICKTIME_BRANDS = {"qt"}
# FFmpeg's colour tags (AVColorTransferCharacteristic, AVColorPrimaries, AVColorSpace values) by
# the names ffprobe prints; "unspecified" (2) and anything unlisted read as None.
TRANSFERS = {
    1: "bt709",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    11: "iec61966-2-4",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    18: "arib-std-b67",
}
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020"}
SPACES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
# The transfers of HDR video: HLG (phones, broadcast) and PQ (HDR10, Dolby Vision base layers).
HDR_TRANSFERS = {"arib-std-b67": "hlg", "smpte2084": "pq"}
# Inter-frame gaps that differ from the median by more than this fraction mark variable frame rate.
_VFR_TOLERANCE = 0.25
# ... and it only counts as variable when more than this fraction of the gaps differ.
_VFR_MIN_FRACTION = 0.02


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream. Sizes in pixels, rates in frames per second."""

    codec: str
    profile: str | None
    pix_fmt: str
    bit_depth: int
    coded_width: int
    coded_height: int
    rotation: int  # degrees counter-clockwise that the player turns the picture (FFmpeg's sign)
    width: int  # display size, after rotation
    height: int
    fps: float  # average frame rate
    variable_frame_rate: bool
    frame_count: int  # video packets demuxed
    bit_rate: int | None
    interlaced: bool
    color_transfer: str | None = None  # ffprobe's names: "bt709", "arib-std-b67" (HLG), ...
    color_primaries: str | None = None  # "bt709", "bt2020", ...
    color_space: str | None = None  # the Y'CbCr matrix: "bt709", "bt2020nc", ...
    hdr: str | None = None  # "hlg" or "pq" when the transfer is HDR, else None

    @property
    def short_side(self) -> int:
        """The shorter display side in pixels (720 for 720p, whatever the orientation)."""
        return min(self.width, self.height)

    @property
    def aspect(self) -> float:
        """Long side over short side (>= 1), the same for portrait and landscape."""
        return max(self.width, self.height) / max(1, self.short_side)


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream."""

    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Probe:
    """What a file is, before any analysis."""

    path: str
    size_bytes: int
    container: str  # "mp4", "mov", "webm", "matroska", ... (FFmpeg names, MP4/MOV told apart)
    container_long: str
    duration_s: float
    duration_source: str  # "header" or "packets" (the header had none)
    video: VideoInfo | None
    audio: AudioInfo | None

    @property
    def is_mp4(self) -> bool:
        """True for an MP4 container (not MOV, not anything else)."""
        return self.container == "mp4"

    def to_dict(self) -> dict:
        """The probe as JSON-ready data."""
        data = asdict(self)
        if self.video:
            data["video"]["short_side"] = self.video.short_side
            data["video"]["aspect"] = round(self.video.aspect, 4)
        return data


LIMIT_HINT = (
    "a characters clip is 2–4 s of at most 1080p; raise the limit in the profile "
    "(Profile.limits) if this file is really wanted"
)


def limit_error(message: str) -> InputError:
    """The error for a file past one of the profile's analysis limits."""
    return InputError(message, code="limit_exceeded", hint=LIMIT_HINT)


def probe(path: str | os.PathLike, *, max_pixels: int | None = None) -> Probe:
    """Read the facts about a media file; raise :class:`InputError` when it cannot be read.

    ``max_pixels``: refuse (``limit_exceeded``) a video whose coded size, read from the stream
    header, is larger, before any frame is decoded (one 16000×16000 frame is 384 MB and more).
    """
    path = Path(path)
    size = checked_size(path)
    import av  # heavy: imported only when a file is actually probed

    with media.open_clip(path, max_pixels=max_pixels) as container:
        try:
            return _probe_open(container, path, size, max_pixels)
        except av.FFmpegError as exc:
            raise InputError(
                f"{path.name}: the file is damaged ({media.reason(exc)})",
                hint="re-export or re-download the clip",
            ) from None


def checked_size(path: Path) -> int:
    """The size of a file that can be read as a clip; :class:`InputError` for anything else
    (missing, a folder, a FIFO or device, unreadable, empty). Opens nothing."""
    try:
        info = path.stat()  # follows symlinks: a dangling one is "no such file"
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", hint="check the path") from None
    except PermissionError:
        raise InputError(
            f"{path}: permission denied", hint="check the folder's permissions"
        ) from None
    except OSError as exc:  # a symlink loop, a name too long, ...
        raise InputError(
            f"{path}: cannot be read ({exc.strerror})", hint="check the path"
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(
            f"{path}: is a folder, not a video file",
            hint=f"`clipprep batch {shlex.quote(str(path))}` checks every clip in a folder",
        )
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise InputError(f"{path}: not a regular file", hint="pass a video file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied", hint="check the file's permissions")
    if info.st_size == 0:
        raise InputError(f"{path.name}: the file is empty (0 bytes)", hint="re-export the clip")
    return info.st_size


def _probe_open(container, path: Path, size: int, max_pixels: int | None) -> Probe:
    video_stream = media.video_stream(container)
    audio_stream = container.streams.audio[0] if container.streams.audio else None
    header_duration = _header_duration(container, video_stream)
    video = None
    timestamps: list[float] = []
    if video_stream is not None and video_stream.codec_context is None:
        raise InputError(
            f"{path.name}: the video codec is not recognised (damaged header?)",
            hint="re-export the clip as H.264 MP4",
        )
    if video_stream is not None:
        _check_coded_size(video_stream.codec_context, path, max_pixels)
        timestamps, first = _scan_video(container, video_stream)
        video = _video_info(video_stream, timestamps, first)
    if header_duration is not None:
        duration, source = header_duration, "header"
    else:
        duration, source = _duration_from_packets(timestamps, video), "packets"
    return Probe(
        path=str(path),
        size_bytes=size,
        container=_container_name(container, path),
        container_long=container.format.long_name,
        duration_s=round(duration, 6),
        duration_source=source,
        video=video,
        audio=_audio_info(audio_stream) if audio_stream else None,
    )


def _check_coded_size(ctx, path: Path, max_pixels: int | None) -> None:
    if max_pixels and (ctx.width or 0) * (ctx.height or 0) > max_pixels:
        raise limit_error(
            f"{path.name}: {ctx.width}×{ctx.height} is over the {max_pixels / 1e6:.1f} Mpx "
            "analysis limit"
        )


def _container_name(container, path: Path) -> str:
    names = container.format.name.split(",")
    if "mp4" in names:
        brand = container.metadata.get("major_brand", "").strip().lower()
        return "mov" if brand in _QUICKTIME_BRANDS else "mp4"
    # One demuxer serves several formats (matroska,webm): the extension picks among its names.
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in names else names[0]


def _header_duration(container, stream) -> float | None:
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE is microseconds
    return None


def _scan_video(container, stream):
    """One pass over the video packets: every presentation time (seconds, sorted), and the
    first decoded frame (it carries the display rotation). Only that one frame is decoded."""
    base = stream.time_base or Fraction(1, 90000)
    times: list[float] = []
    first = None
    for packet in container.demux(stream):
        if packet.pts is not None and packet.size:
            times.append(float(packet.pts * base))
        if first is None:
            # packet.size == 0 is the flush packet at the end: it drains the decoder.
            first = next(iter(packet.decode()), None)
    times.sort()
    return times, first


def _duration_from_packets(timestamps: list[float], video: VideoInfo | None) -> float:
    if not timestamps:
        return 0.0
    frame_time = 1.0 / video.fps if video and video.fps > 0 else 0.0
    return timestamps[-1] - timestamps[0] + frame_time


def _video_info(stream, timestamps: list[float], first) -> VideoInfo:
    ctx = stream.codec_context
    rotation = int(first.rotation) % 360 if first is not None else 0
    coded_w, coded_h = ctx.width, ctx.height
    turned = rotation in (90, 270)
    pix_fmt = ctx.pix_fmt or (first.format.name if first is not None else "unknown")
    return VideoInfo(
        codec=ctx.name,
        profile=ctx.profile,
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(pix_fmt),
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        width=coded_h if turned else coded_w,
        height=coded_w if turned else coded_h,
        fps=_fps(stream, timestamps),
        variable_frame_rate=_is_variable(timestamps),
        frame_count=len(timestamps),
        bit_rate=ctx.bit_rate or None,
        interlaced=bool(first is not None and first.interlaced_frame),
        **_colour(first or ctx),
    )


def _colour(tagged) -> dict:
    """The colour tags of a decoded frame (or, failing one, the codec context) by name."""
    transfer = TRANSFERS.get(int(tagged.color_trc or 0))
    return {
        "color_transfer": transfer,
        "color_primaries": PRIMARIES.get(int(tagged.color_primaries or 0)),
        "color_space": SPACES.get(int(tagged.colorspace or 0)),
        "hdr": HDR_TRANSFERS.get(transfer),
    }


def _bit_depth(pix_fmt: str) -> int:
    import av

    try:
        components = av.VideoFormat(pix_fmt).components
    except (ValueError, av.FFmpegError):
        return 8
    return max((c.bits for c in components), default=8)


def _fps(stream, timestamps: list[float]) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return float(rate)
    if len(timestamps) > 1:
        return (len(timestamps) - 1) / max(1e-9, timestamps[-1] - timestamps[0])
    return 0.0


def _is_variable(timestamps: list[float]) -> bool:
    if len(timestamps) < 3:
        return False
    gaps = sorted(b - a for a, b in itertools.pairwise(timestamps))
    median = gaps[len(gaps) // 2]
    if median <= 0:
        return True
    off = sum(1 for g in gaps if abs(g - median) > _VFR_TOLERANCE * median)
    return off > _VFR_MIN_FRACTION * len(gaps)


def _audio_info(stream) -> AudioInfo:
    ctx = stream.codec_context
    if ctx is None:  # a damaged or exotic header: the track exists, its codec is unknown
        return AudioInfo(codec="unknown", sample_rate=0, channels=0)
    return AudioInfo(codec=ctx.name, sample_rate=ctx.sample_rate or 0, channels=ctx.channels or 0)
