"""The ``clipprep`` command: parsing and printing only; the work is done by the library.

Exit codes (the worst clip decides when several are checked):

====  =====================================================
0     ready: upload as is
3     fixable: ``clipprep prepare`` can make it ready
4     rejected: needs a new recording (or another name; or prepare found nothing to keep)
5     unreadable: not a readable video file
6     the face models are missing and could not be fetched
7     submit: the service refused or failed (bad key, retired route, failed prediction...)
8     submit: the outcome needs attention (create answer lost, or still processing)
2     usage error (bad option or argument)
1     unexpected internal error (a bug: rerun with --debug)
130   interrupted (Ctrl-C)
====  =====================================================
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .console import configure_streams, echo, json_line, make_console
from .errors import ClipprepError, ModelError, OutcomeUnknown, ServiceError, UsageError
from .frames import DEFAULT_ANALYSIS_LONG_SIDE, DEFAULT_SAMPLE_FPS
from .profiles import DEFAULT_PROFILE, PROFILES

EXIT_READY, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2
EXIT_FIXABLE, EXIT_REJECTED, EXIT_UNREADABLE, EXIT_MODELS = 3, 4, 5, 6
EXIT_SERVICE, EXIT_ATTENTION = 7, 8
EXIT_INTERRUPTED = 130
VERDICT_EXIT = {
    "ready": EXIT_READY,
    "fixable": EXIT_FIXABLE,
    "rejected": EXIT_REJECTED,
    "unreadable": EXIT_UNREADABLE,
}


def _console(stderr: bool = False):
    # Text is printed as given (file names are not markup); see console.py.
    return make_console(stderr=stderr)


def _run(debug: bool, action) -> int:
    """Run ``action``; turn expected errors into one clear line and an exit code."""
    try:
        return action()
    except KeyboardInterrupt:
        from . import _startup

        _startup.quiet_destructors()  # before the interrupted frames are released
        echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except ClipprepError as exc:
        if debug:
            raise
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        echo(f"clipprep: error [{exc.code}]: {exc.message}{hint}", err=True)
        return _exit_code_for(exc)
    except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
        if debug:
            raise
        echo(
            f"clipprep: internal error: {type(exc).__name__}: {exc}\n"
            "  rerun with --debug for the traceback, and please report it",
            err=True,
        )
        return EXIT_INTERNAL


def _exit_code_for(exc: ClipprepError) -> int:
    if isinstance(exc, ModelError):
        return EXIT_MODELS
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, OutcomeUnknown) or exc.code in ("still_pending", "in_progress"):
        return EXIT_ATTENTION
    if isinstance(exc, ServiceError):
        return EXIT_SERVICE
    # it needs a new recording
    if exc.code in ("cannot_prepare", "preflight_rejected", "clip_rejected"):
        return EXIT_REJECTED
    return EXIT_UNREADABLE


_EPILOG = """\b
Examples:
  clipprep check take3.mov               is it ready? which 2-4 s to keep?
  clipprep prepare take3.mov -o joe.mp4  write the upload-ready clip

\b
Exit codes (the worst clip decides):
  0 ready    3 fixable    4 rejected    5 unreadable    2 usage error
  6 face models missing   7 service refused   8 submit needs attention
  1 internal error (a bug)   130 interrupted
