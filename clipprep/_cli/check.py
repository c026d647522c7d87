"""``clipprep check``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._console import json_line
from .._errors import UsageError
from .app import main
from .common import (
    analysis_flags,
    console,
    debug_option,
    name_option,
    quiet_option,
    run,
    verbose_option,
    verbosity,
)
from .exits import EXIT_READY, VERDICT_EXIT
from .progress import CHECK_PROGRESS_MIN_S, ProgressBar


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@analysis_flags
@name_option
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON report per clip (JSON Lines)."
)
@click.option("--frames", is_flag=True, help="With --json: include every sampled frame's metrics.")
@click.option(
    "--html",
    "html_page",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write an offline HTML page of the clips (video, timeline, problems).",
)
@quiet_option
@verbose_option
@debug_option
def check(paths, options, name, as_json, frames, html_page, quiet, verbose, debug):
    """Check clips and find each one's best 2–4 s window.

    Exit code: 0 ready, 3 fixable, 4 rejected, 5 unreadable (the worst clip decides).
    """

    def action() -> int:
        from .._batch import THUMBNAILS, report_entry
        from .._batch_output import write_page
        from .._pipeline import Analyzer
        from .._report import render

        level = verbosity(quiet, verbose)
        if frames and not as_json:
            raise UsageError("--frames only adds to --json", hint="use --json --frames")
        worst = EXIT_READY
        out = console()
        entries = []
        if html_page and not Path(html_page).resolve().parent.is_dir():
            raise UsageError(f"no folder for the page {html_page}", hint="create the folder first")
        # With --html, the page's thumbnails come from the analysed frames (no second decode).
        kept = THUMBNAILS if html_page else 0
        with Analyzer(options, thumbnails=kept) as analyzer, ProgressBar(enabled=level > 0) as bar:
            for path in paths:
                following = bar.follow(f"checking {Path(path).name}", CHECK_PROGRESS_MIN_S)
                report = analyzer.check(path, name=name, progress=following)
                bar.hide()
                if as_json:
                    json_line(report.to_dict(include_frames=frames))
                else:
                    render(report, out, level=level)
                if html_page:
                    entries.append(report_entry(report))
                worst = max(worst, VERDICT_EXIT[report.verdict])
        if html_page:
            write_page(entries, Path(html_page), "clipprep check report")
        return worst

    sys.exit(run(debug, action))
