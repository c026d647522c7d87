"""MediaPipe Tasks face detection and face landmarks, on upright RGB frames.

Why more than one pass: BlazeFace sees the frame squeezed to 128 px (short range) or 192 px
(full range). Measured on a 1080p frame with a real face 1/10 of the frame height, neither model
found it on the whole frame, and the full-range model found it (score 0.70) on a 2x2 grid of
overlapping tiles. So a *scan* of :class:`FaceFinder` runs the full-range model on the whole
frame, then the short-range model (better on big close-ups), then the tiles when nothing was
found; when a small face found before is missing from the whole frame, the scan also looks at a
zoomed region around where it was.

Why not a scan on every frame: the full-range model costs 4.2 ms a call whatever the input size
(inference, not resizing), the short-range one 1.7 ms. Between scans the main face is *followed*:
the short-range model on a square crop 2.5 face-heights wide around where it was, whose box was
within 5–10 % of the full-range box on the whole frame (measured on the benchmark clip). A scan
runs every ``_SCAN_EVERY`` samples and whenever the face is lost, and other faces seen by the
last scan are carried until the next one (at most ``_SCAN_EVERY - 1`` samples stale). Where
scans find nothing, the four tile calls run on every ``_TILE_EVERY``-th empty scan only.
``thorough=True`` scans every frame with tiles every time: the reference the faster path is
tested against.

Why not every sample at all: :func:`faces_along` runs the detector on every other sample of the
analysis. A sample between two detections that agree (as many faces, the main box moved less
than ``_STEADY_IOU``) takes the main face interpolated between them; where they disagree, it is
detected too, so a face arriving, leaving or jumping is still placed to the sample. On the 30 s
benchmark clip this halved the detector calls (300 to 156) and cut the check by a quarter.

Steady readings: the main face's box always comes from the short-range model on a follow square
that stays put while the face is well inside it (scans re-measure the main face there too), and
the mesh's crop comes from the previous mesh's own landmarks, as MediaPipe's graph does. Both
kinds of box of one still photo used to alternate (they differ by up to 5 % of the frame), and
the mesh crops taken from them read yaws up to 10 deg apart.

Landmarks: MediaPipe's face-mesh model (``face_landmark.tflite``, 468 points with depth) runs on a
square crop around the main face through OpenCV's DNN module, which reads TFLite. The Tasks
``FaceLandmarker`` was tried first, with a bundle of this model and the short-range detector: it
loads and returns 478 points, but they are scrambled and their depth is always 0 (the Tasks graph
expects the newer 478-point model, which no pinned package ships), so it is not used.

MediaPipe objects are closed explicitly (their ``__del__`` fails at interpreter exit), and their
native start-up chatter on stderr is silenced.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._boxes import Region, iou
from ._errors import ModelError
from ._models import model_path
from ._pose import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

MIN_CONFIDENCE = 0.5
# Boxes overlapping more than this (intersection over union) are the same face.
_SAME_FACE_IOU = 0.3
# Tiles: 2 x 2, each this fraction of the frame, so neighbours overlap by 20%.
_TILE_FRACTION = 0.6
# A face smaller than this fraction of the frame height is followed with a zoomed region.
_TRACK_BELOW_HEIGHT = 0.25
# The zoomed region is this many face heights on a side.
_TRACK_ZOOM = 4.0
# Normal mode: a full scan every this many samples while a face is followed in between.
_SCAN_EVERY = 3
# Normal mode: tiles on every this-many-th scan that found nothing (the first one included).
_TILE_EVERY = 4
# Following: the short-range model sees a square this many face sizes wide around the face.
_FOLLOW_CROP = 2.5
# The follow square stays where it is while the face's centre is within this fraction of its
# side from the square's centre and the face's size within this factor of the size it was made
# for: the same picture then gives the same crop, hence the same box, sample after sample (a
# square re-centred on every box made a still photo's box drift by 2-6 % of the frame).
_FOLLOW_KEEP_SHIFT = 0.1
_FOLLOW_KEEP_SCALE = 1.2
# The mesh model sees the face box grown by this factor (MediaPipe's own graph uses 1.5 around
# its tighter detection-derived rect), resized to its 192 px input, RGB scaled to 0..1.
_LANDMARK_CROP_GROWTH = 1.6
_LANDMARK_INPUT = 192
# The mesh model's two outputs: 468 x 3 landmarks, and a face-presence logit (MediaPipe's
# graph reads it as "face flag"; it falls when the face is covered, see Quality).
_MESH_OUTPUTS = ["conv2d_21", "conv2d_31"]
# Face parts whose look is compared across a clip (metrics.with_region_matches): mesh points
# around the mouth, the right eye and the left eye; each is cut out as a square 1.5 times its width,
# resized to _REGION_SIDE pixels.
_REGIONS = (
    (61, 291, 0, 17, 13, 14, 78, 308),
    (33, 133, 159, 145, 160, 144),
    (362, 263, 386, 374, 387, 373),
)
_REGION_SIDE = 16
# After the first mesh of a face, the next crop comes from the mesh's own landmarks, as
# MediaPipe's graph does (their bounding box grown by this factor, levelled by the outer eye
# corners): the pose then no longer depends on which detector drew the box (the full-range and
# the short-range box of one still photo gave yaws 10 deg apart). The crop is kept while the
# new landmarks' crop is within these tolerances of it, so a still face reads the same crop.
_MESH_ROI_GROWTH = 1.5
_MESH_KEEP_SHIFT = 0.04  # of the crop's side
_MESH_KEEP_SCALE = 1.06
_MESH_KEEP_ROLL = 3.0  # degrees
# The crop of the previous mesh is reused for a detected face whose centre is within this
# fraction of the crop's side of the crop's centre, whose eye line is within this many
# degrees of the crop's, and whose box height is within _FOLLOW_KEEP_SCALE of the one it had;
# and only while the crop's side is within this factor of the one the box itself would give
# (a mesh that read no face must not hand its odd crop on).
_MESH_REUSE_SHIFT = 0.2
_MESH_REUSE_ROLL = 12.0
_MESH_REUSE_SIDE = 1.6
# Between two detections this many samples apart, a face whose box moved less than this (IoU)
# is interpolated; more, or a face coming or going, and the samples between are detected too.
_STEADY_IOU = 0.5


@dataclass(frozen=True)
class Face(Region):
    """A detected face: its box (a Region), the detector's confidence and keypoints."""

    score: float
    # right eye, left eye, nose tip, mouth, right ear, left ear (the subject's right/left)
    keypoints: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class FaceLandmarks:
    """468 face-mesh landmarks found in a square crop of the frame."""

    points: np.ndarray  # (468, 3): x, y as fractions of the crop, z in the same scale as x
    crop_size: int  # the crop's side in pixels (the landmarks' pixel scale)
    crop_roll: float  # degrees the crop was turned to level the eyes (add it back to roll)
    # The mesh model's own face-presence score, as log-odds: how much of a face it sees in
    # the crop. A hand or an object over half the face drops it below ~5 (see Quality).
    presence: float = float("inf")
    # The mouth and the two eyes as the crop shows them: (3, 16, 16) contrast-normalized
    # grey patches placed by the mesh, compared across the clip to find a covered part.
    regions: np.ndarray | None = None


