"""The window search on known score sequences, against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from clipprep._cuts import Cut
from clipprep._profiles import Quality
from clipprep._windows import best_window

Q = Quality()
FPS = 10


def search(scores, cuts=None, duration=None, min_s=2.0, max_s=4.0):
    scores = np.asarray(scores, dtype=float)
    times = np.arange(len(scores)) / FPS
    flags = np.zeros(len(scores), bool) if cuts is None else np.asarray(cuts)
    # A flag at sample k: a cut on the frame of sample k.
    cuts = [Cut(times[k], times[k], 100.0, 0.0) for k in np.flatnonzero(flags)]
    duration = len(scores) / FPS if duration is None else duration
    return best_window(
        times, scores, cuts, clip_duration=duration, min_s=min_s, max_s=max_s, quality=Q
    )


def brute_force(scores, cuts, min_s=2.0, max_s=4.0):
    """Every (i, j) pair, scored the documented way: the reference the fast search must match."""
    n = len(scores)
    duration = n / FPS
    candidates = []
    for i in range(n):
        for j in range(i, n):
            length_s = min((j + 1) / FPS, duration) - i / FPS
            slack = 0.25 / FPS
            if not (min_s - slack <= length_s <= max_s + slack) or any(cuts[i + 1 : j + 1]):
                continue
            span = scores[i : j + 1]
            bad = np.mean(span < Q.bad_frame_score)
            score = np.mean(span) * (1 - bad) ** 2
            rank = score * (1 + Q.window_length_worth * min(1.0, max(0.0, (length_s - min_s) / 2)))
            candidates.append((rank, score, length_s, i, j))
    return max(candidates) if candidates else None


def test_good_middle_is_found():
    scores = [0.05] * 20 + [0.9] * 45 + [0.0] * 25
    window = search(scores)
    assert window.start_s >= 2.0 and window.end_s <= 6.5
    assert window.duration_s == pytest.approx(4.0, abs=0.11)


def test_short_bad_stretch_counts_against_a_window():
    # 6 s of good footage with a 0.3 s blackout at 3.0 s: the window must avoid it.
    scores = [0.9] * 60
    scores[30:33] = [0.0, 0.0, 0.0]
    window = search(scores)
    assert window.last_sample < 30 or window.first_sample > 32


def test_window_never_crosses_a_cut():
    scores = [0.9] * 60
    cuts = [False] * 60
    cuts[25] = True  # a cut between 2.4 s and 2.5 s
    window = search(scores, cuts)
    assert not (window.first_sample < 25 <= window.last_sample)


def test_equal_windows_prefer_the_longest():
    window = search([0.8] * 50)
    assert window.duration_s == pytest.approx(4.0, abs=0.01)


def test_too_short_clip_has_no_window():
    assert search([0.9] * 15) is None


def test_clip_of_exactly_two_seconds_is_one_window():
    window = search([0.9] * 20)
    assert (window.start_s, window.end_s) == (0.0, 2.0)


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(25, 70))
    scores = np.clip(rng.normal(0.6, 0.3, n), 0, 1)
    cuts = rng.random(n) < 0.03
    window = search(scores, cuts)
    reference = brute_force(scores, cuts)
    if reference is None:
        assert window is None
        return
    best_rank = reference[0]
    share = min(1.0, max(0.0, window.duration_s / 2.0 - 1))
    rank = window.score * (1 + Q.window_length_worth * share)
    # The fast search may pick a longer window within the tie margin, never a worse one.
    assert rank >= best_rank - Q.window_tie - 1e-6
    assert rank <= best_rank + 1e-6
    expected = np.mean(scores[window.first_sample : window.last_sample + 1])
    assert window.mean_frame_score == pytest.approx(expected)


def _shots(scores, cut: Cut, duration: float = 6.0):
    times = np.arange(len(scores)) / FPS
    return best_window(
        times,
        np.asarray(scores, float),
        [cut],
        clip_duration=duration,
        min_s=2.0,
        max_s=4.0,
        quality=Q,
    )


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_window_ends_on_the_frame_of_a_cut_between_samples(phase):
    """30 fps sampled at 10 fps: a good shot cut 0-2 frames past sample 30 ends there, not at
    the next sample (that leaked the next shot's first frames into the window)."""
    cut_s = 3.0 + phase / 30
    good = 30 if phase == 0 else 31  # a cut on sample 30 makes it the next shot's
    scores = [0.9] * good + [0.1] * (60 - good)
    window = _shots(scores, Cut(cut_s, cut_s, 50.0, 0.0))
    assert window.end_s == pytest.approx(cut_s) and window.last_sample == good - 1


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_window_starts_on_the_frame_of_a_cut_between_samples(phase):
    cut_s = 1.5 + phase / 30 if phase else 1.6
    scores = [0.1] * 16 + [0.9] * 29 + [0.1] * 15  # the good shot: up to 4.5 s
    window = _shots(scores, Cut(cut_s, cut_s, 50.0, 0.0))
    assert window.start_s == pytest.approx(cut_s) and window.first_sample == 16


def test_window_stops_before_frames_that_were_not_decoded_across_a_cut():
    """The old shot is known up to end_s (its last decoded frame), the new one from start_s:
    the undecoded frames between could be either, so the window keeps none of them."""
    scores = [0.9] * 31 + [0.1] * 29
    window = _shots(scores, Cut(3.1, 3.0 + 1 / 30, 50.0, 0.0))
    assert window.end_s == pytest.approx(3.0 + 1 / 30)


def test_a_clearly_better_shot_beats_a_longer_one():
    # 3.5 s of a worse shot, a cut, 2.2 s of a clearly better one: length is worth something
    # (Quality.window_length_worth), not a shot 0.15 better.
    scores = [0.78] * 35 + [0.93] * 22
    cuts = [False] * 57
    cuts[35] = True
    window = search(scores, cuts)
    assert window.first_sample == 35


def test_near_ties_lengthen_the_best_window_but_never_swap_its_shot():
    # Shot A's 4 s (0.85, ranked 0.935) is within the tie margin of shot B's 3 s (0.91, ranked
    # 0.9555) and longer, but shares no footage with it: B, the better shot, is kept.
    scores = [0.85] * 40 + [0.91] * 30
    cuts = [False] * 70
    cuts[40] = True
    window = search(scores, cuts)
    assert (window.first_sample, window.last_sample) == (40, 69)


def test_one_good_shot_keeps_its_whole_length():
    # One shot whose first half is a little better (a talker who then turns a little): all
    # 4 s of it, not just the best 2 s.
    scores = [0.91] * 20 + [0.8] * 20
    window = search(scores)
    assert (window.start_s, window.end_s) == (0.0, 4.0)
