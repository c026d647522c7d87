"""The ``clipprep`` command: parsing and printing only; the work is done by the library.

Exit codes (the worst clip decides when several are checked):

====  =====================================================
0     ready: upload as is
3     fixable: ``clipprep prepare`` can make it ready
4     rejected: needs a new recording (or another name)
5     unreadable: not a readable video file
6     the face models are missing and could not be fetched
2     usage error (bad option or argument)
1     unexpected internal error (a bug: rerun with --debug)
130   interrupted (Ctrl-C)
====  =====================================================
"""

from __future__ import annotations

import json
import sys

import click

from . import __version__
from .errors import ClipprepError, ModelError, UsageError
from .frames import DEFAULT_ANALYSIS_LONG_SIDE, DEFAULT_SAMPLE_FPS
from .profiles import DEFAULT_PROFILE, PROFILES

EXIT_READY, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2
EXIT_FIXABLE, EXIT_REJECTED, EXIT_UNREADABLE, EXIT_MODELS = 3, 4, 5, 6
EXIT_INTERRUPTED = 130
VERDICT_EXIT = {
    "ready": EXIT_READY,
    "fixable": EXIT_FIXABLE,
    "rejected": EXIT_REJECTED,
    "unreadable": EXIT_UNREADABLE,
}


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _run(debug: bool, action) -> int:
    """Run ``action``; turn expected errors into one clear line and an exit code."""
    try:
        return action()
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except ClipprepError as exc:
        if debug:
            raise
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        click.echo(f"clipprep: error [{exc.code}]: {exc.message}{hint}", err=True)
        if isinstance(exc, ModelError):
            return EXIT_MODELS
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_UNREADABLE
    except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
        if debug:
            raise
        click.echo(
            f"clipprep: internal error: {type(exc).__name__}: {exc}\n"
            "  rerun with --debug for the traceback, and please report it",
            err=True,
        )
        return EXIT_INTERNAL


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clipprep")
def main() -> None:
    """Get a short clip ready to become a character in video-generation services."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--profile",
    type=click.Choice(sorted(PROFILES)),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Service rules to check against.",
)
@click.option("--name", help="Character name to validate too (1–80 characters).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON report per clip (JSON Lines)."
)
@click.option("--frames", is_flag=True, help="With --json: include every sampled frame's metrics.")
@click.option(
    "--sample-fps",
    type=click.FloatRange(min=0.5, max=60),
    default=DEFAULT_SAMPLE_FPS,
    show_default=True,
    help="Frames per second analysed.",
)
@click.option(
    "--analysis-size",
    type=click.IntRange(min=160, max=1920),
    default=DEFAULT_ANALYSIS_LONG_SIDE,
    show_default=True,
    help="Long side (px) frames are scaled to for analysis.",
)
@click.option("--model-dir", type=click.Path(file_okay=False), help="Folder of the face models.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def check(paths, profile, name, as_json, frames, sample_fps, analysis_size, model_dir, debug):
    """Check clips and find each one's best 2–4 s window.

    Exit code: 0 ready, 3 fixable, 4 rejected, 5 unreadable (the worst clip decides).
    """

    def action() -> int:
        from .pipeline import Analyzer

        worst = EXIT_READY
        console = _console()
        with Analyzer(
            profile=profile,
            sample_fps=sample_fps,
            analysis_long_side=analysis_size,
            model_dir=model_dir,
        ) as analyzer:
            for path in paths:
                report = analyzer.check(path, name=name)
                if as_json:
                    data = report.to_dict(include_frames=frames)
                    click.echo(json.dumps(data, ensure_ascii=False))
                else:
                    from .report import render

                    render(report, console)
                worst = max(worst, VERDICT_EXIT[report.verdict])
        return worst

    sys.exit(_run(debug, action))


@main.group()
def models() -> None:
    """Find or fetch the face model files."""


@models.command("fetch")
@click.option("--model-dir", type=click.Path(file_okay=False), help="Where to put them.")
@click.option("--force", is_flag=True, help="Download again even if valid files are present.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def models_fetch(model_dir, force, debug):
    """Download the face models (or extract them from the mediapipe wheel), sha256-verified."""

    def action() -> int:
        from .models import fetch_models

        for key, path in fetch_models(model_dir, force=force).items():
            click.echo(f"{key}: {path}")
        return EXIT_READY

    sys.exit(_run(debug, action))


@models.command("path")
@click.option("--model-dir", type=click.Path(file_okay=False))
def models_path(model_dir):
    """Print the folder the face models are read from."""
    from .models import model_dir as resolve

    click.echo(str(resolve(model_dir)))


@main.command("profiles")
def profiles_command():
    """List the service profiles and their rules."""
    for profile in PROFILES.values():
        default = " (default)" if profile.name == DEFAULT_PROFILE else ""
        click.echo(f"{profile.name}{default}\n  {profile.description}")