"""

def _profile_value(ctx, param, value):
    """--profile NAME or --profile path/to/service.toml, resolved (and validated) up front."""
    from .profiles import get_profile

    try:
        if isinstance(value, tuple):  # prepare's repeatable --profile
            return tuple(get_profile(v) for v in value) or (get_profile(DEFAULT_PROFILE),)
        return get_profile(value)
    except ClipprepError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise click.BadParameter(exc.message + hint) from None


_PROFILE_HELP = f"Service rules: one of {', '.join(PROFILES)}, or a .toml file."
_profile_option = click.option(
    "--profile",
    default=DEFAULT_PROFILE,
    show_default=True,
    callback=_profile_value,
    help=_PROFILE_HELP,
)
_name_option = click.option("--name", help="Character name to validate too (1–80 characters).")
_model_dir_option = click.option(
    "--model-dir", type=click.Path(file_okay=False), help="Folder of the face models."
)
_debug_option = click.option("--debug", is_flag=True, help="Show tracebacks.")
_time_limit_option = click.option(
    "--time-limit",
    type=click.FloatRange(min=1),
    help="Seconds one clip's analysis may take (default 300): a hostile file stops there.",
)


_subject_option = click.option(
    "--subject",
    type=click.Choice(["auto", "face", "any"]),
    help="Judge the character by its face, by its main subject whatever it is (mascots, "
    "animals, objects, animation), or auto: faces when most frames show one (the default).",
)


def _custom_profile(
    profile_name, *, time_limit: float | None = None, subject: str | None = None
):
    """The named profile, with the analysis time limit and subject mode replaced when given."""
    import dataclasses

    from .profiles import get_profile

    profile = get_profile(profile_name)
    if time_limit is not None:
        limits = dataclasses.replace(profile.limits, max_seconds=time_limit)
        profile = dataclasses.replace(profile, limits=limits)
    if subject is not None:
        profile = dataclasses.replace(profile, subject_mode=subject)
    return profile


_verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also say how each clip was measured (frames, timing)."
)
_quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="One line per clip, no progress bar (errors still shown)."
)


def _verbosity(quiet: bool, verbose: bool) -> int:
    """0 quiet, 1 normal, 2 verbose."""
    if quiet and verbose:
        raise UsageError("-q/--quiet and -v/--verbose contradict each other", hint="pick one")
    return 0 if quiet else 2 if verbose else 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.version_option(__version__, prog_name="clipprep")
def main() -> None:
    """Get a short clip ready to become a character in video-generation services."""
    from . import _startup

    _startup.release()  # from here on Ctrl-C is a KeyboardInterrupt: cleanup, then exit 130
    configure_streams()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@_profile_option
@_subject_option
@_name_option
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
@click.option(
    "--thorough",
    is_flag=True,
    help="Decode every frame and run every model on every sample (slower; the reference the "
    "fast path is tested against).",
)
@click.option(
    "--html",
    "html_page",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write an offline HTML page of the clips (video, timeline, problems).",
)
@_model_dir_option
@_time_limit_option
@_quiet_option
@_verbose_option
@_debug_option
def check(
    paths,
    profile,
    subject,
    name,
    as_json,
    frames,
    sample_fps,
    analysis_size,
    thorough,
    html_page,
    model_dir,
    time_limit,
    quiet,
    verbose,
    debug,
):
    """Check clips and find each one's best 2–4 s window.

    Exit code: 0 ready, 3 fixable, 4 rejected, 5 unreadable (the worst clip decides).
    """

    def action() -> int:
        from .batch import report_entry
        from .pipeline import Analyzer
        from .report import render

        level = _verbosity(quiet, verbose)
        if frames and not as_json:
            raise UsageError("--frames only adds to --json", hint="use --json --frames")
        worst = EXIT_READY
        console = _console()
        entries = []
        if html_page and not Path(html_page).resolve().parent.is_dir():
            raise UsageError(f"no folder for the page {html_page}", hint="create the folder first")
        with (
            Analyzer(
                profile=_custom_profile(profile, time_limit=time_limit, subject=subject),
                sample_fps=sample_fps,
                analysis_long_side=analysis_size,
                model_dir=model_dir,
                thorough=thorough,
            ) as analyzer,
            _ProgressBar(enabled=level > 0) as bar,
        ):
            for path in paths:
                following = bar.follow(f"checking {Path(path).name}", _CHECK_PROGRESS_MIN_S)
                report = analyzer.check(path, name=name, progress=following)
                bar.hide()
                if as_json:
                    json_line(report.to_dict(include_frames=frames))
                else:
                    render(report, console, level=level)
                if html_page:
                    entries.append(report_entry(report))
                worst = max(worst, VERDICT_EXIT[report.verdict])
        if html_page:
            _write_page(entries, Path(html_page), "clipprep check report")
        return worst

    sys.exit(_run(debug, action))


# A check shows a progress bar for clips at least this long (shorter ones take a second or two).
_CHECK_PROGRESS_MIN_S = 10.0


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
@click.option(
    "--profile",
    multiple=True,
    callback=_profile_value,
    help=_PROFILE_HELP + " Repeat it to prepare for several services: -o is then a folder.",
)
@_subject_option
@_name_option
@_model_dir_option
@_quiet_option
@_verbose_option
@_debug_option
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
    profile,
    subject,
    name,
    model_dir,
    quiet,
    verbose,
    debug,
):
    """Write the upload-ready clip: best window, upright, 720–1080p, H.264/AAC MP4.

    A rejected clip is not written (nothing in it would be ready) unless --even-if-rejected.
    The result is checked again; the exit code is its verdict (0 ready).
    """

    def action() -> int:
        from .export import prepare as run_prepare
        from .pipeline import Analyzer

        level = _verbosity(quiet, verbose)
        console = _console()
        if len(profile) > 1:
            return _prepare_for_services(
                path,
                output,
                [_custom_profile(p, subject=subject) for p in profile],
                {
                    "name": name,
                    "model_dir": model_dir,
                    "start": start,
                    "end": end,
                    "aspect": aspect,
                    "allow_upscale": allow_upscale,
                    "force": force,
                    "even_if_rejected": even_if_rejected,
                },
                as_json,
                lambda result: _render_prepared(result, console, level),
            )
        if output is not None and Path(output).is_dir():
            hint = "give a file name ending in .mp4 (or several --profile)"
            raise UsageError(f"{output} is a folder", hint=hint)
        with (
            Analyzer(
                profile=_custom_profile(profile[0], subject=subject), model_dir=model_dir
            ) as analyzer,
            _ProgressBar(enabled=level > 0) as bar,
        ):
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
                progress=bar.follow(f"checking {Path(path).name}", _CHECK_PROGRESS_MIN_S),
                on_frame=bar.follow("encoding"),
            )
        if as_json:
            json_line(result.to_dict())
        else:
            _render_prepared(result, console, level)
        return VERDICT_EXIT[result.verdict]

    sys.exit(_run(debug, action))


def _render_prepared(result, console, level: int = 1) -> None:
    from .report import render

    ops = ", ".join(op["op"] for op in result.plan.operations)
    console.print(
        f"wrote {result.output} ({result.plan.start_s:.2f}–{result.plan.end_s:.2f} s of "
        f"{result.input}; {ops})"
    )
    for warning in result.warnings:
        console.print(f"  warning: {warning}", style="yellow")
    render(result.report, console, level=level)
    if result.verdict != "ready" and level > 0:
        console.print("the prepared file is not ready: see the problems above", style="bold red")


class _ProgressBar:
    """A bar with percent and time left on an interactive stderr; nothing on a pipe or with -q.

    :meth:`follow` gives the callback a long task reports to (``done``, ``total``): seconds of
    clip analysed, or frames encoded. One task is shown at a time; it appears when a task of at
    least ``min_total`` reports, and is erased when it completes, when another task reports,
    and when the block ends.
    """

    def __init__(self, *, enabled: bool):
        self._enabled = enabled and sys.stderr.isatty()
        self._bar = self._task = self._owner = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.hide()

    def follow(self, description: str, min_total: float = 0.0):
        """The callback for one task (None when no bar is shown: nothing to report to)."""
        if not self._enabled:
            return None

        def report(done: float, total: float) -> None:
            if total < min_total:
                return
            if self._owner is not report or done >= total:
                # Another task's bar makes room; a finished one goes: held at 100% it would look
                # stuck while the rest of the command runs (prepare checks the result).
                self.hide()
            if done >= total:
                return
            if self._task is None:
                self._task = self._start().add_task(description, total=total)
                self._owner = report
            self._bar.update(self._task, completed=done, total=total)

        return report

    def hide(self) -> None:
        """Erase the bar (before printing on the same terminal: the two would interleave)."""
        if self._bar is not None:
            self._bar.stop()
        self._bar = self._task = self._owner = None

    def _start(self):
        if self._bar is None:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

            from .console import plain_text_column

            self._bar = Progress(
                plain_text_column("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=_console(stderr=True),
                transient=True,
            )
            self._bar.start()
        return self._bar


_ledger_option = click.option(
    "--ledger",
    type=click.Path(dir_okay=False),
    help="The submissions database (default: $CLIPPREP_LEDGER or the user data folder).",
)


@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--name", required=True, help="The character's name (1–80 characters).")
@click.option(
    "--provider",
    type=click.Choice(["wavespeed", "openai"]),
    default="wavespeed",
    show_default=True,
    help="Which characters API.",
)
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
@_ledger_option
@_profile_option
@_subject_option
@_model_dir_option
@_debug_option
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
    profile,
    subject,
    model_dir,
    debug,
):
    """Create a character from a clip, exactly once, and record it.

    The clip is checked first (and prepared when that fixes it). The key comes from
    WAVESPEED_API_KEY or OPENAI_API_KEY. Exit 0 with the character id when it is created.
    """

    def action() -> int:
        from .pipeline import Analyzer
        from .submission import submit as run_submit

        if api_key:
            click.echo(
                "clipprep: warning: --api-key is visible to other users in process lists; "
                "prefer the environment variable",
                err=True,
            )
        custom = _custom_profile(profile, subject=subject)
        with Analyzer(profile=custom, model_dir=model_dir) as analyzer:
            result = run_submit(
                path,
                name=name,
                provider=provider,
                api_base=api_base,
                api_key=api_key,
                video_url=video_url,
                ledger=ledger,
                force=force,
                profile=custom,
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

    sys.exit(_run(debug, action))


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
@click.option("--submit", "do_submit", is_flag=True, help="Then create a character per ready clip.")
@click.option(
    "--name-from",
    default="stem",
    show_default=True,
    help="Character names: stem, parent, or csv:FILE (columns: file,name).",
)
@click.option("--provider", type=click.Choice(["wavespeed", "openai"]), default="wavespeed")
@click.option("--api-base", help="API base URL for --submit.")
@_ledger_option
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
@_profile_option
@_subject_option
@_model_dir_option
@_time_limit_option
@_quiet_option
@_debug_option
def batch(
    inputs,
    recursive,
    workers,
    out,
    prepare_dir,
    do_submit,
    name_from,
    provider,
    api_base,
    ledger,
    scheduler,
    worker_wait,
    cache_dir,
    force,
    profile,
    subject,
    model_dir,
    time_limit,
    quiet,
    debug,
):
    """Check whole folders in parallel; write JSON Lines, a CSV summary and an HTML report.

    A re-run skips clips already checked with the same settings (--force redoes them).
    """
    level = _verbosity(quiet, False)

    def action() -> int:
        from .batch import Settings, find_clips

        missing = [item for item in inputs if not os.path.lexists(item)]
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(missing)}", hint="check the path")
        clips = find_clips(inputs, recursive=recursive)
        if not clips:
            raise UsageError("no video files found", hint="pass files or folders of clips")
        names = _batch_names(clips, name_from) if do_submit else {}
        nonlocal scheduler
        if scheduler:  # connected and checked before --out is touched
            scheduler = _connect_cluster(scheduler, workers, worker_wait, debug)
        settings = Settings(
            profile=_custom_profile(profile, time_limit=time_limit, subject=subject),
            model_dir=model_dir,
            prepare_dir=prepare_dir,
        )
        if prepare_dir:
            Path(prepare_dir).mkdir(parents=True, exist_ok=True)
        results = _run_batch(
            clips, settings, workers, cache_dir, force, scheduler, Path(out), level > 0
        )
        if do_submit:
            _submit_batch(results, names, provider, api_base, ledger, settings.profile, model_dir)
        return max((_batch_exit(r.verdict) for r in results), default=EXIT_READY)

    sys.exit(_run(debug, action))


def _connect_cluster(address: str, workers, worker_wait: float, debug: bool):
    """The Dask cluster at ``address``, reachable, with workers of this clipprep version; the
    connection closes when the command ends. Its waits and dashboard link go to stderr."""
    import logging

    from .batch import _refuse_local_workers, connect_scheduler

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


def _batch_exit(verdict: str) -> int:
    return VERDICT_EXIT.get(verdict, EXIT_UNREADABLE)


def _batch_names(clips, name_from: str) -> dict[str, str]:
    """Each clip's character name; invalid names stop the batch before anything is uploaded."""
    from .profiles import get_profile
    from .verdict import name_problems

    if name_from.startswith("csv:"):
        table = _names_table(name_from[4:])
        names = {str(c): table.get(str(c), table.get(c.name, "")) for c in clips}
    elif name_from in ("stem", "parent"):
        names = {str(c): c.stem if name_from == "stem" else c.parent.name for c in clips}
    else:
        raise UsageError(f"--name-from {name_from!r}", hint="stem, parent or csv:FILE")
    bad = {c: n for c, n in names.items() if name_problems(n, get_profile(None))}
    if bad:
        # Names are echoed cut short: a 10,000-character name must not make a 10 KB message.
        listing = "; ".join(
            f"{Path(c).name[:60]}: {_shortened(n)}" for c, n in list(bad.items())[:5]
        )
        if len(bad) > 5:
            listing += f"; and {len(bad) - 5} more"
        raise UsageError(
            f"invalid character names: {listing}",
            code="invalid_name",
            hint="names must be 1–80 printable characters",
        )
    return names


