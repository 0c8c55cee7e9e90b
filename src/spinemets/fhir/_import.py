"""FHIR R4 Bundle -> ``spinemets-case/1``, with the source of every value and a report.

Nothing the Bundle does not say is filled in: a field with no usable resource stays unknown.
Every resource and element that is not used is reported with the reason (unknown code,
unsupported unit, ambiguous level, superseded by a newer observation, stale, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from spinemets.case import Case, load_case
from spinemets.domain import catalogue, level_index, parse_lab, parse_level
from spinemets.domain._levels import LEVELS
from spinemets.errors import CaseFormatError, InputError, ProblemDetail
from spinemets.fhir._codes import ITEM_UNITS, CaseItem, case_items, terminology
from spinemets.fhir._read import (
    BundleFormatError,
    check_bundle,
    codings,
    parse_fhir_datetime,
    texts,
)

__all__ = ["ImportResult", "Mapped", "Reason", "Unused", "Windows", "import_bundle"]


class Reason(StrEnum):
    """Why a resource or element was not used."""

    UNKNOWN_CODE = "unknown_code"
    UNSUPPORTED_UNIT = "unsupported_unit"
    INVALID_VALUE = "invalid_value"
    AMBIGUOUS_LEVEL = "ambiguous_level"
    AMBIGUOUS = "ambiguous"
    SUPERSEDED = "superseded"
    STALE = "stale"
    NO_DATE = "no_date"
    CONFLICT = "conflict"
    STATUS = "status"
    NOT_IN_CASE_FORMAT = "not_in_case_format"
    DERIVED = "derived"
    UNSUPPORTED_RESOURCE = "unsupported_resource"
    NO_LESION = "no_lesion"


@dataclass(frozen=True, slots=True)
class Windows:
    """How old an observation may be before it is stale (days)."""

    labs_days: int = 30
    performance_days: int = 14


@dataclass(frozen=True, slots=True)
class Mapped:
    """One case value and where it came from."""

    field: str  # case path: "labs.albumin", "lesions[0].pain"
    value: Any
    source: str  # "Observation/abc"
    element: str  # "valueQuantity"
    date: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "value": self.value, "source": self.source,
               "element": self.element, "date": self.date}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Unused:
    """One resource or element not used, and why."""

    source: str
    element: str
    reason: Reason
    detail: str
    date: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "element": self.element, "reason": str(self.reason),
                "detail": self.detail, "date": self.date, "field": self.field}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The imported case, the source of each value and everything not used."""

    case: Case
    document: dict[str, Any]
    mapped: tuple[Mapped, ...]
    unused: tuple[Unused, ...]
    as_of: dt.datetime

    @property
    def stale(self) -> tuple[Unused, ...]:
        """Observations left out because they are older than the window (can be accepted)."""
        return tuple(u for u in self.unused if u.reason in {Reason.STALE, Reason.NO_DATE})

    def to_dict(self) -> dict[str, Any]:
        """The import report: ``case``, ``provenance`` (per field) and ``unused``."""
        return {"format": "spinemets-fhir-import/1", "as_of": self.as_of.isoformat(),
                "case": self.document,
                "provenance": [m.to_dict() for m in self.mapped],
                "unused": [u.to_dict() for u in self.unused]}


@dataclass
class _Candidate:
    key: str  # field key; lesion fields "lesion:<condition ref>:pain"
    value: Any
    source: str
    element: str
    when: dt.datetime | None
    window: int | None  # days; None = no recency check
    error: tuple[Reason, str] | None = None
    note: str | None = None


@dataclass
class _Lesion:
    ref: str
    levels: list[str]
    element: str


@dataclass
class _State:
    as_of: dt.datetime
    windows: Windows
    accept: Collection[str] | bool
    refs: dict[str, str] = field(default_factory=dict)  # fullUrl / Type/id -> source name
    candidates: list[_Candidate] = field(default_factory=list)
    unused: list[Unused] = field(default_factory=list)
    direct: list[Mapped] = field(default_factory=list)
    lesions: list[_Lesion] = field(default_factory=list)
    primaries: list[tuple[str, str, str]] = field(default_factory=list)  # (id, source, element)
    procedures: list[tuple[str, list[str], str]] = field(default_factory=list)

    def report(self, source: str, element: str, reason: Reason, detail: str,
               *, when: dt.datetime | None = None, key: str | None = None) -> None:
        self.unused.append(Unused(source, element, reason, detail,
                                  when.isoformat() if when else None, key))

    def accepted(self, source: str) -> bool:
        return self.accept is True or (not isinstance(self.accept, bool)
                                       and source in self.accept)


