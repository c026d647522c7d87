"""clipprep benchmark: every figure against a baseline measured in the same run.

    python benchmarks/run.py [--runs 3] [--media DIR] [--skip-naive]

Generates its inputs once (kept in --media, default the user cache): a 30 s and a 120 s
1080p30 H.264 + AAC clip of a real face (scikit-image's astronaut) moving through light and dark,
and a folder of 20 short 720p clips. Then prints, each a median of --runs:

1. bare decode: PyAV, threaded, every frame of the 30 s clip (the floor);
2. ``clipprep check`` on the same clip as a user runs it (process start included), and on a
   4 s 720p clip;
3. a naive loop: OpenCV ``VideoCapture`` + MediaPipe ``FaceDetector`` on every full frame;
4. peak memory (max RSS) of 2 on the 30 s and the 120 s clip;
5. ``clipprep --help`` wall time;
6. ``clipprep batch`` on the 20-clip folder with 1 worker and with 2;
7. ``clipprep batch --workers 2`` against one ``clipprep check`` process on 13 short 720p clips
   (wall, and CPU of the whole process tree);
8. batch wall time with 1, 2, 4 and 8 workers (as many as the machine has cores for).

Needs the test extras (``pip install -e .[test]``) for the footage. Targets (issue 6) are printed
next to each ratio; nothing here is asserted: these machines are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The test footage builder lives with the tests (tests/synth.py): it is not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synth import Segment, build_clip

CLIPPREP = str(Path(sys.executable).parent / "clipprep")


def media(folder: Path) -> dict[str, Path]:
    """Build the inputs once; later runs reuse them."""
    folder.mkdir(parents=True, exist_ok=True)

    def moving(seconds: int) -> list[Segment]:
        # 5 s blocks: the face drifts across the frame, alternately lit and dim.
        return [
            Segment(
                5.0,
                "face",
                brightness=1.0 if k % 2 == 0 else 0.3,
                face_height=0.15 + 0.02 * (k % 6),
                center=(0.3 + 0.07 * (k % 6), 0.45),
            )
            for k in range(seconds // 5)
        ]

    clips = {}
    for seconds in (30, 120):
        path = folder / f"face_{seconds}s_1080p30.mp4"
        if not path.exists():
            print(f"generating {path.name} ...", file=sys.stderr)
            build_clip(path, moving(seconds), width=1920, height=1080, fps=30)
        clips[f"{seconds}s"] = path
    short = folder / "face_4s_720p30.mp4"
    if not short.exists():
        build_clip(short, [Segment(4.0, "face")], width=1280, height=720)
    clips["4s"] = short
    batch = folder / "batch20"
    batch.mkdir(exist_ok=True)
    for i in range(20):
        path = batch / f"clip{i:02d}.mp4"
        if not path.exists():
            build_clip(path, [Segment(3.0, "face", brightness=0.6 + 0.02 * i)], crf=28)
    clips["batch"] = batch
    return clips


def timed(command: list[str], runs: int) -> float:
    """Median wall time of a command (its output discarded)."""
    return timed_with_output(command, runs)[0]


def timed_with_output(command: list[str], runs: int) -> tuple[float, str]:
    """Median wall time of a command, and what its last run printed."""
    times, output = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        times.append(time.perf_counter() - started)
    return statistics.median(times), output


def python_step(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


BARE_DECODE = """
import sys, av
with av.open(sys.argv[1]) as c:
    s = c.streams.video[0]; s.thread_type = "AUTO"
    n = sum(1 for _ in c.decode(s))
"""

NAIVE_LOOP = """
import sys, cv2, mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
from clipprep._models import model_path
options = vision.FaceDetectorOptions(
    base_options=BaseOptions(model_asset_path=str(model_path("face_detection_short_range"))))
detector = vision.FaceDetector.create_from_options(options)
capture = cv2.VideoCapture(sys.argv[1]); found = frames = 0
while True:
    ok, bgr = capture.read()
    if not ok: break
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    found += bool(detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).detections)
    frames += 1
