"""``clipprep models fetch|path``: the face model files."""

from __future__ import annotations

import sys

import click

from .app import main
from .common import debug_option, model_dir_option, run
from .exits import EXIT_READY


@main.group()
def models() -> None:
    """Find or fetch the face model files."""


@models.command("fetch")
@model_dir_option
@click.option("--force", is_flag=True, help="Download again even if valid files are present.")
@debug_option
def models_fetch(model_dir, force, debug):
    """Download the face models (or extract them from the mediapipe wheel), sha256-verified."""

    def action() -> int:
        from .._models import fetch_models

        for key, path in fetch_models(model_dir, force=force).items():
            click.echo(f"{key}: {path}")
        return EXIT_READY

    sys.exit(run(debug, action))


@models.command("path")
@model_dir_option
@debug_option
def models_path(model_dir, debug):
    """Print the folder the face models are read from."""

    def action() -> int:
        from .._models import model_dir as resolve

        click.echo(str(resolve(model_dir)))
        return EXIT_READY

    sys.exit(run(debug, action))