# MediaPipe's package imports its drawing helpers, which import matplotlib.pyplot: 0.37 s of a
# 0.47 s import, for code clipprep never calls. They are loaded lazily instead (on first use).
_DRAWING_MODULES = (
    "mediapipe.tasks.python.vision.drawing_utils",
    "mediapipe.tasks.python.vision.drawing_styles",
)


class _LazyDrawingModules(importlib.abc.MetaPathFinder):
    """Gives MediaPipe's drawing modules a lazy loader: imported as usual, run on first use."""

    def find_spec(self, name, path, target=None):
        if name not in _DRAWING_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _mediapipe():
    """``import mediapipe``, without paying for matplotlib."""
    if "mediapipe" not in sys.modules:
        finder = _LazyDrawingModules()
        sys.meta_path.insert(0, finder)
        try:
            import mediapipe
        finally:
            sys.meta_path.remove(finder)
    import mediapipe

    return mediapipe


@contextlib.contextmanager
def _native_stderr_silenced():
    """Hide the C++ logging that TFLite/LiteRT writes to fd 2 while a model loads or unloads,
    but show it if loading fails, since then it is the only explanation there is."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreter): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except Exception:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read()[-4000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class FaceFinder:
    """Finds faces (and, on request, landmarks) in a sequence of frames of one clip.

    Use as a context manager, or call :meth:`close`. One instance can serve many clips; call
    :meth:`reset` between clips so tracking does not carry over.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike | None = None,
        *,
        landmarks: bool = True,
        thorough: bool = False,
    ):
        _mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        self._scan_every, self._tile_every = (1, 1) if thorough else (_SCAN_EVERY, _TILE_EVERY)
        self.reset()
        paths = {
            key: model_path(key, model_dir)
            for key in ("face_detection_full_range_sparse", "face_detection_short_range")
        }
        mesh_path = model_path("face_landmark", model_dir) if landmarks else None

        def detector(key: str):
            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_path=str(paths[key])),
                min_detection_confidence=MIN_CONFIDENCE,
            )
            return vision.FaceDetector.create_from_options(options)

        try:
            with _native_stderr_silenced():
                self._full = detector("face_detection_full_range_sparse")
                self._short = detector("face_detection_short_range")
                # The runtime logs one-time warnings on stderr, one of them on the first input
                # tensor that happens to be misaligned in memory: spend them here, on inputs of
                # a few sizes. (With one 64 px input, a 30 s check printed it on the user's
                # terminal in 3 of 34 runs under MALLOC_MMAP_THRESHOLD_=1e9; with four, 0 of 54.)
                for model in (self._full, self._short):
                    for side in (64, 96, 160, 256):
                        self._detect(model, np.zeros((side, side, 3), np.uint8))
            self._mesh = _load_mesh(mesh_path) if mesh_path else None
        except (RuntimeError, ValueError) as exc:
            self.close()
            raise ModelError(
                f"the face models could not be loaded ({exc})",
                hint="run `clipprep models fetch --force` to replace them",
            ) from None
        except BaseException:
            # Ctrl-C while loading: close what was created now. A model left to the interpreter's
            # shutdown is torn down with its runtime half gone (a TypeError on stderr, or a
            # native thread still running: SIGABRT instead of exit 130).
            self.close()
            raise

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the native models (safe to call twice)."""
        with _native_stderr_silenced():
            for name in ("_full", "_short"):
                model = getattr(self, name, None)
                if model is not None:
                    model.close()
                    setattr(self, name, None)

    def reset(self) -> None:
        """Forget the face being followed (call between clips)."""
        self._tracked: Face | None = None
        self._square: _Square | None = None  # where the followed face was looked for
        self._roi: _Roi | None = None  # the mesh crop, from the last mesh's landmarks
        self.scanned = False  # whether the last detect() searched the whole frame
        self._others: list[Face] = []  # other faces the last scan saw
        self._since_scan = 0
        self._empty_scans = 0

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in an upright RGB frame, most prominent first (:attr:`scanned` says
        whether the whole frame was searched or only the main face followed)."""
        self.scanned = False
        if self._tracked is not None and self._since_scan < self._scan_every:
            main = self._follow(rgb, self._tracked)
            if main is not None:
                self._since_scan += 1
                self._tracked = main
                return [main, *self._others]
        self.scanned = True
        faces = self._measured(rgb, self._scan(rgb), keep=True)
        self._since_scan = 1
        self._tracked = faces[0] if faces else None
        self._others = faces[1:]
        return faces

    def scan(self, rgb: np.ndarray) -> list[Face]:
        """Every face in the whole frame, without changing which face is followed."""
        empty_scans = self._empty_scans
        faces = self._measured(rgb, self._scan(rgb), keep=False)
        self._empty_scans = empty_scans
        return faces

    def _measured(self, rgb: np.ndarray, faces: list[Face], *, keep: bool) -> list[Face]:
        """The scan's faces with the main one's box re-measured the way following measures it
        (the short-range model on the follow square), so a face reads the same box whether a
        sample was scanned or followed: the two models' boxes of one still photo differed by
        up to 5 % of the frame, and the mesh crops and poses taken from them by up to 10 deg."""
        if not faces:
            return faces
        main, tracked = faces[0], self._tracked
        same = tracked is not None and iou(tracked.box, main.box) > _SAME_FACE_IOU
        followed = self._follow(rgb, tracked if same else main, keep=keep, fresh=not same)
        return [followed, *faces[1:]] if followed is not None else faces

    def _scan(self, rgb: np.ndarray) -> list[Face]:
        """Look for every face in the whole frame."""
        faces = self._detect(self._full, rgb)
        tracked = self._tracked
        if (
            tracked is not None
            and tracked.h < _TRACK_BELOW_HEIGHT
            and not any(iou(f.box, tracked.box) > _SAME_FACE_IOU for f in faces)
        ):
            zoomed = self._detect_in_region(rgb, _square_around(tracked, _TRACK_ZOOM, rgb))
            faces = _merge(zoomed, faces)
        if not faces:
            faces = self._detect(self._short, rgb)
        if not faces:
            if self._empty_scans % self._tile_every == 0:
                for region in _tiles():
                    faces = _merge(faces, self._detect_in_region(rgb, region))
            self._empty_scans = 0 if faces else self._empty_scans + 1
        else:
            self._empty_scans = 0
        faces.sort(key=lambda f: f.area * f.score, reverse=True)
        return faces

    def _follow(
        self, rgb: np.ndarray, face: Face, *, keep: bool = True, fresh: bool = False
    ) -> Face | None:
        """The same face in this frame, from a crop around where it was (None when lost).

        The crop is the last follow square while the face is still well inside it. A
        ``fresh`` one (around a whole-frame box, which differs from the followed one) is centred
        again on the box found in it and looked in again, so the square the face settles in
        does not depend on which model drew the box it started from. ``keep`` remembers the
        square used for the next sample."""
        square = _follow_square(face, rgb, None if fresh else self._square)
        best = self._look_in(rgb, square, face)
        if best is not None and fresh:
            settled = _follow_square(best, rgb, None)
            best = self._look_in(rgb, settled, best) or best
            square = settled
        if keep and best is not None:
            self._square = square
        return best

    def _look_in(self, rgb: np.ndarray, square: _Square, face: Face) -> Face | None:
        """The face in ``square`` that overlaps ``face`` most confidently (None when none)."""
        found = self._detect_in_region(rgb, square.region(rgb), self._short)
        overlapping = [f for f in found if iou(f.box, face.box) > _SAME_FACE_IOU]
        return max(overlapping, key=lambda f: f.score, default=None)

    def landmarks(self, rgb: np.ndarray, face: Face) -> FaceLandmarks | None:
        """Face-mesh landmarks of ``face``, from a square crop around it (None when landmarks
        were not requested)."""
        if self._mesh is None:
            return None
        own = _Roi.around(face, rgb)
        fresh = self._roi is None or not self._roi.fits(own)
        roi = own if fresh else self._roi
        reading = self._run_mesh(rgb, roi)
        found = _Roi.of_points(reading.points, reading.matrix, face, rgb)
        if fresh:  # once more on the mesh's own crop: the detector's box no longer counts
            roi = found
            reading = self._run_mesh(rgb, roi)
            found = _Roi.of_points(reading.points, reading.matrix, face, rgb)
        self._roi = roi if roi.holds(found) else found
        return FaceLandmarks(
            points=reading.points,
            crop_size=_LANDMARK_INPUT,
            crop_roll=roi.roll,
            presence=reading.presence,
            regions=_region_patches(reading.crop, reading.points),
        )

    def _run_mesh(self, rgb: np.ndarray, roi: _Roi) -> _MeshReading:
        """The mesh on ``roi``: its 468 points, the crop's map and presence score, the crop."""
        import cv2

        crop, matrix = _level_crop(rgb, roi, _LANDMARK_INPUT)
        self._mesh.setInput(cv2.dnn.blobFromImage(crop, 1 / 255.0))
        points, presence = self._mesh.forward(_MESH_OUTPUTS)
        points = (points.reshape(-1, 3) / _LANDMARK_INPUT).astype(np.float32)
        return _MeshReading(points, matrix, float(presence.ravel()[0]), crop)

    @staticmethod
    def _detect(model, rgb: np.ndarray) -> list[Face]:
        mp = _mediapipe()
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        return [_to_face(d, width, height) for d in model.detect(image).detections]

    def _detect_in_region(
        self, rgb: np.ndarray, region: tuple[float, float, float, float], model=None
    ):
        """Run a model (the full-range one by default) on a sub-rectangle (fractions) and map the
        faces back to the frame."""
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = region
        px0, py0 = int(x0 * width), int(y0 * height)
        px1, py1 = max(px0 + 2, int(x1 * width)), max(py0 + 2, int(y1 * height))
        found = self._detect(model or self._full, rgb[py0:py1, px0:px1])
        return [_from_region(f, region) for f in found]


