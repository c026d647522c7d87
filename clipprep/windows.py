"""Frame scores -> the best 2–4 s window.

Each sampled frame gets *flags* (what is wrong with it, and how badly) and a *score* in 0..1
(how good it is as character footage). Every candidate window of the allowed length is then
scored with prefix sums, so the search is linear in the number of samples for each allowed
length:

    window score = mean frame score × (1 − share of bad frames)²
    rank = window score × (1 + Quality.window_length_worth × (duration − min) / (max − min))

The second factor is why a short bad stretch (a blink of darkness, a head turned away) counts
against a window instead of being averaged away. A window never crosses a scene cut, and its
ends snap to the cuts around it, which are located to the frame (cuts.py): a cut between two
samples neither leaks the next shot's first frames into the window nor cuts the shot short.
The best rank wins: more footage gives the service more of the character's identity, worth a
little quality. Among windows ranked within ``Quality.window_tie`` of the best that share
footage with it, the longest wins (then the earliest).

The frame score is a product of factors: penalties for what is wrong (a small, turned, dark or
blurred face...), which leave an acceptable frame at 1, and *grades* that still rank acceptable
frames (a bigger face, a more frontal pose, a sharper, better lit picture), each taking at most
its ``Quality.grade_*`` weight off. Without the grades every acceptable frame scored 1.0, and a
medium shot of a man turned 17° won over the frontal close-up of him that followed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .cuts import Cut, cuts_between
from .metrics import FrameMetrics
from .profiles import Quality
from .vocab import Severity, TargetKind

ERROR, WARNING = Severity.ERROR, Severity.WARNING
FACE, SUBJECT = TargetKind.FACE, TargetKind.SUBJECT


@dataclass(frozen=True)
class Window:
    """A span of the clip, in seconds from its first frame."""

    start_s: float
    end_s: float
    score: float  # window score, 0..1
    mean_frame_score: float
    bad_fraction: float  # share of sampled frames scoring below Quality.bad_frame_score
    first_sample: int  # index of the first sampled frame inside
    last_sample: int  # index of the last sampled frame inside (inclusive)

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        """JSON-ready data (``start``/``end``/``duration`` in seconds)."""
        return {
            "start": round(self.start_s, 3),
            "end": round(self.end_s, 3),
            "duration": round(self.duration_s, 3),
            "score": round(self.score, 4),
            "mean_frame_score": round(self.mean_frame_score, 4),
            "bad_fraction": round(self.bad_fraction, 4),
        }


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear in between."""
    if high <= low:
        return float(value >= high)
    return min(1.0, max(0.0, (value - low) / (high - low)))


def frame_flags(m: FrameMetrics, q: Quality, target: str = FACE) -> dict[str, str]:
    """What is wrong with one frame: problem code -> "error" or "warning".

    ``target`` is what the character is judged by: ``face`` or ``subject``.
    """
    flags: dict[str, str] = {}
    if target == SUBJECT:
        if not has_subject(m, q):
            return {"no_subject": ERROR}
        _subject_flags(flags, m, q)
    else:
        if m.face_h is None:
            return {"no_face": ERROR}
        _face_flags(flags, m, q)
    light = lighting_of(m, target)
    _flag(flags, "too_dark", light.luma < q.face_luma_dark, light.luma < q.face_luma_dim)
    _flag(
        flags,
        "overexposed",
        light.clipped_fraction >= q.overexposed_fraction,
        light.luma > q.face_luma_bright,
    )
    _flag(flags, "uneven_lighting", False, light.lr_imbalance > q.lr_imbalance)
    _flag(flags, "backlit", False, light.backlight_ratio < q.backlight_ratio)
    _flag(flags, "blurry", light.sharpness < q.sharpness_blurry, light.sharpness < q.sharpness_soft)
    return flags


def _flag(flags: dict[str, str], code: str, is_error: bool, is_warning: bool = False) -> None:
    if is_error:
        flags[code] = ERROR
    elif is_warning:
        flags[code] = WARNING


