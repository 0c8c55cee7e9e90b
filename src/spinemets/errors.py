"""Exceptions and warnings raised by spinemets.

The tree::

    SpinemetsError
    ├── InputError (ValueError)        bad input: names each field and its allowed values
    │   └── CaseFormatError            a case document that does not follow spinemets-case/1
    ├── UnknownScoreError (LookupError)  no score registered under that slug
    ├── ScoreUnavailableError          registered, deliberately not computable (unverified)
    └── DefinitionError                a clinical table file is malformed (a packaging bug)

    SpinemetsWarning (UserWarning)
    └── ProvisionalTableWarning        a result comes from a table not checked against its paper

Every ``InputError`` carries a list of :class:`ProblemDetail`, one per problem, so that the CLI,
the web API and the case loader can report all problems at once, each naming its field.

An input echoed back in a problem (its ``value``, or the value quoted inside its ``message``) is
cut to :data:`ECHO_LIMIT` characters with a note saying how long it was, so that a 5 MB field
is never printed back in full by the CLI, the API or the web forms (all build problems here).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ECHO_LIMIT",
    "CaseFormatError",
    "DefinitionError",
    "InputError",
    "ProblemDetail",
    "ProvisionalTableWarning",
    "ScoreUnavailableError",
    "SpinemetsError",
    "SpinemetsWarning",
    "UnknownScoreError",
]


#: Longest input echoed back in a problem; longer values are cut, with a note.
ECHO_LIMIT = 80


class SpinemetsError(Exception):
    """Base class of every error raised on purpose by spinemets."""


#: Longest message kept whole: a message that quotes a long input in a form not recognised
#: below is cut here (with a note) as a last resort.
MESSAGE_LIMIT = 400
_CUT = re.compile(r"\.\.\. \[truncated: [\d,]+ characters in all\]\Z")


def _echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with a note when it was longer (idempotent)."""
    if len(text) <= limit or _CUT.search(text[limit:]):
        return text
    return f"{text[:limit]}... [truncated: {len(text):,} characters in all]"


def _quoted_forms(value: Any) -> list[str]:
    if isinstance(value, str):
        return [repr(value), value]
    try:
        return [str(value)]
    except ValueError:  # an integer too long to print (Python's int-to-str digit limit)
        return ["<a number too long to print>"]


@dataclass(frozen=True, slots=True)
class ProblemDetail:
    """One problem with one input field.

    A long ``value`` (and that value quoted in ``message``) is cut to :data:`ECHO_LIMIT`
    characters with a note; the field name is cut the same way (it may echo a user's key).
    """

    field: str
    message: str
    value: Any = None
    allowed: Sequence[str] = dataclasses.field(default_factory=tuple)

    def __post_init__(self) -> None:
        value, message = self.value, self.message
        if value is not None and not isinstance(value, bool | float) and not (
                isinstance(value, int) and abs(value) < 10**ECHO_LIMIT):
            for form in _quoted_forms(value):
                if len(form) > ECHO_LIMIT and form in message:
                    message = message.replace(form, _echo(form))
            text = value if isinstance(value, str) else _quoted_forms(value)[0]
            if len(text) > ECHO_LIMIT:
                object.__setattr__(self, "value", _echo(text))
        object.__setattr__(self, "message", _echo(message, MESSAGE_LIMIT))
        object.__setattr__(self, "field", _echo(self.field))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.value is not None:
            out["value"] = self.value if isinstance(self.value, str | int | float | bool) else str(
                self.value
            )
        if self.allowed:
            out["allowed"] = list(self.allowed)
        return out

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}"
        if self.allowed:
            text += f" (allowed: {', '.join(self.allowed)})"
        return text


class InputError(SpinemetsError, ValueError):
    """One or more input values are impossible or malformed.

    ``problems`` lists every problem found; ``str(error)`` joins them, one per line.
    """

    def __init__(self, problems: Iterable[ProblemDetail]) -> None:
        self.problems: tuple[ProblemDetail, ...] = tuple(problems)
        if not self.problems:
            msg = "InputError needs at least one problem"
            raise ValueError(msg)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(
        cls,
        field: str,
        message: str,
        *,
        value: Any = None,
        allowed: Sequence[str] = (),
    ) -> InputError:
        return cls([ProblemDetail(field, message, value, tuple(allowed))])

    def prefixed(self, prefix: str) -> InputError:
        """The same problems with ``prefix`` put before each field name (``lesions[0].``)."""
        return type(self)(
            ProblemDetail(f"{prefix}{p.field}", p.message, p.value, p.allowed)
            for p in self.problems
        )

    def to_list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.problems]


class CaseFormatError(InputError):
    """A case document does not follow the ``spinemets-case/1`` format."""


class UnknownScoreError(SpinemetsError, LookupError):
    """No score is registered under the requested slug."""

    def __init__(self, slug: str, known: Sequence[str]) -> None:
        self.slug = slug
        self.known = tuple(known)
        super().__init__(f"unknown score {slug!r} (known: {', '.join(self.known)})")


class ScoreUnavailableError(SpinemetsError):
    """The score is registered but deliberately not computable; ``reason`` says why."""

    def __init__(self, slug: str, reason: str) -> None:
        self.slug = slug
        self.reason = reason
        super().__init__(f"score {slug!r} is unavailable: {reason}")


class DefinitionError(SpinemetsError):
    """A clinical table file is malformed (gaps in bands, unknown keys, ...)."""


class SpinemetsWarning(UserWarning):
    """Base class of spinemets warnings."""


class ProvisionalTableWarning(SpinemetsWarning):
    """A result was computed from a table not yet checked against its primary paper."""
