"""One sampled frame -> numbers: face and subject geometry, head pose, lighting, sharpness,
motion, change since the previous sample.

Units: sizes and positions are fractions of the frame (0..1); luma is 0..255 (BT.601 from the
analysis RGB); angles are degrees; ``eye_distance_px`` is in pixels of the original clip's display
size (what the service will see); sharpness is the variance of the Laplacian of the face crop
resized to 128 px and normalized to zero mean and a fixed contrast (standard deviation 40), so it
is comparable across face sizes and a dark face does not read as a blurred one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from ._boxes import Region
from ._faces import Face, FaceLandmarks
from ._frames import Frame
from ._pose import eye_openness, pose_from_keypoints, pose_from_landmarks
from ._profiles import Quality
from ._subjects import Subject

_DARK_LUMA = 16  # below: crushed to black
_CLIPPED_LUMA = 250  # at or above: blown out
_SHARPNESS_CROP = 128
_SHARPNESS_CONTRAST = 40.0
_THUMB_SIZE = (64, 36)  # motion and change work on a thumbnail: fast and noise-free


@dataclass(frozen=True)
class FrameMetrics:
    """Everything measured on one sampled frame (None where there is no face to measure)."""

    time_s: float
    face_count: int
    competing_faces: int  # other faces at least `competing_face_ratio` of the main face's height
    face_x: float | None
    face_y: float | None
    face_w: float | None
    face_h: float | None
    face_score: float | None  # detector confidence 0..1
    face_margin: float | None  # smallest gap between the face box and a frame edge (<0: cut off)
    face_cut_off: bool
    yaw: float | None
    pitch: float | None
    roll: float | None
    # "landmarks" (468-point mesh), "keypoints" (6-point estimate) or "interpolated" (the mesh
    # skipped this sample: the median of its neighbours)
    pose_source: str | None
    eye_distance_px: float | None
    eye_openness: float | None  # eye aspect ratio: ~0.3 open, < 0.15 closed
    # The face mesh's face-presence score (log-odds): 17–34 for an uncovered face, below ~5
    # when a hand or an object hides half of it (face_occluded); None without a mesh.
    face_presence: float | None
    # How much the mouth and eyes look like themselves in the rest of the clip: the lowest
    # correlation of the three with their clip medians, -1..1 (0.6 or more uncovered, below
    # 0.5 when a hand or an object covers one of them: face_occluded); None without a mesh.
    face_region_match: float | None
    frame_luma: float
    frame_dark_fraction: float  # share of pixels with luma < 16
    frame_clipped_fraction: float  # share of pixels with luma >= 250
    dynamic_range: float  # 98th minus 2nd percentile of luma
    face_luma: float | None
    face_clipped_fraction: float | None
    face_lr_imbalance: float | None  # |left - right| / (left + right) of face luma
    backlight_ratio: float | None  # face luma / background luma (< 1: face darker than scene)
    sharpness: float | None
    # The main subject, whatever it is (_subjects.py): None where none stands out, or when the
    # analysis did not look for one (--subject face).
    subject_x: float | None
    subject_y: float | None
    subject_w: float | None
    subject_h: float | None
    subject_size: float | None  # geometric mean of the box's width and height fractions
    subject_contrast: float | None  # mean Lab distance from the background's colours (~ΔE)
    subject_detail: float | None  # share of its inner pixels with texture or edges, 0..1
    subject_clutter: float | None  # share of the frame's saliency outside the subject
    competing_subjects: int  # other regions with at least half the subject's saliency
    subject_stability: float | None  # box overlap (IoU) with the previous sample's
    subject_margin: float | None  # to the left, top and right edges (the bottom may cut it)
    subject_cut_off: bool
    subject_luma: float | None  # lighting and sharpness on the subject box, as for the face
    subject_clipped_fraction: float | None
    subject_lr_imbalance: float | None
    subject_backlight_ratio: float | None
    subject_sharpness: float | None
    motion: float  # mean absolute luma change since the previous sample, 0..255
    scene_change: float  # mean absolute HSV change since the previous sample, 0..255
    similarity: float  # structure kept since the previous sample: -1..1 (1 = same picture)
    # A scene cut lies between the previous sample and this one. Cuts are found on every
    # decoded frame (_cuts.py), not on samples: the pipeline fills this in from them.
    is_cut: bool

    def to_dict(self) -> dict:
        """JSON-ready data, floats rounded to what is meaningful."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


