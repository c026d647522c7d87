"""``prepare``: write the clip the characters service should receive.

Cut to the best window (or one given), frame-accurate — every frame is decoded and re-encoded, so
the first output frame is the frame at the start, not the keyframe before it — with the audio cut
at the same instant. Rotation is applied to the pixels; a too-wide picture (or one given an
``aspect``) is cropped around the character (its face track, or its subject box); the short side is
brought within 720–1080 px (never upscaled unless asked); the result is 8-bit H.264 + AAC at a
constant frame rate with the ``moov`` atom first, its pictures converted with the BT.709 matrix in
limited range and tagged so (see :data:`BT709`). The output is written atomically, never over an
existing file unless ``force``, never over the input, and checked again before ``prepare`` returns.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import _media as media
from . import _tonemap as tonemap
from ._errors import InputError, PrepareError, UsageError
from ._files import temporary_name_beside
from ._options import Options, options_of, refuse_both
from ._probe import Probe, VideoInfo
from ._profiles import Profile, ratio_value
from ._report import Report
from ._vocab import TargetKind, Verdict

AUDIO_RATE = 48000
ASPECTS = {"16:9": 16 / 9, "9:16": 9 / 16, "1:1": 1.0}
_MAX_FPS = 60.0  # faster sources are resampled: the services gain nothing from more
# Over the profile's upload size, the clip is encoded again this much worse (x264 CRF: +4 is
# about 40% smaller), at most up to _MAX_CRF (beyond, the picture falls apart).
_CRF_STEP = 4
_MAX_CRF = 38
# The output's colour, written into the H.264 stream (VUI) and the MP4 ``colr`` box: BT.709
# primaries, transfer and matrix, limited ("tv") range (AVColorPrimaries / AVColorTransfer-
# Characteristic / AVColorSpace / AVColorRange values). Untagged, players guess BT.709 for HD and
# BT.601 for SD, while swscale converts RGB with BT.601: an untagged HD file showed shifted
# colours (astronaut red +3.9 levels). Tagged, players and tag-honouring re-encodes (FFmpeg) read
# it as written, whatever its size; the SDR picture (and the tone-mapped HDR one) is BT.709 RGB.
BT709 = {"color_primaries": 1, "color_trc": 1, "colorspace": 1, "color_range": 1}


@dataclass(frozen=True)
class Plan:
    """What prepare will do, decided before any pixel is touched."""

    start_s: float
    end_s: float
    crop: tuple[int, int, int, int]  # x, y, width, height in the upright source picture
    size: tuple[int, int]  # output width, height
    fps: float
    audio: str  # "aac" (re-encoded), "silent" (added), "none"
    operations: list[dict] = field(default_factory=list)


@dataclass
class Prepared:
    """The result of :func:`prepare`."""

    input: str
    output: str
    plan: Plan
    before: Probe
    after: Probe
    report: Report  # the prepared file, checked again
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """The prepared file's verdict (``ready`` when all went well)."""
        return self.report.verdict

    def to_dict(self) -> dict:
        """JSON-ready data: input, output, window, operations, probes, the re-check."""
        return {
            "input": self.input,
            "output": self.output,
            "window": {"start": round(self.plan.start_s, 3), "end": round(self.plan.end_s, 3)},
            "operations": self.plan.operations,
            "warnings": self.warnings,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "verdict": self.verdict,
            "report": self.report.to_dict(),
        }


