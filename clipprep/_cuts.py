"""Scene cuts, located to the frame.

The frame reader leaves a tiny signature of every frame it decodes, sampled or not
(:func:`clipprep._frames.signature`: a 64×36 luma and two 32×18 chroma thumbnails taken straight
from the decoder's planes). :class:`CutFinder` compares each signature with the previous one:

- *change*: the mean absolute difference of luma and chroma (0–255), against the pictures'
  contrast (a cut between two dim shots changes less than one between two bright ones);
- *similarity*: the correlation of the contrast-normalized luma thumbnails (-1..1).

A hard cut changes the picture's content from one frame to the next: both measures move at
once (thresholds in :class:`~clipprep._profiles.Quality`, ``scene_cut_*``). A fade or a
cross-dissolve spreads its change over many frames, so each step changes little and keeps the
structure (a fade keeps it exactly: it only scales the contrast); a light switching on changes
the brightness, not the structure. Comparing every frame instead of the
10 fps samples is what tells the two apart: three frames into a fade, the samples already differ
by as much as a cut (the sample-level test read a fade to black as two cuts).

On the fast path frames that nothing refers to are not decoded (_frames.py), so a cut between
two decoded frames can lie in the gap between them. :class:`Cut` then keeps both ends: the old
shot is known to last until ``end_s``, the new one is known from ``start_s`` on, and a window
that stops at ``end_s`` or starts at ``start_s`` holds no frame of the other shot. Encoders put
a reference frame on each side of a cut (x264 starts the new shot with a keyframe and ends the
old one with a P-frame), so in practice both ends are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._frames import Signature
from ._profiles import Quality


@dataclass(frozen=True)
class Cut:
    """A hard cut: the old shot's frames end at ``end_s``, the new shot's start at ``start_s``
    (seconds from the first frame; equal unless undecoded frames lie between them)."""

    start_s: float  # time of the first frame known to show the new shot
    end_s: float  # just after the last frame known to show the old shot (<= start_s)
    change: float  # mean absolute luma+chroma difference across the cut, 0..255
    similarity: float  # structure kept across the cut, -1..1

    def to_dict(self) -> dict:
        """JSON-ready data."""
        return {
            "start_s": round(self.start_s, 4),
            "end_s": round(self.end_s, 4),
            "change": round(self.change, 2),
            "similarity": round(self.similarity, 3),
        }


class CutFinder:
    """Finds hard cuts in the signatures of consecutive decoded frames (fed in display order).

    A pair of frames whose structure changed is a cut only when it stands out from the pairs
    around it: at least one neighbouring pair (the one before or the one after) kept its
    structure much better (``Quality.scene_cut_dip``). Motion that changes a lot (a car
    passing the lens, a whip pan) changes every pair around it too; a cut is one frame. A flash
    of another shot (two cuts in a row) still counts: the pair before the first and the pair
    after the second are stable. The last pair is judged once the clip ends (:attr:`cuts`)."""

    def __init__(self, quality: Quality, frame_period: float):
        self._quality = quality
        self._period = frame_period
        self._previous: tuple[float, np.ndarray, np.ndarray, float] | None = None
        self._found: list[Cut] = []
        self._pending: Cut | None = None  # the last pair, if it may be a cut
        self._last_similarity: float | None = None  # of the last pair
        self._similarity_before: float | None = None  # of the pair before it

    @property
    def cuts(self) -> list[Cut]:
        """The cuts found so far, the last pair included (judged as the clip's last)."""
        last = self._pending
        if last is not None and self._stands_out(last, self._similarity_before, None):
            return [*self._found, last]
        return list(self._found)

    def add(self, time_s: float, signature: Signature) -> None:
        """The next decoded frame's time (s from the first frame) and signature."""
        luma = signature.luma.astype(np.float32)
        contrast = float(luma.std())
        # Mean removed, contrast normalized: a fade leaves it unchanged. The +2 keeps the
        # noise of a black frame from reading as structure.
        structure = (luma - luma.mean()) / (contrast + 2.0)
        values = np.concatenate([signature.luma.ravel(), signature.chroma.ravel()]).astype(np.int16)
        previous, self._previous = self._previous, (time_s, values, structure, contrast)
        if previous is None or time_s <= previous[0]:
            return
        before, before_values, before_structure, before_contrast = previous
        change = float(np.abs(values - before_values).mean())
        similarity = float(np.mean(structure * before_structure))
        # The previous pair is judged now that the pair after it is known.
        pending = self._pending
        if pending is not None and self._stands_out(pending, self._similarity_before, similarity):
            self._found.append(pending)
        self._similarity_before, self._last_similarity = self._last_similarity, similarity
        self._pending = None
        if self._may_be_cut(change, similarity, contrast, before_contrast):
            end = min(time_s, before + self._period) if self._period > 0 else time_s
            self._pending = Cut(time_s, end, change, similarity)

    def _may_be_cut(self, change, similarity, contrast, before_contrast) -> bool:
        quality = self._quality
        enough = max(
            quality.scene_cut_threshold,
            quality.scene_cut_relative_change * (contrast + before_contrast) / 2,
        )
        return (
            similarity < quality.scene_cut_max_similarity
            and change >= enough
            and min(contrast, before_contrast) >= quality.scene_cut_min_contrast
        )

    def _stands_out(self, cut: Cut, before: float | None, after: float | None) -> bool:
        neighbours = [s for s in (before, after) if s is not None]
        steadiest = max(neighbours) if neighbours else 1.0
        return steadiest - cut.similarity >= self._quality.scene_cut_dip


def cuts_between(times: np.ndarray, cuts: Sequence[Cut]) -> np.ndarray:
    """Per sample k: True when a cut separates sample k-1 from sample k."""
    flags = np.zeros(len(times), bool)
    if len(times):
        # A cut whose new shot starts in (t[k-1], t[k]] lies before sample k.
        at = np.searchsorted(times, [c.start_s for c in cuts], side="left")
        flags[at[(at > 0) & (at < len(times))]] = True
    return flags
