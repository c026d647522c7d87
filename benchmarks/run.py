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
6. ``clipprep batch`` on the 20-clip folder with 1 worker and with 2.

Needs the test extras (``pip install -e .[test]``) for the footage. Targets (issue 6) are printed
next to each ratio; nothing here is asserted: these machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clipprep.synth import Segment, build_clip

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
from clipprep.models import model_path
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


def timed_cpu(command: list[str]) -> tuple[float, float]:
    """Wall and CPU time (user + sys of the process and its children) of one run."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def single_check_rows(clip: str, runs: int) -> list[tuple[str, str, str, str]]:
    """``clipprep check`` against the bare threaded decode of the same clip (issue 17): the two
    run alternately, so both see the same load; medians of wall and of CPU time, and their
    ratios beside the target."""
    bare, check = [], []
    for _ in range(runs):
        bare.append(timed_cpu(python_step(BARE_DECODE, clip)))
        check.append(timed_cpu([CLIPPREP, "check", "--json", clip]))
    wall = [statistics.median(w for w, _ in t) for t in (bare, check)]
    cpu = [statistics.median(c for _, c in t) for t in (bare, check)]
    return [
        (
            "2a. single check vs bare decode, wall",
            f"{wall[1]:.2f} s",
            f"{wall[1] / wall[0]:.2f}x ({wall[0]:.2f} s decode)",
            "<= 1.25x decode",
        ),
        (
            "2a. single check vs bare decode, CPU",
            f"{cpu[1]:.2f} s",
            f"{cpu[1] / cpu[0]:.2f}x ({cpu[0]:.2f} s decode)",
            "",
        ),
    ]


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

    bare = timed(python_step(BARE_DECODE, clip30), args.runs)
    rows.append(("1. bare PyAV decode, 30 s 1080p", f"{bare:.2f} s", "baseline", ""))
    check = timed([CLIPPREP, "check", "--json", clip30], args.runs)
    rows.append(
        (
            "2. clipprep check, 30 s 1080p",
            f"{check:.2f} s",
            f"{check / bare:.2f}x decode",
            "<= 1.25x decode",
        )
    )
    rows.extend(single_check_rows(clip30, args.runs))
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
            command = [
                CLIPPREP,
                "batch",
                str(clips["batch"]),
                "--workers",
                str(workers),
                "--force",
                "--out",
                f"{scratch}/out",
                "--cache-dir",
                f"{scratch}/cache",
            ]
            batch_times[workers] = timed(command, args.runs)
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

    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'median':>9}  {'ratio':<24}  target")
    for name, value, ratio, target in rows:
        print(f"{name:<{width}}  {value:>9}  {ratio:<24}  {target}")


if __name__ == "__main__":
    main()