def default_output(path: str | os.PathLike) -> Path:
    """``clip.mov`` -> ``clip.prepared.mp4`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prepared.mp4")


def plan(
    report: Report,
    profile: Profile,
    *,
    start: float | None = None,
    end: float | None = None,
    aspect: str | None = None,
    allow_upscale: bool = False,
) -> tuple[Plan, list[str]]:
    """Decide the cut, crop, size, rate and audio for a checked clip; also return warnings."""
    facts = report.probe
    if facts is None or facts.video is None:
        raise InputError(f"{report.path}: no readable video", code="unreadable")
    if aspect is not None and profile.aspects and aspect not in profile.aspects:
        raise UsageError(
            f"--aspect {aspect}: {profile.name} takes only {' or '.join(profile.aspects)}",
            hint="leave --aspect out: prepare crops to the profile's shape",
        )
    start_s, end_s = _span(report, profile, start, end)
    crop = _crop_box(facts.video, report, start_s, end_s, profile, aspect)
    size, warnings = _output_size(crop[2], crop[3], profile, allow_upscale)
    fps = min(facts.video.fps or 30.0, _MAX_FPS, profile.max_fps or _MAX_FPS)
    audio = "aac" if facts.audio else ("silent" if profile.add_silent_audio else "none")
    chosen = Plan(start_s, end_s, crop, size, fps, audio)
    chosen.operations.extend(_operations(facts, chosen))
    return chosen, warnings


def _span(report: Report, profile: Profile, start, end) -> tuple[float, float]:
    duration = report.probe.duration_s
    low, high = profile.min_duration_s, profile.max_duration_s
    if start is not None or end is not None:
        start = 0.0 if start is None else start
        end = min(duration, start + high) if end is None else end
        _refuse_reversed(start, end)
        if not (0 <= start < end <= duration + 1e-6):
            raise UsageError(
                f"--start/--end {start:g}–{end:g} s is outside the clip (0–{duration:.2f} s)"
            )
        if not (low - 1e-6 <= end - start <= high + 1e-6):
            raise UsageError(
                f"--start/--end give {end - start:.2f} s; the service needs {low:g}–{high:g} s"
            )
        return start, end
    window = report.best_window
    if window is None:
        raise PrepareError(
            f"{report.path}: no {low:g}–{high:g} s window to keep "
            f"(the clip lasts {duration:.2f} s)",
            hint=f"record at least {low:g} s of the character",
        )
    if duration <= high and not any(p.fixable and p.code != "too_long" for p in report.errors):
        return 0.0, duration  # already the right length and nothing to cut away: keep it all
    return window.start_s, window.end_s


def _character_centre(report: Report, start: float, end: float) -> tuple[float, float] | None:
    """Median centre of the character (its face, or its subject box when the clip was judged
    by its subject) over the kept span, in fractions of the upright frame."""
    prefix = "subject_" if report.analysis.get("target") == TargetKind.SUBJECT else "face_"
    boxes = [
        [getattr(m, prefix + side) for side in ("x", "y", "w", "h")]
        for m in report.frames
        if start - 1e-6 <= m.time_s < end
    ]
    centres = [(x + w / 2, y + h / 2) for x, y, w, h in boxes if x is not None]
    if not centres:
        return None
    return statistics.median(c[0] for c in centres), statistics.median(c[1] for c in centres)


def _crop_box(video: VideoInfo, report, start, end, profile, aspect) -> tuple[int, int, int, int]:
    width, height = video.width, video.height
    ratio = width / height
    if aspect is not None:
        target = ASPECTS[aspect]
    elif profile.aspects:  # the allowed ratio nearest the picture's (16:9 for landscape)
        target = min(map(ratio_value, profile.aspects), key=lambda r: abs(math.log(r / ratio)))
    elif max(ratio, 1 / ratio) > profile.max_aspect:
        target = profile.max_aspect if ratio > 1 else 1 / profile.max_aspect
    else:
        return 0, 0, width, height
    # Rounded down: rounding up made 2880×960 at 2.67:1 a 2564×960 crop, wider than the rule.
    crop_w, crop_h = (
        (_floor(height * target), height) if ratio > target else (width, _floor(width / target))
    )
    centre = _character_centre(report, start, end) or (0.5, 0.5)
    x = min(max(0, round(centre[0] * width - crop_w / 2)), width - crop_w)
    y = min(max(0, round(centre[1] * height - crop_h / 2)), height - crop_h)
    return x, y, crop_w, crop_h


def _floor(value: float) -> int:
    """``value`` rounded down, forgiving float noise (2.67 * 960 is 2563.2; 720.0000001 is 720)."""
    return int(np.floor(value + 1e-6))


def _even_below(value: float) -> int:
    return max(2, _floor(value) // 2 * 2)


def _output_size(width: int, height: int, profile: Profile, allow_upscale: bool):
    """The output size for a ``width``×``height`` crop, and warnings: scaled so the short side
    lies within the profile's bounds and the frame has the pixels it asks for (upscaled only if
    allowed), both sides even, rounded so the picture never gets wider than the crop. Both
    orientations alike."""
    short, long = min(width, height), max(width, height)
    scale, warnings = _scale(width, height, profile, allow_upscale)

    def long_for(out_short: int) -> int:
        # The long side follows the short one in proportion, rounded down, so the aspect never
        # grows past the crop's; an exact ratio: 1080 high at 16:9 is 1920 wide, not 1918.
        out_long = max(out_short, _even_below(long * out_short / short))
        if profile.aspects:
            exact = min(map(ratio_value, profile.aspects), key=lambda r: abs(r * short / long - 1))
            out_long = max(out_short, 2 * round(out_short * max(exact, 1 / exact) / 2))
        while out_long > out_short and out_long / out_short > profile.max_aspect:
            out_long -= 2
        return out_long

    # The short side rounded down to even stays within even bounds.
    out_short = _even_below(short * scale)
    out_long = long_for(out_short)
    if profile.min_frame_pixels and out_short * out_long < profile.min_frame_pixels:
        if allow_upscale:  # a pixel count (Seedance): a square frame needs a longer short side
            while out_short * out_long < profile.min_frame_pixels:
                out_short += 2
                out_long = long_for(out_short)
            warnings.append(
                f"upscaled {width}×{height} to {out_short * out_long:,} pixels a frame, the "
                "service's minimum: upscaling adds no detail, the service sees a soft picture"
            )
        else:
            warnings.append(
                f"kept {out_short * out_long:,} pixels a frame: below "
                f"{profile.min_frame_pixels:,} the service will refuse it (--allow-upscale to "
                "enlarge it anyway)"
            )
    return ((out_long, out_short) if width >= height else (out_short, out_long)), warnings


def _scale(width: int, height: int, profile: Profile, allow_upscale: bool):
    short = min(width, height)
    warnings = []
    scale = 1.0
    if short > profile.max_short_side:
        scale = profile.max_short_side / short
    elif short < profile.min_short_side:
        if allow_upscale:
            scale = profile.min_short_side / short
            warnings.append(
                f"upscaled {width}×{height} to {profile.min_short_side}p: upscaling adds no "
                "detail, the service sees a soft picture"
            )
        else:
            warnings.append(
                f"kept {width}×{height}: below {profile.min_short_side}p, the service will "
                "refuse it (--allow-upscale to enlarge it anyway)"
            )
    if profile.max_frame_pixels and width * height * scale**2 > profile.max_frame_pixels:
        scale = math.sqrt(profile.max_frame_pixels / (width * height))
    return scale, warnings


def _operations(facts: Probe, chosen: Plan) -> list[dict]:
    video = facts.video
    ops = []
    if chosen.start_s > 0 or chosen.end_s < facts.duration_s - 1e-3:
        ops.append({"op": "trim", "detail": f"{chosen.start_s:.3f}–{chosen.end_s:.3f} s"})
    if video.rotation:
        ops.append({"op": "rotate", "detail": f"{video.rotation}° applied to the pixels"})
    x, y, w, h = chosen.crop
    if (w, h) != (video.width, video.height):
        ops.append({"op": "crop", "detail": f"{w}×{h} at ({x}, {y})"})
    if chosen.size != (w, h):
        ops.append({"op": "scale", "detail": f"{w}×{h} -> {chosen.size[0]}×{chosen.size[1]}"})
    if video.hdr:
        ops.append(
            {
                "op": "tonemap",
                "detail": f"{tonemap.describe(video.hdr)} {video.color_primaries or 'bt2020'} "
                f"{video.bit_depth}-bit -> SDR BT.709",
            }
        )
    ops.append(
        {
            "op": "transcode",
            "detail": f"{video.codec} {video.pix_fmt} -> h264 yuv420p BT.709, "
            f"constant {chosen.fps:.3g} fps",
        }
    )
    audio = {"aac": "re-encoded as AAC", "silent": "silent track added", "none": "no audio"}
    ops.append({"op": "audio", "detail": audio[chosen.audio]})
    return ops


def write(
    source: str | os.PathLike,
    output: str | os.PathLike,
    chosen: Plan,
    profile: Profile,
    *,
    force: bool = False,
    on_frame: Callable[[int, int], None] | None = None,
) -> int:
    """Encode ``source`` into ``output`` following ``chosen``, atomically; return the x264 CRF
    used: the profile's, or a higher one when the file had to be smaller than the profile's
    ``max_upload_bytes`` (encoded again ``_CRF_STEP`` worse each time, up to ``_MAX_CRF``).

    ``on_frame(done, total)`` is called after each output frame (progress; tests interrupt
    through it).
    """
    output = Path(output)
    if not output.parent.is_dir():
        raise UsageError(f"{output.parent}: no such folder")
    temporary = temporary_name_beside(output, suffix=".part.mp4")  # _encode creates it
    crf = profile.output_crf
    try:
        while True:
            encoding = dataclasses.replace(profile, output_crf=crf)
            _encode(Path(source), temporary, chosen, encoding, on_frame)
            if not _over_upload_size(temporary, profile) or crf >= _MAX_CRF:
                break
            crf = min(_MAX_CRF, crf + _CRF_STEP)
        _publish(temporary, output, force)
    finally:
        temporary.unlink(missing_ok=True)
    return crf


def _over_upload_size(path: Path, profile: Profile) -> bool:
    limit = profile.max_upload_bytes
    return bool(limit) and path.stat().st_size > limit


def _exists(output: Path) -> UsageError:
    return UsageError(f"{output} exists", code="output_exists", hint="use --force to replace it")


def _publish(temporary: Path, output: Path, force: bool) -> None:
    """Move the finished file into place: replace only with ``force``; otherwise a hard link,
    which fails if the name was taken meanwhile, so nothing is ever overwritten by a race."""
    if force:
        os.replace(temporary, output)
        return
    try:
        os.link(temporary, output)
    except FileExistsError:
        raise _exists(output) from None
    except OSError:  # no hard links here (some network or FAT volumes): check, then rename
        if output.exists():
            raise _exists(output) from None
        os.replace(temporary, output)


def _encode(source: Path, target: Path, chosen: Plan, profile: Profile, on_frame) -> None:
    import av

    with (
        media.open_clip(source) as inp,
        av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        vin = media.video_stream(inp, threads=media.AUTO)
        ain = inp.streams.audio[0] if inp.streams.audio and chosen.audio == "aac" else None
        rate = Fraction(chosen.fps).limit_denominator(1001)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height = chosen.size
        vout.pix_fmt = "yuv420p"
        vout.options = {"crf": str(profile.output_crf), "preset": profile.output_preset}
        for name, value in BT709.items():
            setattr(vout.codec_context, name, value)
        aout = _audio_stream(out) if chosen.audio != "none" else None
        pictures = _Pictures(vout, out, chosen, on_frame)
        sound = _Sound(aout, out, chosen) if aout is not None else None
        origin = _first_video_time(inp, vin)
        _seek_before(inp, vin, origin + chosen.start_s)
        streams = [s for s in (vin, ain) if s is not None]
        for packet in inp.demux(streams):
            for frame in _decode(packet):
                if packet.stream is vin:
                    pictures.add(frame, frame.time - origin if frame.time is not None else None)
                elif sound is not None and frame.time is not None:
                    # Cut at the window's start: the first picture lies within half a frame of it.
                    sound.add(frame, frame.time - origin - chosen.start_s)
            if pictures.done and (ain is None or sound.done):
                break
        pictures.finish()
        if sound is not None:
            sound.finish(pictures.count / float(rate))


def _decode(packet):
    import av

    try:
        return packet.decode()
    except (av.InvalidDataError, av.FFmpegError):
        return []  # a damaged packet costs its frame; the slot is filled by its neighbour


def _first_video_time(container, stream) -> float:
    """The time of the first video frame: the zero the analysis measured its window from."""
    for frame in container.decode(stream):
        if frame.time is not None:
            return frame.time
    raise InputError(f"{container.name}: no video frame could be decoded", code="unreadable")


def _seek_before(container, stream, seconds: float) -> None:
    # Land a second early on the keyframe before: decoding from there makes the cut exact.
    target = max(0.0, seconds - 1.0)
    container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)


def _audio_stream(out):
    stream = out.add_stream("aac", rate=AUDIO_RATE)
    stream.layout = "stereo"
    return stream


class _Pictures:
    """Turns decoded frames into constant-rate output: each output slot k (time k / fps after
    the start) shows the last source frame at or before it, so variable-rate sources come out
    steady and the first output frame is the source frame at the start."""

    def __init__(self, stream, container, chosen: Plan, on_frame):
        self._stream, self._container, self._plan, self._on_frame = (
            stream,
            container,
            chosen,
            on_frame,
        )
        self._total = max(1, round((chosen.end_s - chosen.start_s) * chosen.fps))
        self._pending = None
        self.count = 0

    @property
    def done(self) -> bool:
        """True once every output frame has been written."""
        return self.count >= self._total

    def add(self, frame, time_s: float | None) -> None:
        """Offer the next decoded source frame (time relative to the clip's first frame)."""
        if time_s is None or self.done:
            return
        slot = round((time_s - self._plan.start_s) * self._plan.fps)
        if slot < 0:
            self._pending = frame  # before the start: kept only in case nothing lands on slot 0
            return
        while self._pending is not None and self.count < min(slot, self._total):
            self._emit(self._pending)
        self._pending = frame

    def finish(self) -> None:
        """Write the last frame into the remaining slots and drain the encoder."""
        while self._pending is not None and not self.done:
            self._emit(self._pending)
        if self.count == 0:
            raise InputError(
                "no video frame in the chosen window could be decoded", code="unreadable"
            )
        self._container.mux(self._stream.encode())

    def _emit(self, frame) -> None:
        import av

        picture = _transform(frame, self._plan)
        # Converted here, not by the encoder's default (BT.601): the stream is tagged BT.709.
        out = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
            format="yuv420p",
            dst_colorspace="itu709",
            dst_color_range="MPEG",
            dst_color_trc=BT709["color_trc"],
            dst_color_primaries=BT709["color_primaries"],
        )
        out.pts = self.count
        self._container.mux(self._stream.encode(out))
        self.count += 1
        if self._on_frame is not None:
            self._on_frame(self.count, self._total)


