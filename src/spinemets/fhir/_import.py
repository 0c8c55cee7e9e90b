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
from spinemets.domain._units import ANALYTES
from spinemets.errors import CaseFormatError, InputError, ProblemDetail
from spinemets.fhir._codes import ITEM_UNITS, CaseItem, case_items, terminology
from spinemets.fhir._read import (
    BundleFormatError,
    check_bundle,
    codings,
    parse_fhir_datetime,
    texts,
)

__all__ = [
    "DeceasedPatientError",
    "ImportResult",
    "Mapped",
    "PatientInfo",
    "Reason",
    "Unused",
    "Windows",
    "import_bundle",
    "import_checked",
    "model_check_needed",
    "radiotherapy_from_procedure",
]


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
    OTHER_SUBJECT = "other_subject"
    PRELIMINARY = "preliminary"


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
    patient: PatientInfo | None = None

    @property
    def stale(self) -> tuple[Unused, ...]:
        """Observations left out because they are older than the window (can be accepted)."""
        return tuple(u for u in self.unused if u.reason in {Reason.STALE, Reason.NO_DATE})

    def to_dict(self) -> dict[str, Any]:
        """The import report: ``case``, ``provenance`` (per field) and ``unused``."""
        out: dict[str, Any] = {"format": "spinemets-fhir-import/1",
                               "as_of": self.as_of.isoformat()}
        if self.patient is not None:
            out["patient"] = self.patient.to_dict()
        return {**out, "case": self.document,
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
    preliminary: str | None = None  # the status when it is not final (preliminary, ...)


@dataclass
class _Lesion:
    ref: str
    levels: list[str] | None  # None: a spinal lesion whose level the record does not give
    element: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PatientInfo:
    """The EHR's Patient: its id and business identifiers, kept through import and export."""

    source: str  # "Patient/abc"
    id: str | None
    identifiers: tuple[tuple[str, str], ...]  # (system, value)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "id": self.id,
                "identifier": [{"system": s, "value": v} for s, v in self.identifiers]}


class DeceasedPatientError(BundleFormatError):
    """The Bundle's Patient is recorded as deceased: spinemets does not assess the case."""


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
    # (source, levels, element, performed date)
    procedures: list[tuple[str, list[str], str, str | None]] = field(default_factory=list)
    patient_refs: set[str] = field(default_factory=set)  # references that name the Patient
    patient: PatientInfo | None = None

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


def _other_subject(state: _State, resource: Mapping[str, Any], name: str) -> bool:
    """True (and reported) when the resource names a patient other than the Bundle's."""
    for element in ("subject", "patient"):
        ref = resource.get(element)
        if not isinstance(ref, Mapping) or not ref.get("reference"):
            continue
        target = str(ref["reference"])
        if not (target.startswith(("Patient/", "urn:")) or "/Patient/" in target):
            continue  # a Group, Location, ...: not a patient reference
        if state.patient_refs and target not in state.patient_refs:
            state.report(name, element, Reason.OTHER_SUBJECT,
                         f"{element} {target!r} is not this Bundle's Patient: never used")
            return True
    return False


def _observation(state: _State, resource: Mapping[str, Any], name: str) -> None:
    rules = terminology().record_status
    status = resource.get("status") if isinstance(resource.get("status"), str) else None
    if status in rules["observation_not_value"]:
        state.report(name, "status", Reason.STATUS, f"status is {status}: not a value")
        return
    if _other_subject(state, resource, name):
        return
    when, _ = _when(resource)
    t = terminology()
    before = len(state.candidates)
    for system, code, _display in codings(resource.get("code")):
        handler = None
        if system == t.loinc:
            handler = _loinc_handler(code)
        elif system == t.project:
            handler = _project_handler(code)
        if handler is not None:
            handler(state, resource, name, when)
            if status not in rules["observation_final"]:
                for cand in state.candidates[before:]:
                    cand.preliminary = str(status or "no status")
            return
    shown = _shown_codes(resource.get("code"))
    state.report(name, "code", Reason.UNKNOWN_CODE, f"observation code not mapped ({shown})",
                 when=when)


