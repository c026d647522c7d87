"""What a clip's frames are judged by: one :class:`Target` per kind (face.py, subject.py),
behind the small interface in base.py. Per-frame rules live here; the window search
(_windows.py) and the verdict (_verdict.py) use them without knowing which target it is."""

from __future__ import annotations

from .._metrics import FrameMetrics
from .._profiles import Quality
from .._vocab import TargetKind
from .base import Lighting, Target
from .face import FaceTarget
from .subject import SubjectTarget

TARGETS: dict[str, Target] = {t.name: t for t in (FaceTarget(), SubjectTarget())}


def target_of(name: str) -> Target:
    """The target called ``name`` (a vocab.TargetKind: ``face`` or ``subject``)."""
    return TARGETS[name]


def frame_flags(m: FrameMetrics, q: Quality, target: str = TargetKind.FACE) -> dict[str, str]:
    """What is wrong with one frame, judged by ``target``: problem code -> severity."""
    return TARGETS[target].flags(m, q)


def frame_score(m: FrameMetrics, q: Quality, target: str = TargetKind.FACE) -> float:
    """How good one frame is as character footage judged by ``target``, 0 (useless) to 1."""
    return TARGETS[target].score(m, q)


__all__ = [
    "TARGETS",
    "Lighting",
    "Target",
    "frame_flags",
    "frame_score",
    "target_of",
]
