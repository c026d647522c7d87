"""The result of checking a clip: the :class:`Report`, its JSON form, and its terminal summary.

JSON schema (``schema_version`` 1) — documented field by field in the README:
``schema_version``, ``path``, ``verdict``, ``profile``, ``name``, ``best_window``
(``start``/``end``/``duration`` seconds, scores), ``problems`` (``code``, ``severity``,
``message``, ``hint``, ``fixable``), ``probe`` (ffprobe-like facts), ``summary`` (per metric over
the best window: ``mean``/``median``/``min``/``max``), ``analysis`` (how it was measured) and,
when asked for, ``frames`` (every sampled frame's metrics and score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._metrics import FrameMetrics
from ._probe import Probe
from ._verdict import Problem
from ._vocab import Severity, TargetKind, Verdict
from ._windows import Window

SCHEMA_VERSION = 1

# Metrics summarised over the best window, in report order.
SUMMARY_METRICS = (
    "face_h",
    "face_score",
    "yaw",
    "pitch",
    "roll",
    "eye_distance_px",
    "eye_openness",
    "face_presence",
    "face_region_match",
    "face_luma",
    "frame_luma",
    "face_clipped_fraction",
    "face_lr_imbalance",
    "backlight_ratio",
    "sharpness",
    "subject_size",
    "subject_contrast",
    "subject_detail",
    "subject_clutter",
    "subject_stability",
    "subject_luma",
    "subject_sharpness",
    "motion",
)


@dataclass
class Report:
    """Everything clipprep found about one clip."""

    path: str
    verdict: str  # "ready" | "fixable" | "rejected" | "unreadable"
    profile: str
    problems: list[Problem]
    probe: Probe | None = None
    best_window: Window | None = None
    name: str | None = None
    summary: dict[str, dict[str, float | None]] = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    frames: list[FrameMetrics] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    # JPEG data URIs spread over the best window (the clip without one), when the Analyzer was
    # asked to keep them (``thumbnails=``); not part of to_dict: a batch result adds them.
    thumbnails: list[str] = field(default_factory=list, repr=False)

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity ``error``."""
        return [p for p in self.problems if p.severity == Severity.ERROR]

    def to_dict(self, *, include_frames: bool = False) -> dict:
        """The report as JSON-ready data (``include_frames`` adds the per-frame timeline)."""
        data = {
            "schema_version": SCHEMA_VERSION,
            "path": self.path,
            "verdict": self.verdict,
            "profile": self.profile,
            "name": self.name,
            "best_window": self.best_window.to_dict() if self.best_window else None,
            "problems": [p.to_dict() for p in self.problems],
            "probe": self.probe.to_dict() if self.probe else None,
            "summary": self.summary,
            "analysis": self.analysis,
        }
        if include_frames:
            data["frames"] = [
                {**m.to_dict(), "score": round(s, 4)}
                for m, s in zip(self.frames, self.scores, strict=True)
            ]
        return data


def summarize(frames: Sequence[FrameMetrics], scores: Sequence[float]) -> dict:
    """Per-metric statistics over a span of frames (None where no frame had a value)."""
    summary = {name: _stats([getattr(m, name) for m in frames]) for name in SUMMARY_METRICS}
    count = max(1, len(frames))
    summary["face_present"] = {"share": round(sum(m.face_h is not None for m in frames) / count, 4)}
    summary["competing_faces"] = {
        "share": round(sum(m.competing_faces > 0 for m in frames) / count, 4)
    }
    summary["subject_present"] = {
        "share": round(sum(m.subject_size is not None for m in frames) / count, 4)
    }
    summary["frame_score"] = _stats(list(scores))
    return summary


def _stats(values: list) -> dict[str, float | None]:
    kept = np.array([v for v in values if v is not None], dtype=np.float64)
    if kept.size == 0:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {
        "mean": round(float(kept.mean()), 4),
        "median": round(float(np.median(kept)), 4),
        "min": round(float(kept.min()), 4),
        "max": round(float(kept.max()), 4),
    }


_VERDICT_STYLE = {
    Verdict.READY: "bold green",
    Verdict.FIXABLE: "bold yellow",
    Verdict.REJECTED: "bold red",
    Verdict.UNREADABLE: "bold red",
}
_SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render(report: Report, console, *, level: int = 1) -> None:
    """Print a readable summary of ``report`` on a rich ``Console``.

    ``level`` 0 prints one line (verdict, path, error codes), 2 adds how it was measured.
    """
    from rich.table import Table
    from rich.text import Text

    title = Text.assemble(
        (report.verdict.upper(), _VERDICT_STYLE.get(report.verdict, "bold")), "  ", report.path
    )
    if level == 0:
        codes = ", ".join(p.code for p in report.errors)
        console.print(Text.assemble(title, f"  ({codes})" if codes else ""))
        return
    console.print(title)
    facts = _facts_line(report)
    if facts:
        console.print(f"  {facts}", style="dim")
    if report.best_window:
        w = report.best_window
        judged = report.analysis.get("target", TargetKind.FACE)
        console.print(
            f"  best window: {w.start_s:.2f}–{w.end_s:.2f} s "
            f"({w.duration_s:.2f} s, score {w.score:.2f}, judged by its {judged})"
        )
    if report.problems:
        table = Table(show_header=False, box=None, padding=(0, 1), expand=False)
        for p in report.problems:
            table.add_row(
                Text(p.severity, style=_SEVERITY_STYLE.get(p.severity, "")),
                Text(p.code, style="bold"),
                Text(f"{p.message}\n→ {p.hint}"),
            )
        console.print(table)
    else:
        console.print("  no problems found", style="green")
    if level >= 2:
        for line in _measured_lines(report):
            console.print(f"  {line}", style="dim")


def _measured_lines(report: Report) -> list[str]:
    """How the clip was measured, and the deciding numbers over its best window (-v)."""
    analysis = report.analysis
    lines = []
    if "frames_sampled" in analysis:
        lines.append(
            f"analysed {analysis['frames_sampled']} of {analysis['frames_decoded']} decoded "
            f"frames at {analysis['sample_fps']:g} fps, {analysis['analysis_long_side']} px; "
            f"face in {analysis['face_share']:.0%} of them; judged by its {analysis['target']}"
        )
    medians = [
        f"{metric} {stats['median']:g}"
        for metric, stats in report.summary.items()
        if stats.get("median") is not None and metric in _VERBOSE_METRICS
    ]
    if medians:
        lines.append("window medians: " + ", ".join(medians))
    if "elapsed_s" in analysis:
        lines.append(f"took {analysis['elapsed_s']:.2f} s")
    return lines


# The numbers -v shows: those the verdict is decided by.
_VERBOSE_METRICS = ("face_h", "yaw", "pitch", "face_luma", "sharpness", "subject_size")


def _facts_line(report: Report) -> str:
    probe = report.probe
    if probe is None or probe.video is None:
        return ""
    v = probe.video
    audio = probe.audio.codec if probe.audio else "no audio"
    hdr = f" · HDR {v.hdr.upper()} {v.color_primaries or ''}".rstrip() if v.hdr else ""
    return (
        f"{probe.container} · {v.codec} {v.pix_fmt}{hdr} · {v.width}×{v.height} · "
        f"{v.fps:.3g} fps · {probe.duration_s:.2f} s · {audio}"
    )
