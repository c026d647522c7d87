"""The subject target: a clip judged by its main subject, whatever it is (_subjects.py)."""

from __future__ import annotations

from typing import ClassVar

from .._metrics import FrameMetrics
from .._profiles import Quality
from .._vocab import TargetKind
from .base import LIGHTING_PROBLEMS, Describe, Target, flag, grade, median, ramp


class SubjectTarget(Target):
    """The main subject: present where something with a character's detail stands out."""

    name = TargetKind.SUBJECT
    absent = "no_subject"
    lighting_fields = (
        "subject_luma",
        "subject_clipped_fraction",
        "subject_lr_imbalance",
        "subject_backlight_ratio",
        "subject_sharpness",
    )

    def present(self, m: FrameMetrics, q: Quality) -> bool:
        """Whether a subject stands out from the background in this frame, with the texture
        or detail of a character (a plain, flat shape is not one)."""
        return (
            m.subject_contrast is not None
            and m.subject_contrast >= q.subject_contrast_min
            and m.subject_detail >= q.subject_detail_min
        )

    def own_flags(self, m: FrameMetrics, q: Quality) -> dict[str, str]:
        """Size, cut-off, clutter."""
        flags: dict[str, str] = {}
        size = m.subject_size
        flag(flags, "subject_too_small", size < q.subject_size_min, size < q.subject_size_good)
        flag(flags, "subject_cut_off", m.subject_cut_off)
        flag(
            flags,
            "cluttered",
            m.subject_clutter >= q.clutter_max or m.subject_stability < q.subject_stability_min,
            m.subject_clutter >= q.clutter_warn or m.competing_subjects > 0,
        )
        return flags

    def own_factors(self, m: FrameMetrics, q: Quality) -> list[float]:
        """Penalties and grades for rivals, size, cut-off, contrast, clutter, steadiness."""
        contrast = ramp(m.subject_contrast, q.subject_contrast_min, 2 * q.subject_contrast_min)
        steady = ramp(m.subject_stability, 0.5 * q.subject_stability_min, q.subject_stability_min)
        return [
            0.7 if m.competing_subjects else 1.0,
            0.2 + 0.8 * ramp(m.subject_size, q.subject_size_min, q.subject_size_good),
            grade(q.grade_size, ramp(m.subject_size, q.subject_size_good, q.subject_size_best)),
            0.4 if m.subject_cut_off else 1.0,
            0.5 + 0.5 * contrast,
            1.0 - 0.6 * ramp(m.subject_clutter, q.clutter_warn, q.clutter_max),
            0.3 + 0.7 * steady,
        ]

    problems: ClassVar[dict[str, tuple[Describe, str]]] = {
        "no_subject": (
            lambda ms, t: _no_subject_text(ms),
            "film a character (a face, a mascot, an animal) in front of a plain background it "
            "stands out from",
        ),
        "subject_too_small": (
            lambda ms, t: (
                f"the subject is small (median size {median(m.subject_size for m in ms):.0%} of "
                "the frame)"
            ),
            "move closer: the character should fill a good part of the frame",
        ),
        "subject_cut_off": (
            lambda ms, t: "the subject is cut off by the frame edge",
            "keep the whole character inside the frame",
        ),
        "cluttered": (
            lambda ms, t: (
                "no single subject holds the frame (clutter "
                f"{median(m.subject_clutter for m in ms):.2f}, box overlap between samples "
                f"{median(m.subject_stability for m in ms):.2f})"
            ),
            "film one character alone, against a plain background",
        ),
        **LIGHTING_PROBLEMS,
    }


def _no_subject_text(ms: list[FrameMetrics]) -> str:
    """Why no subject: nothing stands out, or only a plain shape without any detail does.

    (A region found at all differs from the background by at least subjects._MIN_DISTANCE,
    above the contrast threshold: a frame flagged with a region had a plain one.)"""
    plain = [m for m in ms if m.subject_detail is not None]
    if len(plain) * 2 < len(ms):
        return "nothing stands out from the background"
    return (
        "only a plain shape without texture or detail stands out (detail "
        f"{median(m.subject_detail for m in plain):.2f}): no face and nothing that looks "
        "like a character"
    )
