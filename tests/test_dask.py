"""clipprep batch on a real Dask cluster: `dask scheduler` and `dask worker` run as separate
processes on 127.0.0.1 (a LocalCluster with processes where that is enough), killed for real.

A clip is made to stall for real by a FIFO where its cache entry would be: reading the cache
blocks in open() (as on a hung network share), where no time check can run. Only the hard
time limit, or the death of its process, ends that read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synth import Segment, build_clip

from clipprep._batch import Settings, check_many
from clipprep._errors import UsageError
from clipprep._files import sha256_file
from clipprep._options import Options

BIN = os.path.dirname(sys.executable)
ROOT = Path(__file__).resolve().parents[1]
READY = ("a.mp4", "b.mp4", "f.mp4")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Six short clips of three verdicts (720p and smaller, 2.5–4.5 s)."""
    root = tmp_path_factory.mktemp("dask_clips")
    build_clip(root / "a.mp4", [Segment(2.5, "face")])
    build_clip(root / "b.mp4", [Segment(2.5, "face", face_height=0.3, center=(0.4, 0.45))])
    build_clip(root / "c.mp4", [Segment(1.5, "face", brightness=0.1), Segment(3.0, "face")])
    build_clip(root / "d.mp4", [Segment(2.5, "two_faces", face_height=0.3)])
    build_clip(root / "e.mp4", [Segment(2.5, "face", brightness=0.1)], width=960, height=540)
    build_clip(root / "f.mp4", [Segment(2.5, "face", brightness=0.85)], width=720, height=1280)
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """`dask scheduler` / `dask worker` processes, each in its own session (killed as a group:
    a worker's nanny and its worker process together)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        # Workers run elsewhere than the client: a relative path means nothing there.
        self.worker_home = folder / "worker-home"
        self.worker_home.mkdir(exist_ok=True)

    def _start(self, args, log: str, env=None) -> subprocess.Popen:
        with open(self.folder / log, "ab") as output:
            process = subprocess.Popen(
                args,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.worker_home,
                env=env,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def scheduler(self) -> tuple[str, subprocess.Popen]:
        port = free_port()
        process = self._start(
            [f"{BIN}/dask", "scheduler", "--host", "127.0.0.1", f"--port={port}", "--no-dashboard"],
            f"scheduler-{port}.log",
        )
        deadline = time.monotonic() + 120
        while True:  # listening?
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return f"tcp://127.0.0.1:{port}", process
            assert process.poll() is None and time.monotonic() < deadline, "no scheduler"
            time.sleep(0.2)

    def worker(self, address: str, threads: int = 1, pythonpath: Path = ROOT):
        env = {**os.environ, "PYTHONPATH": str(pythonpath)}
        args = [f"{BIN}/dask", "worker", address, "--nthreads", str(threads), "--nworkers", "1"]
        args += ["--no-dashboard", "--local-directory", str(self.folder / "dask-space")]
        return self._start(args, "workers.log", env)

    @staticmethod
    def wait_until_no_workers(address: str) -> None:
        from distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            deadline = time.monotonic() + 120
            while client.nthreads():
                assert time.monotonic() < deadline, "a killed worker is still registered"
                time.sleep(0.2)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)

    def stop(self) -> None:
        for process in self.processes:
            self.kill(process)


@pytest.fixture
def cluster(tmp_path):
    started = Cluster(tmp_path)
    yield started
    started.stop()


def batch(args, cwd, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [f"{BIN}/clipprep", "batch", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_lines(path: Path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while len(lines(path)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no result in 300 s"
        time.sleep(0.1)


def stall(clip: Path, cache: Path, settings: Settings | None = None) -> Path:
    """Make ``clip`` stall in the cache read: a FIFO where its cache entry would be."""
    cache.mkdir(parents=True, exist_ok=True)
    fifo = cache / f"{(settings or Settings()).cache_key(sha256_file(clip))}.json"
    os.mkfifo(fifo)
    return fifo


def comparable(result: dict) -> dict:
    """A result without what differs between two runs of the same analysis (timing, cache)."""
    analysis = {k: v for k, v in result["analysis"].items() if k != "elapsed_s"}
    return {**result, "analysis": analysis, "cached": None}


def test_two_thread_worker_gives_the_local_results_for_relative_paths(clips, cluster, tmp_path):
    """One default-style worker with 2 threads (each loads its own models); the clips are named
    relative to the client's folder, which the worker does not share. A worker with another
    clipprep version is refused first."""
    address, _ = cluster.scheduler()
    names = sorted(p.name for p in clips.glob("*.mp4"))
    relative = [f"clips/{name}" for name in names]
    (tmp_path / "clips").symlink_to(clips)

    other = tmp_path / "other-version"  # the whole package (its data files too), another version
    shutil.copytree(
        ROOT / "clipprep", other / "clipprep", ignore=shutil.ignore_patterns("__pycache__")
    )
    version = other / "clipprep" / "_version.py"
    version.write_text(version.read_text().replace('__version__ = "', '__version__ = "9.9.9+'))
    stale = cluster.worker(address, pythonpath=other)
    refused = batch(
        [*relative, "--scheduler", address, "--out", "o", "--worker-wait", "120"], tmp_path
    )
    _, stderr = refused.communicate(timeout=300)
    assert refused.returncode == 2, stderr
    assert "another clipprep version" in stderr and "9.9.9+" in stderr
    cluster.kill(stale)
    cluster.wait_until_no_workers(address)

    local = batch(
        [*relative, "--out", "local", "--cache-dir", "cache-l", "--workers", "2"], tmp_path
    )
    cluster.worker(address, threads=2)
    remote = batch(
        [
            *relative,
            "--scheduler",
            address,
            "--out",
            "dask",
            "--cache-dir=cache-d",
            "--worker-wait=120",
        ],
        tmp_path,
    )
    _, local_err = local.communicate(timeout=600)
    _, remote_err = remote.communicate(timeout=600)
    assert remote.returncode == local.returncode, remote_err + local_err
    assert "Traceback" not in remote_err
    here = {r["path"]: comparable(r) for r in lines(tmp_path / "local" / "results.jsonl")}
    there = {r["path"]: comparable(r) for r in lines(tmp_path / "dask" / "results.jsonl")}
    assert sorted(there) == sorted(here) == relative
    for path in relative:
        assert there[path] == here[path], path  # clip for clip, every frame's numbers too
    assert {Path(p).name for p, r in there.items() if r["verdict"] == "ready"} == set(READY)


def test_nothing_listening_is_a_usage_error_and_leaves_the_outputs_alone(clips, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('{"earlier": "run"}\n')
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    process = batch([clips, "--scheduler", address, "--out", out], tmp_path)
    _, stderr = process.communicate(timeout=120)
    took = time.monotonic() - started
    assert process.returncode == 2, stderr
    assert f"cannot reach the Dask scheduler at {address} within 10 s" in stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert (out / "results.jsonl").read_text() == '{"earlier": "run"}\n'
    assert sorted(p.name for p in out.iterdir()) == ["results.jsonl"]
    print(f"nothing listening: exit 2 after {took:.1f} s")

    both = batch([clips, "--scheduler", address, "--workers", "2", "--out", out], tmp_path)
    _, stderr = both.communicate(timeout=120)
    assert both.returncode == 2 and "--workers" in stderr


def test_losing_every_worker_ends_the_batch_after_the_wait(clips, cluster, tmp_path):
    address, _ = cluster.scheduler()
    worker = cluster.worker(address, threads=2)
    stall(clips / "a.mp4", tmp_path / "cache")  # the batch cannot finish before the kill
    out = tmp_path / "out"
    process = batch(
        [
            clips,
            "--scheduler",
            address,
            "--out",
            out,
            f"--cache-dir={tmp_path / 'cache'}",
            "--worker-wait=5",
        ],
        tmp_path,
    )
    wait_for_lines(out / "results.jsonl", 1, process)
    cluster.kill(worker)
    killed = time.monotonic()
    _, stderr = process.communicate(timeout=180)  # bounded: 5 s of waiting, then the end
    print(f"no workers: the batch ended {time.monotonic() - killed:.1f} s after the kill")
    assert process.returncode == 2, stderr
    assert "the Dask cluster has no workers; waiting up to 5 s for one" in stderr
    assert "the Dask cluster has had no workers for 5 s;" in stderr
    assert "not checked; rerun resumes from the cache" in stderr
    assert "Traceback" not in stderr
    done = lines(out / "results.jsonl")
    assert 1 <= len(done) < 6 and all(r["verdict"] != "error" for r in done)
    assert len((out / "summary.csv").read_text().splitlines()) == 1 + len(done)


def test_losing_the_scheduler_is_one_batch_error_and_a_rerun_resumes(clips, cluster, tmp_path):
    """The shared --cache-dir is what lets the rerun (on a new cluster) skip finished clips."""
    address, scheduler = cluster.scheduler()
    cluster.worker(address, threads=2)
    cache, out = tmp_path / "cache", tmp_path / "out"
    fifo = stall(clips / "a.mp4", cache)
    args = [clips, "--out", out, "--cache-dir", cache, "--worker-wait", "120"]
    process = batch([*args, "--scheduler", address], tmp_path)
    wait_for_lines(out / "results.jsonl", 1, process)
    cluster.kill(scheduler)
    killed = time.monotonic()
    _, stderr = process.communicate(timeout=180)
    print(f"lost scheduler: the batch ended {time.monotonic() - killed:.1f} s after the kill")
    assert process.returncode == 2, stderr
    assert stderr.count("lost the Dask scheduler;") == 1
    assert "not checked; rerun resumes from the cache" in stderr
    assert "Traceback" not in stderr and "worker_crashed" not in stderr
    done = {r["path"] for r in lines(out / "results.jsonl")}
    assert all(r["verdict"] != "error" for r in lines(out / "results.jsonl"))

    fifo.unlink()  # the share is back
    address, _ = cluster.scheduler()
    cluster.worker(address, threads=1)
    again = batch([*args, "--scheduler", address], tmp_path)
    _, stderr = again.communicate(timeout=600)
    assert again.returncode in (3, 4), stderr  # the worst verdict: rejected clips
    results = lines(out / "results.jsonl")
    assert len(results) == 6
    # Every clip reported before the loss comes from the cache (a worker may have cached one
    # more that never reached the client).
    assert done <= {r["path"] for r in results if r["cached"]}


def test_a_stuck_clip_is_cut_off_by_the_hard_time_limit(clips, tmp_path):
    """A Client and a one-thread worker: the stalled clip is given up at the hard limit (10 s
    profile limit -> 27 s), its worker restarted, and the clip behind it still checked."""
    from distributed import Client, LocalCluster

    settings = Settings(Options(time_limit=10))
    stall(clips / "a.mp4", tmp_path / "cache", settings)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        with pytest.raises(UsageError, match="workers"):
            next(check_many([clips / "b.mp4"], scheduler=client, workers=2))
        results = {}
        for result in check_many(
            [clips / "a.mp4", clips / "b.mp4"],
            options=settings.options,
            cache_folder=tmp_path / "cache",
            scheduler=client,
        ):
            results[Path(result.path).name] = result.data
            # Each future is released as its result arrives: the client holds only the clips
            # still to come (a release reaches the client's event loop a moment later).
            deadline = time.monotonic() + 60
            while len(client.refcount) != 2 - len(results):
                assert time.monotonic() < deadline, dict(client.refcount)
                time.sleep(0.1)
        assert client.status == "running"  # the caller's client stays open
    assert results["a.mp4"]["error"]["code"] == "time_limit"
    assert results["a.mp4"]["error"]["message"] == "stopped after 27 s"
    assert results["b.mp4"]["verdict"] == "ready"
