"""The typer application of the ``spinemets`` command line (``spinemets.cli.app``).

Each area module exposes ``register(app)``; a module whose optional dependencies are missing is
skipped, so the bare score CLI works with the core install alone.
"""

from __future__ import annotations

import importlib

import typer

from spinemets.cli._guard import GuardedGroup

__all__ = ["app"]

app = typer.Typer(
    cls=GuardedGroup,
    name="spinemets",
    help="Explainable scores, triage and NOMS-based planning for metastatic spine tumours. "
    "Decision support only: a clinician decides.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in ("_scores", "_case", "_report", "_serve", "_cohort", "_users", "_db", "_fhir",
              "_imaging"):
    try:
        _module = importlib.import_module(f"spinemets.cli.{_name}")
    except ModuleNotFoundError as _exc:  # an area not installed (missing extra) or not built yet
        if _exc.name and _exc.name.startswith("spinemets.cli."):
            continue
        raise
    _module.register(app)