@dataclass
class FaceSample:
    """One frame's faces as :func:`faces_along` found them."""

    frame: object  # anything with an ``rgb`` array (frames.Frame)
    faces: list[Face]
    detected: bool  # False: the main face was interpolated between two detections
    scanned: bool = False  # the whole frame was searched (not just the main face followed)


def faces_along(frames: Iterable, finder: FaceFinder, *, stride: int) -> Iterator[FaceSample]:
    """The faces of each frame (anything with ``.rgb``), in order.

    The detector runs on every ``stride``-th frame. Where the faces on both sides of the frames
    between agree (as many faces, the main one moved little), those frames get the main face
    interpolated between the two (``detected`` False); otherwise they are detected as well, so
    a face coming, going or jumping is placed to the sample.

    Faces other than the followed one are only seen by whole-frame scans. When a scan counts a
    different number of faces than the scan before it, every frame since that one is scanned
    too, so a second person walking in is placed to the sample, not up to a scan interval late.
    Holds the frames since the last scan back (a few at most).
    """
    held: list[FaceSample] = []
    counted: int | None = None  # faces the last scan saw
    for sample in _strided(frames, finder, stride):
        held.append(sample)
        if not sample.scanned:
            continue
        if counted is not None and len(sample.faces) != counted:
            for earlier in held[:-1]:
                earlier.faces = finder.scan(earlier.frame.rgb)
                earlier.detected = earlier.scanned = True
        counted = len(sample.faces)
        yield from held
        held = []
    yield from held


