"""A batch's files, for the ``clipprep batch`` command and for ``check_many`` users alike:
``results.jsonl`` (one line per clip, written as each finishes), ``summary.csv`` and
``report.html`` (one row per clip, in input order), all in one folder::

    with BatchWriter("out", clips) as writer:
        for result in check_many(clips):
            writer.add(result)
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from ._batch import BatchResult
from ._files import write_text_atomic
from ._vocab import Severity, Verdict

# What a batch counts: the verdicts, and "errors" for the batch's own failures (a worker crashed,
# a time limit).
OUTCOMES = (Verdict.READY, Verdict.FIXABLE, Verdict.REJECTED, Verdict.UNREADABLE, "errors")


class BatchWriter:
    """Writes ``results.jsonl`` as results are added; ``summary.csv`` and ``report.html`` when
    the block ends, also after an error or Ctrl-C (with what finished). ``clips``: the inputs,
    whose order the summaries follow (results arrive as they finish)."""

    def __init__(self, out: str | os.PathLike, clips: Iterable[str | os.PathLike] = ()):
        self.out = Path(out)
        self.results: list[BatchResult] = []
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self._order = {os.fspath(clip): index for index, clip in enumerate(clips)}
        self._lines = None

    def __enter__(self) -> BatchWriter:
        self.out.mkdir(parents=True, exist_ok=True)
        self._lines = open(self.out / "results.jsonl", "w", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, result: BatchResult) -> None:
        """Record one clip's result: its line is in ``results.jsonl`` when this returns."""
        self.results.append(result)
        self._lines.write(json.dumps({**result.data, "cached": result.cached}) + "\n")
        self._lines.flush()
        self.counts[result.verdict if result.verdict in self.counts else "errors"] += 1

    def close(self) -> None:
        """Close ``results.jsonl``; write the summaries of the results so far, in input order."""
        if self._lines is None:
            return
        self._lines.close()
        self._lines = None
        self.results.sort(key=lambda result: self._order.get(result.path, len(self._order)))
        write_summaries(self.results, self.out)


def write_summaries(results: list[BatchResult], out: Path) -> None:
    """summary.csv and report.html, one row per clip in ``results``' order."""
    buffer = io.StringIO()
    rows = [summary_row(r) for r in results]
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text_atomic(out / "summary.csv", buffer.getvalue())
    write_page([r.data for r in results], out / "report.html", "clipprep batch report")


def write_page(entries: list[dict], page: Path, title: str) -> None:
    """The HTML report of ``entries`` (batch results, or :func:`clipprep._batch.report_entry` of
    reports), written atomically (its video links are relative to where it lies)."""
    from ._html import render_html

    write_text_atomic(page, render_html(entries, title=title, page=page))


def summary_row(result: BatchResult) -> dict:
    """One CSV row: path, verdict, window, error codes, the main numbers."""
    data = result.data
    window = data.get("best_window") or {}
    probe = data.get("probe") or {}
    video = probe.get("video") or {}
    problems = data.get("problems") or []
    return {
        "path": result.path,
        "verdict": data["verdict"],
        "window_start": window.get("start"),
        "window_end": window.get("end"),
        "window_score": window.get("score"),
        "judged_by": (data.get("analysis") or {}).get("target"),
        "errors": " ".join(p["code"] for p in problems if p["severity"] == Severity.ERROR)
        or (data.get("error") or {}).get("code", ""),
        "warnings": " ".join(p["code"] for p in problems if p["severity"] == Severity.WARNING),
        "duration_s": probe.get("duration_s"),
        "width": video.get("width"),
        "height": video.get("height"),
        "cached": result.cached,
    }