detector.close()
print(found, frames)
"""

PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_mb(command: list[str]) -> float:
    out = subprocess.run(python_step(PEAK_RSS, *command), capture_output=True, text=True).stdout
    return int(out.strip()) / 1024  # ru_maxrss is in KiB on Linux


# Issue 17's batch figure: this many short 720p clips, one ``check`` process against a batch.
BATCH_CLIPS = 13
BATCH_TARGET = 1.4  # batch --workers 2 at least this many times faster than one check process


def batch_clips(folder: Path, count: int = BATCH_CLIPS) -> list[Path]:
    """``count`` short 720p clips of a face (2, 3 and 4 s in turn, so the longest-first order
    has something to order) in a folder of their own; built once."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(count):
        path = folder / f"short{i:02d}.mp4"
        if not path.exists():
            segment = Segment(2.0 + i % 3, "face", brightness=0.5 + 0.03 * i)
            build_clip(path, [segment], width=1280, height=720, crf=28)
        clips.append(path)
    return clips


def adopt_orphans() -> None:
    """Become the Linux "subreaper" of everything started from here: a batch's fork server
    and the workers it forks are not waited for by the command, and their CPU time would be
    missed; adopted, they are reaped here (:func:`reap_orphans`) and counted."""
    import ctypes

    pr_set_child_subreaper = 36
    # Not Linux: the CPU figure misses those processes.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def reap_orphans() -> None:
    """Wait for the adopted processes (a fork server exits once its command has)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def timed_once(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system of the whole process tree, fork servers and their
    workers included) of one run of a command."""
    adopt_orphans()
    reap_orphans()  # what earlier commands left (a batch's fork server) is not this one's CPU
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    wall = time.perf_counter() - started
    reap_orphans()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def timed_cpu(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of a command (see :func:`timed_once`). On a shared
    machine the CPU time is the steadier figure."""
    times = [timed_once(command) for _ in range(runs)]
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)


def batch_command(folder: Path, workers: int, scratch: str) -> list[str]:
    """``clipprep batch`` on ``folder`` with fresh results (``--force``) into ``scratch``."""
    return [
        CLIPPREP,
        "batch",
        str(folder),
        "--workers",
        str(workers),
        "--force",
        "--out",
        f"{scratch}/out",
        "--cache-dir",
        f"{scratch}/cache",
    ]


def single_check_rows(clip: str, runs: int) -> tuple[list[tuple[str, str, str, str]], float]:
    """Rows 1, 2 and 2a: ``clipprep check`` against the bare threaded decode of the same clip
    (issue 17), the two run alternately so both see the same load; medians of wall and of CPU
    time, and their ratios beside the target. Also the check's median wall time."""
    bare, check = [], []
    for _ in range(runs):
        bare.append(timed_once(python_step(BARE_DECODE, clip)))
        check.append(timed_once([CLIPPREP, "check", "--json", clip]))
    wall = [statistics.median(w for w, _ in t) for t in (bare, check)]
    cpu = [statistics.median(c for _, c in t) for t in (bare, check)]
    rows = [
        ("1. bare PyAV decode, 30 s 1080p", f"{wall[0]:.2f} s", "baseline", ""),
        (
            "2. clipprep check, 30 s 1080p",
            f"{wall[1]:.2f} s",
            f"{wall[1] / wall[0]:.2f}x decode",
            "<= 1.25x decode",
        ),
        (
            "2a. the same in CPU time",
            f"{cpu[1]:.2f} s",
            f"{cpu[1] / cpu[0]:.2f}x ({cpu[0]:.2f} s decode)",
            "",
        ),
    ]
    return rows, wall[1]


def batch_ratio_rows(clips: list[Path], runs: int) -> list[tuple[str, str, str, str]]:
    """Issue 17: ``batch --workers 2`` against one ``check`` process given the same clips."""
    names = [str(c) for c in clips]
    check_wall, check_cpu = timed_cpu([CLIPPREP, "check", "--json", *names], runs)
    with tempfile.TemporaryDirectory() as scratch:
        batch_wall, batch_cpu = timed_cpu(batch_command(clips[0].parent, 2, scratch), runs)
    label = f"{len(clips)} short 720p clips"
    return [
        (f"7. check, {label}, 1 process", f"{check_wall:.2f} s", f"CPU {check_cpu:.2f} s", ""),
        (
            f"7. batch --workers 2, {label}",
            f"{batch_wall:.2f} s",
            f"{check_wall / batch_wall:.2f}x faster, CPU {batch_cpu:.2f} s",
            f">= {BATCH_TARGET:g}x faster",
        ),
    ]


def worker_scaling_row(clips: list[Path], runs: int) -> tuple[str, str, str, str]:
    """Batch wall time with 1, 2, 4 and 8 workers (those the machine has cores for), and each
    one's speed-up over one worker."""
    counts = [n for n in (1, 2, 4, 8) if n <= (os.cpu_count() or 1)]
    walls = {}
    with tempfile.TemporaryDirectory() as scratch:
        for workers in counts:
            walls[workers] = timed_cpu(batch_command(clips[0].parent, workers, scratch), runs)[0]
    scaling = ", ".join(f"{n}w {walls[1] / walls[n]:.2f}x" for n in counts)
    times = " / ".join(f"{walls[n]:.2f}" for n in counts)
    return (f"8. batch scaling, workers {'/'.join(map(str, counts))}", times, scaling, "")


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--media",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "clipprep"
        / "benchmark",
    )
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow naive loop")
    args = parser.parse_args()
    clips = media(args.media)
    clip30 = str(clips["30s"])
    rows = []

    single, check = single_check_rows(clip30, args.runs)
    rows.extend(single)
    short = timed([CLIPPREP, "check", "--json", str(clips["4s"])], args.runs)
    rows.append(("2. clipprep check, 4 s 720p", f"{short:.2f} s", "", "<= 2.5 s"))
    if not args.skip_naive:
        naive, found = timed_with_output(python_step(NAIVE_LOOP, clip30), max(1, args.runs // 2))
        rows.append(
            (
                "3. naive OpenCV + MediaPipe loop",
                f"{naive:.2f} s",
                f"check {naive / check:.2f}x faster",
                ">= 4x faster",
            )
        )
        rows.append(("   naive loop found a face in", "/".join(found.split()), "frames", ""))
    for key in ("30s", "120s"):
        peak = peak_mb([CLIPPREP, "check", "--json", str(clips[key])])
        rows.append((f"4. peak memory, check {key}", f"{peak:.0f} MB", "", "<= 400 MB; 120 s +10%"))
    helped = timed([CLIPPREP, "--help"], max(5, args.runs))
    rows.append(("5. clipprep --help", f"{helped:.2f} s", "", "<= 0.5 s"))
    with tempfile.TemporaryDirectory() as scratch:
        batch_times = {}
        for workers in (1, 2):
            batch_times[workers] = timed(batch_command(clips["batch"], workers, scratch), args.runs)
        shutil.rmtree(f"{scratch}/out", ignore_errors=True)
    rows.append(("6. batch, 20 clips, 1 worker", f"{batch_times[1]:.2f} s", "", ""))
    rows.append(
        (
            "6. batch, 20 clips, 2 workers",
            f"{batch_times[2]:.2f} s",
            f"{batch_times[1] / batch_times[2]:.2f}x throughput",
            ">= 1.7x",
        )
    )

    short = batch_clips(args.media / f"batch{BATCH_CLIPS}")
    rows.extend(batch_ratio_rows(short, args.runs))
    rows.append(worker_scaling_row(short, args.runs))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'median':>9}  {'ratio':<24}  target")
    for name, value, ratio, target in rows:
        print(f"{name:<{width}}  {value:>9}  {ratio:<24}  {target}")


if __name__ == "__main__":
    main()