def model_check_needed(resource: Mapping[str, Any]) -> bool:
    """Whether the importer reads more of ``resource`` than its code and status.

    An Observation whose code is not one spinemets reads is only reported (by its code), so
    the CDS service may skip its model check (latency); everything else is checked.
    """
    if resource.get("resourceType") != "Observation":
        return True
    t = terminology()
    for system, code, _ in codings(resource.get("code")):
        if (system == t.loinc and _loinc_handler(code) is not None) or (
                system == t.project and _project_handler(code) is not None):
            return True
    return False


def _shown_codes(concept: object) -> str:
    """Every coding as ``system|code 'display'`` (or the text): how a code is reported."""
    shown = ", ".join(f"{s}|{c}" + (f" {d!r}" if d else "") for s, c, d in codings(concept))
    return shown or ", ".join(texts(concept)) or "no code"


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


def _answer(resource: Mapping[str, Any], element: str, key: str) -> tuple[int | None, str]:
    """The score a LOINC answer code in ``element`` stands for, and the code shown."""
    t = terminology()
    answers = t.performance_answers[key]
    concepts = resource.get(element)
    concepts = concepts if isinstance(concepts, list) else [concepts]
    for concept in concepts:
        for system, code, _ in codings(concept):
            if system == t.loinc and code in answers:
                return answers[code], code
    return None, ""


def _performance(state: _State, resource: Mapping[str, Any], name: str,
                 when: dt.datetime | None, key: str) -> None:
    value = resource.get("valueInteger")
    element = "valueInteger"
    note = None
    coded, answer = _answer(resource, "valueCodeableConcept", key)
    if value is None and coded is not None:
        value, element, note = coded, "valueCodeableConcept", f"LOINC answer {answer}"
    cand = _Candidate(f"performance.{key}", value, name, element, when,
                      state.windows.performance_days, note=note)
    band, band_code = _answer(resource, "interpretation", key)
    if value is None:
        present = _plain_value(resource)
        cand.error = (Reason.INVALID_VALUE,
                      f"{key.upper()} must be given as valueInteger or a LOINC answer code"
                      + (f" (found {present[0]})" if present else " (no value)"))
    elif isinstance(value, bool) or not isinstance(value, int):
        cand.error = (Reason.INVALID_VALUE, f"{key.upper()} {value!r} is not a whole number")
    elif band is not None and band != value:
        cand.error = (Reason.CONFLICT, f"{key.upper()} {value} disagrees with its "
                      f"interpretation {band_code} (= {band})")
    state.candidates.append(cand)


def _ucum_unit(quantity: Mapping[str, Any], accepted: Collection[str]) -> tuple[str | None,
                                                                               str | None]:
    """The UCUM unit of a Quantity among ``accepted``, and a note when it was normalised.

    The UCUM ``code`` is read when ``system`` is UCUM; with no system, the ``code`` or the
    ``unit`` text. Spellings real systems emit (``mg/dl``, ``umol/l``, ``µmol/L``) are read as
    the accepted UCUM unit they spell (terminology.yaml ``unit_spellings`` and letter case).
    """
    t = terminology()
    system = quantity.get("system")
    if system not in (None, t.ucum):
        return None, None
    raw = quantity.get("code") or (quantity.get("unit") if system is None else None)
    if not isinstance(raw, str) or not raw:
        return None, None
    if raw in accepted and system == t.ucum:
        return raw, None
    spelled = t.unit_spellings.get(raw, raw)
    by_fold = {unit.casefold(): unit for unit in accepted}
    unit = spelled if spelled in accepted else by_fold.get(spelled.casefold())
    if unit is None:
        return None, None
    where = "valueQuantity.code" if quantity.get("code") else "valueQuantity.unit"
    how = "" if system == t.ucum else " (no UCUM system given)"
    return unit, (None if unit == raw and not how
                  else f"unit {raw!r} in {where} read as UCUM {unit!r}{how}")


