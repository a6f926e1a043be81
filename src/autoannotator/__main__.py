"""``python -m autoannotator``."""

from autoannotator.cli import main

main()
