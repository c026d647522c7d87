"""The target interface: what one sampled frame is judged by, and the rules it is judged with.

A :class:`Target` names the per-frame fields of :class:`~clipprep._metrics.FrameMetrics` its
character is measured by (its lighting box), says whether a frame shows it at all, which
problems a frame of it has (``flags``) and how good the frame is (``score``), and how each of
its problems is described in a report. The window search (_windows.py) and the verdict
(_verdict.py) only ever call this interface, so neither branches on the target. One file per
kind: face.py, subject.py.

The frame score is a product of factors: penalties for what is wrong (a small, turned, dark or
blurred face...), which leave an acceptable frame at 1, and *grades* that still rank acceptable
frames (a bigger face, a more frontal pose, a sharper, better lit picture), each taking at most
its ``Quality.grade_*`` weight off. Without the grades every acceptable frame scored 1.0, and a
medium shot of a man turned 17° won over the frontal close-up of him that followed it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import ClassVar, NamedTuple

import numpy as np

from .._metrics import FrameMetrics
from .._profiles import Quality
from .._vocab import Severity

# A frame problem's description over the frames that show it (for the report's message).
Describe = Callable[[list[FrameMetrics], "Target"], str]


class Lighting(NamedTuple):
    """Lighting and sharpness on the character (its face or the subject box)."""

    luma: float
    clipped_fraction: float
    lr_imbalance: float
    backlight_ratio: float
    sharpness: float


class Target(ABC):
    """What a clip's character is judged by, one sampled frame at a time."""

    name: ClassVar[str]  # vocab.TargetKind: "face" or "subject", the report's word for it
    absent: ClassVar[str]  # the problem code of a frame that does not show it ("no_face")
    # The FrameMetrics fields holding Lighting's values on the target's box, in its order.
    lighting_fields: ClassVar[tuple[str, str, str, str, str]]
    # Problem code -> (describe, hint), in the order a report lists them; ``{noun}`` in a hint
    # is the target's name. Every code ``flags`` can raise is here.
    problems: ClassVar[dict[str, tuple[Describe, str]]]

    @abstractmethod
    def present(self, m: FrameMetrics, q: Quality) -> bool:
        """Whether the frame shows the target at all."""

    @abstractmethod
    def own_flags(self, m: FrameMetrics, q: Quality) -> dict[str, str]:
        """The target's own problems in a frame that shows it (lighting aside)."""

    @abstractmethod
    def own_factors(self, m: FrameMetrics, q: Quality) -> list[float]:
        """The target's own score factors in a frame that shows it (lighting aside)."""

    def lighting(self, m: FrameMetrics) -> Lighting | None:
        """The lighting measured on the target's box (None where there is no box)."""
        values = tuple(getattr(m, field) for field in self.lighting_fields)
        return None if values[0] is None else Lighting(*values)

    def flags(self, m: FrameMetrics, q: Quality) -> dict[str, str]:
        """What is wrong with one frame: problem code -> "error" or "warning"."""
        if not self.present(m, q):
            return {self.absent: Severity.ERROR}
        flags = self.own_flags(m, q)
        _lighting_flags(flags, self.lighting(m), q)
        return flags

    def score(self, m: FrameMetrics, q: Quality) -> float:
        """How good one frame is as character footage, 0 (useless) to 1."""
        if not self.present(m, q):
            return 0.0
        return float(np.prod(self.own_factors(m, q) + _lighting_factors(self.lighting(m), q)))


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear in between."""
    if high <= low:
        return float(value >= high)
    return min(1.0, max(0.0, (value - low) / (high - low)))


def grade(weight: float, grade: float) -> float:
    """A factor that takes up to ``weight`` off the score as ``grade`` (0..1) falls from 1."""
    return 1.0 - weight * (1.0 - grade)


def flag(flags: dict[str, str], code: str, is_error: bool, is_warning: bool = False) -> None:
    """Add ``code`` to ``flags`` as an error, or else as a warning, or not at all."""
    if is_error:
        flags[code] = Severity.ERROR
    elif is_warning:
        flags[code] = Severity.WARNING


def median(values: Iterable[float | None]) -> float:
    """Median of the known values (NaN when none is)."""
    kept = [v for v in values if v is not None]
    return float(np.median(kept)) if kept else float("nan")


def _lighting_flags(flags: dict[str, str], light: Lighting, q: Quality) -> None:
    flag(flags, "too_dark", light.luma < q.face_luma_dark, light.luma < q.face_luma_dim)
    flag(
        flags,
        "overexposed",
        light.clipped_fraction >= q.overexposed_fraction,
        light.luma > q.face_luma_bright,
    )
    flag(flags, "uneven_lighting", False, light.lr_imbalance > q.lr_imbalance)
    flag(flags, "backlit", False, light.backlight_ratio < q.backlight_ratio)
    flag(flags, "blurry", light.sharpness < q.sharpness_blurry, light.sharpness < q.sharpness_soft)


def _lighting_factors(light: Lighting, q: Quality) -> list[float]:
    well_lit = min(
        ramp(light.luma, q.face_luma_dim, q.face_luma_good),
        1.0 - ramp(light.luma, q.face_luma_bright_good, q.face_luma_bright),
    )
    return [
        0.05 + 0.95 * ramp(light.luma, q.face_luma_dark - 15, q.face_luma_dim),
        grade(q.grade_light, well_lit),
        grade(q.grade_sharpness, ramp(light.sharpness, q.sharpness_soft, q.sharpness_good)),
        1.0 - 0.7 * ramp(light.luma, q.face_luma_bright, 250),
        1.0
        - 0.7
        * ramp(light.clipped_fraction, 0.5 * q.overexposed_fraction, 1.5 * q.overexposed_fraction),
        1.0 - 0.4 * ramp(light.lr_imbalance, q.lr_imbalance, 1.5 * q.lr_imbalance),
        0.6 + 0.4 * ramp(light.backlight_ratio, 0.6 * q.backlight_ratio, q.backlight_ratio),
        0.3 + 0.7 * ramp(light.sharpness, q.sharpness_blurry, q.sharpness_soft),
    ]


def _lit(ms: list[FrameMetrics], target: Target, field: str) -> float:
    """Median of one lighting value over frames, on the target's box."""
    return median(getattr(target.lighting(m), field, None) for m in ms)


# The lighting problems every target has, described on its box.
LIGHTING_PROBLEMS: dict[str, tuple[Describe, str]] = {
    "too_dark": (
        lambda ms, t: f"the {t.name} is dark (median luma {_lit(ms, t, 'luma'):.0f}/255)",
        "add light on the {noun}",
    ),
    "overexposed": (
        lambda ms, t: f"the {t.name} is overexposed (median luma {_lit(ms, t, 'luma'):.0f}/255)",
        "lower the exposure or the light on the {noun}",
    ),
    "uneven_lighting": (
        lambda ms, t: (
            f"one side of the {t.name} is much darker (imbalance {_lit(ms, t, 'lr_imbalance'):.2f})"
        ),
        "light the {noun} evenly from the front",
    ),
    "backlit": (
        lambda ms, t: (
            f"the {t.name} is darker than the background "
            f"(ratio {_lit(ms, t, 'backlight_ratio'):.2f})"
        ),
        "turn the character toward the light or add a front light",
    ),
    "blurry": (
        lambda ms, t: f"the {t.name} is not sharp (sharpness {_lit(ms, t, 'sharpness'):.0f})",
        "focus on the {noun} and avoid motion blur",
    ),
}