def _shortened(name: str, limit: int = 40) -> str:
    """``name`` quoted, cut to ``limit`` characters with its length said when longer."""
    if len(name) <= limit:
        return repr(name)
    return f"{name[:limit]!r}… ({len(name)} characters)"


def _names_table(csv_path: str) -> dict[str, str]:
    """file -> name from a CSV with the columns ``file`` and ``name``."""
    import csv

    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            if "file" not in columns or "name" not in columns:
                found = ", ".join(repr(c[:40]) for c in columns[:6]) or "none"
                raise UsageError(
                    f"{Path(csv_path).name}: the CSV needs the columns file,name (found: {found})",
                    code="bad_names_csv",
                    hint="its first line must be: file,name",
                )
            return {row["file"] or "": (row["name"] or "").strip() for row in reader}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(
            f"{Path(csv_path).name}: cannot read the names CSV ({exc})",
            code="bad_names_csv",
            hint="a UTF-8 CSV with the columns file,name",
        ) from None


def _run_batch(clips, settings, workers, cache_dir, force, scheduler, out: Path, show_bar=True):
    """Run the batch with a progress bar; stream results.jsonl; write the CSV and HTML at the
    end (also after Ctrl-C, with what finished)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .batch import check_many, clip_count
    from .console import plain_text_column

    out.mkdir(parents=True, exist_ok=True)
    results = []
    # The summary line names outcomes as the verdicts are named; "errors" are the batch's own
    # failures (a worker crashed, a time limit).
    counts = dict.fromkeys(("ready", "fixable", "rejected", "unreadable", "errors"), 0)
    progress = Progress(
        plain_text_column("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        plain_text_column("{task.fields[counts]}"),
        TimeRemainingColumn(),
        console=_console(stderr=True),
        transient=False,
        disable=not show_bar,
    )
    interrupted, failed = False, None
    with progress, open(out / "results.jsonl", "w", encoding="utf-8") as lines:
        task = progress.add_task("checking", total=len(clips), counts="")
        try:
            for result in check_many(
                clips,
                workers=workers,
                settings=settings,
                cache_folder=cache_dir,
                force=force,
                scheduler=scheduler,
            ):
                results.append(result)
                lines.write(json.dumps({**result.data, "cached": result.cached}) + "\n")
                lines.flush()
                key = result.verdict if result.verdict in counts else "errors"
                counts[key] += 1
                summary = " ".join(f"{k} {v}" for k, v in counts.items())
                progress.update(
                    task, advance=1, description=Path(result.path).name[:40], counts=summary
                )
        except ClipprepError as exc:  # the batch itself failed (lost its Dask scheduler, ...)
            failed = exc
        except KeyboardInterrupt:
            interrupted = True
    order = {str(clip): index for index, clip in enumerate(clips)}
    results.sort(key=lambda result: order.get(result.path, len(order)))  # input order
    _write_summaries(results, out)
    if failed:  # after the summaries of what finished
        raise failed
    if interrupted:
        done = f"{len(results)} of {clip_count(len(clips))}"
        echo(f"interrupted: {done} done; rerun to resume", err=True)
        raise KeyboardInterrupt
    found = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    echo(f"{clip_count(len(results))}: {found}")
    echo(f"results in {out}/ (results.jsonl, summary.csv, report.html)")
    return results


def _write_summaries(results, out: Path) -> None:
    """summary.csv and report.html, one row per clip in ``results``' order."""
    import csv
    import io

    from .batch import summary_row
    from .files import write_text_atomic

    buffer = io.StringIO()
    rows = [summary_row(r) for r in results]
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_text_atomic(out / "summary.csv", buffer.getvalue())
    _write_page([r.data for r in results], out / "report.html", "clipprep batch report")


