"""``clipprep prepare``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._console import json_line
from .._errors import UsageError
from .._vocab import Verdict
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
from .exits import VERDICT_EXIT
from .progress import CHECK_PROGRESS_MIN_S, ProgressBar


@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Default: NAME.prepared.mp4; with several --profile a folder (NAME.PROFILE.mp4 in it).",
)
@click.option(
    "--start", type=click.FloatRange(min=0), help="Cut from here (s) instead of the best window."
)
@click.option("--end", type=click.FloatRange(min=0), help="Cut to here (s).")
@click.option(
    "--aspect",
    type=click.Choice(["16:9", "9:16", "1:1"]),
    help="Crop to this shape around the character.",
)
@click.option("--allow-upscale", is_flag=True, help="Enlarge clips below 720p (adds no detail).")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option(
    "--even-if-rejected",
    is_flag=True,
    help="Write the file even when the clip is rejected (it will not be ready either).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@analysis_flags(several_profiles=True)
@name_option
@quiet_option
@verbose_option
@debug_option
def prepare(
    path,
    output,
    start,
    end,
    aspect,
    allow_upscale,
    force,
    even_if_rejected,
    as_json,
    options,
    profiles,
    name,
    quiet,
    verbose,
    debug,
):
    """Write the upload-ready clip: best window, upright, 720–1080p, H.264/AAC MP4.

    A rejected clip is not written (nothing in it would be ready) unless --even-if-rejected.
    The result is checked again; the exit code is its verdict (0 ready).
    """

    def action() -> int:
        from .._export import prepare as run_prepare
        from .._pipeline import Analyzer

        level = verbosity(quiet, verbose)
        out = console()
        how = dict(start=start, end=end, aspect=aspect, allow_upscale=allow_upscale, force=force)
        if len(profiles) > 1:
            return _prepare_for_services(
                path,
                output,
                profiles,
                options,
                how | dict(even_if_rejected=even_if_rejected),
                name,
                as_json,
                lambda result: _render_prepared(result, out, level),
            )
        if output is not None and Path(output).is_dir():
            hint = "give a file name ending in .mp4 (or several --profile)"
            raise UsageError(f"{output} is a folder", hint=hint)
        with Analyzer(options) as analyzer, ProgressBar(enabled=level > 0) as bar:
            result = run_prepare(
                path,
                output,
                start=start,
                end=end,
                aspect=aspect,
                allow_upscale=allow_upscale,
                force=force,
                even_if_rejected=even_if_rejected,
                name=name,
                analyzer=analyzer,
                progress=bar.follow(f"checking {Path(path).name}", CHECK_PROGRESS_MIN_S),
                on_frame=bar.follow("encoding"),
            )
        if as_json:
            json_line(result.to_dict())
        else:
            _render_prepared(result, out, level)
        return VERDICT_EXIT[result.verdict]

    sys.exit(run(debug, action))


def _prepare_for_services(path, output, profiles, options, how, name, as_json, render) -> int:
    """``prepare --profile A --profile B -o DIR``: one file per service in DIR; the exit code is
    the worst verdict."""
    from .._export import prepare_for_services

    if output is None:
        raise UsageError("several --profile need -o FOLDER for their files")
    results = prepare_for_services(path, output, profiles, options=options, name=name, **how)
    for result in results:
        if as_json:
            json_line(result.to_dict())
        else:
            render(result)
    return max(VERDICT_EXIT[result.verdict] for result in results)


def _render_prepared(result, console, level: int = 1) -> None:
    from .._report import render

    ops = ", ".join(op["op"] for op in result.plan.operations)
    console.print(
        f"wrote {result.output} ({result.plan.start_s:.2f}–{result.plan.end_s:.2f} s of "
        f"{result.input}; {ops})"
    )
    for warning in result.warnings:
        console.print(f"  warning: {warning}", style="yellow")
    render(result.report, console, level=level)
    if result.verdict != Verdict.READY and level > 0:
        console.print("the prepared file is not ready: see the problems above", style="bold red")