def _strided(frames: Iterable, finder: FaceFinder, stride: int) -> Iterator[FaceSample]:
    """Detect on every ``stride``-th frame; interpolate or detect the frames between."""
    before: list[Face] | None = None
    waiting: list = []
    for frame in frames:
        if before is not None and len(waiting) < stride - 1:
            waiting.append(frame)
            continue
        key = _detected(frame, finder)
        if before is not None:
            yield from _between(before, key.faces, waiting, finder)
        waiting = []
        yield key
        before = key.faces
    for frame in waiting:  # the clip ended before their next detection
        yield _detected(frame, finder)


def _detected(frame, finder: FaceFinder) -> FaceSample:
    faces = finder.detect(frame.rgb)
    return FaceSample(frame, faces, detected=True, scanned=finder.scanned)


def _between(before: list[Face], after: list[Face], frames: list, finder: FaceFinder):
    steady = len(before) == len(after) and (
        not before or iou(before[0].box, after[0].box) >= _STEADY_IOU
    )
    for step, frame in enumerate(frames, start=1):
        if not steady:
            yield _detected(frame, finder)
        elif not before:
            yield FaceSample(frame, [], detected=False)
        else:
            share = step / (len(frames) + 1)
            main = _interpolated(before[0], after[0], share)
            yield FaceSample(frame, [main, *before[1:]], detected=False)


