"""``python -m clipprep`` runs the CLI."""

from .cli import main

main()
