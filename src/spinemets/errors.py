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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
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


class SpinemetsError(Exception):
    """Base class of every error raised on purpose by spinemets."""


@dataclass(frozen=True, slots=True)
class ProblemDetail:
    """One problem with one input field."""

    field: str
    message: str
    value: Any = None
    allowed: Sequence[str] = dataclasses.field(default_factory=tuple)

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