def _name(resource: Mapping[str, Any], index: int) -> str:
    kind = str(resource.get("resourceType"))
    rid = resource.get("id")
    return f"{kind}/{rid}" if rid else f"{kind} (entry[{index}])"


def _when(resource: Mapping[str, Any]) -> tuple[dt.datetime | None, str]:
    for element in ("effectiveDateTime", "effectiveInstant"):
        if resource.get(element):
            return parse_fhir_datetime(resource[element]), element
    period = resource.get("effectivePeriod")
    if isinstance(period, Mapping):
        for part in ("end", "start"):
            if period.get(part):
                return parse_fhir_datetime(period[part]), f"effectivePeriod.{part}"
    if resource.get("issued"):
        return parse_fhir_datetime(resource["issued"]), "issued"
    return None, ""


# -- observations -------------------------------------------------------------------------------


_OBS_VALUES = ("valueBoolean", "valueInteger", "valueString", "valueDateTime", "valueQuantity",
               "valueCodeableConcept")


def _plain_value(resource: Mapping[str, Any]) -> tuple[str, Any] | None:
    for element in _OBS_VALUES:
        if element in resource:
            value = resource[element]
            if element == "valueQuantity":
                unit = value.get("code") if value.get("system") == terminology().ucum else None
                if unit is None:
                    return element, _NoUcum(value.get("unit"))
                return element, {"value": value.get("value"), "unit": unit}
            if element == "valueCodeableConcept":
                return element, _Uncoded(texts(value))
            return element, value
    return None


@dataclass(frozen=True)
class _NoUcum:
    unit: object


@dataclass(frozen=True)
class _Uncoded:
    texts: list[str]


def _observation(state: _State, resource: Mapping[str, Any], name: str) -> None:
    if resource.get("status") in {"entered-in-error", "cancelled"}:
        state.report(name, "status", Reason.STATUS, f"status is {resource['status']}")
        return
    when, _ = _when(resource)
    t = terminology()
    for system, code, _display in codings(resource.get("code")):
        handler = None
        if system == t.loinc:
            handler = _loinc_handler(code)
        elif system == t.project:
            handler = _project_handler(code)
        if handler is not None:
            handler(state, resource, name, when)
            return
    shown = ", ".join(f"{s}|{c}" for s, c, _ in codings(resource.get("code"))) or ", ".join(
        texts(resource.get("code"))) or "no code"
    state.report(name, "code", Reason.UNKNOWN_CODE, f"observation code not mapped ({shown})",
                 when=when)


Handler = Any


def _loinc_handler(code: str) -> Handler | None:
    t = terminology()
    for key, row in t.performance.items():
        if row["code"] == code:
            return lambda s, r, n, w, k=key: _performance(s, r, n, w, k)
    if code in t.labs:
        analyte = t.labs[code]["analyte"]
        return lambda s, r, n, w: _lab(s, r, n, w, analyte)
    if code == t.body["weight"]["code"]:
        return _weight
    if code == t.body["height"]["code"]:
        return lambda s, r, n, w: s.report(n, "code", Reason.NOT_IN_CASE_FORMAT,
                                           "body height: the case format has no height field",
                                           when=w)
    return None


def _performance(state: _State, resource: Mapping[str, Any], name: str,
                 when: dt.datetime | None, key: str) -> None:
    value = resource.get("valueInteger")
    cand = _Candidate(f"performance.{key}", value, name, "valueInteger", when,
                      state.windows.performance_days)
    if value is None:
        present = _plain_value(resource)
        cand.error = (Reason.INVALID_VALUE,
                      f"{key.upper()} must be given as valueInteger"
                      + (f" (found {present[0]})" if present else " (no value)"))
    state.candidates.append(cand)


def _lab(state: _State, resource: Mapping[str, Any], name: str, when: dt.datetime | None,
         analyte: str) -> None:
    cand = _Candidate(f"labs.{analyte}", None, name, "valueQuantity", when,
                      state.windows.labs_days)
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        cand.error = (Reason.INVALID_VALUE, f"{analyte}: no valueQuantity with a value")
    elif quantity.get("system") != terminology().ucum or not quantity.get("code"):
        cand.error = (Reason.UNSUPPORTED_UNIT,
                      f"{analyte}: unit {quantity.get('unit')!r} is not coded in UCUM")
    else:
        given = {"value": quantity["value"], "unit": quantity["code"]}
        try:
            lab = parse_lab(analyte, given)
        except InputError as exc:
            problem = exc.problems[0]
            reason = Reason.UNSUPPORTED_UNIT if problem.field.endswith(".unit") else (
                Reason.INVALID_VALUE)
            cand.error = (reason, problem.message)
        else:
            cand.value = given
            cand.note = lab.describe()
    state.candidates.append(cand)


