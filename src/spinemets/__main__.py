"""``python -m spinemets``."""

from spinemets.cli import main

main()
