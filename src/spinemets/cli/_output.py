"""Shared CLI helpers: reading JSON input, printing errors without tracebacks, rich tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from spinemets.cli._light import dump_json
from spinemets.errors import InputError, SpinemetsError

if TYPE_CHECKING:
    from rich.console import Console

    from spinemets.scores import ScoreResult

__all__ = ["console", "dump_json", "err_console", "fail", "iter_json_lines", "read_text",
           "render_score"]


@cache
def console() -> Console:
    """Standard output's rich console, made on first use (rich's console module costs about
    30 ms to import, which ``--help`` and the commands that print JSON never need)."""
    from rich.console import Console  # noqa: PLC0415

    return Console()


@cache
def err_console() -> Console:
    """Standard error's rich console, made on first use."""
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=True, soft_wrap=True)


def fail(error: Exception | str, code: int = 2) -> NoReturn:
    """Print an error (one line per problem, naming the field) and exit non-zero."""
    if isinstance(error, InputError):
        for problem in error.problems:
            err_console().print(f"error: {problem}", markup=False, highlight=False)
    else:
        err_console().print(f"error: {error}", markup=False, highlight=False)
    raise typer.Exit(code)


def read_text(source: str) -> str:
    """The text of a file, or of standard input for ``-``."""
    try:
        if source == "-":
            return sys.stdin.read()
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}")
    except UnicodeDecodeError as exc:
        fail(f"cannot read {source}: not UTF-8 text (byte {exc.start})")


def iter_json_lines(text: str) -> Iterator[tuple[int, Any | SpinemetsError]]:
    """``(line number, parsed value or an InputError)`` for each non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InputError.single("line", f"not valid JSON: {exc.msg}", value=number)


def _points(value: int | None, possible: tuple[int, ...]) -> str:
    if value is not None:
        return str(value)
    return "? (" + "/".join(str(p) for p in possible) + ")"


def render_score(result: ScoreResult, target: Console | None = None) -> None:
    """A readable table of one result: components, total, band, warnings, what is missing."""
    out = target or console()
    title = f"{result.name} ({result.version})"
    if result.lesion:
        title += f", lesion {result.lesion}"
    from rich.table import Table  # noqa: PLC0415 - text output only

    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("Component")
    table.add_column("Input")
    table.add_column("Category")
    table.add_column("Points", justify="right")
    for comp in result.components:
        category = comp.category_label or ("unknown: " + ", ".join(comp.missing))
        table.add_row(comp.label, "" if comp.input is None else str(comp.input), category,
                      _points(comp.points, comp.possible_points))
    out.print(table)
    if result.status == "complete":
        shown = result.grade if result.total is None else str(result.total)
        band = result.band.label if result.band else ""
        out.print(f"Result: [bold]{shown}[/bold] - {band}", highlight=False)
        if result.band and result.band.detail:
            out.print(f"  {result.band.detail}", markup=False, highlight=False)
    else:
        span = (f"totals still possible {result.possible_totals[0]}-{result.possible_totals[1]}; "
                if result.possible_totals else "")
        out.print(f"Result: [bold]incomplete[/bold] ({span}bands still possible: "
                  f"{', '.join(result.possible_bands)})", highlight=False)
        out.print(f"  Missing: {', '.join(result.missing)}", markup=False, highlight=False)
    for text in result.warnings:
        out.print(f"  Warning: {text}", markup=False, highlight=False)
    for text in result.notes:
        out.print(f"  Note: {text}", markup=False, highlight=False)
    for comp in result.components:
        if comp.ask:
            out.print(f"  Clinician choice needed: {comp.ask}", markup=False, highlight=False)
    out.print(f"  Citation: {result.citation}", markup=False, highlight=False)