def _lab(state: _State, resource: Mapping[str, Any], name: str, when: dt.datetime | None,
         analyte: str) -> None:
    cand = _Candidate(f"labs.{analyte}", None, name, "valueQuantity", when,
                      state.windows.labs_days)
    quantity = resource.get("valueQuantity")
    accepted = tuple(ANALYTES[analyte].factors)
    unit, normalised = (_ucum_unit(quantity, accepted) if isinstance(quantity, Mapping)
                        else (None, None))
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        cand.error = (Reason.INVALID_VALUE, f"{analyte}: no valueQuantity with a value")
    elif unit is None:
        shown = quantity.get("code") or quantity.get("unit")
        cand.error = (Reason.UNSUPPORTED_UNIT,
                      f"{analyte}: unit {shown!r} is not one of {list(accepted)} (UCUM)")
    else:
        given = {"value": quantity["value"], "unit": unit}
        try:
            lab = parse_lab(analyte, given)
        except InputError as exc:
            problem = exc.problems[0]
            reason = Reason.UNSUPPORTED_UNIT if problem.field.endswith(".unit") else (
                Reason.INVALID_VALUE)
            cand.error = (reason, problem.message)
        else:
            cand.value = given
            cand.note = "; ".join(n for n in (normalised, lab.describe()) if n)
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
    analyte = code.removeprefix("labs.")
    if item is None and code.startswith("labs.") and analyte in ANALYTES:
        return lambda s, r, n, w: _lab(s, r, n, w, analyte)  # exported before it had a LOINC
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
    window = None if item.code in terminology().history_items else state.windows.labs_days
    cand = _Candidate(key, None, name, found[0] if found else "value[x]", when, window)
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


def _secondary_code(resource: Mapping[str, Any]) -> tuple[str, str, Mapping[str, str]] | None:
    """``(system, code, row)`` of the first secondary-cancer coding (terminology.yaml)."""
    t = terminology()
    by_system = {t.snomed: t.secondary_codes["snomed"], t.icd10cm: t.secondary_codes["icd10cm"]}
    for system, code, _ in codings(resource.get("code")):
        row = by_system.get(system, {}).get(code)
        if row is not None:
            return system, code, row
    return None


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


def _site(site: object) -> tuple[list[str] | None, str]:
    """The levels one ``bodySite`` names (SNOMED CT body structure first, then its text)."""
    t = terminology()
    coded = [t.level_of_site(code) for system, code, _ in codings(site) if system == t.snomed]
    levels = sorted({level for level in coded if level is not None}, key=level_index)
    if levels:
        return levels, "coding"
    names = texts(site)
    parsed = [p for p in (parse_levels(text) for text in names) if p is not None]
    if parsed and all(p == parsed[0] for p in parsed):
        return parsed[0], "text"
    shown = _shown_codes(site)
    return None, shown


def _site_levels(state: _State, resource: Mapping[str, Any], name: str) -> list[str]:
    levels: list[str] = []
    for index, site in enumerate(resource.get("bodySite") or ()):
        found, detail = _site(site)
        if found is None:
            state.report(name, f"bodySite[{index}]", Reason.AMBIGUOUS_LEVEL,
                         f"body site {detail} does not name one vertebral level or range "
                         "(O, C1-C7, T1-T12, L1-L5, S1-S5; SNOMED CT vertebra codes)")
            continue
        levels.extend(level for level in found if level not in levels)
    return sorted(levels, key=level_index)


_REGION_LETTER = {"cervical": "C", "thoracic": "T", "lumbar": "L", "sacral": "S"}


def _condition_current(state: _State, resource: Mapping[str, Any], name: str,
                       what: str) -> bool:
    """False (and reported, with the code) when the Condition is not current."""
    rules = terminology().record_status
    for element, key in (("verificationStatus", "condition_not_current_verification"),
                         ("clinicalStatus", "condition_not_current_clinical")):
        for _, code, _ in codings(resource.get(element)):
            if code in rules[key]:
                state.report(name, element, Reason.STATUS,
                             f"{what} ({_shown_codes(resource.get('code'))}) is recorded as "
                             f"{code}: not a current condition")
                return False
    return True


