"""How the command's text reaches the user: the one place that makes rich consoles and writes lines.

- Text clipprep did not write itself (paths, character names, messages echoed from a service) is
  never read as rich markup or emoji codes: ``take[final].mp4`` stays ``take[final].mp4`` and a
  path holding ``[/x]`` cannot end the run with a ``MarkupError``. Consoles are made with markup
  and emoji off; progress-bar text columns render their text as is.
- A stream that cannot encode the few non-ASCII characters clipprep prints (``·``, ``×``, ``–``,
  ``→``: ``PYTHONIOENCODING=ascii``, some Windows consoles) gets ASCII stand-ins instead of a
  ``UnicodeEncodeError``.
- Output that does not go to a terminal (a pipe, a file) is never wrapped and carries no
  trailing spaces, so it can be grepped and diffed.
"""

from __future__ import annotations

import codecs
import io
import json
import sys

import click

# What the command prints beyond ASCII, and what an ASCII-only stream shows instead.
_ASCII_STAND_INS = {
    "·": "|",
    "×": "x",
    "–": "-",
    "—": "-",
    "→": "->",
    "…": "...",
    "≥": ">=",
    "≤": "<=",
    "━": "-",  # rich's progress bar
    "•": "*",
}
_ERRORS = "clipprep-ascii"
# Width given to consoles that do not write to a terminal: wide enough never to wrap a line.
_UNWRAPPED_WIDTH = 10_000


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    unprintable = error.object[error.start : error.end]
    return "".join(_ASCII_STAND_INS.get(char, "?") for char in unprintable), error.end


codecs.register_error(_ERRORS, _stand_in)


def can_print_unicode(stream) -> bool:
    """Whether ``stream`` can encode the non-ASCII characters clipprep prints."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "".join(_ASCII_STAND_INS).encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True


def configure_streams() -> None:
    """Give stdout and stderr ASCII stand-ins when they cannot encode what clipprep prints
    (called once by the command's entry point; a library user's streams are left alone)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not can_print_unicode(stream):
            stream.reconfigure(errors=_ERRORS)


def echo(message: str = "", *, err: bool = False) -> None:
    """Print one line on stdout (or stderr) through the stream's own encoding.

    Unlike ``click.echo``, which answers an ASCII stream by writing UTF-8 anyway, this goes
    through the stream :func:`configure_streams` gave ASCII stand-ins.
    """
    click.echo(message, file=sys.stderr if err else sys.stdout)


def json_line(data) -> None:
    """Print ``data`` as one line of JSON (non-ASCII kept when stdout can print it)."""
    echo(json.dumps(data, ensure_ascii=not can_print_unicode(sys.stdout)))


def make_console(*, stderr: bool = False):
    """A rich console on stdout (or stderr) that prints text as given: no markup, no emoji,
    no highlighting; unwrapped and without trailing spaces when it is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    plain = {"highlight": False, "markup": False, "emoji": False}
    if _is_terminal(stream):
        return Console(file=stream, **plain)
    return Console(file=_Unpadded(stream), soft_wrap=True, width=_UNWRAPPED_WIDTH, **plain)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class _Unpadded:
    """A text stream that drops the spaces rich pads table cells with at the end of a line."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write("\n".join(line.rstrip(" ") for line in text.split("\n")))
        return len(text)

    def __getattr__(self, name: str):  # encoding, flush, isatty, fileno...
        return getattr(self._stream, name)


def plain_text_column(template: str, **kwargs):
    """A progress-bar text column that shows its fields as plain text (a file name in the
    description is not read as markup)."""
    from rich.progress import TextColumn

    return TextColumn(template, markup=False, **kwargs)
