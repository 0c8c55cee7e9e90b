"""The typer application of the ``spinemets`` command line (``spinemets.cli.app``).

Each area module exposes ``register(app)``; a module whose optional dependencies are missing is
skipped, so the bare score CLI works with the core install alone.

:func:`build` with no argument registers every area (the root ``--help``, an unknown command,
the tests). ``spinemets.cli.main`` passes the area of the command being run
(:data:`COMMAND_AREAS`), so ``spinemets cohort ...`` imports and builds only the cohort
commands: what a command prints does not depend on its siblings.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

from spinemets.cli._guard import GuardedGroup

__all__ = ["AREAS", "COMMAND_AREAS", "build"]

#: Area modules, in the order of the root ``--help``.
AREAS = ("_scores", "_case", "_report", "_serve", "_cohort", "_users", "_db", "_fhir",
         "_imaging")

#: First argument -> the area that registers it. Only areas that register a group or several
#: commands: typer would run an app holding one plain command (``report``, ``serve``) without
#: its name, so those are built with every area.
COMMAND_AREAS = {
    "scores": "_scores", "score": "_scores",
    "assess": "_case", "plan": "_case", "triage": "_case",
    "cohort": "_cohort", "user": "_users", "db": "_db", "fhir": "_fhir", "imaging": "_imaging",
}


def build(areas: Sequence[str] = AREAS) -> typer.Typer:
    """The root application with the commands of ``areas`` (each registered once a process)."""
    app = typer.Typer(
        cls=GuardedGroup,
        name="spinemets",
        help="Explainable scores, triage and NOMS-based planning for metastatic spine tumours. "
        "Decision support only: a clinician decides.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # click's own help and usage errors: typer's rich panels import rich's Markdown and
        # syntax highlighting (about 70 ms of every --help); plain text reads as well
        rich_markup_mode=None,
    )
    for name in areas:
        try:
            module = importlib.import_module(f"spinemets.cli.{name}")
        except ModuleNotFoundError as exc:  # an area not installed (missing extra) or not built
            if exc.name and exc.name.startswith("spinemets.cli."):
                continue
            raise
        module.register(app)
    return app