def _transform(frame, chosen: Plan) -> np.ndarray:
    """Upright, cropped, scaled RGB for one source frame."""
    import cv2

    turns = media.quarter_turns(frame)
    pixels = _hdr_to_sdr(frame, chosen, turns) if tonemap.hdr_of(frame) else _sdr_rgb(frame)
    pixels = media.upright(pixels, frame)
    x, y, w, h = chosen.crop
    pixels = pixels[y : y + h, x : x + w]
    if pixels.shape[1::-1] != chosen.size:
        shrink = chosen.size[0] < w
        pixels = cv2.resize(
            pixels, chosen.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4
        )
    return np.ascontiguousarray(pixels)


def _sdr_rgb(frame) -> np.ndarray:
    """An SDR frame as RGB by its matrix tag (BT.601 when untagged, as the analysis reads it).
    swscale's default conversion came out 1.1-1.4 levels dark on every channel; with exact
    rounding and full chroma interpolation it is within 0.2, for 1.1 -> 13 ms CPU per 1080p
    frame (a 4 s 1080p write: 7.4-7.7 -> 9.1-9.7 s CPU, beside x264)."""
    from av.video.reformatter import Interpolation

    exact = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    return frame.reformat(format="rgb24", interpolation=exact).to_ndarray()


def _hdr_to_sdr(frame, chosen: Plan, turns: int) -> np.ndarray:
    """An HDR frame tone-mapped to SDR RGB (stored orientation): straight at the output size when
    the whole picture is kept and shrunk (a 4K phone clip: a quarter of the pixels to convert),
    else at its own size."""
    upright = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    width, height = chosen.size
    if chosen.crop != (0, 0, *upright) or width >= upright[0]:
        return tonemap.sdr_rgb(frame)
    return tonemap.sdr_rgb(frame, *((height, width) if turns % 2 else (width, height)))


