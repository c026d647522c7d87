"""Frame scores -> the best 2–4 s window.

Each sampled frame gets *flags* (what is wrong with it, and how badly) and a *score* in 0..1
(how good it is as character footage). Every candidate window of the allowed length is then
scored with prefix sums, so the search is linear in the number of samples for each allowed
length:

    window score = mean frame score × (1 − share of bad frames)²

The second factor is why a short bad stretch (a blink of darkness, a head turned away) counts
against a window instead of being averaged away. A window never crosses a scene cut, and among
windows within ``Quality.window_tie`` of the best, the longest wins: more footage gives the
service more of the character's identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import FrameMetrics
from .profiles import Quality

ERROR = "error"
WARNING = "warning"


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


def frame_flags(m: FrameMetrics, q: Quality) -> dict[str, str]:
    """What is wrong with one frame: problem code -> "error" or "warning"."""
    if m.face_h is None:
        return {"no_face": ERROR}
    flags: dict[str, str] = {}

    def flag(code: str, is_error: bool, is_warning: bool = False) -> None:
        if is_error:
            flags[code] = ERROR
        elif is_warning:
            flags[code] = WARNING

    flag("multiple_faces", m.competing_faces > 0)
    flag("face_too_small", m.face_h < q.face_height_min, m.face_h < q.face_height_good)
    flag("face_cut_off", m.face_cut_off)
    yaw, pitch = abs(m.yaw or 0.0), abs(m.pitch or 0.0)
    flag(
        "not_frontal",
        yaw > q.yaw_max or pitch > q.pitch_max,
        yaw > q.yaw_warn or pitch > q.pitch_warn,
    )
    flag("too_dark", m.face_luma < q.face_luma_dark, m.face_luma < q.face_luma_dim)
    flag(
        "overexposed",
        m.face_clipped_fraction >= q.overexposed_fraction,
        m.face_luma > q.face_luma_bright,
    )
    flag("uneven_lighting", False, m.face_lr_imbalance > q.lr_imbalance)
    flag("backlit", False, m.backlight_ratio < q.backlight_ratio)
    flag("blurry", m.sharpness < q.sharpness_blurry, m.sharpness < q.sharpness_soft)
    flag("eyes_closed", False, m.eye_openness is not None and m.eye_openness < q.eyes_closed_ear)
    return flags


def frame_score(m: FrameMetrics, q: Quality) -> float:
    """How good one frame is as character footage, 0 (useless) to 1."""
    if m.face_h is None:
        return 0.0
    factors = [
        0.15 if m.competing_faces else 1.0,
        0.2 + 0.8 * _ramp(m.face_h, q.face_height_min, q.face_height_good),
        0.4 if m.face_cut_off else 1.0,
        0.5 + 0.5 * _ramp(m.face_score or 0.0, 0.5, 0.8),
        1.0 - 0.8 * _ramp(abs(m.yaw or 0.0), q.yaw_warn, q.yaw_max),
        1.0 - 0.8 * _ramp(abs(m.pitch or 0.0), q.pitch_warn, q.pitch_max),
        0.05 + 0.95 * _ramp(m.face_luma, q.face_luma_dark - 15, q.face_luma_dim),
        1.0 - 0.7 * _ramp(m.face_luma, q.face_luma_bright, 250),
        1.0
        - 0.7
        * _ramp(
            m.face_clipped_fraction, 0.5 * q.overexposed_fraction, 1.5 * q.overexposed_fraction
        ),
        1.0 - 0.4 * _ramp(m.face_lr_imbalance, q.lr_imbalance, 1.5 * q.lr_imbalance),
        0.6 + 0.4 * _ramp(m.backlight_ratio, 0.6 * q.backlight_ratio, q.backlight_ratio),
        0.3 + 0.7 * _ramp(m.sharpness, q.sharpness_blurry, q.sharpness_soft),
        0.7 if m.eye_openness is not None and m.eye_openness < q.eyes_closed_ear else 1.0,
    ]
    return float(np.prod(factors))


def best_window(
    times: np.ndarray,
    scores: np.ndarray,
    cuts: np.ndarray,
    *,
    clip_duration: float,
    min_s: float,
    max_s: float,
    quality: Quality,
) -> Window | None:
    """The best window of ``min_s``..``max_s`` seconds, or None if the clip has none.

    ``times`` are the sample times (s), ``scores`` their frame scores, ``cuts[k]`` is True when a
    scene cut lies between sample k-1 and k. A window of samples i..j covers [t_i, t_j + period).
    """
    n = len(times)
    if n == 0:
        return None
    period = float(np.median(np.diff(times))) if n > 1 else clip_duration
    ends_at = np.minimum(times + period, clip_duration)
    bad = scores < quality.bad_frame_score
    score_sums = np.concatenate(([0.0], np.cumsum(scores)))
    bad_sums = np.concatenate(([0], np.cumsum(bad)))
    cut_sums = np.concatenate(([0], np.cumsum(cuts)))
    slack = 0.25 * period  # timestamps jitter; a 4.0 s window measured as 4.01 s is still 4 s

    found = []  # per length: (window scores, durations, mean scores, bad shares, starts, lasts)
    for length in range(1, n + 1):
        starts = np.arange(0, n - length + 1)
        lasts = starts + length - 1
        durations = ends_at[lasts] - times[starts]
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
    near = np.flatnonzero(score >= score.max() - quality.window_tie)
    # Longest first (to the millisecond), then the best score, then the earliest start.
    order = np.lexsort((first[near], -score[near], -np.round(duration[near], 3)))
    k = near[order[0]]
    i, j = int(first[k]), int(last[k])
    return Window(
        start_s=float(times[i]),
        end_s=float(min(ends_at[j], times[i] + max_s)),
        score=float(score[k]),
        mean_frame_score=float(mean[k]),
        bad_fraction=float(bad_share[k]),
        first_sample=i,
        last_sample=j,
    )