def _face_flags(flags: dict[str, str], m: FrameMetrics, q: Quality) -> None:
    _flag(flags, "multiple_faces", m.competing_faces > 0)
    _flag(flags, "face_too_small", m.face_h < q.face_height_min, m.face_h < q.face_height_good)
    _flag(flags, "face_cut_off", m.face_cut_off)
    yaw, pitch = abs(m.yaw or 0.0), abs(m.pitch or 0.0)
    _flag(
        flags,
        "not_frontal",
        yaw > q.yaw_max or pitch > q.pitch_max,
        yaw > q.yaw_warn or pitch > q.pitch_warn,
    )
    closed = m.eye_openness is not None and m.eye_openness < q.eyes_closed_ear
    _flag(flags, "eyes_closed", False, closed)
    _flag(flags, "face_occluded", *_covered_levels(m, q))


def _subject_flags(flags: dict[str, str], m: FrameMetrics, q: Quality) -> None:
    size = m.subject_size
    _flag(flags, "subject_too_small", size < q.subject_size_min, size < q.subject_size_good)
    _flag(flags, "subject_cut_off", m.subject_cut_off)
    _flag(
        flags,
        "cluttered",
        m.subject_clutter >= q.clutter_max or m.subject_stability < q.subject_stability_min,
        m.subject_clutter >= q.clutter_warn or m.competing_subjects > 0,
    )


def has_subject(m: FrameMetrics, q: Quality) -> bool:
    """Whether a subject stands out from the background in this frame, with the texture or
    detail of a character (a plain, flat shape is not one)."""
    return (
        m.subject_contrast is not None
        and m.subject_contrast >= q.subject_contrast_min
        and m.subject_detail >= q.subject_detail_min
    )


class Lighting(NamedTuple):
    """Lighting and sharpness on the character (its face or the subject box)."""

    luma: float
    clipped_fraction: float
    lr_imbalance: float
    backlight_ratio: float
    sharpness: float


def lighting_of(m: FrameMetrics, target: str = FACE) -> Lighting | None:
    """The lighting measured on the target's box (None where there is no box)."""
    if target == SUBJECT:
        values = (
            m.subject_luma,
            m.subject_clipped_fraction,
            m.subject_lr_imbalance,
            m.subject_backlight_ratio,
            m.subject_sharpness,
        )
    else:
        values = (
            m.face_luma,
            m.face_clipped_fraction,
            m.face_lr_imbalance,
            m.backlight_ratio,
            m.sharpness,
        )
    return None if values[0] is None else Lighting(*values)


def frame_score(m: FrameMetrics, q: Quality, target: str = FACE) -> float:
    """How good one frame is as character footage, 0 (useless) to 1."""
    if target == SUBJECT:
        if not has_subject(m, q):
            return 0.0
        factors = _subject_factors(m, q)
    else:
        if m.face_h is None:
            return 0.0
        factors = _face_factors(m, q)
    return float(np.prod(factors + _lighting_factors(lighting_of(m, target), q)))


def _grade(weight: float, grade: float) -> float:
    """A factor that takes up to ``weight`` off the score as ``grade`` (0..1) falls from 1."""
    return 1.0 - weight * (1.0 - grade)


def _face_factors(m: FrameMetrics, q: Quality) -> list[float]:
    yaw, pitch = abs(m.yaw or 0.0), abs(m.pitch or 0.0)
    return [
        0.15 if m.competing_faces else 1.0,
        0.2 + 0.8 * _ramp(m.face_h, q.face_height_min, q.face_height_good),
        _grade(q.grade_size, _ramp(m.face_h, q.face_height_good, q.face_height_best)),
        0.4 if m.face_cut_off else 1.0,
        0.5 + 0.5 * _ramp(m.face_score or 0.0, 0.5, 0.8),
        1.0 - 0.8 * _ramp(yaw, q.yaw_warn, q.yaw_max),
        _grade(q.grade_yaw, 1.0 - _ramp(yaw, 0.0, q.yaw_warn)),
        1.0 - 0.8 * _ramp(pitch, q.pitch_warn, q.pitch_max),
        _grade(q.grade_pitch, 1.0 - _ramp(pitch, 0.0, q.pitch_warn)),
        0.7 if m.eye_openness is not None and m.eye_openness < q.eyes_closed_ear else 1.0,
        _covered_factor(m, q),
    ]