def _weight(state: _State, resource: Mapping[str, Any], name: str,
            when: dt.datetime | None) -> None:
    t = terminology()
    cand = _Candidate("patient.weight_kg", None, name, "valueQuantity", when,
                      state.windows.labs_days)
    quantity = resource.get("valueQuantity")
    quantity = quantity if isinstance(quantity, Mapping) else {}
    unit = str(quantity.get("code"))
    value = quantity.get("value")
    if value is None:
        cand.error = (Reason.INVALID_VALUE, "body weight: no valueQuantity with a value")
    elif quantity.get("system") != t.ucum or unit not in t.weight_units:
        cand.error = (Reason.UNSUPPORTED_UNIT,
                      f"body weight: unit {unit!r} is not one of {sorted(t.weight_units)} "
                      "(UCUM)")
    else:
        kg = Decimal(str(value)) * t.weight_units[unit]
        cand.value = float(kg)
        if unit != "kg":
            cand.note = f"{value} {unit} = {kg.quantize(Decimal('0.1'))} kg"
    state.candidates.append(cand)


def _project_handler(code: str) -> Handler | None:
    from spinemets.scores import registry  # noqa: PLC0415

    if code.split(".", maxsplit=1)[0] in registry():
        return lambda s, r, n, w: s.report(
            n, "code", Reason.DERIVED, f"a spinemets result ({code}): recomputed, not imported",
            when=w)
    item = {i.code: i for i in case_items()}.get(code)
    if item is None:
        return None
    return lambda s, r, n, w: _item(s, r, n, w, item)


def _item(state: _State, resource: Mapping[str, Any], name: str, when: dt.datetime | None,
          item: CaseItem) -> None:
    key = ".".join(item.path)
    if item.lesion:
        lesion = _lesion_of(state, resource)
        if lesion is None:
            state.report(name, "focus", Reason.NO_LESION,
                         f"{item.code}: no lesion Condition in the Bundle for this observation",
                         when=when)
            return
        key = f"lesion:{lesion}:{item.path[0]}"
    found = _plain_value(resource)
    cand = _Candidate(key, None, name, found[0] if found else "value[x]", when,
                      state.windows.labs_days)
    if found is None:
        cand.error = (Reason.INVALID_VALUE, f"{item.code}: no value")
    elif isinstance(found[1], _NoUcum):
        cand.error = (Reason.UNSUPPORTED_UNIT, f"{item.code}: unit {found[1].unit!r} is not "
                      "coded in UCUM")
    elif isinstance(found[1], _Uncoded):
        cand.error = (Reason.INVALID_VALUE, f"{item.code}: a coded value is not read here")
    elif found[0] == "valueQuantity" and item.path[0] != "labs":
        unit = ITEM_UNITS.get(item.code)
        if found[1]["unit"] != unit:
            cand.error = (Reason.UNSUPPORTED_UNIT, f"{item.code}: unit {found[1]['unit']!r} "
                          f"is not {unit!r} (UCUM)")
        else:
            cand.value = found[1]["value"]
    else:
        cand.value = found[1]
    state.candidates.append(cand)


def _lesion_of(state: _State, resource: Mapping[str, Any]) -> str | None:
    for ref in resource.get("focus") or ():
        target = state.refs.get(str(ref.get("reference", ""))) if isinstance(ref, Mapping) else None
        if target is not None and any(lesion.ref == target for lesion in state.lesions):
            return target
    return None


# -- conditions and procedures ------------------------------------------------------------------


def _is_secondary(resource: Mapping[str, Any]) -> bool:
    t = terminology()
    wanted = {(t.snomed, t.secondary["snomed"]["code"]),
              (t.icd10cm, t.secondary["icd10cm"]["code"])}
    return any((s, c) in wanted for s, c, _ in codings(resource.get("code")))


