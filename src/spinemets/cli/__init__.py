"""The ``spinemets`` command line: commands generated from the registry, one module per area.

``main`` first offers the arguments to ``_light``, which prints the registry listing
(``spinemets scores``) without importing typer, pydantic or the score tables' models; anything
else runs the typer application, built with only the area of the command being run when the
first argument names one (``_app.COMMAND_AREAS``), else with every area. ``app`` (every area)
is built on first use.
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
    from spinemets.cli._app import build  # noqa: PLC0415 - typer and every area, on first use

    globals()["app"] = application = build()
    return application


def main() -> None:
    """Entry point of the ``spinemets`` console script and ``python -m spinemets``."""
    from spinemets.cli._light import completing, run  # noqa: PLC0415

    args = sys.argv[1:]
    if run(args):
        return
    from spinemets.cli._app import AREAS, COMMAND_AREAS, build  # noqa: PLC0415

    area = COMMAND_AREAS.get(args[0]) if args and not completing() else None
    application = build((area,) if area else AREAS)
    if area and not application.registered_commands and not application.registered_groups:
        application = build()  # the area is not installed: typer says so with every command
    application()