def _write_page(entries: list[dict], page: Path, title: str) -> None:
    """The HTML report, written atomically (its video links are relative to where it lies)."""
    from .files import write_text_atomic
    from .html import render_html

    write_text_atomic(page, render_html(entries, title=title, page=page))


def _submit_batch(results, names, provider, api_base, ledger, profile, model_dir) -> None:
    from .pipeline import Analyzer
    from .submission import submit as run_submit

    with Analyzer(profile=profile, model_dir=model_dir) as analyzer:
        for result in results:
            if result.verdict not in ("ready", "fixable"):
                continue
            name = names[result.path]
            try:
                done = run_submit(
                    result.path,
                    name=name,
                    provider=provider,
                    api_base=api_base,
                    ledger=ledger,
                    profile=profile,
                    analyzer=analyzer,
                )
                click.echo(f"{done.character_id}  {name}  {result.path}")
            except ClipprepError as exc:
                click.echo(f"clipprep: {result.path}: [{exc.code}] {exc.message}", err=True)


@main.group()
def characters() -> None:
    """The characters created so far (the submissions ledger)."""


@characters.command("list")
@_ledger_option
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one submission per line.")
@_debug_option
def characters_list(ledger, as_json, debug):
    """List every submission, newest first."""

    def action() -> int:
        from rich.table import Table
        from rich.text import Text

        from .ledger import Ledger

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
        _console().print(table)
        return EXIT_READY

    sys.exit(_run(debug, action))


