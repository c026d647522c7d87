"""``clipprep submit``."""

from __future__ import annotations

import json
import sys

import click

from .app import main
from .common import analysis_flags, debug_option, ledger_option, provider_option, run
from .exits import EXIT_READY


@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--name", required=True, help="The character's name (1–80 characters).")
@provider_option(show_default=True, help="Which characters API.")
@click.option("--api-base", help="API base URL (default: $CLIPPREP_API_BASE or the provider's).")
@click.option("--api-key", help="API key (prefer the environment: flags show in process lists).")
@click.option("--video-url", help="The clip is already hosted here: skip the upload.")
@click.option(
    "--force", is_flag=True, help="Upload a rejected clip / create anew even if recorded."
)
@click.option(
    "--wait",
    "poll_deadline",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    help="Seconds to wait for the character before giving up (it keeps its place).",
)
@click.option(
    "--timeout",
    "request_deadline",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds one request may take in all, however slowly the service answers "
    "(4× for the request that sends the clip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@ledger_option
@analysis_flags
@debug_option
def submit(
    path,
    name,
    provider,
    api_base,
    api_key,
    video_url,
    force,
    poll_deadline,
    request_deadline,
    as_json,
    ledger,
    options,
    debug,
):
    """Create a character from a clip, exactly once, and record it.

    The clip is checked first (and prepared when that fixes it). The key comes from
    WAVESPEED_API_KEY or OPENAI_API_KEY. Exit 0 with the character id when it is created.
    """

    def action() -> int:
        from .._pipeline import Analyzer
        from .._submission import submit as run_submit

        if api_key:
            click.echo(
                "clipprep: warning: --api-key is visible to other users in process lists; "
                "prefer the environment variable",
                err=True,
            )
        with Analyzer(options) as analyzer:
            result = run_submit(
                path,
                name=name,
                provider=provider,
                api_base=api_base,
                api_key=api_key,
                video_url=video_url,
                ledger=ledger,
                force=force,
                analyzer=analyzer,
                poll_deadline_s=poll_deadline,
                request_deadline_s=request_deadline,
                timeout=min(30.0, request_deadline),
            )
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            reused = " (from the ledger: no new request)" if result.reused else ""
            click.echo(f"{result.character_id}  {name}{reused}")
        return EXIT_READY

    sys.exit(run(debug, action))
