"""The shortcuts that make analysis fast pick what a thorough every-frame analysis picks.

The fast path skips frames no other frame refers to, detects faces on every other sample and
interpolates the steady ones between, follows the face with the short-range model between full
scans, backs off the tile search, runs the face mesh on every other sample and converts frames
with OpenCV. The reference decodes every frame, samples every frame and runs
every model on every sample (``thorough=True``, ``sample_fps`` = the clip's rate).
"""

from __future__ import annotations

import numpy as np
import pytest
from synth import Segment, build_clip

from clipprep._boxes import iou
from clipprep._faces import FaceFinder, faces_along
from clipprep._frames import DecodeStats, iter_frames
from clipprep._pipeline import Analyzer

# One default sampling period: the fast path samples at 10 fps, the reference every frame.
_PERIOD = 0.1


@pytest.fixture(scope="module")
def every_frame_analyzer():
    with Analyzer(thorough=True, sample_fps=30) as reference:
        yield reference


CLIPS = {
    # 1080p: dark, then a well-lit face drifting across the frame, then a second person.
    "full_hd_dark_lit_two": dict(
        segments=[
            Segment(2.0, "face", brightness=0.12),
            Segment(2.0, "face", face_height=0.3, center=(0.4, 0.45)),
            Segment(2.0, "face", face_height=0.3, center=(0.6, 0.45)),
            Segment(2.0, "two_faces", face_height=0.3),
        ],
        width=1920,
        height=1080,
    ),
    # The long_good_middle sample: dark, lit, empty. Skipped frames make the sampling grid
    # irregular; the window must still be exactly 2.00-6.00 s (it was 2.13-6.10 once).
    "dark_lit_empty": dict(
        segments=[
            Segment(2.0, "face", brightness=0.12),
            Segment(4.5, "face"),
            Segment(2.5, "empty"),
        ],
    ),
    # A second person walks in beside a steady first one, between two whole-frame scans: the
    # window must end where they arrive (it ended 0.2-0.4 s later before every frame since the
    # last scan was rescanned on a change of face count).
    "second_face_walks_in": dict(
        segments=[
            Segment(3.15, "face", center=(0.28, 0.45), face_height=0.3),
            Segment(1.5, "two_faces", face_height=0.3),
            Segment(3.0, "face", center=(0.28, 0.45), face_height=0.3),
        ],
        width=1920,
        height=1080,
    ),
    # Real footage: carphone's talker after an empty room, then a small dim face.
    "carphone_between": dict(
        segments=[
            Segment(1.5, "empty"),
            Segment(4.0, "carphone"),
            Segment(2.5, "face", face_height=0.12, brightness=0.35),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_fast_window_is_the_every_frame_window(name, tmp_path, analyzer, every_frame_analyzer):
    path = build_clip(tmp_path / f"{name}.mp4", **CLIPS[name])
    fast = analyzer.check(path)
    reference = every_frame_analyzer.check(path)
    assert reference.analysis["frames_sampled"] == reference.analysis["frames_decoded"]
    assert fast.analysis["frames_decoded"] < reference.analysis["frames_decoded"]
    assert fast.verdict == reference.verdict
    assert fast.best_window is not None and reference.best_window is not None
    assert fast.best_window.start_s == pytest.approx(reference.best_window.start_s, abs=_PERIOD)
    assert fast.best_window.end_s == pytest.approx(reference.best_window.end_s, abs=_PERIOD)
    errors = {p.code for p in reference.problems if p.severity == "error"}
    assert {p.code for p in fast.problems if p.severity == "error"} == errors


def _faces_per_sample(path, stride: int) -> dict[float, tuple[list, bool]]:
    with FaceFinder(landmarks=False) as finder:
        return {
            sample.frame.time_s: (sample.faces, sample.detected)
            for sample in faces_along(iter_frames(path), finder, stride=stride)
        }


def test_faces_between_detections_are_interpolated_only_when_steady(tmp_path):
    # An empty room, then a face that moves across the frame in one jump.
    path = build_clip(
        tmp_path / "appears_jumps.mp4",
        [
            Segment(1.05, "empty"),
            Segment(1.0, "face", face_height=0.3, center=(0.3, 0.45)),
            Segment(1.0, "face", face_height=0.3, center=(0.7, 0.45)),
        ],
    )
    every = _faces_per_sample(path, stride=1)
    strided = _faces_per_sample(path, stride=2)
    assert list(strided) == list(every)
    interpolated = [t for t, (_, detected) in strided.items() if not detected]
    assert len(interpolated) >= 0.3 * len(strided)  # steady stretches skip the detector
    for time_s in interpolated:  # and what they guess is what the detector sees there
        guessed, seen = strided[time_s][0], every[time_s][0]
        assert len(guessed) == len(seen)
        assert not seen or iou(guessed[0].box, seen[0].box) > 0.7
    # The samples next to the face's arrival and its jump were detected, not guessed.
    arrival = next(t for t, (faces, _) in every.items() if t > 1 and faces)
    for moment in (arrival, 2.05):
        assert not [t for t in interpolated if abs(t - moment) < 0.1]


def _sample_times(path, **kwargs) -> tuple[np.ndarray, DecodeStats]:
    stats = DecodeStats()
    times = np.array([f.time_s for f in iter_frames(path, stats=stats, **kwargs)])
    return times, stats


def test_unreferenced_frames_are_not_decoded_and_sampling_holds(ready_clip):
    fast, fast_stats = _sample_times(ready_clip)
    full, full_stats = _sample_times(ready_clip, skip_unreferenced=False)
    assert fast_stats.decoded < 0.8 * full_stats.decoded  # x264's B-frames were skipped
    assert len(fast) == pytest.approx(len(full), abs=2)
    # Each sample is at most one frame later than the every-frame sampler's.
    assert np.diff(fast).max() <= _PERIOD + 1 / 30 + 1e-6


def test_skipping_stops_when_it_would_leave_gaps(tmp_path):
    # Three B-frames that are not references: skipping them leaves a reference every 4th frame
    # (0.133 s), longer than the 0.1 s sampling period.
    path = build_clip(
        tmp_path / "flat_b.mp4",
        [Segment(3.0, "face")],
        encoder_options={"bf": "3", "x264-params": "b-pyramid=none:b-adapt=0"},
    )
    times, stats = _sample_times(path)
    assert len(times) >= 29
    assert np.diff(times)[5:].max() <= _PERIOD + 1 / 30 + 1e-6
    assert stats.decoded >= 0.8 * 90  # decoding every frame again


def test_consumer_stopping_early_stops_the_decoder(long_clip):
    import threading

    frames = iter_frames(long_clip)
    next(frames)
    frames.close()
    assert not [t for t in threading.enumerate() if t.name == "clipprep-decode"]


def _swscale_reference(path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.reformat(
            width=640, height=360, format="rgb24", interpolation="AREA"
        ).to_ndarray()


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p"])
def test_analysis_pixels_match_swscale(tmp_path, pix_fmt):
    """OpenCV's conversion (limited range only) and swscale's give the same picture; full-range
    input must not be read as limited range (that stretches it by 255/219)."""
    path = build_clip(tmp_path / f"{pix_fmt}.mp4", [Segment(0.5, "face")], pix_fmt=pix_fmt)
    ours = next(iter_frames(path)).rgb.astype(np.int16)
    assert np.abs(ours - _swscale_reference(path)).mean() < 2.5