def parse_levels(text: str) -> list[str] | None:
    """``"T12"``, ``"T11-T12"``, ``"T12 vertebra"``: the levels named, or None if unclear."""
    words = text.replace("vertebra", " ").replace("–", "-").strip().split()
    if len(words) != 1:
        return None
    first, _, last = words[0].partition("-")
    try:
        start = parse_level(first)
        end = parse_level(last) if last else start
    except InputError:
        return None
    low, high = level_index(start), level_index(end)
    if low > high:
        return None
    return list(LEVELS[low:high + 1])


def _site_levels(state: _State, resource: Mapping[str, Any], name: str) -> list[str]:
    levels: list[str] = []
    for index, site in enumerate(resource.get("bodySite") or ()):
        names = texts(site)
        parsed = [p for p in (parse_levels(t) for t in names) if p is not None]
        if not parsed or any(p != parsed[0] for p in parsed):
            state.report(name, f"bodySite[{index}]", Reason.AMBIGUOUS_LEVEL,
                         f"body site {names[0] if names else '(no text)'!r} does not name one "
                         "vertebral level or range (O, C1-C7, T1-T12, L1-L5, S1-S5)")
            continue
        levels.extend(level for level in parsed[0] if level not in levels)
    return levels


def _secondary(state: _State, resource: Mapping[str, Any], name: str) -> None:
    if not resource.get("bodySite"):
        state.report(name, "bodySite", Reason.AMBIGUOUS_LEVEL,
                     "secondary cancer without a body site: not placed at a vertebral level")
        return
    levels = _site_levels(state, resource, name)
    if not levels:
        return
    for lesion in state.lesions:
        clash = set(levels) & set(lesion.levels)
        if clash:
            state.report(name, "bodySite", Reason.AMBIGUOUS_LEVEL,
                         f"level {sorted(clash)[0]} is already a lesion in {lesion.ref}: a "
                         "level belongs to one lesion")
            return
    state.lesions.append(_Lesion(name, levels, "bodySite"))


