"""``clipprep characters list|show``: the submissions ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .._errors import UsageError
from .app import main
from .common import console, debug_option, ledger_option, run
from .exits import EXIT_READY


@main.group()
def characters() -> None:
    """The characters created so far (the submissions ledger)."""


@characters.command("list")
@ledger_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one submission per line.")
@debug_option
def characters_list(ledger, as_json, debug):
    """List every submission, newest first."""

    def action() -> int:
        from rich.table import Table
        from rich.text import Text

        from .._ledger import Ledger

        with Ledger(ledger, read_only=True) as book:
            rows = book.all()
            where = book.path
        if as_json:
            for row in rows:
                click.echo(json.dumps(row.to_dict(), ensure_ascii=False))
            return EXIT_READY
        if not rows:
            click.echo(f"no submissions yet (ledger {where})")
            return EXIT_READY
        table = Table("#", "name", "provider", "status", "character", "clip", box=None)
        for row in rows:
            reference = row.character_id or row.prediction_id or ""
            # Text, not markup: a name like "[/]" is a name, not a closing tag.
            cells = (row.name, row.provider, row.status, reference, Path(row.clip_path).name)
            table.add_row(str(row.id), *(Text(cell) for cell in cells))
        console().print(table)
        return EXIT_READY

    sys.exit(run(debug, action))


@characters.command("show")
@click.argument("key")
@ledger_option
@click.option("--json", "as_json", is_flag=True, help="Print the submission as JSON.")
@debug_option
def characters_show(key, ledger, as_json, debug):
    """Show one submission, by ledger number, character id or prediction id."""

    def action() -> int:
        from .._ledger import Ledger

        with Ledger(ledger, read_only=True) as book:
            row = book.find(key)
        if row is None:
            raise UsageError(
                f"no submission {key[:80]!r} in the ledger",
                code="not_found",
                hint="`clipprep characters list` shows them",
            )
        if as_json:
            click.echo(json.dumps(row.to_dict(), ensure_ascii=False))
            return EXIT_READY
        for field, value in row.to_dict().items():
            if field.endswith("_at"):
                value = _local_time(value)
            click.echo(f"{field:>14}: {value}")
        return EXIT_READY

    sys.exit(run(debug, action))


def _local_time(seconds: float) -> str:
    """ISO 8601 with the local zone's offset (2026-11-26T13:05:09+01:00)."""
    from datetime import datetime

    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
