"""The last line of defence: no CLI command ever ends in a Python traceback.

:class:`GuardedGroup` is the root command group. Errors a command did not turn into a message
itself become one line on standard error: a bad database URL, a missing driver or an
unreachable database (exit 2), a file-system error (exit 2), a spinemets input error (exit 2,
one line per problem). Anything else is a bug: one line naming it and exit 70 (EX_SOFTWARE),
which the CLI fuzz test treats as a failure.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from spinemets.errors import InputError, SpinemetsError

__all__ = ["INTERNAL_ERROR", "GuardedGroup", "describe"]

#: Exit status of an unexpected error (a bug), as in BSD ``sysexits.h``.
INTERNAL_ERROR = 70


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else ""


def _database(exc: Exception) -> str | None:
    try:
        from sqlalchemy import exc as sa_exc  # noqa: PLC0415 - optional (web extra)
    except ImportError:  # pragma: no cover - the core install has no SQLAlchemy
        return None
    if isinstance(exc, sa_exc.NoSuchModuleError):
        return f"database URL names an unsupported database: {_first_line(exc)}"
    if isinstance(exc, sa_exc.ArgumentError):
        return f"database URL not understood: {_first_line(exc)}"
    if isinstance(exc, sa_exc.DBAPIError):
        return f"database error: {_first_line(exc.orig)}"
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return f"database error: {_first_line(exc)}"
    return None


def describe(exc: Exception) -> tuple[list[str], int]:
    """The error lines and exit status for ``exc``."""
    if isinstance(exc, InputError):
        return [str(problem) for problem in exc.problems], 2
    if isinstance(exc, SpinemetsError):
        return [_first_line(exc)], 2
    database = _database(exc)
    if database is not None:
        return [database], 2
    if isinstance(exc, ModuleNotFoundError):
        return [f"a module this needs is not installed: {exc.name}"], 2
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return [f"{exc.strerror or _first_line(exc)}{where}"], 2
    if isinstance(exc, RecursionError):
        return ["input nested too deeply"], 2
    return [f"internal error ({type(exc).__name__}): {_first_line(exc)}"], INTERNAL_ERROR


class GuardedGroup(TyperGroup):
    """A typer group whose subcommands' unexpected errors become one line (see module)."""

    def get_help_option(self, ctx: Any) -> Any:
        """The ``--help`` flag, False when not given (as in click) rather than None.

        Typer coerces every option value that is not already a bool through a pydantic
        ``TypeAdapter``; an absent root ``--help`` (None) therefore imported pydantic for every
        subcommand, ``spinemets cohort --help`` included (about 70 ms of start-up).
        """
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, EOFError, BrokenPipeError):
            raise  # typer's own handling: usage errors, exit codes, ^D, closed pipes
        except Exception as exc:  # the point of this class: never a traceback
            lines, code = describe(exc)
            for line in lines:
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(code) from exc
