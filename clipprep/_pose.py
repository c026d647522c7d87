"""Head pose and eye openness from face landmarks: pure geometry on arrays.

Conventions (degrees, the camera's point of view):

- **yaw** 0 = facing the camera; positive = the face turned toward the image's right side
  (the subject's own left).
- **pitch** 0 = level; positive = looking up.
- **roll** 0 = eyes level; positive = head tilted clockwise in the image.

Why not a plain ``cv2.solvePnP`` against a generic 3D face: without a known camera, a PnP fit on a
small crop trades rotation against translation and focal length, and was measured giving yaw from
−77° to +37° on a frontal talker. The face-mesh model already returns a 3D shape (``z`` in about
the same scale as ``x``), so the pose is the rotation that best turns a reference shape of the
same mesh points into it: a least-squares rigid fit (SVD, Kabsch/Umeyama) over 38 points that
move little with expression (eye corners, brows, nose, forehead, chin, jaw, mouth corners). The
reference is the mesh model's own output on a real scanned head (``james.obj`` in menpo3d 0.8.6)
rendered at known poses, de-rotated and averaged over it and its mirror image, in a frame made
frontal by fitting the scan's 68 landmarks to a published generic 68-point face. MediaPipe's own
canonical face model, fitted the same way, reads yaw −0.2°, pitch +1.5°, roll 0.1° in this frame
(the former eye-line × mouth-axis construction read it +6.7° up). ``benchmarks/accuracy.py``
checks renders of that head at poses not used to build the reference: mean error 2.5° yaw,
6.7° pitch, 3.3° roll before, 1.7°, 4.2°, 2.6° now. What is left is mostly the mesh model's
own beyond ±40° yaw, where it reads yaw and pitch short.

Angles are the rotation's Euler angles in the order head-pose benchmarks use (AFLW2000 and BIWI
as Hopenet or 6DRepNet score them): R = Rz(roll) · Ry(yaw) · Rx(pitch), so roll is a turn in the
image plane (turning the picture changes roll and nothing else) and, at roll 0, yaw and pitch
say where the face points.

The detector's six keypoints give a coarse, cheaper estimate: yaw from where the nose sits between
the ears, roll from the eye line, pitch from where the nose sits between the eyes and the mouth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# MediaPipe face-mesh indices (the subject's right eye is on the image's left for a frontal face).
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
# Eye-aspect-ratio points: (corner, corner, (upper, lower) lid pairs).
_RIGHT_EYE = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, ((160, 144), (158, 153)))
_LEFT_EYE = (LEFT_EYE_INNER, LEFT_EYE_OUTER, ((385, 380), (387, 373)))

# Keypoint pitch: where the nose tip sits between the eye line (0) and the mouth (1) on a level
# frontal face, and how many degrees one unit of that ratio is worth (calibrated against the
# landmark pose on carphone_pristine.mp4; see tests/test_pose.py). 0.55 matched the former
# landmark pose, which read ~6° up: the keypoints then read 4.2° above today's landmark pose
# on carphone and 3.2° above the labels on the benchmark's renders within ±30° yaw.
_KEYPOINT_NOSE_LEVEL = 0.52
_KEYPOINT_PITCH_SCALE = 120.0

# The reference shape of the pose fit: face-mesh index -> (x, y, z) of a level frontal face in
# thousandths of the shape's RMS radius, camera axes (x right, y down, z away from the camera).
# Measured, not copied: the mesh model's mean output on renders of a real scanned head at known
# poses (see the module docstring); symmetric to within 0.01 by construction. Rebuilt by
# ``python benchmarks/accuracy.py --reference`` (this render size gives it within 0.01).
_REFERENCE = (
    # eye corners
    (33, (-772, -311, 168)),
    (133, (-305, -299, 70)),
    (362, (302, -302, 72)),
    (263, (768, -319, 172)),
    # right brow
    (70, (-974, -542, 193)),
    (63, (-860, -639, 48)),
    (105, (-691, -692, -69)),
    (66, (-476, -685, -173)),
    (107, (-239, -663, -228)),
    # left brow
    (336, (239, -664, -228)),
    (296, (475, -688, -172)),
    (334, (690, -697, -67)),
    (293, (860, -644, 52)),
    (300, (972, -549, 200)),
    # nose bridge to tip
    (6, (1, -265, -295)),
    (168, (1, -388, -216)),
    (197, (2, -146, -382)),
    (195, (2, -33, -475)),
    (5, (3, 86, -572)),
    (4, (3, 228, -619)),
    (1, (3, 338, -586)),
    (2, (2, 459, -326)),
    # nose wings
    (98, (-284, 427, -181)),
    (327, (286, 425, -182)),
    # forehead
    (10, (1, -1209, -106)),
    (151, (0, -938, -182)),
    (9, (0, -645, -242)),
    # chin
    (152, (3, 1612, 35)),
    # mouth corners
    (61, (-427, 848, -4)),
    (291, (428, 845, -2)),
    # lips
    (0, (2, 706, -330)),
    (13, (2, 817, -233)),
    # jaw
    (172, (-964, 1044, 763)),
    (397, (956, 1036, 772)),
    # jaw
    (136, (-836, 1207, 569)),
    (365, (831, 1200, 576)),
    # cheeks
    (234, (-1197, 24, 1084)),
    (454, (1190, 16, 1097)),
)
_REFERENCE_POINTS = tuple(index for index, _ in _REFERENCE)
_REFERENCE_SHAPE = np.array([xyz for _, xyz in _REFERENCE], dtype=np.float64) / 1000.0


@dataclass(frozen=True)
class HeadPose:
    """Head orientation in degrees (see the module docstring for the signs)."""

    yaw: float
    pitch: float
    roll: float


def _pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalized MediaPipe coordinates -> pixels (z shares x's scale, as MediaPipe documents)."""
    points = np.asarray(landmarks, dtype=np.float64)[:, :3].copy()
    points[:, 0] *= width
    points[:, 1] *= height
    points[:, 2] *= width
    return points


