"""Head pose and eye openness from face landmarks: pure geometry on arrays.

Conventions (degrees, the camera's point of view):

- **yaw** 0 = facing the camera; positive = the face turned toward the image's right side
  (the subject's own left).
- **pitch** 0 = level; positive = looking up.
- **roll** 0 = eyes level; positive = head tilted clockwise in the image.

Why not a plain ``cv2.solvePnP`` against a generic 3D face: without a known camera, a PnP fit on a
small crop trades rotation against translation and focal length, and was measured giving yaw from
−77° to +37° on a frontal talker. The FaceLandmarker already returns a 3D shape (``z`` in about
the same scale as ``x``), so the pose is read from it directly: the eye line gives the face's
x-axis, the line from the mouth up to the eyes its up-axis, and their cross product the direction
the face points. Eyes and mouth corners lie at nearly the same depth, so a level frontal face
reads pitch ≈ 0 without a per-model offset.

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
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
# Eye-aspect-ratio points: (corner, corner, (upper, lower) lid pairs).
_RIGHT_EYE = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, ((160, 144), (158, 153)))
_LEFT_EYE = (LEFT_EYE_INNER, LEFT_EYE_OUTER, ((385, 380), (387, 373)))

# Keypoint pitch: where the nose tip sits between the eye line (0) and the mouth (1) on a level
# frontal face, and how many degrees one unit of that ratio is worth (calibrated against the
# landmark pose on carphone_pristine.mp4; see tests/test_pose.py).
_KEYPOINT_NOSE_LEVEL = 0.55
_KEYPOINT_PITCH_SCALE = 120.0


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


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


def _angles(x_axis: np.ndarray, up: np.ndarray) -> HeadPose:
    """Pose from the face's x-axis (toward the image's right) and up-axis, in camera coordinates
    (x right, y down, z away from the camera)."""
    x_axis = _unit(x_axis)
    up = _unit(up - np.dot(up, x_axis) * x_axis)
    facing = np.cross(x_axis, up)  # toward the camera (-z) for a frontal face
    yaw = math.degrees(math.atan2(facing[0], -facing[2]))
    pitch = math.degrees(math.atan2(-facing[1], math.hypot(facing[0], facing[2])))
    roll = math.degrees(math.atan2(x_axis[1], x_axis[0]))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def pose_from_landmarks(landmarks: np.ndarray, width: int, height: int) -> HeadPose:
    """Head pose from 478 (or 468) FaceLandmarker points found on a ``width``×``height`` image."""
    p = _pixels(landmarks, width, height)
    eyes_right = (p[RIGHT_EYE_OUTER] + p[RIGHT_EYE_INNER]) / 2
    eyes_left = (p[LEFT_EYE_OUTER] + p[LEFT_EYE_INNER]) / 2
    mouth = (p[MOUTH_RIGHT] + p[MOUTH_LEFT]) / 2
    x_axis = eyes_left - eyes_right
    up = (eyes_left + eyes_right) / 2 - mouth
    return _angles(x_axis, up)


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
