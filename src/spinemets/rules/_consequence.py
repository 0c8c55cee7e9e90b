"""Which missing inputs would change the plan, and how much (what the first screen lists).

The rules name every missing input that an undecided rule reads; some of those cannot change
anything (the rule would be overridden, or gives what another rule already gives). Each
candidate is filled, one at a time, with every allowed value of its field (numbers on a grid
over their allowed range, dates at a few ages), the plan's engine is run again, and the input
is kept only when some value changes the triage level, a treatment or work-up decision, a flag
or a score's band. The kept inputs are ordered by consequence: triage first, then a decision
(item or flag), then scores only; within a group, in the rules' order.

An input whose values cannot be listed (free text) is kept as it is: never hidden on a guess.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal, NamedTuple

from spinemets.case import Case, load_case
from spinemets.domain import ANALYTES
from spinemets.errors import SpinemetsError

__all__ = ["CONSEQUENCES", "Consequence", "clear_cache", "rank_unknowns"]

Consequence = Literal["triage", "decision", "score", "unlisted"]
#: Consequence groups in the order the first screen shows them.
CONSEQUENCES: Final[tuple[Consequence, ...]] = ("triage", "decision", "score", "unlisted")
#: Intervals of the grid tried over a number's range (9 values: an age every 16 years).
_NUMBER_STEPS: Final = 8
#: A whole number with at most this many allowed values is tried at every one of them.
_ALL_VALUES: Final = 12
#: Rankings remembered per (case, date, candidates): a results page, its print view and PDF of
#: one case version rank once. Plans are deterministic, so a remembered ranking is the same.
_CACHE_SIZE: Final = 256
_CACHE: OrderedDict[tuple[str, dt.date, tuple[str, ...]], tuple[tuple[str, Consequence], ...]] = (
    OrderedDict())
_CACHE_LOCK = threading.Lock()
_LESION: Final = re.compile(r"lesions\[(\d+)\]\.(.+)\Z")
#: Ages (days before the plan's date) tried for a missing date.
_DATE_AGES_DAYS: Final = (14, 120, 200, 400, 1200)


@dataclass(frozen=True)
class _Signature:
    triage: tuple[str, bool]
    decisions: frozenset[tuple[Any, ...]]
    scores: frozenset[tuple[Any, ...]]


@cache
def _schema() -> dict[str, Any]:
    return Case.model_json_schema()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


#: Keywords stated beside ``anyOf`` (an optional number's range) that apply to its options.
_RANGE_KEYS: Final = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _options(node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node)
    if "anyOf" in node:
        shared: dict[str, Any] = {k: node[k] for k in _RANGE_KEYS if k in node}
        return [{**o, **shared} if o.get("type") in ("integer", "number") else o
                for sub in node["anyOf"] for o in _options(sub) if o.get("type") != "null"]
    return [node]


def _field_schema(path: str) -> dict[str, Any] | None:
    """The schema of a case field path (``labs.creatinine``, ``lesions[0].pain``)."""
    node: dict[str, Any] | None = _schema()
    for part in path.replace("]", "").replace("[", ".").split("."):
        if node is None:
            return None
        if part.isdigit():
            items = [o for o in _options(node) if o.get("type") == "array"]
            node = items[0].get("items") if items else None
            continue
        objects = [o for o in _options(node) if "properties" in o]
        node = objects[0]["properties"].get(part) if objects else None
    return node


def _grid(option: dict[str, Any]) -> list[Any]:
    """The numbers tried for a field: every value when there are few (KPS, ECOG), the small
    counts and a spread for an open count, a grid over the range otherwise (the case format's
    schema states each range, ``minimum``/``maximum``/``multipleOf``)."""
    low = option.get("minimum", option.get("exclusiveMinimum", 0))
    high = option.get("maximum", option.get("exclusiveMaximum"))
    if option.get("type") == "integer":
        step = int(option.get("multipleOf", 1))
        if high is None:  # a count: the thresholds the scores use are small numbers
            return [low + step * i for i in (0, 1, 2, 3, 4, 5, 10, 50)]
        every = list(range(int(low), int(high) + 1, step))
        if len(every) <= _ALL_VALUES:
            return every
        return sorted({int(low + round((high - low) * i / _NUMBER_STEPS / step) * step)
                       for i in range(_NUMBER_STEPS + 1)} | set(every[:4]))
    if high is None:
        high = max(low, 0) + 200
    return [low + (high - low) * i / _NUMBER_STEPS for i in range(_NUMBER_STEPS + 1)]


def _values(path: str, today: dt.date) -> list[Any] | None:
    """Every allowed value of ``path`` to try (None: the values cannot be listed)."""
    node = _field_schema(path)
    if node is None:
        return None
    out: list[Any] = []
    for option in _options(node):
        kind = option.get("type")
        if "enum" in option:
            out.extend(v for v in option["enum"] if v != "unknown")
        elif kind == "boolean":
            out.extend([True, False])
        elif kind in ("integer", "number"):
            out.extend(_grid(option))
        elif kind == "string" and option.get("format") == "date":
            out.extend((today - dt.timedelta(days=d)).isoformat() for d in _DATE_AGES_DAYS)
        elif "properties" in option and set(option["properties"]) >= {"value", "unit"}:
            analyte = ANALYTES.get(path.rsplit(".", 1)[-1])
            if analyte is None:
                return None
            unit = next(iter(analyte.factors))  # the analyte's first accepted unit
            out.extend({"value": v, "unit": unit} for v in (0.5, 1.0, 1.5, 2.5, 5.0, 10.0))
        else:
            return None
    return out or None


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the case document with ``path`` set to ``value`` (sections copied on write)."""
    parts = path.replace("]", "").replace("[", ".").split(".")
    top: dict[str, Any] = dict(document)
    node: Any = top
    for part in parts[:-1]:
        key: Any = int(part) if part.isdigit() else part
        child = node[key] if not isinstance(node, dict) else node.get(key)
        child = list(child) if isinstance(child, list) else dict(child or {})
        node[key] = child
        node = child
    last = parts[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        value = {**node[last], **value}
    node[int(last) if last.isdigit() else last] = value
    return top


class _Base(NamedTuple):
    """A validated case and its JSON document (``case.model_dump(mode="json")``, or the
    document it was validated from): the variants of a case are built from both."""

    case: Case
    document: dict[str, Any]

    @classmethod
    def of(cls, case: Case) -> _Base:
        """``case`` with its JSON document (lesions left out stay unknown: ``null``)."""
        document = case.model_dump(mode="json")
        if not case.lesions_recorded:
            document["lesions"] = None  # unknown, not "no spinal lesion" (the dump gives [])
        return cls(case, document)


def _variant(base: _Base, path: str, value: Any) -> _Base:
    """``base`` with ``path`` set to ``value``: the case ``load_case(_with(base.document, path,
    value))`` gives, built validating only what changed. The section ``path`` is in (for a
    lesion's field, that lesion) is validated from the changed document; every other section
    is ``base.case``'s own validated model, which pydantic takes as it is, and the case-level
    checks (the number of lesions, one lesion per level) run as on any case. Equal to the
    whole validation (tested); a value the case format refuses raises the same error."""
    document = _with(base.document, path, value)
    case = base.case
    data: dict[str, Any] = {name: getattr(case, name) for name in type(case).model_fields}
    # left out or null, the lesions are unknown; a list (even empty) records them
    data["lesions"] = list(case.lesions) if case.lesions_recorded else None
    lesion = _LESION.match(path)
    if lesion is not None and data["lesions"] is not None and isinstance(
            document.get("lesions"), list):
        index = int(lesion.group(1))
        data["lesions"][index] = document["lesions"][index]
    else:
        section = path.split(".", 1)[0].split("[", 1)[0]
        data[section] = document.get(section)
    return _Base(load_case(data), document)


def rank_unknowns(case: Case, candidates: Iterable[str], today: dt.date,
                  signature: Callable[[Case], _Signature],
                  triage_level: Callable[[Case], tuple[str, bool]],
                  ) -> tuple[tuple[str, Consequence], ...]:
    """The candidates that can change the plan, each with its largest consequence, ordered.

    Every value is tried on the whole case: a lesion's field can change the other lesions'
    plans through the patient-level facts drawn from every lesion (worst SINS and ESCC, pain,
    fracture, number of lesions). Triage is checked first and alone (it reads no score); a
    full plan is run only when triage does not change, and stops at the first value that
    changes a decision.
    """
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        return ()
    base = _Base.of(case)
    key = (json.dumps(base.document, sort_keys=True, default=str), today, tuple(candidates))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    result = _rank(base, candidates, today, _memo(signature), triage_level)
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def clear_cache() -> None:
    """Forget remembered rankings (benchmarks time the cold path)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _memo(signature: Callable[[Case], _Signature]) -> Callable[[Case], _Signature]:
    """``signature`` remembered per case document within one ranking (joint fills repeat)."""
    seen: dict[Case, _Signature] = {}  # cases are frozen: hashed and compared by value

    def remembered(case: Case) -> _Signature:
        found = seen.get(case)
        if found is None:
            found = seen[case] = signature(case)
        return found
    return remembered


def _rank(case: _Base, candidates: list[str], today: dt.date,
          signature: Callable[[Case], _Signature],
          triage_level: Callable[[Case], tuple[str, bool]],
          ) -> tuple[tuple[str, Consequence], ...]:
    base: _Signature | None = None
    ranked: list[tuple[int, int, str, Consequence]] = []
    for position, path in enumerate(candidates):
        values = _values(path, today)
        variants = [] if values is None else list(_variants(case, path, values))
        if values is None or not variants:
            # values that cannot be listed, or none the case format takes: kept, never hidden
            ranked.append((CONSEQUENCES.index("unlisted"), position, path, "unlisted"))
            continue
        if base is None:
            try:
                base = signature(case.case)
            except SpinemetsError:  # a combination the scores refuse: kept, unranked
                ranked.append((CONSEQUENCES.index("unlisted"), position, path, "unlisted"))
                continue
        worst = _worst(base, variants, signature, triage_level)
        if worst is None:
            worst = _jointly(case, path, values, candidates=candidates, today=today,
                             signature=signature, triage_level=triage_level)
        if worst is not None:
            ranked.append((CONSEQUENCES.index(worst), position, path, worst))
    return tuple((path, kind) for _, _, path, kind in sorted(ranked))


def _group_of(path: str) -> int | None:
    """The lesion a field belongs to (None: a patient-level field)."""
    match = _LESION.match(path)
    return None if match is None else int(match.group(1))


def group_filled(case: _Base, path: str, candidates: Iterable[str], today: dt.date) -> _Base:
    """``case`` with the other ``candidates`` of ``path``'s group (the patient, or the same
    lesion) filled with a middle value of theirs (``case`` itself if none could be)."""
    group = _group_of(path)
    filled = case
    for other in candidates:
        options = _values(other, today)
        if other == path or _group_of(other) != group or not options:
            continue
        try:
            filled = _variant(filled, other, options[len(options) // 2])
        except SpinemetsError:  # a value the case format refuses is not used
            continue
    return filled


def _jointly(case: _Base, path: str, values: list[Any], *, candidates: list[str],
             today: dt.date, signature: Callable[[Case], _Signature],
             triage_level: Callable[[Case], tuple[str, bool]]) -> Consequence | None:
    """An input that changes nothing alone may need another missing input (a creatinine
    without a weight gives no clearance): try it again with the other missing inputs of the
    same group (the patient, or the same lesion) filled with a middle value of theirs."""
    filled = group_filled(case, path, candidates, today)
    if filled is case:
        return None
    try:
        base = signature(filled.case)
    except SpinemetsError:
        return None
    return _worst(base, list(_variants(filled, path, values)), signature, triage_level)


def _variants(case: _Base, path: str, values: list[Any]) -> Iterator[Case]:
    for value in values:
        try:
            yield _variant(case, path, value).case
        except SpinemetsError:  # a value the case format refuses is simply not tried
            continue


def _worst(base: _Signature, cases: list[Case], signature: Callable[[Case], _Signature],
           triage_level: Callable[[Case], tuple[str, bool]]) -> Consequence | None:
    if any(triage_level(variant) != base.triage for variant in cases):
        return "triage"
    worst: Consequence | None = None
    for variant in cases:
        try:
            other = signature(variant)
        except SpinemetsError:  # a combination the scores refuse is simply not tried
            continue
        if other.decisions != base.decisions:
            return "decision"
        if other.scores != base.scores:
            worst = "score"
    return worst