def _interpolated(a: Face, b: Face, share: float) -> Face:
    """The face ``share`` of the way from ``a`` to ``b``."""

    def mix(u: float, v: float) -> float:
        return u + (v - u) * share

    keypoints = a.keypoints  # (the detectors always give six; never mix unlike lists)
    if len(a.keypoints) == len(b.keypoints):
        pairs = zip(a.keypoints, b.keypoints, strict=True)
        keypoints = tuple((mix(ax, bx), mix(ay, by)) for (ax, ay), (bx, by) in pairs)
    return Face(
        x=mix(a.x, b.x),
        y=mix(a.y, b.y),
        w=mix(a.w, b.w),
        h=mix(a.h, b.h),
        score=min(a.score, b.score),
        keypoints=keypoints,
    )


class _Square(NamedTuple):
    """A square around a face, in frame pixels: its centre, its side, and the face size
    (pixels, the box's longer side) it was made for."""

    cx: float
    cy: float
    side: float
    made_for: float

    @classmethod
    def around(cls, face: Face, size: float, rgb: np.ndarray) -> _Square:
        """``size`` face-sizes wide, centred on the face."""
        height, width = rgb.shape[:2]
        face_size = max(face.h * height, face.w * width)
        cx, cy = (face.x + face.w / 2) * width, (face.y + face.h / 2) * height
        return cls(cx, cy, face_size * size, face_size)

    def region(self, rgb: np.ndarray) -> tuple[float, float, float, float]:
        """The square clipped to the frame, as fractions: x0, y0, x1, y1."""
        height, width = rgb.shape[:2]
        half = self.side / 2
        return (
            max(0.0, (self.cx - half) / width),
            max(0.0, (self.cy - half) / height),
            min(1.0, (self.cx + half) / width),
            min(1.0, (self.cy + half) / height),
        )