@characters.command("show")
@click.argument("key")
@_ledger_option
@click.option("--json", "as_json", is_flag=True, help="Print the submission as JSON.")
@_debug_option
def characters_show(key, ledger, as_json, debug):
    """Show one submission, by ledger number, character id or prediction id."""

    def action() -> int:
        from .ledger import Ledger

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

    sys.exit(_run(debug, action))


def _local_time(seconds: float) -> str:
    """ISO 8601 with the local zone's offset (2026-11-26T13:05:09+01:00)."""
    from datetime import datetime

    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


@main.group()
def models() -> None:
    """Find or fetch the face model files."""


@models.command("fetch")
@_model_dir_option
@click.option("--force", is_flag=True, help="Download again even if valid files are present.")
@_debug_option
def models_fetch(model_dir, force, debug):
    """Download the face models (or extract them from the mediapipe wheel), sha256-verified."""

    def action() -> int:
        from .models import fetch_models

        for key, path in fetch_models(model_dir, force=force).items():
            click.echo(f"{key}: {path}")
        return EXIT_READY

    sys.exit(_run(debug, action))


@models.command("path")
@_model_dir_option
def models_path(model_dir):
    """Print the folder the face models are read from."""
    from .models import model_dir as resolve

    click.echo(str(resolve(model_dir)))