def _covered_levels(m: FrameMetrics, q: Quality) -> tuple[bool, bool]:
    """Whether the face is covered at the error and at the warning level: from the face
    mesh's presence score, or from the mouth or an eye not looking like itself."""
    presence, match = m.face_presence, m.face_region_match
    covered = (presence is not None and presence < q.face_covered_presence) or (
        match is not None and match < q.face_covered_match
    )
    occluded = (presence is not None and presence < q.face_occluded_presence) or (
        match is not None and match < q.face_occluded_match
    )
    return covered, occluded


def _covered_factor(m: FrameMetrics, q: Quality) -> float:
    """1 for an uncovered face; 0.6 once something covers part of it (face_occluded warning:
    enough that a window of uncovered frames wins over a longer one holding some), down to 0.2
    as it hides more (error)."""
    if not _covered_levels(m, q)[1]:
        return 1.0
    visible = 1.0
    if m.face_presence is not None:
        visible = _ramp(m.face_presence, q.face_covered_presence, q.face_occluded_presence)
    if m.face_region_match is not None:
        part = _ramp(m.face_region_match, q.face_covered_match, q.face_occluded_match)
        visible = min(visible, part)
    return 0.2 + 0.4 * visible


def _subject_factors(m: FrameMetrics, q: Quality) -> list[float]:
    return [
        0.7 if m.competing_subjects else 1.0,
        0.2 + 0.8 * _ramp(m.subject_size, q.subject_size_min, q.subject_size_good),
        _grade(q.grade_size, _ramp(m.subject_size, q.subject_size_good, q.subject_size_best)),
        0.4 if m.subject_cut_off else 1.0,
        0.5 + 0.5 * _ramp(m.subject_contrast, q.subject_contrast_min, 2 * q.subject_contrast_min),
        1.0 - 0.6 * _ramp(m.subject_clutter, q.clutter_warn, q.clutter_max),
        0.3
        + 0.7 * _ramp(m.subject_stability, 0.5 * q.subject_stability_min, q.subject_stability_min),
    ]


def _lighting_factors(light: Lighting, q: Quality) -> list[float]:
    well_lit = min(
        _ramp(light.luma, q.face_luma_dim, q.face_luma_good),
        1.0 - _ramp(light.luma, q.face_luma_bright_good, q.face_luma_bright),
    )
    return [
        0.05 + 0.95 * _ramp(light.luma, q.face_luma_dark - 15, q.face_luma_dim),
        _grade(q.grade_light, well_lit),
        _grade(q.grade_sharpness, _ramp(light.sharpness, q.sharpness_soft, q.sharpness_good)),
        1.0 - 0.7 * _ramp(light.luma, q.face_luma_bright, 250),
        1.0
        - 0.7
        * _ramp(light.clipped_fraction, 0.5 * q.overexposed_fraction, 1.5 * q.overexposed_fraction),
        1.0 - 0.4 * _ramp(light.lr_imbalance, q.lr_imbalance, 1.5 * q.lr_imbalance),
        0.6 + 0.4 * _ramp(light.backlight_ratio, 0.6 * q.backlight_ratio, q.backlight_ratio),
        0.3 + 0.7 * _ramp(light.sharpness, q.sharpness_blurry, q.sharpness_soft),
    ]


