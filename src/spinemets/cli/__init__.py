"""The ``spinemets`` command line: commands generated from the registry, one module per area.

The typer application (``app``, built in ``_app``) is imported on first use: ``main`` first
offers the arguments to ``_light``, which prints the registry listing (``spinemets scores``)
without importing typer, pydantic or the score tables' models, and hands everything else to
the typer application.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name != "app":
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    from spinemets.cli._app import app  # noqa: PLC0415 - typer and every area, on first use

    globals()["app"] = app
    return app


def main() -> None:
    """Entry point of the ``spinemets`` console script and ``python -m spinemets``."""
    from spinemets.cli._light import run  # noqa: PLC0415

    if run(sys.argv[1:]):
        return
    from spinemets.cli._app import app  # noqa: PLC0415

    app()
