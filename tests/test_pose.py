"""Head pose and eye openness on real faces through the real models."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from clipprep.faces import FaceFinder
from clipprep.pose import pose_from_keypoints, pose_from_landmarks, smooth_angles
from clipprep.synth import carphone_path


@pytest.fixture(scope="module")
def finder():
    with FaceFinder() as shared:
        yield shared


def poses(finder, rgb):
    """(landmark pose with the crop's roll added back, keypoint pose, eye openness)."""
    from clipprep.pose import eye_openness

    face = finder.detect(rgb)[0]
    marks = finder.landmarks(rgb, face)
    size = marks.crop_size
    fine = pose_from_landmarks(marks.points, size, size)
    fine = dataclasses.replace(fine, roll=fine.roll + marks.crop_roll)
    coarse = pose_from_keypoints(np.array(face.keypoints), rgb.shape[1], rgb.shape[0])
    return fine, coarse, eye_openness(marks.points, size, size)


@pytest.fixture(scope="module")
def carphone(finder):
    import av

    with av.open(str(carphone_path())) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return [poses(finder, rgb) for rgb in frames], frames


def test_carphone_talker_reads_mostly_frontal(carphone):
    results, _ = carphone
    assert len(results) == 120
    yaw = np.array([fine.yaw for fine, _, _ in results])
    assert np.median(np.abs(yaw)) <= 10
    assert np.mean(np.abs(yaw) <= 20) >= 0.9
    openness = np.array([ear for _, _, ear in results])
    assert np.median(openness) > 0.2  # he keeps his eyes open


def test_keypoint_estimate_agrees_with_landmarks(carphone):
    results, _ = carphone
    fine = np.array([(p.yaw, p.roll) for p, _, _ in results])
    coarse = np.array([(k.yaw, k.roll) for _, k, _ in results])
    # Measured: mean |difference| ~7 deg for yaw, ~4 deg for roll, and yaw correlation 0.9.
    assert np.mean(np.abs(fine - coarse), axis=0).max() < 12
    assert np.corrcoef(fine[:, 0], coarse[:, 0])[0, 1] > 0.7


def test_mirrored_frames_turn_the_other_way(finder, carphone):
    results, frames = carphone
    turned = [i for i, (p, _, _) in enumerate(results) if abs(p.yaw) >= 6]
    assert len(turned) >= 5
    for i in turned:
        mirrored, _, _ = poses(finder, np.ascontiguousarray(np.fliplr(frames[i])))
        assert np.sign(mirrored.yaw) == -np.sign(results[i][0].yaw), i


@pytest.mark.parametrize("degrees", [-30, -15, 15, 30])
def test_in_plane_rotation_reads_as_roll(finder, degrees):
    from skimage import data

    portrait = data.astronaut()
    level, _, _ = poses(finder, portrait)
    # OpenCV's positive angle turns the picture counter-clockwise: roll goes down by as much.
    matrix = cv2.getRotationMatrix2D((240, 130), degrees, 1.0)
    tilted, _, _ = poses(finder, cv2.warpAffine(portrait, matrix, (512, 512)))
    assert tilted.roll - level.roll == pytest.approx(-degrees, abs=4)
    assert abs(tilted.yaw - level.yaw) < 6


def test_smooth_angles_is_a_median_that_keeps_gaps():
    values = [0.0, 0.0, 40.0, 0.0, 0.0, float("nan"), 10.0]
    smoothed = smooth_angles(values, window=3)
    assert smoothed[2] == 0.0  # a one-sample spike is removed
    assert np.isnan(smoothed[5])
    assert smoothed[6] == 10.0
