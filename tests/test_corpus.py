"""Broken and unusual inputs: every one ends with a report or a clear error, never a traceback,
a hang, or a partial file. The corpus is generated at test time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from synth import Segment, build_clip, clip_frames, write_clip

from clipprep._errors import ClipprepError
from clipprep._export import prepare

ENTRY = os.path.join(os.path.dirname(sys.executable), "clipprep")
VERDICTS = {"ready", "fixable", "rejected", "unreadable"}
SMALL = {"width": 480, "height": 270}


def plain_mp4(path: Path, seconds: float = 2.5, **options) -> Path:
    """An MP4 written without fast start (moov at the end), straight with PyAV. 480x272: x264
    codes interlaced pictures only when the height divides by 4."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 480, 272, "yuv420p"
        stream.options = options
        for i, picture in enumerate(clip_frames([Segment(seconds, "face")], 480, 272, 25)):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def patched(source: Path, target: Path, box: bytes, offset: int, value: bytes) -> Path:
    """A copy of ``source`` with ``value`` written ``offset`` bytes after the ``box`` type."""
    data = bytearray(source.read_bytes())
    at = data.index(box) + offset
    data[at : at + len(value)] = value
    target.write_bytes(bytes(data))
    return target


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    good = build_clip(root / "good.mp4", [Segment(2.5, "face")], **SMALL)
    items = {"good": good}

    def add(name: str, path: Path) -> None:
        items[name] = path

    (root / "empty.mp4").write_bytes(b"")
    add("empty", root / "empty.mp4")
    whole = good.read_bytes()
    (root / "truncated_media.mp4").write_bytes(whole[: len(whole) * 6 // 10])
    add("truncated_media", root / "truncated_media.mp4")
    no_moov = plain_mp4(root / "moov_at_end_src.mp4").read_bytes()
    (root / "truncated_no_moov.mp4").write_bytes(no_moov[: len(no_moov) // 2])
    (root / "moov_at_end_src.mp4").unlink()
    add("truncated_no_moov", root / "truncated_no_moov.mp4")
    (root / "random.mp4").write_bytes(np.random.default_rng(7).bytes(200_000))
    add("random", root / "random.mp4")
    (root / "text.mp4").write_text("this is not a video\n")
    add("text", root / "text.mp4")
    from skimage import data

    cv2.imwrite(str(root / "still.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    add("still_image", root / "still.jpg")
    add("audio_only", _audio_only(root / "audio_only.m4a"))
    add(
        "video_only",
        build_clip(root / "video_only.mp4", [Segment(2.5, "face")], audio=False, **SMALL),
    )
    add("one_frame", build_clip(root / "one_frame.mp4", [Segment(1 / 30, "face")], **SMALL))
    # mdhd: version/flags(4) creation(4) modification(4) timescale(4): a zero timescale.
    add("zero_timescale", patched(good, root / "zero_timescale.mp4", b"mdhd", 16, bytes(4)))
    # tkhd (version 0): width and height (16.16 fixed point) sit 76 and 80 bytes after the type.
    add("huge_header_size", patched(good, root / "huge_size.mp4", b"tkhd", 76, b"\xff\xff" * 4))
    add(
        "hevc_10bit",
        build_clip(
            root / "hevc10.mkv",
            [Segment(2.5, "face")],
            codec="libx265",
            pix_fmt="yuv420p10le",
            **SMALL,
        ),
    )
    add(
        "vp9_webm",
        build_clip(
            root / "vp9.webm",
            [Segment(2.5, "face")],
            codec="libvpx-vp9",
            audio_codec="libopus",
            **SMALL,
        ),
    )
    add("mov", build_clip(root / "clip.mov", [Segment(2.5, "face")], **SMALL))
    add("variable_rate", _variable_rate(root / "vfr.mp4"))
    for degrees in (90, 180, 270):
        add(
            f"rotation_{degrees}",
            build_clip(
                root / f"rot{degrees}.mp4", [Segment(2.5, "face")], rotation=degrees, **SMALL
            ),
        )
    add(
        "odd_size",
        build_clip(
            root / "odd.mp4", [Segment(2.5, "face")], width=481, height=271, pix_fmt="yuv444p"
        ),
    )
    add("interlaced", plain_mp4(root / "interlaced.mp4", **{"x264-params": "interlaced=1"}))
    add(
        "five_minutes",
        build_clip(
            root / "five_minutes.mp4",
            [Segment(300, "face")],
            width=320,
            height=240,
            fps=5,
            audio=False,
        ),
    )
    for name in ("with spaces.mp4", "ünïcödé-名前.mp4", "-leading-dash.mp4"):
        shutil.copy(good, root / name)
        add(name, root / name)
    (root / "folder.mp4").mkdir()
    add("folder", root / "folder.mp4")
    os.mkfifo(root / "fifo.mp4")
    add("fifo", root / "fifo.mp4")
    (root / "loop").symlink_to(root, target_is_directory=True)
    return items


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 96000), np.float32), format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _variable_rate(path: Path) -> Path:
    times = np.cumsum([0.0] + [1 / 30 if i % 3 else 1 / 12 for i in range(60)])
    frames = clip_frames([Segment(2.5, "face")], 480, 270, 30)
    return write_clip(path, (next(frames) for _ in times), 30, frame_times=times, audio=False)


EXPECTED = {
    "empty": {"unreadable"},
    "random": {"unreadable"},
    "text": {"unreadable"},
    "truncated_no_moov": {"unreadable"},
    "folder": {"unreadable"},
    "fifo": {"unreadable"},
    "audio_only": {"rejected"},
    "one_frame": {"rejected"},
    "still_image": {"rejected", "unreadable"},
    "five_minutes": {"fixable", "rejected"},
}


@pytest.fixture(scope="module")
def reports(analyzer, corpus):
    return {name: analyzer.check(path) for name, path in corpus.items()}


def test_check_gives_a_report_for_every_input(reports):
    for name, report in reports.items():
        assert report.verdict in VERDICTS, name
        assert report.verdict in EXPECTED.get(name, VERDICTS), (name, report.problems)
        if report.verdict == "unreadable":
            assert report.problems[0].message and report.problems[0].hint, name
        json.dumps(report.to_dict(include_frames=True))  # always serialisable


def test_valid_variants_are_understood(reports):
    for name in ("rotation_90", "rotation_270"):
        video = reports[name].probe.video
        assert (video.width, video.height) == (270, 480), name
    assert reports["variable_rate"].probe.video.variable_frame_rate
    assert reports["hevc_10bit"].probe.video.bit_depth == 10
    assert reports["interlaced"].probe.video.interlaced
    long = reports["five_minutes"]
    assert long.best_window is not None and "too_long" in {p.code for p in long.problems}


def test_prepare_never_leaves_partial_output(analyzer, corpus, tmp_path):
    for name, path in corpus.items():
        out = tmp_path / name
        out.mkdir()
        try:
            result = prepare(path, out / "prepared.mp4", analyzer=analyzer)
        except ClipprepError as error:
            assert error.code and error.message, name
            assert list(out.iterdir()) == [], name
        else:
            assert [p.name for p in out.iterdir()] == ["prepared.mp4"], name
            assert result.after.video.codec == "h264", name


def run(*args: str) -> subprocess.CompletedProcess:
    # Well under the batch's hard per-file limit (375 s): a file that hangs fails the test
    # (a FIFO once hung the batch's hashing step until the worker was killed).
    return subprocess.run(
        [ENTRY, *args], capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
    )


def test_cli_check_over_the_whole_corpus(corpus):
    paths = [str(p) for p in corpus.values()]
    result = run("check", "--json", "--", *paths)
    assert result.returncode == 5, result.stderr  # the worst: unreadable inputs
    assert "Traceback" not in result.stderr + result.stdout
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in reports] == paths


def test_cli_batch_over_the_corpus_folder(corpus, tmp_path):
    folder = corpus["good"].parent
    result = run(
        "batch",
        str(folder),
        "--recursive",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    videos = [
        p
        for p in corpus.values()
        if p.suffix in (".mp4", ".mkv", ".webm", ".mov") and not p.is_dir()
    ]
    assert len(lines) == len(videos)


def test_time_limit_stops_a_long_analysis(corpus):
    import dataclasses

    from clipprep._pipeline import Analyzer
    from clipprep._profiles import get_profile

    profile = get_profile(None)
    hurried = dataclasses.replace(
        profile, limits=dataclasses.replace(profile.limits, max_seconds=1)
    )
    with Analyzer(profile=hurried) as analyzer:
        report = analyzer.check(corpus["five_minutes"])  # 1500 frames: never done in 1 s
    assert report.verdict == "rejected"
    assert [p.code for p in report.problems] == ["time_limit"]
    assert report.analysis["elapsed_s"] < 30
