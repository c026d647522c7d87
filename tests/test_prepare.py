"""clipprep prepare on real clips: exact cuts, sync, orientation, size, shape, codec, safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest
from synth import Segment, clip_frames, write_clip

from clipprep._errors import PrepareError, UsageError
from clipprep._export import prepare
from clipprep._probe import probe

FPS = 30
CLICK_AT = 3.0  # seconds into the source: a loud 10 ms burst in the audio
BAR_STEP = 4  # the frame-index bar moves this many pixels per frame


def with_frame_index(frames):
    """Draw each frame's index as the position of a white bar in a black strip at the bottom."""
    for i, frame in enumerate(frames):
        frame = frame.copy()
        frame[-24:, :] = 0
        x = 8 + BAR_STEP * i
        frame[-20:-4, x : x + BAR_STEP] = 255
        yield frame


def frame_index(rgb: np.ndarray) -> int:
    strip = rgb[-20:-4, :, :].mean(axis=(0, 2))
    lit = np.flatnonzero(strip > 128)
    return round((lit.mean() - BAR_STEP / 2 + 0.5 - 8) / BAR_STEP)


def click(times: np.ndarray) -> np.ndarray:
    tone = 0.05 * np.sin(2 * np.pi * 440 * times)
    return tone + 0.8 * ((times >= CLICK_AT) & (times < CLICK_AT + 0.01))


@pytest.fixture(scope="module")
def long_marked(clip_dir):
    """9 s: dark 0–2 s, good 2–6.5 s, no face after; frame indices drawn; a click at 3 s."""
    segments = [Segment(2.0, "face", brightness=0.12), Segment(4.5, "face"), Segment(2.5, "empty")]
    return write_clip(
        clip_dir / "long_marked.mp4", with_frame_index(clip_frames(segments)), FPS, tone=click
    )


