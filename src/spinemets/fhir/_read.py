"""Small readers over FHIR JSON: references, codings, dates, structural checks of a Bundle."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from spinemets.errors import InputError, ProblemDetail

__all__ = [
    "BUNDLE_TYPES",
    "BundleFormatError",
    "check_bundle",
    "codings",
    "parse_fhir_datetime",
    "texts",
]

#: Bundle types the importer reads (R4 ``Bundle.type`` codes, as enumerated by the R4 schema).
BUNDLE_TYPES = ("searchset", "collection", "transaction")


class BundleFormatError(InputError):
    """A FHIR Bundle that cannot be read: each problem names the entry and element path."""


def codings(concept: object) -> Iterator[tuple[str, str, str]]:
    """``(system, code, display)`` of each coding of a CodeableConcept (blank when absent)."""
    if not isinstance(concept, Mapping):
        return
    for coding in concept.get("coding") or ():
        if isinstance(coding, Mapping):
            yield (str(coding.get("system") or ""), str(coding.get("code") or ""),
                   str(coding.get("display") or ""))


def texts(concept: object) -> list[str]:
    """The text and coding displays of a CodeableConcept, text first."""
    if not isinstance(concept, Mapping):
        return []
    out = [str(concept["text"])] if concept.get("text") else []
    out.extend(display for _, _, display in codings(concept) if display)
    return out


_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_fhir_datetime(value: object) -> dt.datetime | None:
    """A FHIR date / dateTime / instant as an aware datetime (UTC when no zone is given).

    Partial dates (``2024``, ``2024-05``) are read as the first day of that period.
    """
    if not isinstance(value, str):
        return None
    partial = _PARTIAL.match(value)
    if partial:
        return dt.datetime(int(partial[1]), int(partial[2] or 1), 1, tzinfo=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "bundle"


def _model_problems(data: Mapping[str, Any]) -> list[ProblemDetail]:
    from fhir.resources.R4B.bundle import Bundle  # noqa: PLC0415 - heavy, lazily imported

    try:
        Bundle.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if not (
                isinstance(part, str) and part.startswith(("function-", "model-"))))
            value = error.get("input")
            shown = value if isinstance(value, str | int | float | bool) else None
            problems.append(ProblemDetail(_path(loc), str(error["msg"]), shown))
        return problems
    return []


def check_bundle(data: object) -> Mapping[str, Any]:
    """``data`` if it is a readable R4 Bundle; :class:`BundleFormatError` otherwise.

    The envelope is checked first (resourceType, type, entries with a resource), then the whole
    Bundle against the R4B models of ``fhir.resources``; each problem names its path, e.g.
    ``entry[3].resource.valueQuantity.value``.
    """
    if not isinstance(data, Mapping):
        raise BundleFormatError.single("bundle", "a FHIR Bundle must be a JSON object",
                                       value=type(data).__name__)
    if data.get("resourceType") != "Bundle":
        raise BundleFormatError.single("resourceType", "must be \"Bundle\"",
                                       value=data.get("resourceType"), allowed=("Bundle",))
    if data.get("type") not in BUNDLE_TYPES:
        raise BundleFormatError.single("type", "this Bundle type is not imported",
                                       value=data.get("type"), allowed=BUNDLE_TYPES)
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise BundleFormatError.single("entry", "must be a list of entries")
    problems = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"),
                                                                str):
            problems.append(ProblemDetail(f"entry[{index}].resource",
                                          "each entry needs a resource with a resourceType"))
    if problems:
        raise BundleFormatError(problems)
    problems = _model_problems(data)
    if problems:
        raise BundleFormatError(problems)
    return data