def _secondary(state: _State, resource: Mapping[str, Any], name: str,
               found: tuple[str, str, Mapping[str, str]]) -> None:
    system, code, row = found
    region = row.get("region")
    if not _condition_current(state, resource, name, "secondary cancer"):
        return
    if region == "spinal cord":
        state.report(name, "code", Reason.NOT_IN_CASE_FORMAT,
                     f"{system}|{code} {row['display']!r}: a spinal cord (intramedullary) "
                     "metastasis is not a vertebral lesion; the case format has no field for "
                     "it: review it yourself")
        return
    levels = _site_levels(state, resource, name) if resource.get("bodySite") else []
    letter = _REGION_LETTER.get(region or "")
    if levels and letter and any(not level.startswith(letter) for level in levels):
        state.report(name, "bodySite", Reason.AMBIGUOUS_LEVEL,
                     f"body site {levels} is not in the {region} spine the code names "
                     f"({code}): the level is left unknown")
        levels = []
    if not levels and region is None:
        state.report(name, "bodySite", Reason.AMBIGUOUS_LEVEL,
                     f"secondary cancer ({system}|{code} {row['display']!r}) without a "
                     "vertebral body site: not placed in the spine")
        return
    for lesion in state.lesions:
        clash = set(levels) & set(lesion.levels or ())
        if clash:
            state.report(name, "bodySite", Reason.AMBIGUOUS_LEVEL,
                         f"level {sorted(clash, key=level_index)[0]} is already a lesion in "
                         f"{lesion.ref}: a level belongs to one lesion")
            return
    if levels:
        state.lesions.append(_Lesion(name, levels, "bodySite"))
    else:
        state.lesions.append(_Lesion(name, None, "code", note=(
            f"{row['display']} ({code}): {region} spine, level not recorded")))


def _histology_of(state: _State, resource: Mapping[str, Any], name: str) -> tuple[
        str, str] | None:
    """The catalogue id of a primary cancer, by code only (reported when not mapped)."""
    t = terminology()
    for system, code, _ in codings(resource.get("code")):
        if system == t.project and code.startswith("histology."):
            hid = code.removeprefix("histology.")
            if hid in catalogue():
                return hid, "code.coding"
    for system, code, display in codings(resource.get("code")):
        recognised, mapped = t.primary_of(system, code)
        if recognised and mapped is not None:
            return mapped, "code.coding"
        if recognised:
            state.report(name, "code", Reason.AMBIGUOUS,
                         f"primary cancer {system}|{code} {display!r} does not name one "
                         "histology of the catalogue (e.g. lung cancer without its type): "
                         "choose it yourself")
            return None
    if not any(True for _ in codings(resource.get("code"))):
        by_name = {h.label.lower(): h.id for h in catalogue().values()}
        by_name.update({h.id: h.id for h in catalogue().values()})
        for text in texts(resource.get("code")):
            named = by_name.get(text.strip().lower())
            if named is not None:
                return named, "code.text"
    state.report(name, "code", Reason.UNKNOWN_CODE,
                 f"condition not mapped ({_shown_codes(resource.get('code'))}): neither a "
                 "secondary cancer in the spine nor a primary cancer code of the histology "
                 "catalogue; if it is the primary cancer, choose its histology yourself")
    return None


def _condition(state: _State, resource: Mapping[str, Any], name: str) -> None:
    if _other_subject(state, resource, name):
        return
    found = _secondary_code(resource)
    if found is not None:
        _secondary(state, resource, name, found)
        return
    if not _condition_current(state, resource, name, "condition"):
        return
    histology = _histology_of(state, resource, name)
    if histology is not None:
        state.primaries.append((histology[0], name, histology[1]))


def radiotherapy_from_procedure(state: _State, resource: Mapping[str, Any],
                                name: str) -> bool:
    """Radiotherapy Procedure (mCODE codes, SNOMED CT only) -> prior radiotherapy of a lesion.

    The one place where a radiotherapy Procedure becomes case data: today it sets
    ``lesions[].prior_radiotherapy`` for the lesions at its ``bodySite`` levels, and
    ``prior_radiotherapy_date`` from ``performed[x]`` (the latest course when there are several;
    dose, fractions and technique are not read from a Procedure). Returns False when the code is
    not a radiotherapy code.
    """
    t = terminology()
    codes = [(c, d) for s, c, d in codings(resource.get("code"))
             if s == t.snomed and c in t.procedures["radiotherapy"]]
    if not codes:
        return False
    levels = _site_levels(state, resource, name)
    if not levels:
        state.report(name, "bodySite", Reason.NO_LESION,
                     f"radiotherapy ({t.snomed}|{codes[0][0]}) without a vertebral body site: "
                     "not linked to a spinal lesion")
        return True
    performed = _performed(resource)
    state.procedures.append((name, levels, f"code.coding ({codes[0][0]})", performed))
    return True