class PlainMeasures(NamedTuple):
    """A frame's measures that need no face (see :meth:`FrameMeasurer.plain`)."""

    gray: np.ndarray
    change: tuple[float, float, float]  # motion, scene change, similarity
    lighting: dict


class FrameMeasurer:
    """Measures a clip's frames in order (it remembers the previous frame for motion)."""

    def __init__(self, display_size: tuple[int, int], quality: Quality):
        self._display_w, self._display_h = display_size
        self._quality = quality
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        # Per measured frame: its face's mouth and eye patches (FaceLandmarks.regions) or None.
        self.regions: list[np.ndarray | None] = []

    def measure(
        self,
        frame: Frame,
        faces: list[Face],
        landmarks: FaceLandmarks | None,
        *,
        subject: Subject | None = None,
        estimate_pose: bool = True,
    ) -> FrameMetrics:
        """Measure one frame; ``faces`` come most prominent first; ``landmarks`` are faces[0]'s;
        ``subject`` is the main subject when one was looked for and found.

        ``estimate_pose=False`` leaves head pose and eye openness unmeasured (None): the caller
        fills them in from neighbouring samples."""
        plain = frame.prepared
        if not isinstance(plain, PlainMeasures):
            plain = self.plain(frame.rgb)
        gray, (motion, change, similarity), lighting = plain
        main = faces[0] if faces else None
        measured = main is not None and estimate_pose and landmarks is not None
        self.regions.append(landmarks.regions if measured else None)
        face_values = self._face_values(gray, faces, landmarks, estimate_pose) if main else _NO_FACE
        subject_values = self._subject_values(gray, subject) if subject else _NO_SUBJECT
        return FrameMetrics(
            time_s=frame.time_s,
            face_count=len(faces),
            motion=motion,
            scene_change=change,
            similarity=similarity,
            is_cut=False,
            **lighting,
            **face_values,
            **subject_values,
        )

    def plain(self, rgb: np.ndarray) -> PlainMeasures:
        """The measures of a frame that need no face (grey picture, change since the previous
        frame, lighting). Called once per frame in order, by :meth:`measure` or, through
        ``iter_frames(prepare=...)``, on the decoding thread ahead of the face models."""
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return PlainMeasures(gray, self._change_since_previous(rgb), _frame_lighting(gray))

    def _change_since_previous(self, rgb: np.ndarray) -> tuple[float, float, float]:
        """(motion, HSV change, structural similarity) against the previous sample."""
        import cv2

        small = cv2.resize(rgb, _THUMB_SIZE, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.int16)
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        structure = (luma - luma.mean()) / (luma.std() + 1.0)
        previous, self._previous = self._previous, (hsv, structure)
        if previous is None:
            return 0.0, 0.0, 1.0
        diff = np.abs(hsv - previous[0])
        # Hue is circular (OpenCV stores 0..179): the short way round, scaled to 0..255.
        hue = np.minimum(diff[..., 0], 180 - diff[..., 0]) * (255 / 90)
        change = (hue.mean() + diff[..., 1].mean() + diff[..., 2].mean()) / 3
        similarity = float(np.mean(structure * previous[1]))
        return float(diff[..., 2].mean()), float(change), similarity

    def _face_values(self, gray, faces, landmarks, estimate_pose: bool) -> dict:
        main = faces[0]
        quality = self._quality
        competing = sum(1 for f in faces[1:] if f.h >= quality.competing_face_ratio * main.h)
        margin = _margin(main)
        pose, source, openness = (
            self._pose(main, landmarks) if estimate_pose else (None, None, None)
        )
        return {
            "competing_faces": competing,
            "face_x": main.x,
            "face_y": main.y,
            "face_w": main.w,
            "face_h": main.h,
            "face_score": main.score,
            "face_margin": margin,
            "face_cut_off": margin < quality.edge_margin,
            "yaw": pose.yaw if pose else None,
            "pitch": pose.pitch if pose else None,
            "roll": pose.roll if pose else None,
            "pose_source": source,
            "eye_distance_px": self._eye_distance(main),
            "eye_openness": openness,
            "face_presence": landmarks.presence if estimate_pose and landmarks else None,
            "face_region_match": None,  # needs the whole clip: with_region_matches()
            **{_FACE_LIGHTING[k]: v for k, v in _box_lighting(gray, main).items()},
        }

    def _subject_values(self, gray, subject: Subject) -> dict:
        # A character standing on (or rising from) the bottom edge is framed, not cut off: a
        # bust or a medium shot always is. The other three edges cut it off.
        margin = min(subject.x, subject.y, 1 - (subject.x + subject.w))
        return {
            "subject_x": subject.x,
            "subject_y": subject.y,
            "subject_w": subject.w,
            "subject_h": subject.h,
            "subject_size": subject.size,
            "subject_contrast": subject.contrast,
            "subject_detail": subject.detail,
            "subject_clutter": subject.clutter,
            "competing_subjects": subject.competing,
            "subject_stability": subject.stability,
            "subject_margin": margin,
            "subject_cut_off": margin < self._quality.edge_margin,
            **{f"subject_{k}": v for k, v in _box_lighting(gray, subject).items()},
        }

    def _pose(self, face: Face, landmarks: FaceLandmarks | None):
        if landmarks is not None:
            size = landmarks.crop_size
            pose = pose_from_landmarks(landmarks.points, size, size, landmarks.crop_roll)
            return pose, "landmarks", eye_openness(landmarks.points, size, size)
        if len(face.keypoints) >= 6:
            points = np.array(face.keypoints, dtype=np.float64)
            return pose_from_keypoints(points, self._display_w, self._display_h), "keypoints", None
        return None, None, None

    def _eye_distance(self, face: Face) -> float | None:
        if len(face.keypoints) < 2:
            return None
        (rx, ry), (lx, ly) = face.keypoints[:2]
        return float(np.hypot((lx - rx) * self._display_w, (ly - ry) * self._display_h))


