"""Boxes as ``(x, y, w, h)`` fractions of the frame, and how much two of them overlap."""

from __future__ import annotations

import math
from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    """What a detector found in a frame, by its box: fractions of the frame (0..1, it may
    overhang the edges). Faces and subjects are regions with their own measurements."""

    x: float
    y: float
    w: float
    h: float

    @property
    def box(self) -> Box:
        """(x, y, w, h)."""
        return self.x, self.y, self.w, self.h

    @property
    def area(self) -> float:
        """Box area as a fraction of the frame."""
        return self.w * self.h

    @property
    def size(self) -> float:
        """Geometric mean of the box's width and height fractions (0..1)."""
        return math.sqrt(self.w * self.h)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes: 0 (apart) .. 1 (the same)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
