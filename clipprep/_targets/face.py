"""The face target: a clip judged by its main face (detector box, head pose, eyes, cover)."""

from __future__ import annotations

from typing import ClassVar

from .._metrics import FrameMetrics
from .._profiles import Quality
from .._vocab import TargetKind
from .base import LIGHTING_PROBLEMS, Describe, Target, flag, grade, median, ramp


class FaceTarget(Target):
    """The main face: present where the detector found one."""

    name = TargetKind.FACE
    absent = "no_face"
    # (named before subjects existed: schema 1's face lighting fields)
    lighting_fields = (
        "face_luma",
        "face_clipped_fraction",
        "face_lr_imbalance",
        "backlight_ratio",
        "sharpness",
    )

    def present(self, m: FrameMetrics, q: Quality) -> bool:
        """Whether a face was found in the frame."""
        return m.face_h is not None

    def own_flags(self, m: FrameMetrics, q: Quality) -> dict[str, str]:
        """Other faces, size, cut-off, pose, closed eyes, cover."""
        flags: dict[str, str] = {}
        flag(flags, "multiple_faces", m.competing_faces > 0)
        flag(flags, "face_too_small", m.face_h < q.face_height_min, m.face_h < q.face_height_good)
        flag(flags, "face_cut_off", m.face_cut_off)
        yaw, pitch = abs(m.yaw or 0.0), abs(m.pitch or 0.0)
        flag(
            flags,
            "not_frontal",
            yaw > q.yaw_max or pitch > q.pitch_max,
            yaw > q.yaw_warn or pitch > q.pitch_warn,
        )
        closed = m.eye_openness is not None and m.eye_openness < q.eyes_closed_ear
        flag(flags, "eyes_closed", False, closed)
        flag(flags, "face_occluded", *_covered_levels(m, q))
        return flags

    def own_factors(self, m: FrameMetrics, q: Quality) -> list[float]:
        """Penalties and grades for other faces, size, cut-off, confidence, pose, eyes, cover."""
        yaw, pitch = abs(m.yaw or 0.0), abs(m.pitch or 0.0)
        return [
            0.15 if m.competing_faces else 1.0,
            0.2 + 0.8 * ramp(m.face_h, q.face_height_min, q.face_height_good),
            grade(q.grade_size, ramp(m.face_h, q.face_height_good, q.face_height_best)),
            0.4 if m.face_cut_off else 1.0,
            0.5 + 0.5 * ramp(m.face_score or 0.0, 0.5, 0.8),
            1.0 - 0.8 * ramp(yaw, q.yaw_warn, q.yaw_max),
            grade(q.grade_yaw, 1.0 - ramp(yaw, 0.0, q.yaw_warn)),
            1.0 - 0.8 * ramp(pitch, q.pitch_warn, q.pitch_max),
            grade(q.grade_pitch, 1.0 - ramp(pitch, 0.0, q.pitch_warn)),
            0.7 if m.eye_openness is not None and m.eye_openness < q.eyes_closed_ear else 1.0,
            _covered_factor(m, q),
        ]

    problems: ClassVar[dict[str, tuple[Describe, str]]] = {
        "no_face": (
            lambda ms, t: "no face is visible",
            "film the character's face, clearly visible",
        ),
        "multiple_faces": (
            lambda ms, t: "more than one face is visible",
            "film one character alone in the frame",
        ),
        "face_too_small": (
            lambda ms, t: (
                f"the face is small (median {median(m.face_h for m in ms):.0%} of the height)"
            ),
            "move closer: the face should fill at least 15% of the frame height",
        ),
        "face_cut_off": (
            lambda ms, t: "the face is cut off by the frame edge",
            "keep the whole head inside the frame",
        ),
        "not_frontal": (
            lambda ms, t: (
                "the face is turned away "
                f"(median yaw {median(abs(m.yaw) for m in ms if m.yaw is not None):.0f}°, "
                f"pitch {median(abs(m.pitch) for m in ms if m.pitch is not None):.0f}°)"
            ),
            "have the character look toward the camera",
        ),
        **LIGHTING_PROBLEMS,
        "face_occluded": (
            lambda ms, t: (
                "the face is covered (a hand, a microphone, an object over it) or unlike a human "
                f"face to the face mesh (presence {median(m.face_presence for m in ms):.1f}, "
                f"mouth and eyes match {median(m.face_region_match for m in ms):.2f})"
            ),
            "keep hands, microphones and objects away from the face",
        ),
        "eyes_closed": (
            lambda ms, t: "the eyes are closed in part of the clip",
            "keep the eyes open and visible",
        ),
    }


def _covered_levels(m: FrameMetrics, q: Quality) -> tuple[bool, bool]:
    """Whether the face is covered at the error and at the warning level: from the face
    mesh's presence score, or from the mouth or an eye not looking like itself."""
    presence, match = m.face_presence, m.face_region_match
    covered = (presence is not None and presence < q.face_covered_presence) or (
        match is not None and match < q.face_covered_match
    )
    occluded = (presence is not None and presence < q.face_occluded_presence) or (
        match is not None and match < q.face_occluded_match
    )
    return covered, occluded


def _covered_factor(m: FrameMetrics, q: Quality) -> float:
    """1 for an uncovered face; 0.6 once something covers part of it (face_occluded warning:
    enough that a window of uncovered frames wins over a longer one holding some), down to 0.2
    as it hides more (error)."""
    if not _covered_levels(m, q)[1]:
        return 1.0
    visible = 1.0
    if m.face_presence is not None:
        visible = ramp(m.face_presence, q.face_covered_presence, q.face_occluded_presence)
    if m.face_region_match is not None:
        part = ramp(m.face_region_match, q.face_covered_match, q.face_occluded_match)
        visible = min(visible, part)
    return 0.2 + 0.4 * visible
