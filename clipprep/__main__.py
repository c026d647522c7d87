"""``python -m clipprep`` runs the CLI."""

from ._cli import main

main()
