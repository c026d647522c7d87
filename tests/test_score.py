"""The graded frame score (issue 13, item 3): of two acceptable shots, the better framed wins.

Before, every acceptable frame scored 1.0, so a medium shot of a man turned 17° and the frontal
close-up of him that followed tied, and length or a few small dips decided.
"""

from __future__ import annotations

import dataclasses
import itertools

import cv2
import pytest
from synth import carphone_pictures, write_clip

from clipprep._metrics import FrameMetrics
from clipprep._profiles import Quality
from clipprep._targets import frame_flags, frame_score
from clipprep._vocab import TargetKind

Q = Quality()

# An acceptable frame: one face, well lit, sharp, nothing flagged.
_FACE = dict(face_count=1, competing_faces=0, face_x=0.4, face_y=0.3, face_w=0.2, face_h=0.3)
_POSE = dict(face_score=0.9, face_margin=0.2, face_cut_off=False, yaw=0.0, pitch=0.0, roll=0.0)
_LIGHT = dict(face_luma=130.0, face_clipped_fraction=0.0, face_lr_imbalance=0.05)
_FRAME = dict(frame_luma=120.0, frame_dark_fraction=0.0, frame_clipped_fraction=0.0)
_REST = dict(time_s=0.0, pose_source="landmarks", eye_openness=0.3, dynamic_range=200.0)
_MORE = dict(backlight_ratio=1.0, sharpness=80.0, competing_subjects=0, subject_cut_off=False)
_MOTION = dict(motion=1.0, scene_change=1.0, similarity=0.99, is_cut=False)
GOOD = FrameMetrics(
    **{f.name: None for f in dataclasses.fields(FrameMetrics)}
    | _FACE
    | _POSE
    | _LIGHT
    | _FRAME
    | _REST
    | _MORE
    | _MOTION
)


def _score(**changes) -> float:
    frame = dataclasses.replace(GOOD, **changes)
    assert not frame_flags(frame, Q), "the grades rank acceptable frames only"
    return frame_score(frame, Q)


def test_the_issue_close_up_outscores_the_turned_medium_shot():
    medium = _score(face_h=0.29, yaw=-17.0)
    close_up = _score(face_h=0.52, yaw=-1.0)
    assert close_up > 0.95
    assert close_up - medium > 0.15
    assert medium > Q.bad_frame_score  # graded down, never "bad"


@pytest.mark.parametrize(
    "worse, better",
    [
        (dict(face_h=0.2), dict(face_h=0.35)),  # bigger face
        (dict(face_h=0.35), dict(face_h=0.5)),
        (dict(yaw=20.0), dict(yaw=8.0)),  # more frontal
        (dict(yaw=-8.0), dict(yaw=0.0)),
        (dict(pitch=15.0), dict(pitch=3.0)),
        (dict(sharpness=40.0), dict(sharpness=58.0)),  # sharper
        (dict(face_luma=75.0), dict(face_luma=95.0)),  # better lit
        (dict(face_luma=215.0), dict(face_luma=160.0)),
    ],
)
def test_acceptable_frames_are_still_ranked(worse, better):
    assert _score(**better) > _score(**worse) + 0.01


def test_a_face_past_the_best_size_is_not_marked_down_for_size():
    assert _score(face_h=0.7) == pytest.approx(_score(face_h=Q.face_height_best))


def test_subject_mode_grades_size_sharpness_and_light():
    subject = dataclasses.replace(
        GOOD,
        subject_x=0.3,
        subject_y=0.2,
        subject_w=0.4,
        subject_h=0.6,
        subject_size=0.3,
        subject_contrast=20.0,
        subject_detail=0.6,  # a textured character, not a plain shape
        subject_clutter=0.2,
        subject_stability=0.9,
        subject_margin=0.2,
        subject_luma=130.0,
        subject_clipped_fraction=0.0,
        subject_lr_imbalance=0.05,
        subject_backlight_ratio=1.0,
        subject_sharpness=80.0,
    )

    def score(**changes):
        frame = dataclasses.replace(subject, **changes)
        assert not frame_flags(frame, Q, TargetKind.SUBJECT)
        return frame_score(frame, Q, TargetKind.SUBJECT)

    assert score(subject_size=0.5) > score(subject_size=0.3) + 0.05
    assert score(subject_sharpness=60.0) > score(subject_sharpness=40.0) + 0.03
    assert score(subject_luma=100.0) > score(subject_luma=75.0) + 0.03


# carphone_pristine.mp4 (176×144): frames 84–117 he has turned a little (yaw ~8–11°, head
# tilted), frames 0–26 he faces the camera. The medium shot is the whole frame (face ~0.3 of
# its height); the close-up zooms on his face (~0.5).
_SIZE = (880, 720)
_CLOSE_UP = (43, 25, 133, 119)  # x0, y0, x1, y1 in carphone's pixels, the 880:720 shape


def _shot(pictures, frames: range, seconds: float, crop=None):
    """``seconds`` of carphone's frames played back and forth (no jump inside the shot)."""
    order = list(frames) + list(reversed(frames))[1:-1]
    for i in range(round(seconds * 30)):
        picture = pictures[order[i % len(order)]]
        if crop is not None:
            x0, y0, x1, y1 = crop
            picture = picture[y0:y1, x0:x1]
        yield cv2.resize(picture, _SIZE, interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize(
    "medium_s, close_up_s, medium_first",
    [(2.4, 2.9, True), (3.4, 2.4, True), (2.9, 2.4, False)],
)
def test_the_frontal_close_up_is_chosen(tmp_path, analyzer, medium_s, close_up_s, medium_first):
    pictures = list(itertools.islice(carphone_pictures(), 120))
    medium = _shot(pictures, range(84, 118), medium_s)
    close_up = _shot(pictures, range(0, 27), close_up_s, _CLOSE_UP)
    shots = itertools.chain(medium, close_up) if medium_first else itertools.chain(close_up, medium)
    report = analyzer.check(write_clip(tmp_path / "shots.mp4", shots, fps=30))
    start, end = (medium_s, medium_s + close_up_s) if medium_first else (0.0, close_up_s)
    window = report.best_window
    assert window.start_s >= start - 0.05 and window.end_s <= end + 0.05
    assert window.duration_s >= close_up_s - 0.25
    inside = report.frames[window.first_sample : window.last_sample + 1]
    assert min(m.face_h for m in inside) > 0.4  # the close-up's face, not the medium shot's
