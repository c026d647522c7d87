"""``clipprep batch``: the library runs the batch (check_many), writes its files (BatchWriter)
and submits (submit_many); this shows the progress and says what happened."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .._console import echo
from .._errors import ClipprepError, UsageError
from .app import main
from .common import (
    analysis_flags,
    console,
    debug_option,
    ledger_option,
    provider_option,
    quiet_option,
    run,
    verbosity,
)
from .exits import EXIT_READY, verdict_exit


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("-r", "--recursive", is_flag=True, help="Look into sub-folders too.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: one per core).")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="clipprep-batch",
    show_default=True,
    help="Folder for results.jsonl, summary.csv and report.html.",
)
@click.option(
    "--prepare",
    "prepare_dir",
    type=click.Path(file_okay=False),
    help="Also write upload-ready clips into this folder.",
)
@click.option(
    "--stills",
    "stills_dir",
    type=click.Path(file_okay=False),
    help="Also write each clip's reference images (clipprep stills) into this folder.",
)
@click.option("--submit", "do_submit", is_flag=True, help="Then create a character per ready clip.")
@click.option(
    "--name-from",
    default="stem",
    show_default=True,
    help="Character names: stem, parent, or csv:FILE (columns: file,name).",
)
@provider_option()
@click.option("--api-base", help="API base URL for --submit.")
@ledger_option
@click.option(
    "--scheduler",
    envvar="CLIPPREP_DASK_SCHEDULER",
    help="Run on a Dask cluster (tcp://HOST:PORT; needs clipprep[dask]).",
)
@click.option(
    "--worker-wait",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="With --scheduler: seconds to wait when the cluster has no workers.",
)
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Where results are cached.")
@click.option("--force", is_flag=True, help="Redo clips already in the cache.")
@analysis_flags
@quiet_option
@debug_option
def batch(
    inputs,
    recursive,
    workers,
    out,
    prepare_dir,
    stills_dir,
    do_submit,
    name_from,
    provider,
    api_base,
    ledger,
    scheduler,
    worker_wait,
    cache_dir,
    force,
    options,
    quiet,
    debug,
):
    """Check whole folders in parallel; write JSON Lines, a CSV summary and an HTML report.

    A re-run skips clips already checked with the same settings (--force redoes them).
    """
    level = verbosity(quiet, False)

    def action() -> int:
        from .._batch import find_clips
        from .._submission import character_names

        missing = [item for item in inputs if not os.path.lexists(item)]
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(missing)}", hint="check the path")
        clips = find_clips(inputs, recursive=recursive)
        if not clips:
            raise UsageError("no video files found", hint="pass files or folders of clips")
        names = character_names(clips, name_from) if do_submit else {}
        nonlocal scheduler
        if scheduler:  # connected and checked before --out is touched
            scheduler = _connect_cluster(scheduler, workers, worker_wait, debug)
        for folder in (prepare_dir, stills_dir):
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
        run_args = dict(
            options=options,
            prepare_dir=prepare_dir,
            stills_dir=stills_dir,
            workers=workers,
            cache_folder=cache_dir,
            force=force,
            scheduler=scheduler,
        )
        results = _run_batch(clips, run_args, Path(out), level > 0)
        if do_submit:
            submitting = dict(provider=provider, api_base=api_base, ledger=ledger)
            _submit_batch(results, names, options, **submitting)
        return max((verdict_exit(r.verdict) for r in results), default=EXIT_READY)

    sys.exit(run(debug, action))


def _connect_cluster(address: str, workers, worker_wait: float, debug: bool):
    """The Dask cluster at ``address``, reachable, with workers of this clipprep version; the
    connection closes when the command ends. Its waits and dashboard link go to stderr."""
    import logging

    from .._batch import _refuse_local_workers, connect_scheduler

    _refuse_local_workers(workers)
    connection = connect_scheduler(
        address, worker_wait_s=worker_wait, notify=lambda text: echo(text, err=True)
    )
    if not debug:  # Dask's failures become clipprep's one-line errors; its tracebacks are noise
        for name in list(logging.root.manager.loggerDict):  # Dask's config sets some levels
            if name.split(".")[0] == "distributed":
                logging.getLogger(name).setLevel(logging.CRITICAL)
    click.get_current_context().call_on_close(connection.close)
    return connection


def _run_batch(clips, run_args: dict, out: Path, show_bar=True):
    """Run the batch with a progress bar; the library's BatchWriter streams results.jsonl and
    writes the CSV and HTML at the end (also after Ctrl-C, with what finished)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .._batch import check_many, clip_count
    from .._batch_output import BatchWriter
    from .._console import plain_text_column

    progress = Progress(
        plain_text_column("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        plain_text_column("{task.fields[counts]}"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=False,
        disable=not show_bar,
    )
    interrupted, failed = False, None
    writer = BatchWriter(out, clips)
    with writer, progress:  # the folder is made before the bar shows
        task = progress.add_task("checking", total=len(clips), counts="")
        try:
            for result in check_many(clips, **run_args):
                writer.add(result)
                # The summary names outcomes as the verdicts are named; "errors" are the
                # batch's own failures (a worker crashed, a time limit).
                summary = " ".join(f"{k} {v}" for k, v in writer.counts.items())
                progress.update(
                    task, advance=1, description=Path(result.path).name[:40], counts=summary
                )
        except ClipprepError as exc:  # the batch itself failed (lost its Dask scheduler, ...)
            failed = exc
        except KeyboardInterrupt:
            interrupted = True
    results = writer.results
    if failed:  # after the summaries of what finished
        raise failed
    if interrupted:
        done = f"{len(results)} of {clip_count(len(clips))}"
        echo(f"interrupted: {done} done; rerun to resume", err=True)
        raise KeyboardInterrupt
    found = ", ".join(f"{v} {k}" for k, v in writer.counts.items() if v)
    echo(f"{clip_count(len(results))}: {found}")
    echo(f"results in {out}/ (results.jsonl, summary.csv, report.html)")
    return results


def _submit_batch(results, names, options, **submit_args) -> None:
    """Create a character per ready or fixable clip: one line each, errors on stderr."""
    from .._submission import submit_many

    for path, name, outcome in submit_many(results, names, options=options, **submit_args):
        if isinstance(outcome, ClipprepError):
            click.echo(f"clipprep: {path}: [{outcome.code}] {outcome.message}", err=True)
        else:
            click.echo(f"{outcome.character_id}  {name}  {path}")