_NO_FACE = {
    "competing_faces": 0,
    "face_x": None,
    "face_y": None,
    "face_w": None,
    "face_h": None,
    "face_score": None,
    "face_margin": None,
    "face_cut_off": False,
    "yaw": None,
    "pitch": None,
    "roll": None,
    "pose_source": None,
    "eye_distance_px": None,
    "eye_openness": None,
    "face_presence": None,
    "face_region_match": None,
    "face_luma": None,
    "face_clipped_fraction": None,
    "face_lr_imbalance": None,
    "backlight_ratio": None,
    "sharpness": None,
}

_NO_SUBJECT = {
    "subject_x": None,
    "subject_y": None,
    "subject_w": None,
    "subject_h": None,
    "subject_size": None,
    "subject_contrast": None,
    "subject_detail": None,
    "subject_clutter": None,
    "competing_subjects": 0,
    "subject_stability": None,
    "subject_margin": None,
    "subject_cut_off": False,
    "subject_luma": None,
    "subject_clipped_fraction": None,
    "subject_lr_imbalance": None,
    "subject_backlight_ratio": None,
    "subject_sharpness": None,
}

# The face's lighting fields (schema 1 named them before subjects existed).
_FACE_LIGHTING = {
    "luma": "face_luma",
    "clipped_fraction": "face_clipped_fraction",
    "lr_imbalance": "face_lr_imbalance",
    "backlight_ratio": "backlight_ratio",
    "sharpness": "sharpness",
}


# Fewer mesh samples than this and a clip has no reliable idea of how its face looks.
_MIN_REGION_SAMPLES = 5