def decoded(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def audio_onset(path) -> float:
    """Time (s) of the first loud sample in the file's audio."""
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            loud = np.flatnonzero(np.abs(frame.to_ndarray()).max(axis=0) > 0.4)
            if loud.size:
                return frame.time + loud[0] / frame.sample_rate
    raise AssertionError("no click found")


def test_long_clip_becomes_a_ready_cut_of_its_good_part(analyzer, long_marked, tmp_path):
    result = prepare(long_marked, tmp_path / "out.mp4", analyzer=analyzer)
    assert result.verdict == "ready", result.report.problems
    start, end = result.plan.start_s, result.plan.end_s
    assert start >= 2.0 - 0.1 and end <= 6.5 + 0.1
    assert 2.0 <= result.after.duration_s <= 4.0 + 1e-3
    assert [op["op"] for op in result.plan.operations][:1] == ["trim"]

    out_frames = decoded(tmp_path / "out.mp4")
    first = round(start * FPS)
    # Frame-accurate: the first frame is the source frame at the start, then every next one.
    assert [frame_index(f) for f in out_frames] == list(range(first, first + len(out_frames)))
    source = decoded(long_marked)[first]
    assert np.abs(out_frames[0].astype(int) - source).mean() < 4  # within encoding tolerance

    # Audio in sync: the click keeps its distance from the first frame (one AAC frame of slack).
    assert audio_onset(tmp_path / "out.mp4") == pytest.approx(CLICK_AT - start, abs=0.025)
    assert result.after.audio is not None and result.after.audio.codec == "aac"


def test_output_is_fast_start_mp4(analyzer, ready_clip, tmp_path):
    result = prepare(ready_clip, tmp_path / "ready.mp4", analyzer=analyzer)
    head = (tmp_path / "ready.mp4").read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    assert result.verdict == "ready"
    assert result.after.video.codec == "h264" and result.after.video.pix_fmt == "yuv420p"


def test_rotated_portrait_clip_comes_out_upright(analyzer, rotated_clip, tmp_path):
    result = prepare(rotated_clip, tmp_path / "upright.mp4", analyzer=analyzer)
    video = result.after.video
    assert video.rotation == 0
    assert video.coded_height > video.coded_width  # portrait pixels, no flag needed
    assert abs(result.report.summary["roll"]["median"]) < 15
    assert "rotate" in [op["op"] for op in result.plan.operations]


def test_4k_clip_comes_out_1080(analyzer, make_clip, tmp_path):
    source = make_clip("uhd.mp4", [Segment(2.5, "face")], width=3840, height=2160)
    result = prepare(source, tmp_path / "hd.mp4", analyzer=analyzer)
    assert (result.after.video.width, result.after.video.height) == (1920, 1080)
    assert result.verdict == "ready", result.report.problems


def test_too_wide_clip_is_cropped_around_the_face(analyzer, make_clip, tmp_path):
    source = make_clip(
        "wide.mp4",
        [Segment(3.0, "face", face_height=0.3, center=(0.8, 0.45))],
        width=2160,
        height=720,
    )
    assert analyzer.check(source).verdict == "fixable"
    result = prepare(source, tmp_path / "cropped.mp4", analyzer=analyzer)
    video = result.after.video
    assert video.width / video.height <= 2.67 + 0.01
    assert result.report.summary["face_present"]["share"] >= 0.95
    assert not {p.code for p in result.report.problems} & {"face_cut_off", "aspect_ratio"}
    assert result.verdict == "ready", result.report.problems


@pytest.mark.parametrize("aspect, ratio", [("9:16", 9 / 16), ("1:1", 1.0)])
def test_aspect_option_crops_around_the_face(analyzer, ready_clip, tmp_path, aspect, ratio):
    result = prepare(ready_clip, tmp_path / f"{ratio}.mp4", aspect=aspect, analyzer=analyzer)
    video = result.after.video
    assert video.width / video.height == pytest.approx(ratio, abs=0.01)
    assert result.report.summary["face_present"]["share"] >= 0.95


def test_10bit_hevc_comes_out_8bit_h264(analyzer, make_clip, tmp_path):
    source = make_clip("hevc10.mkv", [Segment(2.5, "face")], codec="libx265", pix_fmt="yuv420p10le")
    assert probe(source).video.bit_depth == 10
    result = prepare(source, tmp_path / "h264.mp4", analyzer=analyzer)
    video = result.after.video
    assert (video.codec, video.pix_fmt, video.bit_depth) == ("h264", "yuv420p", 8)
    assert result.after.container == "mp4"
    assert result.verdict == "ready", result.report.problems


def test_low_resolution_is_not_upscaled_unless_asked(analyzer, make_clip, tmp_path):
    source = make_clip("small.mp4", [Segment(2.5, "face")], width=640, height=360)
    with pytest.raises(PrepareError, match="low_resolution") as refused:  # nothing written
        prepare(source, tmp_path / "refused.mp4", analyzer=analyzer)
    assert "--allow-upscale" in refused.value.hint
    assert not (tmp_path / "refused.mp4").exists()
    kept = prepare(source, tmp_path / "kept.mp4", even_if_rejected=True, analyzer=analyzer)
    assert kept.after.video.height == 360
    assert kept.verdict == "rejected" and any("--allow-upscale" in w for w in kept.warnings)
    grown = prepare(source, tmp_path / "grown.mp4", allow_upscale=True, analyzer=analyzer)
    assert grown.after.video.height == 720
    assert any("adds no detail" in w for w in grown.warnings)


def test_given_window_is_validated_and_used(analyzer, long_marked, tmp_path):
    with pytest.raises(UsageError):
        prepare(long_marked, tmp_path / "a.mp4", start=3.0, end=4.5, analyzer=analyzer)
    with pytest.raises(UsageError):
        prepare(long_marked, tmp_path / "b.mp4", start=8.0, end=11.0, analyzer=analyzer)
    result = prepare(long_marked, tmp_path / "c.mp4", start=2.5, end=5.0, analyzer=analyzer)
    assert frame_index(decoded(tmp_path / "c.mp4")[0]) == round(2.5 * FPS)
    assert result.after.duration_s == pytest.approx(2.5, abs=0.04)


def test_never_overwrites_without_force_and_never_the_input(analyzer, ready_clip, tmp_path):
    target = tmp_path / "taken.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(UsageError) as taken:
        prepare(ready_clip, target, analyzer=analyzer)
    assert taken.value.code == "output_exists"
    assert target.read_bytes() == b"precious"
    original = ready_clip.read_bytes()
    with pytest.raises(UsageError):
        prepare(ready_clip, ready_clip, force=True, analyzer=analyzer)
    assert ready_clip.read_bytes() == original
    prepare(ready_clip, target, force=True, analyzer=analyzer)
    assert probe(target).video is not None


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_interrupted_prepare_leaves_nothing(analyzer, ready_clip, tmp_path):
    def stop(count: int, total: int) -> None:
        if count == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(ready_clip, tmp_path / "out.mp4", analyzer=analyzer, on_frame=stop)
    assert leftovers(tmp_path) == []


def test_sigint_to_the_command_leaves_nothing(make_clip, tmp_path):
    """The real command, interrupted with Ctrl-C's signal while it is writing."""
    source = make_clip("uhd.mp4", [Segment(2.5, "face")], width=3840, height=2160)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    entry = os.path.join(os.path.dirname(sys.executable), "clipprep")
    process = subprocess.Popen(
        [entry, "prepare", str(source), "-o", str(out_dir / "x.mp4")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(out_dir.glob("*.part.mp4")) and process.poll() is None:
        assert time.monotonic() < deadline, "the temporary file never appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert leftovers(out_dir) == []


def test_force_never_replaces_a_fifo(ready_clip, tmp_path):
    import stat

    fifo = tmp_path / "out.mp4"
    os.mkfifo(fifo)
    entry = os.path.join(os.path.dirname(sys.executable), "clipprep")
    result = subprocess.run(
        [entry, "prepare", str(ready_clip), "--force", "-o", str(fifo)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "error [output_not_regular]" in result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary left
