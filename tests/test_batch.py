"""clipprep batch / check_many on a folder of real clips, bad files included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from synth import Segment

from clipprep._batch import Settings, check_many, find_clips
from clipprep._options import Options

ENTRY = os.path.join(os.path.dirname(sys.executable), "clipprep")

EXPECTED = {
    "ready_a.mp4": "ready",
    "ready_b.mp4": "ready",
    "ready_c.mp4": "ready",
    "fixable_long.mp4": "fixable",
    "fixable_mov.mov": "fixable",
    "fixable_wide.mp4": "fixable",
    "rejected_dark.mp4": "rejected",
    "rejected_two.mp4": "rejected",
    "rejected_small.mp4": "rejected",
    "corrupt.mp4": "unreadable",
    "empty.mp4": "unreadable",
    "notes.mp4": "unreadable",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from synth import build_clip

    root = tmp_path_factory.mktemp("batch")
    short = {"width": 960, "height": 540}
    build_clip(root / "ready_a.mp4", [Segment(2.5, "face")], width=1280, height=720)
    build_clip(
        root / "ready_b.mp4",
        [Segment(2.5, "face", face_height=0.3, center=(0.4, 0.45))],
        width=1280,
        height=720,
    )
    build_clip(
        root / "ready_c.mp4", [Segment(2.5, "face", brightness=0.85)], width=720, height=1280
    )
    build_clip(
        root / "fixable_long.mp4",
        [Segment(1.5, "face", brightness=0.1), Segment(3.0, "face")],
        width=1280,
        height=720,
    )
    build_clip(root / "fixable_mov.mov", [Segment(2.5, "face")], width=1280, height=720)
    build_clip(
        root / "fixable_wide.mp4", [Segment(2.5, "face", face_height=0.3)], width=2160, height=720
    )
    build_clip(root / "rejected_dark.mp4", [Segment(2.5, "face", brightness=0.1)], **short)
    build_clip(
        root / "rejected_two.mp4",
        [Segment(2.5, "two_faces", face_height=0.3)],
        width=1280,
        height=720,
    )
    build_clip(root / "rejected_small.mp4", [Segment(2.5, "face")], width=640, height=360)
    (root / "corrupt.mp4").write_bytes(
        (root / "ready_a.mp4").read_bytes()[:3000] + os.urandom(5000)
    )
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("not a video\n")
    (root / "readme.txt").write_text("ignored: not a video name\n")
    return root


def verdicts(results) -> dict[str, str]:
    return {os.path.basename(r.path): r.verdict for r in results}


def test_find_clips_skips_non_videos_and_survives_a_link_loop(folder, tmp_path):
    assert {p.name for p in find_clips([folder])} == set(EXPECTED)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    (nested / "x.mp4").write_bytes(b"")
    assert [p.name for p in find_clips([tmp_path], recursive=True)] == ["x.mp4"]


def test_check_many_gives_the_right_verdicts(folder, tmp_path):
    results = list(check_many(find_clips([folder]), workers=2, cache_folder=tmp_path / "cache"))
    assert verdicts(results) == EXPECTED
    for result in results:
        if result.verdict == "unreadable":
            assert result.data["problems"][0]["code"] == "unreadable"
        else:
            assert result.data["schema_version"] == 1 and result.data["thumbnails"]
    again = list(check_many(find_clips([folder]), workers=2, cache_folder=tmp_path / "cache"))
    # Every readable file comes from the cache; the empty one is simply checked again (cheap).
    assert {os.path.basename(r.path) for r in again if not r.cached} == {"empty.mp4"}
    assert verdicts(again) == EXPECTED


def test_dask_run_equals_the_local_run(folder, tmp_path):
    from distributed import LocalCluster

    clips = [folder / name for name in ("ready_a.mp4", "fixable_long.mp4", "empty.mp4")]
    local = {r.path: r.data for r in check_many(clips, workers=1, cache_folder=tmp_path / "l")}
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = {
            r.path: r.data
            for r in check_many(clips, scheduler=cluster, cache_folder=tmp_path / "d")
        }
    assert set(remote) == set(local)
    for path, data in local.items():
        assert remote[path]["verdict"] == data["verdict"]
        assert remote[path].get("best_window") == data.get("best_window")
        assert remote[path].get("problems") == data.get("problems")


def run_batch(folder, out, cache, *extra, **popen):
    args = [ENTRY, "batch", str(folder), "--out", str(out), "--cache-dir", str(cache), *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def lines(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_cli_batch_writes_every_output(folder, tmp_path):
    process = run_batch(folder, tmp_path / "out", tmp_path / "cache", "--workers", "2")
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 5, stderr  # the worst: unreadable files
    results = lines(tmp_path / "out" / "results.jsonl")
    assert {os.path.basename(r["path"]): r["verdict"] for r in results} == EXPECTED
    csv_rows = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + len(EXPECTED)
    page = (tmp_path / "out" / "report.html").read_text()
    assert all(name in page for name in EXPECTED)
    assert b"Traceback" not in stderr
    assert not list((tmp_path / "out").glob("*.part"))


def test_killed_batch_resumes_without_redoing_finished_clips(folder, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    process = run_batch(folder, out, cache, "--workers", "1", start_new_session=True)
    deadline = time.monotonic() + 300
    while len(lines(out / "results.jsonl")) < 4:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run, workers included
    process.wait()
    done_before = {r["path"] for r in lines(out / "results.jsonl")} - {str(folder / "empty.mp4")}
    again = run_batch(folder, out, cache, "--workers", "2")
    again.communicate(timeout=600)
    results = lines(out / "results.jsonl")
    assert len(results) == len(EXPECTED)
    cached = {r["path"] for r in results if r["cached"]}
    assert done_before <= cached


def test_ctrl_c_stops_cleanly_and_keeps_what_finished(folder, tmp_path):
    out = tmp_path / "out"
    process = run_batch(folder, out, tmp_path / "cache", "--workers", "1")
    deadline = time.monotonic() + 300
    while len(lines(out / "results.jsonl")) < 2:
        assert process.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    kept = lines(out / "results.jsonl")
    assert 2 <= len(kept) < len(EXPECTED)
    assert len((out / "summary.csv").read_text().splitlines()) == 1 + len(kept)
    assert not list(out.glob("*.part"))


def test_invalid_names_stop_before_any_upload(folder, tmp_path):
    long_name = folder / ("n" * 81 + ".mp4")
    long_name.write_bytes((folder / "ready_a.mp4").read_bytes())
    try:
        result = subprocess.run(
            [
                ENTRY,
                "batch",
                str(long_name),
                "--submit",
                "--out",
                str(tmp_path / "o"),
                "--api-base",
                "http://127.0.0.1:9",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        long_name.unlink()
    assert result.returncode == 2
    assert "invalid character names" in result.stderr


def test_settings_change_the_cache_key():
    base = Settings()
    assert base.cache_key("abc") != Settings(Options(sample_fps=5)).cache_key("abc")
    assert base.cache_key("abc") != Settings(Options(profile="openai-characters")).cache_key("abc")
    assert base.cache_key("abc") != Settings(Options(thorough=True)).cache_key("abc")
    assert base.cache_key("abc") != Settings(Options(subject="any")).cache_key("abc")
    assert base.cache_key("abc") == Settings(Options()).cache_key("abc")


def test_prepare_outputs_never_collide_and_follow_the_folder(ready_clip, tmp_path):
    """a/clip.mp4, b/clip.mp4 (the same bytes) and b/clip.mov: three files, one per row; a
    rerun into another --prepare folder writes there, though the analysis comes from the cache."""
    from synth import build_clip

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    clips = [tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4", tmp_path / "b" / "clip.mov"]
    clips[0].write_bytes(ready_clip.read_bytes())
    clips[1].write_bytes(ready_clip.read_bytes())
    build_clip(clips[2], [Segment(2.5, "face")], width=1280, height=720)
    cache = tmp_path / "cache"
    for round_, out in enumerate((tmp_path / "out1", tmp_path / "out2")):
        out.mkdir()
        results = list(check_many(clips, workers=2, prepare_dir=out, cache_folder=cache))
        outputs = [r.data["prepared"]["output"] for r in results]
        assert all(r.data["prepared"]["verdict"] == "ready" for r in results), outputs
        assert len(set(outputs)) == 3
        assert {os.path.dirname(o) for o in outputs} == {str(out)}
        assert sorted(os.listdir(out)) == sorted(os.path.basename(o) for o in outputs)
        assert all(r.cached for r in results) == (round_ == 1)