def _performed(resource: Mapping[str, Any]) -> str | None:
    """When a Procedure was done (``performedDateTime``, else the end or start of its period)."""
    for value in (resource.get("performedDateTime"),
                  (resource.get("performedPeriod") or {}).get("end"),
                  (resource.get("performedPeriod") or {}).get("start")):
        when = parse_fhir_datetime(value)
        if when is not None:
            return when.isoformat()
    return None


def _procedure(state: _State, resource: Mapping[str, Any], name: str) -> None:
    t = terminology()
    status = resource.get("status")
    if status in t.record_status["procedure_not_done"]:
        state.report(name, "status", Reason.STATUS, f"status is {status}: not done")
        return
    if _other_subject(state, resource, name):
        return
    if radiotherapy_from_procedure(state, resource, name):
        return
    surgery = [c for s, c, _ in codings(resource.get("code"))
               if s == t.snomed and c in t.procedures["spinal_surgery"]]
    if surgery:
        state.report(name, "code", Reason.NOT_IN_CASE_FORMAT,
                     f"prior spinal surgery ({t.snomed}|{surgery[0]} "
                     f"{t.procedures['spinal_surgery'][surgery[0]]!r}): the case format has no "
                     "prior-surgery field")
        return
    state.report(name, "code", Reason.UNKNOWN_CODE,
                 f"procedure not recognised ({_shown_codes(resource.get('code'))}): "
                 "procedures are read by SNOMED CT code only")


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


def _final_only(state: _State, group: list[_Candidate]) -> list[_Candidate]:
    """Preliminary values are used only when nothing final exists (and are marked so)."""
    final = [c for c in group if c.preliminary is None and c.error is None]
    if not final:
        for cand in group:
            if cand.preliminary is not None:
                cand.note = ((cand.note + "; ") if cand.note else "") + (
                    f"status {cand.preliminary}: no final value exists")
        return group
    for cand in group:
        if cand.preliminary is not None:
            state.report(cand.source, "status", Reason.PRELIMINARY,
                         f"status {cand.preliminary}: a final value exists ({final[0].source})",
                         when=cand.when, key=cand.key)
    return [c for c in group if c.preliminary is None]


def _resolve(state: _State, group: list[_Candidate]) -> _Candidate | None:
    group = _final_only(state, group)
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
    for source, levels, element, performed in state.procedures:
        hits = [lesion for lesion in state.lesions if set(lesion.levels or ()) & set(levels)]
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
                                       f"{element}, bodySite", performed))
            day = (performed or "")[:10]
            last = case["lesions"][index].get("prior_radiotherapy_date")
            if len(day) == 10 and (last is None or day > last):  # the last course counts
                case["lesions"][index]["prior_radiotherapy_date"] = day
                state.direct.append(Mapped(f"lesions[{index}].prior_radiotherapy_date", day,
                                           source, "performed[x]", performed))


def _deceased(resource: Mapping[str, Any], name: str, index: int) -> None:
    for element in ("deceasedBoolean", "deceasedDateTime"):
        value = resource.get(element)
        if value is None or value is False:
            continue
        when = f" on {value}" if isinstance(value, str) else ""
        raise DeceasedPatientError.single(
            f"entry[{index}].resource.{element}",
            f"{name} is recorded as deceased{when}: spinemets does not assess a deceased "
            "patient; check the record", value=value if isinstance(value, str) else True)


def _patient_refs(state: _State, resource: Mapping[str, Any], name: str,
                  full_url: str | None) -> None:
    rid = resource.get("id")
    state.patient_refs.add(name)
    if full_url:
        state.patient_refs.add(full_url)
    identifiers = tuple(
        (str(i.get("system") or ""), str(i["value"])) for i in resource.get("identifier") or ()
        if isinstance(i, Mapping) and i.get("value"))
    state.patient = PatientInfo(name, str(rid) if rid else None, identifiers)


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
                               state.as_of.replace(microsecond=0).isoformat(),
                               note=f"age on {today.isoformat()}"))