class _Sound:
    """Audio cut at the same instant as the pictures, resampled to 48 kHz stereo AAC."""

    def __init__(self, stream, container, chosen: Plan):
        import av

        self._stream, self._container = stream, container
        self._length = chosen.end_s - chosen.start_s
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self._written = 0  # samples
        self._cursor: float | None = None  # time (s, relative to the cut) of the next sample

    @property
    def done(self) -> bool:
        """True once audio up to the end of the cut has been written."""
        return self._written >= round(self._length * AUDIO_RATE)

    def add(self, frame, time_s: float) -> None:
        """Offer a decoded audio frame whose start is ``time_s`` after the cut's start."""
        if self._cursor is None:
            self._cursor = time_s
        for chunk in self._resampler.resample(frame):
            samples = chunk.to_ndarray()
            begin = self._cursor
            self._cursor += samples.shape[1] / AUDIO_RATE
            skip = max(0, round(-begin * AUDIO_RATE))  # before the cut
            if skip < samples.shape[1]:
                self._write(samples[:, skip:], begin)

    def _write(self, samples: np.ndarray, begin: float) -> None:
        if self._written == 0 and begin > 0:  # audio starts late: pad the gap with silence
            self._write_block(np.zeros((2, round(begin * AUDIO_RATE)), np.float32))
        room = round(self._length * AUDIO_RATE) - self._written
        if room > 0:
            self._write_block(samples[:, :room])

    def _write_block(self, samples: np.ndarray) -> None:
        import av

        if samples.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._written
        self._container.mux(self._stream.encode(frame))
        self._written += samples.shape[1]

    def finish(self, seconds: float) -> None:
        """Pad with silence to ``seconds`` (a silent track, or a source whose audio ends early)
        and drain the encoder."""
        missing = round(seconds * AUDIO_RATE) - self._written
        if missing > 0:
            self._write_block(np.zeros((2, missing), np.float32))
        self._container.mux(self._stream.encode())


