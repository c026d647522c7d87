"""``stills``: the best reference images of the character in a clip, for services that take images.

The clip is analysed as ``check`` analyses it (:class:`~clipprep._pipeline.Analyzer`); its sampled
frames' metrics choose the images, and only the chosen frames are decoded again, at full
resolution and upright (:func:`~clipprep._frames.full_frames_at`). How they are chosen:

- **Candidates**: frames whose face the mesh measured (so eye openness is known) with one face,
  not cut off, big enough, sharp (not even "soft"), neither dark nor blown out, unoccluded,
  eyes open, and turned at most ``StillsQuality.yaw_max``/``pitch_max``. Each gets a quality
  0..1 (sharpness, light, size, open eyes).
- **Frontal**: the best candidate within ``frontal_yaw``/``frontal_pitch`` of facing the camera
  (or, failing that, the most frontal one, and a note says so).
- **More images** add identity: greedy farthest-point selection in (yaw, pitch, face size)
  space. Each next image is the candidate with the largest distance to the picked ones (capped
  at ``distance_enough``, beyond which quality decides) times its quality; one nearer than
  ``min_distance`` to a picked image is never taken, so a still clip gives one image, not four
  copies. Each says why it was chosen: "three-quarter left", "closer", "looking up", ...
- **One shot**: a scene cut may lead to another person's face, so images come from the frontal
  image's shot only, unless ``across_cuts`` (then each image names its shot and a note says so).

A clip without faces (a mascot, an object; see ``--subject``) is judged by its main subject:
the sharpest, best lit frames at different subject sizes.

Each image is cropped to the service's aspect range around the head and shoulders (or the
subject, with margin), never upscaled, written atomically as PNG or JPEG under the size limit
(JPEG quality lowered step by step when over), with a JSON manifest beside them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import StillsError, UsageError
from ._options import Options, refuse_both
from ._profiles import ImageRules, Quality, StillsQuality, get_profile
from ._vocab import Verdict

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._metrics import FrameMetrics
    from ._pipeline import Analyzer
    from ._report import Report

FORMATS = {"png": ".png", "jpeg": ".jpg"}
FRONTAL = "frontal"
MOST_FRONTAL = "most frontal"


@dataclass(frozen=True)
class Candidate:
    """A sampled frame that may become a still: its metrics, quality 0..1 and shot number."""

    metrics: FrameMetrics
    quality: float
    shot: int

    @property
    def point(self) -> tuple[float, float, float, float]:
        """Where it lies in the diversity space: yaw, pitch, roll, log2 size (see
        :func:`distance`)."""
        m = self.metrics
        size = m.face_h if m.face_h is not None else (m.subject_size or 1e-3)
        return (m.yaw or 0.0, m.pitch or 0.0, m.roll or 0.0, math.log2(max(size, 1e-3)))


@dataclass(frozen=True)
class Still:
    """One written reference image."""

    path: str
    why: str  # "frontal", "three-quarter left", "closer", ...
    time_s: float
    shot: int  # scene number in the clip (0 = first shot)
    yaw: float | None
    pitch: float | None
    roll: float | None
    scores: dict  # quality 0..1 and the measurements it comes from
    crop: tuple[int, int, int, int]  # x, y, width, height in the upright full-size frame
    format: str  # "png" or "jpeg"
    jpeg_quality: int | None
    bytes: int

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in pixels."""
        return self.crop[2], self.crop[3]

    def to_dict(self) -> dict:
        """JSON-ready data."""
        data = dataclasses.asdict(self)
        for key in ("yaw", "pitch", "roll", "time_s"):
            data[key] = None if data[key] is None else round(data[key], 3)
        data["crop"] = list(self.crop)
        data["width"], data["height"] = self.size
        return data