def _square_around(face: Face, size: float, rgb: np.ndarray) -> tuple[float, float, float, float]:
    """A square region ``size`` face-sizes wide centred on the face, clipped to the frame
    (fractions: x0, y0, x1, y1)."""
    return _Square.around(face, size, rgb).region(rgb)


def _follow_square(face: Face, rgb: np.ndarray, kept: _Square | None) -> _Square:
    """Where to look for ``face`` next: ``kept`` while the face is still well inside it."""
    square = _Square.around(face, _FOLLOW_CROP, rgb)
    if kept is None:
        return square
    shift = max(abs(square.cx - kept.cx), abs(square.cy - kept.cy))
    scale = square.made_for / max(kept.made_for, 1e-6)
    inside = shift <= _FOLLOW_KEEP_SHIFT * kept.side
    return kept if inside and 1 / _FOLLOW_KEEP_SCALE <= scale <= _FOLLOW_KEEP_SCALE else square


class _MeshReading(NamedTuple):
    """One run of the face mesh: its 468 points (fractions of the crop), the crop's affine map
    from frame pixels to crop pixels, the face-presence logit, and the crop itself (RGB)."""

    points: np.ndarray
    matrix: np.ndarray
    presence: float
    crop: np.ndarray


class _Roi(NamedTuple):
    """The face mesh's crop, in frame pixels: centre, side, clockwise roll (degrees) it is
    levelled by, and the height (pixels) of the detector box it was used for."""

    cx: float
    cy: float
    side: float
    roll: float
    face_h: float

    @classmethod
    def around(cls, face: Face, rgb: np.ndarray) -> _Roi:
        """From a detector box: grown by _LANDMARK_CROP_GROWTH, levelled by its eye keypoints."""
        height, width = rgb.shape[:2]
        square = _Square.around(face, _LANDMARK_CROP_GROWTH, rgb)
        roll = _eye_line_angle(face, width, height)
        return cls(square.cx, square.cy, square.side, roll, face.h * height)

    @classmethod
    def of_points(cls, points: np.ndarray, matrix: np.ndarray, face: Face, rgb: np.ndarray):
        """From mesh points (fractions of the crop that ``matrix`` made): their bounding box
        grown by _MESH_ROI_GROWTH, levelled by the outer eye corners."""
        import cv2

        inverse = cv2.invertAffineTransform(matrix)
        xy = (points[:, :2] * _LANDMARK_INPUT) @ inverse[:, :2].T + inverse[:, 2]
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        right, left = xy[RIGHT_EYE_OUTER], xy[LEFT_EYE_OUTER]  # its roll, as in MediaPipe's graph
        roll = float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))
        side = max(x1 - x0, y1 - y0) * _MESH_ROI_GROWTH
        face_h = face.h * rgb.shape[0]
        return cls(float(x0 + x1) / 2, float(y0 + y1) / 2, float(side), roll, face_h)

    def fits(self, own: _Roi) -> bool:
        """Whether this crop (made on an earlier sample) still frames a detected face, whose own
        detector-derived crop is ``own``."""
        scale = own.face_h / max(self.face_h, 1e-6)
        side = self.side / max(own.side, 1e-6)
        return (
            np.hypot(own.cx - self.cx, own.cy - self.cy) <= _MESH_REUSE_SHIFT * self.side
            and 1 / _FOLLOW_KEEP_SCALE <= scale <= _FOLLOW_KEEP_SCALE
            and 1 / _MESH_REUSE_SIDE <= side <= _MESH_REUSE_SIDE
            and abs(own.roll - self.roll) <= _MESH_REUSE_ROLL
        )

    def holds(self, other: _Roi) -> bool:
        """Whether ``other`` is this crop within the tolerances that keep it."""
        return (
            np.hypot(other.cx - self.cx, other.cy - self.cy) <= _MESH_KEEP_SHIFT * self.side
            and 1 / _MESH_KEEP_SCALE <= other.side / max(self.side, 1e-6) <= _MESH_KEEP_SCALE
            and abs(other.roll - self.roll) <= _MESH_KEEP_ROLL
        )