_READERS = {"Observation": _observation, "Condition": _condition, "Procedure": _procedure}
#: The title spinemets gives the CarePlan it exports (how its own plan is recognised).
PLAN_TITLE = "spinemets plan (decision support)"


def _derived(resource: Mapping[str, Any]) -> bool:
    """Whether a CarePlan, Provenance or CodeSystem is spinemets' own output."""
    t = terminology()
    kind = resource["resourceType"]
    if kind == "CarePlan":
        return resource.get("title") == PLAN_TITLE
    if kind == "CodeSystem":
        return resource.get("url") == t.project
    if kind == "Provenance":
        return any(isinstance(e, Mapping) and isinstance(e.get("what"), Mapping)
                   and (e["what"].get("identifier") or {}).get("system") == t.tables_hash
                   for e in resource.get("entity") or ())
    return False


def _scan(state: _State, entries: list[tuple[int, Mapping[str, Any], str]],
          full_urls: Mapping[int, str]) -> None:
    patients = [(i, r, n) for i, r, n in entries if r["resourceType"] == "Patient"]
    if len(patients) > 1:
        raise BundleFormatError([
            ProblemDetail(f"entry[{i}].resource", "the Bundle holds more than one Patient: "
                          "import one patient at a time", n) for i, _, n in patients])
    for index, resource, name in patients:
        _deceased(resource, name, index)
        _patient_refs(state, resource, name, full_urls.get(index))
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
        elif _derived(resource):
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
        case["lesions"] = [{"levels": list(lesion.levels)} if lesion.levels else {}
                           for lesion in state.lesions]
        mapped.extend(Mapped(f"lesions[{i}].levels", list(lesion.levels) if lesion.levels
                             else None, lesion.ref, lesion.element, note=lesion.note)
                      for i, lesion in enumerate(state.lesions))
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
    _ehr_source(state, case, mapped)
    return case, mapped


def _ehr_source(state: _State, case: dict[str, Any], mapped: list[Mapped]) -> None:
    """The EHR Patient and when each value was measured: kept in the case for the export."""
    observed = {m.field: m.date for m in mapped if m.date is not None}
    patient = state.patient
    source: dict[str, Any] = {}
    if patient is not None and patient.id and len(patient.id) <= 64 and all(
            ch.isalnum() or ch in "-." for ch in patient.id):
        source["patient_id"] = patient.id
    if patient is not None and patient.identifiers:
        source["identifier"] = [{"system": s[:500], "value": v[:200]}
                                for s, v in patient.identifiers[:20]]
    if observed:
        source["observed_at"] = observed
    if source:
        case["ehr"] = source


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
    return import_checked(check_bundle(bundle), as_of=as_of, windows=windows,
                          accept_stale=accept_stale)


def import_checked(
    data: Mapping[str, Any],
    *,
    as_of: dt.datetime | None = None,
    windows: Windows | None = None,
    accept_stale: Collection[str] | bool = False,
) -> ImportResult:
    """:func:`import_bundle` for a Bundle whose resources were each checked already.

    The CDS service checks every resource on its own (an invalid one is skipped and reported,
    not fatal) and then calls this, so nothing is validated twice.
    """
    when = as_of or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    state = _State(when, windows or Windows(), accept_stale)
    entries = []
    full_urls: dict[int, str] = {}
    for index, entry in enumerate(data.get("entry", [])):
        resource = entry["resource"]
        name = _name(resource, index)
        entries.append((index, resource, name))
        state.refs[name] = name
        if entry.get("fullUrl"):
            state.refs[str(entry["fullUrl"])] = name
            full_urls[index] = str(entry["fullUrl"])
    _scan(state, entries, full_urls)
    case, mapped = _build(state, data)
    validated = _validated(state, case, mapped)
    order = {m.field: i for i, m in enumerate(mapped)}
    return ImportResult(validated, case, tuple(sorted(mapped, key=lambda m: order[m.field])),
                        tuple(state.unused), when, state.patient)
