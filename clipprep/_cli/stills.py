"""``clipprep stills``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._console import echo, json_line
from .._errors import UsageError
from .app import main
from .common import analysis_flags, debug_option, run
from .exits import EXIT_READY


@main.command("stills")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write into (made if missing).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    help="How many images, the frontal one included (default: as many as the service takes, 4).",
)
@click.option(
    "--format", "image_format", type=click.Choice(["png", "jpeg"]), default="png", show_default=True
)
@click.option("--across-cuts", is_flag=True, help="Also take images from other shots of the clip.")
@click.option("--force", is_flag=True, help="Replace existing images and manifest.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@analysis_flags
@debug_option
def stills_command(
    path, output_dir, count, image_format, across_cuts, force, as_json, options, debug
):
    """Write the best reference images of the character: one frontal, more from other angles.

    Each is sharp, well lit, eyes open, cropped to head and shoulders at full resolution; a
    JSON manifest beside them says when each was taken, its pose, scores and why it was chosen.
    """

    def action() -> int:
        from .._stills import stills

        folder = Path(output_dir)
        if not folder.exists():  # made, as prepare and batch make theirs; a file stays refused
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise UsageError(f"cannot create {folder}: {exc.strerror}") from None
        result = stills(
            path,
            output_dir,
            count=count,
            image_format=image_format,
            across_cuts=across_cuts,
            force=force,
            options=options,
        )
        if as_json:
            json_line(result.to_dict())
            return EXIT_READY
        for image in result.images:
            pose = "" if image.yaw is None else f"  yaw {image.yaw:+.0f}°"
            width, height = image.size
            echo(f"{image.path}  {image.why}  {image.time_s:.2f} s{pose}  {width}×{height}")
        spread = "" if result.yaw_spread is None else f", yaw spread {result.yaw_spread:.0f}°"
        echo(f"manifest {result.manifest} ({len(result.images)} images{spread})")
        for note in result.notes:
            echo(f"  note: {note}")
        return EXIT_READY

    sys.exit(run(debug, action))