def check_output_path(source: Path, output: Path, force: bool) -> None:
    """Refuse to write over the input, ever, and over anything else without ``force``."""
    if output.exists() and output.resolve() == source.resolve():
        raise UsageError(f"{output} is the input file", hint="choose another output path")
    if output.exists() and not force:
        raise _exists(output)
    if output.exists() and output.is_dir():
        raise UsageError(f"{output} is a folder", hint="give a file name ending in .mp4")
    if output.exists() and not output.is_file():  # even with force: never replace a device
        raise UsageError(
            f"{output} is not a regular file (a device, FIFO or socket); it is never replaced",
            code="output_not_regular",
            hint="give a file name ending in .mp4",
        )


def _refuse_reversed(start: float | None, end: float | None) -> None:
    if start is not None and end is not None and end <= start:
        raise UsageError(
            f"--start {start:g} s is not before --end {end:g} s: the range is reversed",
            hint=f"did you mean --start {end:g} --end {start:g}?" if end < start else None,
        )


def _refuse_rejected(report: Report, allow_upscale: bool) -> None:
    """Stop before encoding a clip whose errors no cut, crop or scale can fix."""
    # --allow-upscale is what fixes low_resolution: the one error prepare fixes only on request.
    unfixable = [
        p
        for p in report.errors
        if not p.fixable and not (p.code == "low_resolution" and allow_upscale)
    ]
    if report.verdict == Verdict.REJECTED and unfixable:
        reasons = "; ".join(f"{p.code}: {p.message}" for p in unfixable)
        upscale = "--allow-upscale enlarges it; " if "low_resolution" in reasons else ""
        raise PrepareError(
            f"{report.path} is rejected, so nothing was written: {reasons}",
            code="clip_rejected",
            hint=f"record it again (`clipprep check` says what to change); {upscale}"
            "--even-if-rejected writes it anyway",
        )