def best_window(
    times: np.ndarray,
    scores: np.ndarray,
    cuts: Sequence[Cut],
    *,
    clip_duration: float,
    min_s: float,
    max_s: float,
    quality: Quality,
) -> Window | None:
    """The best window of ``min_s``..``max_s`` seconds, or None if the clip has none.

    ``times`` are the sample times (s), ``scores`` their frame scores, ``cuts`` the scene cuts.
    A window of samples i..j covers [t_i, t_(j+1)): up to the next sample (the last one, a
    sampling period), so an irregular sampling grid (frames that were not decoded) still
    measures windows to the frame; and from the cut before t_i, up to the cut before t_(j+1),
    when those fall between samples (see :func:`_sample_spans`).
    """
    n = len(times)
    if n == 0:
        return None
    period = float(np.median(np.diff(times))) if n > 1 else clip_duration
    starts_at, ends_at = _sample_spans(times, cuts, clip_duration, period)
    cuts = cuts_between(times, cuts)
    bad = scores < quality.bad_frame_score
    score_sums = np.concatenate(([0.0], np.cumsum(scores)))
    bad_sums = np.concatenate(([0], np.cumsum(bad)))
    cut_sums = np.concatenate(([0], np.cumsum(cuts)))
    slack = 0.25 * period  # timestamps jitter; a 4.0 s window measured as 4.01 s is still 4 s

    found = []  # per length: (window scores, durations, mean scores, bad shares, starts, lasts)
    for length in range(1, n + 1):
        starts = np.arange(0, n - length + 1)
        lasts = starts + length - 1
        durations = ends_at[lasts] - starts_at[starts]
        if durations.min(initial=np.inf) > max_s + slack:
            break
        valid = (durations >= min_s - slack) & (durations <= max_s + slack)
        # A cut at sample k separates k-1 from k: inside the window means k in (i, j].
        valid &= (cut_sums[lasts + 1] - cut_sums[starts + 1]) == 0
        if not valid.any():
            continue
        mean = (score_sums[lasts + 1] - score_sums[starts]) / length
        bad_share = (bad_sums[lasts + 1] - bad_sums[starts]) / length
        window_scores = mean * (1.0 - bad_share) ** 2
        found.append([a[valid] for a in (window_scores, durations, mean, bad_share, starts, lasts)])
    if not found:
        return None
    score, duration, mean, bad_share, first, last = (
        np.concatenate(c) for c in zip(*found, strict=True)
    )
    length_share = np.clip((duration - min_s) / max(max_s - min_s, 1e-9), 0.0, 1.0)
    rank = score * (1.0 + quality.window_length_worth * length_share)
    top = int(np.argmax(rank))
    # Near-ties lengthen the best window; they never move it to other footage (a window of a
    # worse shot just behind must not beat the better shot).
    shares = (first <= last[top]) & (last >= first[top])
    near = np.flatnonzero((rank >= rank[top] - quality.window_tie) & shares)
    # Longest first (to the millisecond), then the earliest start: near-ties are equally good,
    # and the rank's third decimal (a pitch grade of 8.4° against 8.7°) is no reason to move.
    order = np.lexsort((first[near], -np.round(duration[near], 3)))
    k = near[order[0]]
    i, j = int(first[k]), int(last[k])
    return Window(
        start_s=float(starts_at[i]),
        end_s=float(min(ends_at[j], starts_at[i] + max_s)),
        score=float(score[k]),
        mean_frame_score=float(mean[k]),
        bad_fraction=float(bad_share[k]),
        first_sample=i,
        last_sample=j,
    )


def _sample_spans(
    times: np.ndarray, cuts: Sequence[Cut], clip_duration: float, period: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where the footage each sample stands for starts and ends (s).

    Sample k stands for [t_k, t_(k+1)) (the last one for ``period``, within the clip),
    cut to the shot it belongs to: a cut in (t_k, t_(k+1)] ends it at the cut's ``end_s`` (the
    next shot's frames are not this sample's), and a cut in (t_(k-1), t_k] starts it at the
    cut's ``start_s`` (the frames between the cut and t_k are this shot's).
    """
    n = len(times)
    starts_at = times.astype(float).copy()
    ends_at = np.minimum(np.append(times[1:], times[-1] + period), clip_duration)
    for cut in cuts:
        k = int(np.searchsorted(times, cut.start_s, side="left"))  # first sample of the new shot
        if 0 < k < n:
            starts_at[k] = min(starts_at[k], cut.start_s)
        if k > 0:
            ends_at[k - 1] = min(ends_at[k - 1], cut.end_s)
    return starts_at, ends_at
