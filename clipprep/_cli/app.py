"""The ``clipprep`` group: every command module adds its commands to :data:`main`."""

from __future__ import annotations

import click

from .._console import configure_streams
from .._version import __version__

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.version_option(__version__, prog_name="clipprep")
def main() -> None:
    """Get a short clip ready to become a character in video-generation services."""
    from .. import _startup

    _startup.release()  # from here on Ctrl-C is a KeyboardInterrupt: cleanup, then exit 130
    configure_streams()
