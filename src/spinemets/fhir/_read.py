"""Small readers over FHIR JSON: references, codings, dates, structural checks of a Bundle."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from spinemets.errors import InputError, ProblemDetail

__all__ = [
    "BUNDLE_TYPES",
    "LIMITS",
    "BundleFormatError",
    "Limits",
    "check_bundle",
    "check_resource",
    "codings",
    "hostile_shape",
    "parse_fhir_datetime",
    "texts",
]

#: Bundle types the importer reads (R4 ``Bundle.type`` codes, as enumerated by the R4 schema).
BUNDLE_TYPES = ("searchset", "collection", "transaction")


@dataclass(frozen=True, slots=True)
class Limits:
    """Shape limits checked before any model sees the JSON (hostile input: deep or huge).

    Real records stay far inside them: the deepest element of an mCODE or Synthea resource is
    about 10 levels below ``Bundle``, the longest list other than ``Bundle.entry`` a few dozen.
    """

    depth: int = 48  # nesting of objects and lists below the Bundle
    array: int = 5_000  # items in any list other than Bundle.entry
    entries: int = 20_000  # Bundle.entry
    nodes: int = 2_000_000  # objects, lists and values in all


LIMITS = Limits()


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


def hostile_shape(data: object, *, limits: Limits = LIMITS, top: str = "bundle") -> (
        ProblemDetail | None):
    """The first shape limit ``data`` breaks (too deep, a list too long, too many nodes).

    Walks the JSON without recursion, so a body nested thousands deep cannot exhaust the stack;
    paths are built only to name a problem once one is found.
    """
    if _walk(data, limits, None) is None:
        return None
    return _walk(data, limits, top)


def _walk(data: object, limits: Limits, top: str | None) -> ProblemDetail | None:
    stack: list[tuple[object, int, str]] = [(data, 0, top or "")]
    nodes = 0
    while stack:
        item, depth, path = stack.pop()
        nodes += 1
        if nodes > limits.nodes:
            return ProblemDetail(top or "", f"more than {limits.nodes} JSON values: too large")
        if depth > limits.depth:
            return ProblemDetail(path, f"nested more than {limits.depth} levels deep")
        if isinstance(item, Mapping):
            if top is None:
                stack.extend((v, depth + 1, "") for v in item.values())
            else:
                stack.extend((v, depth + 1, f"{path}.{k}") for k, v in item.items())
            continue
        if not isinstance(item, list):
            continue
        cap = limits.entries if depth == 1 else limits.array  # Bundle.entry and its siblings
        if len(item) > cap:
            return ProblemDetail(path, f"{len(item)} items: at most {cap} allowed")
        if top is None:
            stack.extend((v, depth + 1, "") for v in item)
        else:
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(item))
    return None


def _pydantic_problems(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[
        ProblemDetail]:
    problems = []
    for error in exc.errors():
        loc = prefix + tuple(part for part in error["loc"] if not (
            isinstance(part, str) and part.startswith(("function-", "model-"))))
        value = error.get("input")
        shown = value if isinstance(value, str | int | float | bool) else None
        problems.append(ProblemDetail(_path(loc), str(error["msg"])[:300], shown))
    return problems


def _model_class(kind: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class  # noqa: PLC0415 - heavy

    try:
        return get_fhir_model_class(kind)
    except (ValueError, KeyError, ImportError, AttributeError):
        return None


def check_resource(resource: object, *, where: str = "resource") -> list[ProblemDetail]:
    """Problems of one resource: shape limits, unknown ``resourceType``, the R4B model."""
    if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
        return [ProblemDetail(where, "a resource needs a resourceType")]
    shape = hostile_shape(resource, top=where)
    if shape is not None:
        return [shape]
    kind = resource["resourceType"]
    model = _model_class(kind)
    if model is None or kind == "Bundle":
        return [ProblemDetail(f"{where}.resourceType", "not a FHIR R4 resource type read here",
                              kind[:100])]
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        return [ProblemDetail(f"{where}.{p.field}" if p.field != "bundle" else where,
                              p.message, p.value) for p in _pydantic_problems(exc)]
    except (RecursionError, ValueError, TypeError) as exc:
        return [ProblemDetail(where, f"cannot be read as a FHIR resource ({type(exc).__name__})")]
    return []


def _model_problems(data: Mapping[str, Any]) -> list[ProblemDetail]:
    from fhir.resources.R4B.bundle import Bundle  # noqa: PLC0415 - heavy, lazily imported

    try:
        Bundle.model_validate(dict(data))
    except ValidationError as exc:
        return _pydantic_problems(exc)
    except (RecursionError, ValueError, TypeError, KeyError) as exc:
        return [ProblemDetail("bundle", f"cannot be read as a FHIR Bundle "
                              f"({type(exc).__name__})")]
    return []


def check_bundle(data: object, *, limits: Limits = LIMITS) -> Mapping[str, Any]:
    """``data`` if it is a readable R4 Bundle; :class:`BundleFormatError` otherwise.

    The shape comes first (nesting depth, list lengths, size: hostile input is refused before
    any model sees it), then the envelope (resourceType, type, entries with a resource of a
    known type), then the whole Bundle against the R4B models of ``fhir.resources``; each
    problem names its path, e.g. ``entry[3].resource.valueQuantity.value``.
    """
    if not isinstance(data, Mapping):
        raise BundleFormatError.single("bundle", "a FHIR Bundle must be a JSON object",
                                       value=type(data).__name__)
    shape = hostile_shape(data, limits=limits, top="bundle")
    if shape is not None:
        raise BundleFormatError([ProblemDetail(shape.field.removeprefix("bundle.") or "bundle",
                                               shape.message)])
    if data.get("resourceType") != "Bundle":
        raise BundleFormatError.single("resourceType", "must be \"Bundle\"",
                                       value=_shown(data.get("resourceType")), allowed=("Bundle",))
    if data.get("type") not in BUNDLE_TYPES:
        raise BundleFormatError.single("type", "this Bundle type is not imported",
                                       value=_shown(data.get("type")), allowed=BUNDLE_TYPES)
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise BundleFormatError.single("entry", "must be a list of entries")
    problems = _entry_problems(entries)
    if problems:
        raise BundleFormatError(problems[:50])
    problems = _model_problems(data)
    if problems:
        raise BundleFormatError(problems[:50])
    return data


def _entry_problems(entries: list[Any]) -> list[ProblemDetail]:
    problems = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"),
                                                                str):
            problems.append(ProblemDetail(f"entry[{index}].resource",
                                          "each entry needs a resource with a resourceType"))
        elif _model_class(resource["resourceType"]) is None:
            problems.append(ProblemDetail(f"entry[{index}].resource.resourceType",
                                          "not a FHIR R4 resource type",
                                          resource["resourceType"][:100]))
    return problems


def _shown(value: object) -> object:
    return value[:100] if isinstance(value, str) else (
        value if isinstance(value, int | float | bool) or value is None else type(value).__name__)