@dataclass(frozen=True)
class Stills:
    """What ``stills`` wrote: the images, why each was chosen, and the manifest's path."""

    source: str
    target: str  # "face" or "subject": what the images were chosen by
    images: list[Still]
    yaw_spread: float | None  # largest minus smallest yaw of the images (faces only)
    candidates: int  # sampled frames good enough to be picked
    samples: int  # sampled frames
    manifest: str | None
    rules: ImageRules
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready data (the manifest's content)."""
        return {
            "source": self.source,
            "target": self.target,
            "images": [image.to_dict() for image in self.images],
            "yaw_spread": None if self.yaw_spread is None else round(self.yaw_spread, 2),
            "candidates": self.candidates,
            "samples": self.samples,
            "manifest": self.manifest,
            "rules": dataclasses.asdict(self.rules),
            "notes": list(self.notes),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def stills(
    path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    count: int | None = None,
    rules: ImageRules | None = None,
    image_format: str = "png",
    across_cuts: bool = False,
    force: bool = False,
    options: Options | None = None,
    analyzer: Analyzer | None = None,
    report: Report | None = None,
) -> Stills:
    """Write the best reference images of the clip's character into ``output_dir``.

    One frontal image and up to ``count - 1`` more that add identity (other angles, another
    distance), each sharp, well lit, eyes open, unoccluded, cropped to ``rules``' aspect range
    around the head and shoulders, at full resolution, as ``image_format`` (``png`` or
    ``jpeg``) under ``rules.max_bytes``; plus ``NAME.stills.json``, the manifest (see
    :class:`Stills`). ``rules`` default to the image rules of the options' profile (an image
    service's, e.g. ``kling-image-element``), else :class:`ImageRules`' defaults. ``count``
    defaults to ``rules.max_count``. Existing files are replaced
    only with ``force``. ``options`` say how the clip is analysed (or ``analyzer``, made from
    options, reuses loaded models). ``report``: the clip's report (with its frames) when it was
    checked already (by ``analyzer``, if given: its thresholds are used). Raises
    :class:`~clipprep._errors.InputError` for an unreadable clip, :class:`StillsError` when no
    frame is good enough, :class:`~clipprep._errors.UsageError` for bad arguments.
    """
    started = time.perf_counter()
    options, rules = _image_service(options, rules)
    count = _checked_count(count, rules)
    suffix = _checked_format(image_format, rules)
    folder = Path(output_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder", hint="create it first")
    _refuse_small(path, rules)  # before the analysis: a too-small clip needs none
    refuse_both(options, analyzer)
    report, quality = _analysed(path, analyzer, options, report)
    target = report.analysis["target"]
    picked, notes, candidates = choose(
        report.frames, quality, StillsQuality(), count, target, across_cuts=across_cuts
    )
    notes += _count_notes(len(picked), count, rules)
    from ._frames import full_frames_at

    frames = full_frames_at(path, [c.metrics.time_s for c, _ in picked])
    stem = Path(path).stem
    targets = [
        folder / f"{stem}.still{i + 1}-{why.replace(' ', '-')}{suffix}"
        for i, (_, why) in enumerate(picked)
    ]
    manifest_path = folder / f"{stem}.stills.json"
    for existing in [*targets, manifest_path]:
        if existing.exists() and not force:
            raise UsageError(
                f"{existing} exists", code="output_exists", hint="use --force to replace it"
            )
    images = [
        _write_still(frame.rgb, candidate, why, target, rules, out, image_format)
        for (candidate, why), frame, out in zip(picked, frames, targets, strict=True)
    ]
    yaws = [image.yaw for image in images if image.yaw is not None]
    result = Stills(
        source=os.fspath(path),
        target=target,
        images=images,
        yaw_spread=max(yaws) - min(yaws) if yaws else None,
        candidates=candidates,
        samples=len(report.frames),
        manifest=str(manifest_path),
        rules=rules,
        notes=notes,
        elapsed_s=time.perf_counter() - started,
    )
    from ._files import write_text_atomic

    write_text_atomic(manifest_path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    return result


def _checked_count(count: int | None, rules: ImageRules) -> int:
    count = rules.max_count if count is None else count
    if not rules.min_count <= count <= rules.max_count:
        raise UsageError(
            f"--count {count} is outside what the service takes",
            hint=f"choose {rules.min_count}–{rules.max_count}",
        )
    return count


def _checked_format(image_format: str, rules: ImageRules) -> str:
    if image_format not in FORMATS or image_format not in rules.formats:
        allowed = ", ".join(f for f in rules.formats if f in FORMATS)
        raise UsageError(
            f"image format {image_format!r} is not taken", hint=f"choose one of: {allowed}"
        )
    return FORMATS[image_format]


def _refuse_small(path, rules: ImageRules) -> None:
    """Stop at once when the clip's picture is smaller than any image the rules take."""
    from ._probe import probe

    video = probe(path).video
    if video is not None:
        _refuse_below(video.width, video.height, rules)


def _refuse_below(width: int, height: int, rules: ImageRules) -> None:
    if min(width, height) < rules.min_side_px:
        raise StillsError(
            f"the clip is {width}×{height}: smaller than the {rules.min_side_px} px the service "
            "wants on an image's short side (stills are never upscaled)",
            code="too_small",
            hint="record at a higher resolution",
        )


def _image_service(options: Options | None, rules: ImageRules | None):
    """(the options the clip is analysed with, the rules the stills follow). An image service's
    profile gives the rules; the clip is then analysed by that profile's quality bar (without
    its image rules: those are no video rules)."""
    service = get_profile(options.profile) if options is not None else None
    if service is None or service.images is None:
        return options, rules or ImageRules()
    video = dataclasses.replace(service, images=None)
    return dataclasses.replace(options, profile=video), rules or service.images


def _analysed(path, analyzer, options, report=None):
    """The clip's report with every sample's metrics, and the quality thresholds it was judged
    by; an unreadable clip raises InputError."""
    from ._errors import InputError
    from ._pipeline import Analyzer
    from ._profiles import get_profile

    if report is not None:
        quality = (analyzer.profile if analyzer else get_profile(report.profile)).quality
    elif analyzer is None:
        with Analyzer(options) as own:
            report, quality = own.check(path), own.profile.quality
    else:
        report, quality = analyzer.check(path), analyzer.profile.quality
    if report.verdict == Verdict.UNREADABLE or not report.frames:
        problem = report.problems[0] if report.problems else None
        raise InputError(
            problem.message if problem else f"{os.fspath(path)}: no picture to take stills from",
            code=problem.code if problem else "no_video",
            hint=problem.hint if problem else None,
        )
    return report, quality


# --- choosing ---------------------------------------------------------------------------------


def choose(
    frames: list[FrameMetrics],
    quality: Quality,
    rules: StillsQuality,
    count: int,
    target: str = "face",
    *,
    across_cuts: bool = False,
) -> tuple[list[tuple[Candidate, str]], list[str], int]:
    """(picked candidates with why each was chosen, notes, how many candidates there were).

    Raises :class:`StillsError` when no sampled frame is good enough."""
    shots = _shot_numbers(frames)
    pool = [
        Candidate(m, _quality(m, quality, rules, target), shot)
        for m, shot in zip(frames, shots, strict=True)
        if _acceptable(m, quality, rules, target)
    ]
    pool = [c for c in pool if c.quality >= rules.min_quality]
    if not pool:
        raise StillsError(
            "no sampled frame is good enough for a reference image "
            f"({_why_none(frames, quality, rules, target)})",
            hint="record the character sharp, well lit, eyes open, facing the camera",
        )
    first, first_why = _first(pool, rules, target)
    notes = []
    if first_why == MOST_FRONTAL:
        notes.append(
            f"no frontal frame (|yaw| ≤ {rules.frontal_yaw:g}°); the most frontal has yaw "
            f"{first.metrics.yaw:+.0f}°"
        )
    others = [c for c in pool if c.shot == first.shot] if not across_cuts else pool
    skipped = sorted({c.shot for c in pool} - {first.shot})
    if skipped and not across_cuts:
        notes.append(
            f"{len(skipped)} other shot(s) after a scene cut not used (their face may be "
            "another person's); across_cuts uses them"
        )
    picked = [(first, first_why)]
    for candidate in _diverse(first, others, rules, count - 1):
        picked.append((candidate, _why(candidate, first, rules, target)))
    if len({c.shot for c, _ in picked}) > 1:
        notes.append("the images come from more than one shot: check they show one character")
    picked.sort(
        key=lambda item: item[0].metrics.time_s if item[1] not in (FRONTAL, MOST_FRONTAL) else -1.0
    )
    return picked, notes, len(pool)


def _shot_numbers(frames: list[FrameMetrics]) -> list[int]:
    shot, numbers = 0, []
    for i, m in enumerate(frames):
        shot += int(m.is_cut and i > 0)
        numbers.append(shot)
    return numbers


def _acceptable(m: FrameMetrics, q: Quality, rules: StillsQuality, target: str) -> bool:
    """Whether a frame may become a still at all: the floors every image must clear."""
    if target != "face":
        return _subject_acceptable(m, q)
    return (
        m.face_h is not None
        and m.pose_source == "landmarks"  # eyes and occlusion measured on this very frame
        and m.competing_faces == 0
        and not m.face_cut_off
        and m.face_h >= q.face_height_min
        and m.eye_openness is not None
        and m.eye_openness >= rules.eyes_open_min
        and m.sharpness is not None
        and m.sharpness >= q.sharpness_soft
        and q.face_luma_dim <= m.face_luma <= q.face_luma_bright
        and m.face_clipped_fraction < q.overexposed_fraction
        and (m.face_presence is None or m.face_presence >= q.face_occluded_presence)
        and (m.face_region_match is None or m.face_region_match >= q.face_occluded_match)
        and abs(m.yaw or 0.0) <= rules.yaw_max
        and abs(m.pitch or 0.0) <= rules.pitch_max
    )


def _subject_acceptable(m: FrameMetrics, q: Quality) -> bool:
    from ._windows import has_subject

    return (
        has_subject(m, q)
        and not m.subject_cut_off
        and m.subject_size >= q.subject_size_min
        and m.subject_sharpness >= q.sharpness_soft
        and q.face_luma_dim <= m.subject_luma <= q.face_luma_bright
        and m.subject_clipped_fraction < q.overexposed_fraction
    )


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear in between."""
    return 1.0 if high <= low else min(1.0, max(0.0, (value - low) / (high - low)))


def _quality(m: FrameMetrics, q: Quality, rules: StillsQuality, target: str) -> float:
    """How good a frame is as a picture of the character, 0..1, whatever its pose: sharpness,
    light and size, and for a face how open the eyes are (the floors make each factor > 0)."""
    if target != "face":
        sharp, luma, size = m.subject_sharpness, m.subject_luma, m.subject_size
        size_grade = _ramp(size, q.subject_size_min, q.subject_size_best)
        eyes = 1.0
    else:
        sharp, luma = m.sharpness, m.face_luma
        size_grade = _ramp(m.face_h, q.face_height_min, q.face_height_best)
        eyes = _ramp(m.eye_openness, q.eyes_closed_ear, rules.eyes_open_min + 0.1)
    light = min(
        _ramp(luma, q.face_luma_dim, q.face_luma_good),
        _ramp(q.face_luma_bright - luma, 0.0, q.face_luma_bright - q.face_luma_bright_good),
    )
    factors = (
        0.5 + 0.5 * _ramp(sharp, q.sharpness_soft, q.sharpness_good),
        0.6 + 0.4 * light,
        0.7 + 0.3 * size_grade,
        0.5 + 0.5 * eyes,
    )
    return float(math.prod(factors))


def _first(pool: list[Candidate], rules: StillsQuality, target: str) -> tuple[Candidate, str]:
    """The frontal image: the best frontal candidate, or the most frontal one."""
    if target != "face":
        return max(pool, key=lambda c: c.quality), FRONTAL
    frontal = [
        c
        for c in pool
        if abs(c.metrics.yaw or 0) <= rules.frontal_yaw
        and abs(c.metrics.pitch or 0) <= rules.frontal_pitch
    ]
    if frontal:
        return max(frontal, key=lambda c: _frontal_rank(c, rules)), FRONTAL
    return min(pool, key=_turn), MOST_FRONTAL


def _frontal_rank(c: Candidate, rules: StillsQuality) -> float:
    """Quality, less for a turned head (5 % for 5°) and for an unusual expression (a grimace:
    up to 30 %)."""
    match = c.metrics.face_region_match
    usual = 1.0 if match is None else _ramp(match, 0.5, rules.frontal_neutral_match)
    return c.quality * (1 - _turn(c) / 100) * (0.7 + 0.3 * usual)


def _turn(c: Candidate) -> float:
    return math.hypot(c.metrics.yaw or 0.0, c.metrics.pitch or 0.0)


def distance(a: Candidate, b: Candidate, rules: StillsQuality) -> float:
    """How different two candidates look, in degrees: yaw, pitch, roll (weighted) and face size
    (a doubling counts ``size_weight`` degrees)."""
    (ya, pa, ra, sa), (yb, pb, rb, sb) = a.point, b.point
    return math.sqrt(
        (ya - yb) ** 2
        + (pa - pb) ** 2
        + (rules.roll_weight * (ra - rb)) ** 2
        + (rules.size_weight * (sa - sb)) ** 2
    )


def _diverse(
    first: Candidate, pool: list[Candidate], rules: StillsQuality, more: int
) -> list[Candidate]:
    """Up to ``more`` candidates, each as far as can be from those picked before it (greedy
    farthest-point, distance capped at ``distance_enough`` and times quality)."""
    picked = [first]
    for _ in range(more):
        best, best_gain = None, 0.0
        for c in pool:
            nearest = min(distance(c, p, rules) for p in picked)
            if nearest < rules.min_distance:
                continue
            gain = min(nearest, rules.distance_enough) * c.quality
            if gain > best_gain:
                best, best_gain = c, gain
        if best is None:
            break
        picked.append(best)
    return picked[1:]


def _why(c: Candidate, first: Candidate, rules: StillsQuality, target: str) -> str:
    """What an extra image adds, in a photographer's words (yaw > 0: the character's left)."""
    m, f = c.metrics, first.metrics
    yaw = m.yaw or 0.0
    side = "left" if yaw > 0 else "right"
    if target == "face" and abs(yaw) >= rules.three_quarter_yaw:
        return f"three-quarter {side}"
    size_change = c.point[3] - first.point[3]
    if abs(size_change) >= 0.35:  # 1.3 times the frontal image's size, or 1 / 1.3
        return "closer" if size_change > 0 else "farther"
    if target == "face" and abs((m.pitch or 0) - (f.pitch or 0)) >= rules.min_distance:
        return "looking up" if (m.pitch or 0) > (f.pitch or 0) else "looking down"
    if target == "face" and abs(yaw - (f.yaw or 0)) >= rules.min_distance / 2:
        return f"turned slightly {side}"
    if target == "face" and abs((m.roll or 0) - (f.roll or 0)) >= rules.min_distance:
        return "head tilted"
    return "another moment"


def _count_notes(found: int, count: int, rules: ImageRules) -> list[str]:
    notes = []
    if found < count:
        notes.append(
            f"{found} of the {count} images asked for: the clip shows no more distinct views "
            "good enough (record the head turning slowly left and right)"
        )
    if found < rules.min_count:
        raise StillsError(
            f"only {found} distinct image(s); the service needs at least {rules.min_count}",
            hint="record the head turning slowly left and right, in good light",
        )
    return notes


def _why_none(frames, q: Quality, rules: StillsQuality, target: str) -> str:
    """The commonest reason frames were refused, in a few words."""
    if target != "face":
        return "no sharp, well lit, whole subject"
    faces = [m for m in frames if m.face_h is not None]
    if not faces:
        return "no face in any frame"
    checks = {  # unmeasured values (samples the mesh skipped) count against nothing
        "another face in view": lambda m: m.competing_faces > 0,
        "eyes closed": lambda m: (
            m.eye_openness is not None and m.eye_openness < rules.eyes_open_min
        ),
        "blurred": lambda m: (m.sharpness or 0) < q.sharpness_soft,
        "too dark": lambda m: (m.face_luma or 0) < q.face_luma_dim,
        "face too small": lambda m: m.face_h < q.face_height_min,
        "turned away": lambda m: abs(m.yaw or 0) > rules.yaw_max,
    }
    counts = {name: sum(bool(test(m)) for m in faces) for name, test in checks.items()}
    name, most = max(counts.items(), key=lambda item: item[1])
    return f"{name} in {most} of {len(frames)} sampled frames" if most else "faces too poor"


# --- cropping and writing ---------------------------------------------------------------------


def crop_box(
    m: FrameMetrics, width: int, height: int, rules: ImageRules, stills: StillsQuality, target
) -> tuple[int, int, int, int]:
    """(x, y, w, h) in pixels of the upright ``width``×``height`` frame: head and shoulders
    (or the subject with margin), its aspect within the rules, at least ``min_side_px`` on its
    short side when the frame allows, inside the frame. Raises StillsError when the frame
    itself is smaller than the rules allow (stills are never upscaled)."""
    _refuse_below(width, height, rules)
    if target == "face":
        face_h = m.face_h * height
        ch = stills.crop_face_heights * face_h
        cw = ch * stills.portrait_aspect
        cx, cy = (m.face_x + m.face_w / 2) * width, (m.face_y + m.face_h / 2) * height
        # Where the face's centre sits from the crop's top, as a share of its height: kept
        # when the frame makes the crop smaller than wanted.
        centre_at = (stills.crop_headroom + 0.5) / stills.crop_face_heights
    else:
        grow = 1 + 2 * stills.subject_margin
        cw, ch = m.subject_w * width * grow, m.subject_h * height * grow
        cx, cy = (m.subject_x + m.subject_w / 2) * width, (m.subject_y + m.subject_h / 2) * height
        centre_at = 0.5
    cw, ch = _fitted(cw, ch, width, height, rules)
    x = min(max(0, round(cx - cw / 2)), width - cw)
    y = min(max(0, round(cy - centre_at * ch)), height - ch)
    return int(x), int(y), int(cw), int(ch)


def _fitted(cw: float, ch: float, width: int, height: int, rules: ImageRules) -> tuple[int, int]:
    """A crop size: grown to the minimum side, its aspect clamped to the rules, inside the
    frame (shrunk along one side when the frame is too narrow or too low for it)."""
    aspect = min(max(cw / ch, rules.min_aspect), rules.max_aspect)
    ch = max(ch, rules.min_side_px, rules.min_side_px / aspect)
    cw = ch * aspect
    scale = min(1.0, width / cw, height / ch)  # keep the aspect while it fits
    cw, ch = cw * scale, ch * scale
    # Too small now (a frame with its short side near the minimum): widen within the frame.
    if min(cw, ch) < rules.min_side_px:
        cw, ch = max(cw, min(width, rules.min_side_px)), max(ch, min(height, rules.min_side_px))
    cw = min(cw, ch * rules.max_aspect, width)
    ch = min(ch, cw / rules.min_aspect, height)
    return math.floor(cw + 1e-6), math.floor(ch + 1e-6)


def _write_still(
    rgb: np.ndarray,
    candidate: Candidate,
    why: str,
    target: str,
    rules: ImageRules,
    out: Path,
    image_format: str,
) -> Still:
    m = candidate.metrics
    height, width = rgb.shape[:2]
    x, y, w, h = crop_box(m, width, height, rules, StillsQuality(), target)
    data, jpeg_quality = encode(rgb[y : y + h, x : x + w], image_format, rules, StillsQuality())
    _write_atomic(out, data)
    return Still(
        path=str(out),
        why=why,
        time_s=m.time_s,
        shot=candidate.shot,
        yaw=m.yaw,
        pitch=m.pitch,
        roll=m.roll,
        scores=_scores(candidate, target),
        crop=(x, y, w, h),
        format=image_format,
        jpeg_quality=jpeg_quality,
        bytes=len(data),
    )


def _scores(c: Candidate, target: str) -> dict:
    m = c.metrics
    names = (
        ("sharpness", "eye_openness", "face_presence", "face_region_match", "face_luma", "face_h")
        if target == "face"
        else ("subject_sharpness", "subject_luma", "subject_size", "subject_contrast")
    )
    values = {name: getattr(m, name) for name in names}
    rounded = {k: None if v is None else round(float(v), 4) for k, v in values.items()}
    return {"quality": round(c.quality, 4), **rounded}


def encode(
    rgb: np.ndarray, image_format: str, rules: ImageRules, stills: StillsQuality
) -> tuple[bytes, int | None]:
    """(file bytes, JPEG quality or None): PNG, or JPEG at the highest quality that keeps the
    file under ``rules.max_bytes``. Raises StillsError when even the lowest is over."""
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if image_format == "png":
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        attempts = [(bytes(data), None)] if ok else []
    else:
        qualities = range(
            stills.jpeg_quality, stills.jpeg_quality_min - 1, -stills.jpeg_quality_step
        )
        attempts = (_jpeg(bgr, quality) for quality in qualities)
    for data, quality in attempts:
        if len(data) <= rules.max_bytes:
            return data, quality
    raise StillsError(
        f"a {rgb.shape[1]}×{rgb.shape[0]} {image_format.upper()} image is over the "
        f"{rules.max_bytes / 2**20:g} MiB the service takes",
        code="too_large",
        hint="use --format jpeg" if image_format == "png" else "record at a lower resolution",
    )


def _jpeg(bgr, quality: int) -> tuple[bytes, int]:
    import cv2

    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StillsError("the JPEG encoder failed", code="encode_failed")
    return bytes(data), quality


def _write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name beside ``target``, then rename it into place."""
    from ._files import temporary_beside

    temporary = temporary_beside(target)
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
