"""The registry listing, and the fast path that runs it without typer (``spinemets scores``).

Typer (0.29) coerces every option value through a pydantic ``TypeAdapter``, so any command
with an option imports pydantic, and building the command tree imports every area module:
about 150 ms of CPU before a line is printed. :func:`run` recognises the plain spellings of
the registry listing (``scores``, ``scores --format F``, ``scores -f F``, ``scores
--format=F``, with F one of json, jsonl, text) and prints it with :func:`print_scores`, the
function the typer command itself calls, from the JSON index of the score tables
(``spinemets.scores._index``). Everything else, including an unknown format, ``--help`` and
shell completion, goes through typer; so does a listing whose index cannot be read (typer
then reports the same error as before). Errors while printing end as typer's would: exit 130
on ^C, exit 1 on a closed pipe, one ``error:`` line otherwise (see ``_guard``).

This module imports neither typer nor pydantic.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["FORMATS", "completing", "dump_json", "listing_format", "print_scores", "run"]

#: Output formats of ``spinemets scores`` (the values of ``_scores.OutputFormat``).
FORMATS = ("json", "jsonl", "text")


def dump_json(data: Any, *, compact: bool = False) -> str:
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(data, ensure_ascii=False, indent=2)


def print_scores(fmt: str, entries: Sequence[dict[str, Any]], console: Console) -> None:
    """Print the registry listing (``summary()`` of every score) in ``fmt``."""
    if fmt == "json":
        console.print_json(dump_json(entries))
        return
    if fmt == "jsonl":
        for entry in entries:
            print(dump_json(entry, compact=True))
        return
    from rich.table import Table  # noqa: PLC0415 - text format only

    table = Table(title="Registered scores", title_justify="left")
    for column in ("slug", "name", "version", "status"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry["slug"], entry["name"], entry["version"], entry["status"])
    console.print(table)


def listing_format(args: Sequence[str]) -> str | None:
    """The format of a plainly spelt ``scores`` listing, or None for anything else."""
    if not args or args[0] != "scores":
        return None
    rest = list(args[1:])
    if not rest:
        return "text"
    if len(rest) == 2 and rest[0] in ("--format", "-f"):
        value = rest[1]
    elif len(rest) == 1 and rest[0].startswith("--format="):
        value = rest[0].removeprefix("--format=")
    else:
        return None
    return value if value in FORMATS else None


def completing() -> bool:
    """Whether a shell-completion request is in the environment (typer answers those)."""
    return any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ)


def run(args: Sequence[str]) -> bool:
    """Run ``args`` here if it is a plain registry listing; False to leave it to typer."""
    fmt = listing_format(args)
    if fmt is None or completing():
        return False
    try:
        from spinemets.scores._index import summaries  # noqa: PLC0415

        entries = summaries()
    except Exception:  # typer's path meets it again and reports it
        return False
    from rich.console import Console  # noqa: PLC0415

    try:
        print_scores(fmt, entries, Console())
        sys.stdout.flush()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            _fail(exc)
        # a closed pipe (``| head``): quiet, exit 1, as click does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None
    except Exception as exc:  # never a traceback
        _fail(exc)
    return True


def _fail(exc: Exception) -> NoReturn:
    from spinemets.cli._guard import describe  # noqa: PLC0415 - error path only

    lines, code = describe(exc)
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code) from None