def _histology_of(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    t = terminology()
    for system, code, _ in codings(resource.get("code")):
        if system == t.project and code.startswith("histology."):
            hid = code.removeprefix("histology.")
            if hid in catalogue():
                return hid, "code.coding"
    by_name = {h.label.lower(): h.id for h in catalogue().values()}
    by_name.update({h.id: h.id for h in catalogue().values()})
    for text in texts(resource.get("code")):
        named = by_name.get(text.strip().lower())
        if named is not None:
            return named, "code.text"
    return None


def _condition(state: _State, resource: Mapping[str, Any], name: str) -> None:
    if _is_secondary(resource):
        _secondary(state, resource, name)
        return
    found = _histology_of(resource)
    if found is None:
        shown = ", ".join(texts(resource.get("code"))) or "no text"
        state.report(name, "code", Reason.UNKNOWN_CODE,
                     f"condition not mapped: neither a secondary cancer (SNOMED CT 128462008, "
                     f"ICD-10-CM C79.51) nor a primary in the histology catalogue ({shown})")
        return
    state.primaries.append((found[0], name, found[1]))


def _procedure(state: _State, resource: Mapping[str, Any], name: str) -> None:
    if resource.get("status") in {"not-done", "entered-in-error"}:
        state.report(name, "status", Reason.STATUS, f"status is {resource['status']}")
        return
    words = " ".join(texts(resource.get("code"))).lower()
    t = terminology()
    if any(w in words.split() or w in words for w in t.procedure_words["radiotherapy"]):
        levels = _site_levels(state, resource, name)
        state.procedures.append((name, levels, "code.text"))
        return
    if any(w in words for w in t.procedure_words["surgery"]):
        state.report(name, "code", Reason.NOT_IN_CASE_FORMAT,
                     "prior spinal surgery: the case format has no prior-surgery field")
        return
    state.report(name, "code", Reason.UNKNOWN_CODE,
                 f"procedure not recognised ({words or 'no text'})")


# -- resolution ---------------------------------------------------------------------------------


def _stale(state: _State, cand: _Candidate) -> str | None:
    if cand.window is None:
        return None
    if cand.when is None:
        return "no date: its recency cannot be checked"
    age = state.as_of - cand.when
    if age > dt.timedelta(days=cand.window):
        return f"{age.days} days old (window {cand.window} days)"
    return None


def _resolve(state: _State, group: list[_Candidate]) -> _Candidate | None:
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    group.sort(key=lambda c: c.when or oldest, reverse=True)
    newest = group[0]
    shown = newest.when.date().isoformat() if newest.when else "undated"
    for older in group[1:]:
        state.report(older.source, older.element, Reason.SUPERSEDED,
                     f"superseded by {newest.source} ({shown})", when=older.when, key=older.key)
    if newest.error is not None:
        state.report(newest.source, newest.element, newest.error[0], newest.error[1],
                     when=newest.when, key=newest.key)
        return None
    same_time = [c for c in group[1:] if c.when == newest.when and c.value != newest.value]
    if same_time:
        state.report(newest.source, newest.element, Reason.CONFLICT,
                     f"conflicts with {same_time[0].source} at the same time",
                     when=newest.when, key=newest.key)
        return None
    stale = _stale(state, newest)
    if stale is not None and not state.accepted(newest.source):
        reason = Reason.NO_DATE if newest.when is None else Reason.STALE
        state.report(newest.source, newest.element, reason, f"not used: {stale}",
                     when=newest.when, key=newest.key)
        return None
    if stale is not None:
        newest.note = ((newest.note + "; ") if newest.note else "") + f"accepted although {stale}"
    return newest


def _place(case: dict[str, Any], lesion_index: dict[str, int], cand: _Candidate) -> str:
    """Put a candidate's value into the case document; return its case path."""
    if cand.key.startswith("lesion:"):
        _, ref, name = cand.key.split(":", 2)
        index = lesion_index[ref]
        case["lesions"][index][name] = cand.value
        return f"lesions[{index}].{name}"
    target = case
    path = cand.key.split(".")
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = cand.value
    return cand.key


def _apply_primaries(state: _State, case: dict[str, Any]) -> None:
    ids = {hid for hid, _, _ in state.primaries}
    if len(ids) > 1:
        for hid, source, element in state.primaries:
            state.report(source, element, Reason.AMBIGUOUS,
                         f"more than one primary cancer in the Bundle ({', '.join(sorted(ids))})"
                         f": {hid} not used")
        return
    for position, (hid, source, element) in enumerate(state.primaries):
        if position:
            state.report(source, element, Reason.SUPERSEDED, f"same primary ({hid}) as "
                         f"{state.primaries[0][1]}")
            continue
        case.setdefault("cancer", {})["primary"] = hid
        state.direct.append(Mapped("cancer.primary", hid, source, element))


def _apply_procedures(state: _State, case: dict[str, Any],
                      lesion_index: dict[str, int]) -> None:
    for source, levels, element in state.procedures:
        hits = [lesion for lesion in state.lesions if set(lesion.levels) & set(levels)]
        if not hits:
            state.report(source, "bodySite", Reason.NO_LESION,
                         "prior radiotherapy at a level with no lesion in the Bundle")
            continue
        for lesion in hits:
            index = lesion_index[lesion.ref]
            current = case["lesions"][index].get("prior_radiotherapy")
            if current is False:
                state.report(source, element, Reason.CONFLICT,
                             f"lesions[{index}].prior_radiotherapy is recorded as no elsewhere")
                continue
            case["lesions"][index]["prior_radiotherapy"] = True
            state.direct.append(Mapped(f"lesions[{index}].prior_radiotherapy", True, source,
                                       f"{element}, bodySite"))


def _patient(state: _State, resource: Mapping[str, Any], name: str) -> None:
    gender = resource.get("gender")
    if gender is not None:
        state.direct.append(Mapped("patient.sex", gender, name, "gender"))
    birth = resource.get("birthDate")
    if birth is None:
        return
    try:
        born = dt.date.fromisoformat(birth)
    except ValueError:
        state.report(name, "birthDate", Reason.INVALID_VALUE,
                     f"birth date {birth!r} is not a full date: age not computed")
        return
    today = state.as_of.date()
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    state.direct.append(Mapped("patient.age_years", float(years), name, "birthDate",
                               note=f"age on {today.isoformat()}"))


_READERS = {"Observation": _observation, "Condition": _condition, "Procedure": _procedure}
_DERIVED = {"CarePlan", "Provenance", "CodeSystem"}


def _scan(state: _State, entries: list[tuple[int, Mapping[str, Any], str]]) -> None:
    patients = [(i, r, n) for i, r, n in entries if r["resourceType"] == "Patient"]
    if len(patients) > 1:
        raise BundleFormatError([
            ProblemDetail(f"entry[{i}].resource", "the Bundle holds more than one Patient: "
                          "import one patient at a time", n) for i, _, n in patients])
    for _, resource, name in patients:
        _patient(state, resource, name)
    # Conditions first: lesion observations and procedures refer to them.
    order = sorted(entries, key=lambda e: e[1]["resourceType"] != "Condition")
    for _, resource, name in order:
        kind = resource["resourceType"]
        if kind == "Patient":
            continue
        reader = _READERS.get(kind)
        if reader is not None:
            reader(state, resource, name)
        elif kind in _DERIVED:
            state.report(name, "resourceType", Reason.DERIVED,
                         f"{kind}: spinemets output or metadata, not case input")
        else:
            state.report(name, "resourceType", Reason.UNSUPPORTED_RESOURCE,
                         f"{kind} resources are not read")


def _build(state: _State, bundle: Mapping[str, Any]) -> tuple[dict[str, Any], list[Mapped]]:
    case: dict[str, Any] = {"format": "spinemets-case/1"}
    identifier = bundle.get("identifier")
    if isinstance(identifier, Mapping) and identifier.get("system") == terminology().case_ref:
        case["id"] = identifier.get("value")
    mapped = list(state.direct)
    for item in mapped:
        _place(case, {}, _Candidate(item.field, item.value, "", "", None, None))
    lesion_index = {lesion.ref: i for i, lesion in enumerate(state.lesions)}
    if state.lesions:
        case["lesions"] = [{"levels": list(lesion.levels)} for lesion in state.lesions]
        mapped.extend(Mapped(f"lesions[{i}].levels", list(lesion.levels), lesion.ref,
                             lesion.element) for i, lesion in enumerate(state.lesions))
    _apply_primaries(state, case)
    groups: dict[str, list[_Candidate]] = {}
    for cand in state.candidates:
        groups.setdefault(cand.key, []).append(cand)
    for group in groups.values():
        winner = _resolve(state, group)
        if winner is not None:
            path = _place(case, lesion_index, winner)
            mapped.append(Mapped(path, winner.value, winner.source, winner.element,
                                 winner.when.isoformat() if winner.when else None, winner.note))
    before = len(state.direct)
    _apply_procedures(state, case, lesion_index)
    mapped.extend(state.direct[before:])
    mapped.extend(m for m in state.direct[:before] if m.field == "cancer.primary")
    return case, mapped


def _drop(case: dict[str, Any], path: str) -> None:
    parts = path.replace("[", ".[").split(".")
    target: Any = case
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    target.pop(parts[-1], None)


def _validated(state: _State, case: dict[str, Any], mapped: list[Mapped]) -> Case:
    for _ in range(len(mapped) + 1):
        try:
            return load_case(case)
        except CaseFormatError as exc:
            bad = [m for m in mapped for p in exc.problems
                   if p.field == m.field or p.field.startswith((m.field + ".", m.field + "["))]
            if not bad:
                raise
            for m in bad:
                _drop(case, m.field)
                mapped.remove(m)
                message = next(p.message for p in exc.problems if p.field.startswith(m.field))
                state.report(m.source, m.element, Reason.INVALID_VALUE,
                             f"{m.field}: {message}", key=m.field)
    return load_case(case)  # pragma: no cover - the loop always returns or raises first


def import_bundle(
    bundle: object,
    *,
    as_of: dt.datetime | None = None,
    windows: Windows | None = None,
    accept_stale: Collection[str] | bool = False,
) -> ImportResult:
    """Read a FHIR R4 Bundle (searchset, collection or transaction) into a case.

    Parameters
    ----------
    bundle
        The Bundle as parsed JSON.
    as_of
        The reference time for ages and staleness (default: now, UTC).
    windows
        Staleness windows (labs 30 days, performance status 14 days by default).
    accept_stale
        Stale or undated observations the clinician accepts (``"Observation/id"``), or True.

    Returns
    -------
    ImportResult
        The validated case, the source of each value and every resource or element not used.

    Raises
    ------
    BundleFormatError
        The Bundle is malformed; each problem names the entry index and element path.
    """
    data = check_bundle(bundle)
    when = as_of or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    state = _State(when, windows or Windows(), accept_stale)
    entries = []
    for index, entry in enumerate(data.get("entry", [])):
        resource = entry["resource"]
        name = _name(resource, index)
        entries.append((index, resource, name))
        state.refs[name] = name
        if entry.get("fullUrl"):
            state.refs[str(entry["fullUrl"])] = name
    _scan(state, entries)
    case, mapped = _build(state, data)
    validated = _validated(state, case, mapped)
    order = {m.field: i for i, m in enumerate(mapped)}
    return ImportResult(validated, case, tuple(sorted(mapped, key=lambda m: order[m.field])),
                        tuple(state.unused), when)
