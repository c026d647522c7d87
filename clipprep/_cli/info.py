"""``clipprep profiles`` and ``clipprep schema``: what clipprep checks against and prints."""

from __future__ import annotations

import json
import sys

import click

from .._console import echo, json_line
from .._profiles import DEFAULT_PROFILE, get_profile, profile_names
from .app import main
from .common import debug_option, run
from .exits import EXIT_READY


@main.command("profiles")
@click.option(
    "--json", "as_json", is_flag=True, help="Every rule and threshold, one profile per line."
)
@debug_option
def profiles_command(as_json, debug):
    """List the service profiles and their rules (each a TOML file; --profile FILE.toml takes
    your own)."""

    def action() -> int:
        for profile in map(get_profile, profile_names()):
            if as_json:
                json_line({**profile.to_dict(), "default": profile.name == DEFAULT_PROFILE})
                continue
            default = " (default)" if profile.name == DEFAULT_PROFILE else ""
            provisional = " (provisional: rules from a relay)" if profile.provisional else ""
            echo(f"{profile.name}{default}{provisional}\n  {profile.description}")
        return EXIT_READY

    sys.exit(run(debug, action))


@main.command("schema")
@click.argument("kind", type=click.Choice(["report", "prepare", "batch"]), default="report")
@debug_option
def schema_command(kind, debug):
    """Print the JSON Schema of check --json (report), prepare --json, or a batch line."""

    def action() -> int:
        from .._schema import schema

        echo(json.dumps(schema(kind), indent=2, ensure_ascii=False))
        return EXIT_READY

    sys.exit(run(debug, action))