def prepare(
    path: str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    aspect: str | None = None,
    allow_upscale: bool = False,
    force: bool = False,
    name: str | None = None,
    options: Options | None = None,
    analyzer=None,
    on_frame: Callable[[int, int], None] | None = None,
    even_if_rejected: bool = False,
    progress: Callable[[float, float], None] | None = None,
) -> Prepared:
    """Check ``path``, write the upload-ready clip to ``output`` and check that too.

    ``options`` (:class:`~clipprep._options.Options`: the profile, what the character is judged
    and cropped by...) say how both checks run; or ``analyzer`` (a :class:`clipprep.Analyzer`,
    made from options) reuses loaded models across many clips.
    ``progress(done_s, duration_s)`` follows the first check, ``on_frame(done, total)`` the
    encode. A rejected clip (an error no cut, crop or scale can fix) is not encoded unless
    ``even_if_rejected``: nothing in it would be ready.
    Raises :class:`InputError` (unreadable input), :class:`UsageError` (bad window, aspect,
    or an output that exists without ``force``) or :class:`PrepareError` (nothing to keep).
    """
    from ._pipeline import Analyzer

    source = Path(path)
    target = Path(output) if output is not None else default_output(source)
    check_output_path(source, target, force)
    _refuse_reversed(start, end)  # before the analysis: the mistake is in the command line
    if aspect is not None and aspect not in ASPECTS:
        raise UsageError(f"unknown aspect {aspect!r}", hint=f"one of {', '.join(ASPECTS)}")
    refuse_both(options, analyzer)
    owned = analyzer is None
    analyzer = analyzer or Analyzer(options)
    try:
        before = _checked(analyzer, source, name, progress)
        return _prepare_checked(
            before,
            target,
            analyzer,
            start=start,
            end=end,
            aspect=aspect,
            allow_upscale=allow_upscale,
            force=force,
            name=name,
            on_frame=on_frame,
            even_if_rejected=even_if_rejected,
        )
    finally:
        if owned:
            analyzer.close()