def with_region_matches(
    metrics: list[FrameMetrics], regions: list[np.ndarray | None]
) -> list[FrameMetrics]:
    """Fill ``face_region_match``: each frame's mouth and eyes against their median look over
    the clip (a hand or an object over one of them is a minority of the frames, or the face
    presence score sees it). The lowest of the three correlations counts.

    Measured on every carphone frame (talking, mouth wide open, turning): 0.60 or more; a real
    hand, a cup or a cat's head over the mouth or one eye of carphone's man in 5 of its frames:
    −0.34–0.46 for the covered part (one at 0.57). A face covered in most of the clip makes the
    covered look the median: the face presence score is what sees that."""
    known = [i for i, r in enumerate(regions) if r is not None]
    if len(known) < _MIN_REGION_SAMPLES:
        return metrics
    reference = np.median(np.stack([regions[i] for i in known]), axis=0)
    result = list(metrics)
    for i in known:
        result[i] = dataclasses.replace(
            metrics[i], face_region_match=_lowest_match(regions[i], reference)
        )
    return result


def _lowest_match(patches: np.ndarray, reference: np.ndarray) -> float:
    """Lowest correlation between each patch and its reference patch."""
    products = (patches * reference).mean(axis=(1, 2))
    norms = np.sqrt((patches**2).mean(axis=(1, 2)) * (reference**2).mean(axis=(1, 2)))
    return float(np.min(products / np.maximum(norms, 1e-6)))


def _margin(box) -> float:
    """Smallest gap between a box (x, y, w, h fractions) and a frame edge (< 0: cut off)."""
    return min(box.x, box.y, 1 - (box.x + box.w), 1 - (box.y + box.h))


def _frame_lighting(gray: np.ndarray) -> dict:
    """Frame lighting from one 256-bin histogram (OpenCV's is ~10x faster than the numpy
    reductions it replaces, and every figure below is exact from it)."""
    import cv2

    counts = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    share = counts / max(1.0, counts.sum())
    cumulative = np.cumsum(share)
    low, high = np.searchsorted(cumulative, (0.02, 0.98))
    return {
        "frame_luma": float(np.dot(share, np.arange(256))),
        "frame_dark_fraction": float(cumulative[_DARK_LUMA - 1]),
        "frame_clipped_fraction": float(share[_CLIPPED_LUMA:].sum()),
        "dynamic_range": float(high - low),
    }


def face_pixel_box(face: Region, width: int, height: int) -> tuple[int, int, int, int]:
    """A face's (or subject's) box in pixels, clipped to the frame: (x0, y0, x1, y1), never
    empty."""
    x0 = min(width - 1, max(0, int(face.x * width)))
    y0 = min(height - 1, max(0, int(face.y * height)))
    x1 = max(x0 + 1, min(width, int((face.x + face.w) * width)))
    y1 = max(y0 + 1, min(height, int((face.y + face.h) * height)))
    return x0, y0, x1, y1


def _box_lighting(gray: np.ndarray, box: Region) -> dict:
    """Lighting and sharpness inside a box: luma, clipped_fraction, lr_imbalance,
    backlight_ratio, sharpness."""
    import cv2

    height, width = gray.shape
    x0, y0, x1, y1 = face_pixel_box(box, width, height)
    region = gray[y0:y1, x0:x1]
    luma = float(region.mean())
    mid = region.shape[1] // 2
    left, right = float(region[:, :mid].mean()) if mid else luma, float(region[:, mid:].mean())
    background = _background_luma(gray, (x0, y0, x1, y1))
    crop = cv2.resize(region, (_SHARPNESS_CROP, _SHARPNESS_CROP), interpolation=cv2.INTER_AREA)
    crop = crop.astype(np.float32)
    crop = (crop - crop.mean()) * (_SHARPNESS_CONTRAST / (crop.std() + 2.0))
    return {
        "luma": luma,
        "clipped_fraction": float((region >= _CLIPPED_LUMA).mean()),
        "lr_imbalance": abs(left - right) / max(1.0, left + right),
        "backlight_ratio": luma / max(1.0, background),
        "sharpness": float(cv2.Laplacian(crop, cv2.CV_32F).var()),
    }


def _background_luma(gray: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Mean luma outside a box (the whole frame if the box fills it)."""
    x0, y0, x1, y1 = box
    total = float(gray.sum(dtype=np.float64))
    face_sum = float(gray[y0:y1, x0:x1].sum(dtype=np.float64))
    rest = gray.size - (x1 - x0) * (y1 - y0)
    return (total - face_sum) / rest if rest > 0 else total / gray.size
