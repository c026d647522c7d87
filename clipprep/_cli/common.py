"""What every command shares: the error handling (one line and an exit code), the console, and
the flags several commands take; :func:`analysis_flags` gives a command the fields of
:class:`~clipprep._options.Options` as flags and the command one ``options`` argument."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys

import click

from .._console import echo, make_console
from .._errors import ClipprepError, UsageError
from .._frames import DEFAULT_ANALYSIS_LONG_SIDE, DEFAULT_SAMPLE_FPS
from .._options import ANALYSIS_SIZE_RANGE, MIN_TIME_LIMIT_S, SAMPLE_FPS_RANGE, Options
from .._profiles import DEFAULT_PROFILE, SUBJECT_MODES, profile_names
from .exits import EXIT_INTERNAL, EXIT_INTERRUPTED, exit_code_for


def console(stderr: bool = False):
    """The rich console of stdout (or stderr)."""
    # Text is printed as given (file names are not markup); see _console.py.
    return make_console(stderr=stderr)


def run(debug: bool, action) -> int:
    """Run ``action``; turn expected errors into one clear line and an exit code."""
    try:
        return action()
    except KeyboardInterrupt:
        from .. import _startup

        _startup.quiet_destructors()  # before the interrupted frames are released
        echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read the output went away (`clipprep profiles | head`): stop without a word.
        # stdout now points at devnull, so the flush at exit cannot fail again (Python's advice).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_INTERNAL
    except ClipprepError as exc:
        if debug:
            raise
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        echo(f"clipprep: error [{exc.code}]: {exc.message}{hint}", err=True)
        return exit_code_for(exc)
    except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
        if debug:
            raise
        echo(
            f"clipprep: internal error: {type(exc).__name__}: {exc}\n"
            "  rerun with --debug for the traceback, and please report it",
            err=True,
        )
        return EXIT_INTERNAL


def verbosity(quiet: bool, verbose: bool) -> int:
    """0 quiet, 1 normal, 2 verbose."""
    if quiet and verbose:
        raise UsageError("-q/--quiet and -v/--verbose contradict each other", hint="pick one")
    return 0 if quiet else 2 if verbose else 1


name_option = click.option("--name", help="Character name to validate too (1–80 characters).")
model_dir_option = click.option(
    "--model-dir", type=click.Path(file_okay=False), help="Folder of the face models."
)
debug_option = click.option("--debug", is_flag=True, help="Show tracebacks.")
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also say how each clip was measured (frames, timing)."
)
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="One line per clip, no progress bar (errors still shown)."
)
ledger_option = click.option(
    "--ledger",
    type=click.Path(dir_okay=False),
    help="The submissions database (default: $CLIPPREP_LEDGER or the user data folder).",
)


def _profile_value(ctx, param, value):
    """--profile NAME or --profile path/to/service.toml, resolved (and validated) up front."""
    from .._profiles import get_profile

    try:
        if param.multiple:  # prepare's repeatable --profile
            return tuple(get_profile(v) for v in value) or (get_profile(DEFAULT_PROFILE),)
        return get_profile(value)
    except ClipprepError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise click.BadParameter(exc.message + hint) from None


def _profile_flag(several: bool):
    """--profile: a built-in profile's name or a TOML file; ``several``: it may be repeated."""
    help_text = f"Service rules: one of {', '.join(profile_names())}, or a .toml file."
    if several:
        return click.option(
            "--profile",
            multiple=True,
            callback=_profile_value,
            help=help_text + " Repeat it to prepare for several services: -o is then a folder.",
        )
    return click.option(
        "--profile",
        default=DEFAULT_PROFILE,
        show_default=True,
        callback=_profile_value,
        help=help_text,
    )


# One flag per field of Options but the profile, named as the field (click passes --sample-fps
# as sample_fps).
_ANALYSIS_FLAGS = (
    click.option(
        "--subject",
        type=click.Choice(SUBJECT_MODES),
        help="Judge the character by its face, by its main subject whatever it is (mascots, "
        "animals, objects, animation), or auto: faces when most frames show one (the default).",
    ),
    click.option(
        "--sample-fps",
        type=click.FloatRange(*SAMPLE_FPS_RANGE),
        default=DEFAULT_SAMPLE_FPS,
        show_default=True,
        help="Frames per second analysed.",
    ),
    click.option(
        "--analysis-size",
        type=click.IntRange(*ANALYSIS_SIZE_RANGE),
        default=DEFAULT_ANALYSIS_LONG_SIDE,
        show_default=True,
        help="Long side (px) frames are scaled to for analysis.",
    ),
    click.option(
        "--thorough",
        is_flag=True,
        help="Decode every frame and run every model on every sample (slower; the reference "
        "the fast path is tested against).",
    ),
    model_dir_option,
    click.option(
        "--time-limit",
        type=click.FloatRange(min=MIN_TIME_LIMIT_S),
        help="Seconds one clip's analysis may take (default 300): a hostile file stops there.",
    ),
)
_OPTION_FIELDS = tuple(field.name for field in dataclasses.fields(Options))


def analysis_flags(command=None, *, several_profiles: bool = False):
    """Decorator: the analysis flags (--profile, --subject, --sample-fps, --analysis-size,
    --thorough, --model-dir, --time-limit) on ``command``, which receives them as one
    ``options`` (:class:`Options`). Goes below ``@main.command()``. ``several_profiles``:
    --profile may be repeated; the command also receives ``profiles`` (the options hold the
    first)."""

    def decorate(command):
        @functools.wraps(command)
        def with_options(*args, **kwargs):
            fields = {name: kwargs.pop(name) for name in _OPTION_FIELDS}
            if several_profiles:
                kwargs["profiles"] = fields["profile"]
                fields["profile"] = fields["profile"][0]
            return command(*args, options=Options(**fields), **kwargs)

        for flag in reversed((_profile_flag(several_profiles), *_ANALYSIS_FLAGS)):
            with_options = flag(with_options)
        return with_options

    return decorate(command) if command is not None else decorate


def provider_option(**extra):
    """--provider: a characters API from the providers' registry."""
    from ..providers import DEFAULT_PROVIDER, PROVIDERS

    return click.option(
        "--provider", type=click.Choice(list(PROVIDERS)), default=DEFAULT_PROVIDER, **extra
    )
