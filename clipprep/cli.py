"""Old home of the command, kept only so an environment installed before the move still starts:
its ``clipprep`` script imports ``clipprep.cli:main``. Reinstall (``pip install -e .``) to use
``clipprep._cli:main``; then this module can go."""

from ._cli import main

__all__ = ["main"]
