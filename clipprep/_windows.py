"""Frame scores -> the best 2–4 s window.

Each sampled frame gets *flags* (what is wrong with it, and how badly) and a *score* in 0..1
(how good it is as character footage) by its target's rules (_targets/; this module only
searches). Every candidate window of the allowed length is then scored with prefix sums, so the
search is linear in the number of samples for each allowed length:

    window score = mean frame score × (1 − share of bad frames)²
    rank = window score × (1 + Quality.window_length_worth × (duration − min) / (max − min))

The second factor is why a short bad stretch (a blink of darkness, a head turned away) counts
against a window instead of being averaged away. A window never crosses a scene cut, and its
ends snap to the cuts around it, which are located to the frame (_cuts.py): a cut between two
samples neither leaks the next shot's first frames into the window nor cuts the shot short.
The best rank wins: more footage gives the service more of the character's identity, worth a
little quality. Among windows ranked within ``Quality.window_tie`` of the best that share
footage with it, the longest wins (then the earliest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._cuts import Cut, cuts_between
from ._profiles import Quality


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