@main.command("profiles")
@click.option(
    "--json", "as_json", is_flag=True, help="Every rule and threshold, one profile per line."
)
def profiles_command(as_json):
    """List the service profiles and their rules (each a TOML file; --profile FILE.toml takes
    your own)."""
    for profile in PROFILES.values():
        if as_json:
            json_line({**profile.to_dict(), "default": profile.name == DEFAULT_PROFILE})
            continue
        default = " (default)" if profile.name == DEFAULT_PROFILE else ""
        provisional = " (provisional: rules from a relay)" if profile.provisional else ""
        echo(f"{profile.name}{default}{provisional}\n  {profile.description}")


@main.command("schema")
@click.argument("kind", type=click.Choice(["report", "prepare", "batch"]), default="report")
def schema_command(kind):
    """Print the JSON Schema of check --json (report), prepare --json, or a batch line."""
    from .schema import schema

    echo(json.dumps(schema(kind), indent=2, ensure_ascii=False))


def _prepare_for_services(path, output, profiles, options: dict, as_json, render) -> int:
    """``prepare --profile A --profile B -o DIR``: one file per service in DIR; the exit code is
    the worst verdict."""
    from .export import prepare_for_services

    if output is None:
        raise UsageError("several --profile need -o FOLDER for their files")
    results = prepare_for_services(path, output, profiles, **options)
    for result in results:
        if as_json:
            json_line(result.to_dict())
        else:
            render(result)
    return max(VERDICT_EXIT[result.verdict] for result in results)