def _checked(analyzer, source: Path, name, progress=None) -> Report:
    """The clip's report; :class:`InputError` when it cannot be read."""
    before = analyzer.check(source, name=name, progress=progress)
    if before.verdict == Verdict.UNREADABLE:
        problem = before.problems[0]
        raise InputError(problem.message, code=problem.code, hint=problem.hint)
    return before


def _prepare_checked(
    before: Report, target: Path, analyzer, *, name, force, on_frame, even_if_rejected, **how
) -> Prepared:
    """Plan, write and check again the clip ``before`` reports on, for ``analyzer.profile``."""
    source = Path(before.path)
    if not even_if_rejected:
        _refuse_rejected(before, how["allow_upscale"])
    chosen, warnings = plan(before, analyzer.profile, **how)
    crf = write(source, target, chosen, analyzer.profile, force=force, on_frame=on_frame)
    if crf != analyzer.profile.output_crf:
        warnings.append(
            f"encoded at x264 CRF {crf} instead of {analyzer.profile.output_crf} to stay "
            f"under the service's {analyzer.profile.max_upload_bytes / 1e6:.3g} MB"
        )
    after = analyzer.check(target, name=name)
    return Prepared(str(source), str(target), chosen, before.probe, after.probe, after, warnings)


def prepare_for_services(
    path: str | os.PathLike,
    folder: str | os.PathLike,
    profiles: list[str | Profile],
    *,
    name: str | None = None,
    options: Options | None = None,
    start: float | None = None,
    end: float | None = None,
    aspect: str | None = None,
    allow_upscale: bool = False,
    force: bool = False,
    even_if_rejected: bool = False,
) -> list[Prepared]:
    """Prepare one take for several services: ``folder/STEM.PROFILE.mp4`` for each profile.

    Profiles with the same rules (all but their names, descriptions and sources) share one
    analysis of the take; each output is checked against its own profile. ``options`` say how
    (their profile is replaced by each of ``profiles``). A service the take
    cannot be made ready for raises as :func:`prepare` does, before any later one is written.
    """
    from ._pipeline import Analyzer
    from ._profiles import get_profile

    source, folder = Path(path), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    resolved = [get_profile(p) for p in profiles]
    targets = {p.name: folder / f"{source.stem}.{p.name}.mp4" for p in resolved}
    if len(targets) < len(resolved):
        raise UsageError("the same profile is given twice", hint="give each --profile once")
    for target in targets.values():  # before any analysis: the mistake is in the command line
        check_output_path(source, target, force)
    _refuse_reversed(start, end)
    how = {"start": start, "end": end, "aspect": aspect, "allow_upscale": allow_upscale}
    results = []
    for group in _same_rules(resolved):
        with Analyzer(options, profile=group[0]) as analyzer:
            before = _checked(analyzer, source, name)
            for profile in group:
                # The same rules: only the name in the reports differs.
                analyzer.profile = options_of(options, profile=profile).rules()
                results.append(
                    _prepare_checked(
                        dataclasses.replace(before, profile=profile.name),
                        targets[profile.name],
                        analyzer,
                        name=name,
                        force=force,
                        on_frame=None,
                        even_if_rejected=even_if_rejected,
                        **how,
                    )
                )
    return results


def _same_rules(profiles: list[Profile]) -> list[list[Profile]]:
    """``profiles`` grouped by their rules, in the order first given."""
    groups: dict[str, list[Profile]] = {}
    for profile in profiles:
        rules = profile.to_dict()
        for label in ("name", "description", "sources", "provisional"):
            rules.pop(label)
        groups.setdefault(repr(sorted(rules.items())), []).append(profile)
    return list(groups.values())