def _region_patches(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mouth and eyes of a mesh crop as (3, side, side) grey patches, each shifted to zero
    mean and scaled by its contrast (so lighting changes between frames do not count)."""
    import cv2

    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    size = gray.shape[0]
    patches = []
    for indices in _REGIONS:
        xy = points[list(indices), :2] * size
        cx, cy = xy.mean(axis=0)
        half = max(8.0, 0.75 * float(xy[:, 0].max() - xy[:, 0].min()))
        x0, y0 = int(np.clip(cx - half, 0, size - 2)), int(np.clip(cy - half, 0, size - 2))
        x1, y1 = max(x0 + 2, int(min(size, cx + half))), max(y0 + 2, int(min(size, cy + half)))
        side = (_REGION_SIDE, _REGION_SIDE)
        patch = cv2.resize(gray[y0:y1, x0:x1], side, interpolation=cv2.INTER_AREA)
        # + 4: a flat patch (a hand's palm) stays flat instead of blowing its noise up.
        patches.append((patch - patch.mean()) / (patch.std() + 4.0))
    return np.stack(patches)


def _load_mesh(path):
    import cv2

    try:
        return cv2.dnn.readNetFromTFLite(str(path))
    except cv2.error as exc:
        raise ValueError(f"{path.name}: {exc.msg if hasattr(exc, 'msg') else exc}") from None


def _to_face(detection, width: int, height: int) -> Face:
    box = detection.bounding_box
    return Face(
        x=box.origin_x / width,
        y=box.origin_y / height,
        w=box.width / width,
        h=box.height / height,
        score=float(detection.categories[0].score),
        keypoints=tuple((k.x, k.y) for k in detection.keypoints),
    )


def _from_region(face: Face, region: tuple[float, float, float, float]) -> Face:
    x0, y0, x1, y1 = region
    sx, sy = x1 - x0, y1 - y0
    return Face(
        x=x0 + face.x * sx,
        y=y0 + face.y * sy,
        w=face.w * sx,
        h=face.h * sy,
        score=face.score,
        keypoints=tuple((x0 + kx * sx, y0 + ky * sy) for kx, ky in face.keypoints),
    )


def _tiles() -> list[tuple[float, float, float, float]]:
    start = 1.0 - _TILE_FRACTION
    return [
        (x, y, x + _TILE_FRACTION, y + _TILE_FRACTION) for y in (0.0, start) for x in (0.0, start)
    ]


def _merge(faces: list[Face], more: list[Face]) -> list[Face]:
    """Add ``more`` to ``faces``, keeping the higher-scoring box where two are the same face."""
    merged = list(faces)
    for face in more:
        same = [i for i, kept in enumerate(merged) if iou(face.box, kept.box) > _SAME_FACE_IOU]
        if not same:
            merged.append(face)
        elif face.score > merged[same[0]].score:
            merged[same[0]] = face
    return merged


def _eye_line_angle(face: Face, width: int, height: int) -> float:
    """Clockwise tilt of the eye line in degrees (0 when level), from the detector keypoints."""
    if len(face.keypoints) < 2:
        return 0.0
    (rx, ry), (lx, ly) = face.keypoints[:2]
    return float(np.degrees(np.arctan2((ly - ry) * height, (lx - rx) * width)))


def _level_crop(rgb: np.ndarray, roi: _Roi, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``roi`` square turned by its roll so the eyes are level (as MediaPipe's own graph
    does: the mesh model expects upright faces), resized to ``size``; parts outside the frame
    are black. Also returns the affine map from frame pixels to crop pixels."""
    import cv2

    scale = size / max(roi.side, 1.0)
    # One affine warp turns, crops, pads and resizes: OpenCV's positive angle is counter-clockwise.
    matrix = cv2.getRotationMatrix2D((roi.cx, roi.cy), roi.roll, scale)
    matrix[:, 2] += (size / 2 - roi.cx, size / 2 - roi.cy)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(rgb, matrix, (size, size), flags=interpolation, borderValue=(0, 0, 0))
    return crop, matrix