def _rotation_fit(reference: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The rotation R minimising |R (reference - mean) - s (points - mean)| (Kabsch, with the
    reflection case excluded): the scale and translation drop out of the rotation."""
    a = reference - reference.mean(axis=0)
    b = points - points.mean(axis=0)
    u, _, vt = np.linalg.svd(b.T @ a)
    flip = np.diag([1.0, 1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    return u @ flip @ vt


def _euler(rotation: np.ndarray) -> HeadPose:
    """Yaw, pitch, roll of a rotation in camera coordinates (x right, y down, z away from the
    camera) written as Rz(roll) · Ry(-yaw) · Rx(-pitch), the signs of the module docstring."""
    r = rotation
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, r[2, 0]))))
    pitch = -math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def pose_from_landmarks(
    landmarks: np.ndarray, width: int, height: int, crop_roll: float = 0.0
) -> HeadPose:
    """Head pose from 468 (or 478) face-mesh points found on a ``width``×``height`` image.

    ``crop_roll``: degrees the image was turned (clockwise) before the mesh saw it, to level the
    eyes; the points are turned back first, so the pose is the frame's."""
    p = _pixels(landmarks, width, height)[list(_REFERENCE_POINTS)]
    turn = math.radians(crop_roll)
    c, s = math.cos(turn), math.sin(turn)
    p = p @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    return _euler(_rotation_fit(_REFERENCE_SHAPE, p))


def pose_from_keypoints(keypoints: np.ndarray, width: int, height: int) -> HeadPose:
    """Coarse pose from the detector's 6 normalized keypoints (right eye, left eye, nose tip,
    mouth, right ear, left ear) on a ``width``×``height`` frame."""
    k = np.asarray(keypoints, dtype=np.float64)[:, :2] * (width, height)
    right_eye, left_eye, nose, mouth, right_ear, left_ear = k[:6]
    across = left_ear - right_ear
    span = float(np.dot(across, across)) or 1.0
    # Where the nose projects between the ears: 0.5 when frontal, toward 0 or 1 in profile.
    share = float(np.dot(nose - right_ear, across)) / span
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, 2 * share - 1))))
    eye_line = left_eye - right_eye
    roll = math.degrees(math.atan2(eye_line[1], eye_line[0]))
    eyes = (left_eye + right_eye) / 2
    down = mouth - eyes
    depth = float(np.dot(down, down)) or 1.0
    nose_level = float(np.dot(nose - eyes, down)) / depth
    pitch = (_KEYPOINT_NOSE_LEVEL - nose_level) * _KEYPOINT_PITCH_SCALE
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def _eye_aspect(p: np.ndarray, eye) -> float:
    corner_a, corner_b, lids = eye
    width = np.linalg.norm(p[corner_a, :2] - p[corner_b, :2])
    heights = [np.linalg.norm(p[upper, :2] - p[lower, :2]) for upper, lower in lids]
    return float(np.mean(heights) / width) if width > 0 else 0.0


def eye_openness(landmarks: np.ndarray, width: int, height: int) -> float:
    """Mean eye aspect ratio of both eyes (lid gap / eye width, in pixels): ~0.25–0.35 open,
    below ~0.15 closed."""
    p = _pixels(landmarks, width, height)
    return (_eye_aspect(p, _RIGHT_EYE) + _eye_aspect(p, _LEFT_EYE)) / 2


def smooth_angles(
    values: Sequence[float], window: int = 5, *, fill: Sequence[bool] | None = None
) -> list[float]:
    """Running median over ``window`` samples, ignoring NaN. A NaN stays NaN unless ``fill``
    marks it, in which case it takes the median of its neighbours (NaN when they have none)."""
    data = np.asarray(values, dtype=np.float64)
    fill = fill if fill is not None else [False] * len(data)
    half = window // 2
    smoothed = []
    for i, value in enumerate(data):
        around = data[max(0, i - half) : i + half + 1]
        if math.isnan(value) and not (fill[i] and not np.isnan(around).all()):
            smoothed.append(math.nan)
            continue
        smoothed.append(float(np.nanmedian(around)))
    return smoothed
