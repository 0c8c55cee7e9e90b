"""``spinemets-case/1`` + its plan -> a FHIR R4 Bundle (collection).

The Bundle holds the case inputs (Patient, Conditions, input Observations), one Observation per
score (project CodeSystem; ECOG and KPS under their LOINC codes and mCODE profiles, with the
LOINC answer code as interpretation), a CarePlan with the plan's recommendations, a Provenance
(software version, clinical tables hash, author) and the project CodeSystem.

Clinical time is kept: an input Observation's ``effectiveDateTime`` is when the value was
measured or assessed (``case.ehr.observed_at``, filled by the FHIR import); a value with no known
time has no ``effective[x]`` (so a re-import treats it as undated, never fresh). Scores carry
``issued`` (when spinemets computed them); ``Provenance.recorded`` is the export time.

Every resource is checked by the R4B models of ``fhir.resources`` before it is returned.
Importing the Bundle gives the same case back (same values, dates, scores and plan).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from typing import Any

from spinemets.case import Case, load_case
from spinemets.domain import catalogue
from spinemets.fhir._codes import ITEM_UNITS, case_items, project_concepts, terminology
from spinemets.fhir._import import PLAN_TITLE

__all__ = ["code_system", "export_case", "software_version", "tables_hash"]

_NAMESPACE = uuid.UUID("0d6f3c1e-5b7a-4a44-9a39-6a0b8f0c2b11")
#: Plan statuses that advise against an item (exported with ``doNotPerform``).
_AGAINST = frozenset({"not_indicated", "contraindicated", "avoid", "not_recommended"})


def software_version() -> str:
    """The installed spinemets version."""
    try:
        return metadata.version("spinemets")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def _table_files(root: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _table_files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith((".yaml", ".yml", ".toml")):
            yield f"{prefix}{entry.name}", entry.read_bytes()


@cache
def tables_hash() -> str:
    """SHA-256 over every clinical table (scores, rules, knowledge), names and contents."""
    digest = hashlib.sha256()
    for package in ("spinemets.scores", "spinemets.rules", "spinemets.knowledge"):
        for name, data in _table_files(resources.files(package), f"{package}/"):
            digest.update(name.encode("utf-8") + b"\0" + data + b"\0")
    return digest.hexdigest()


def code_system() -> dict[str, Any]:
    """The project CodeSystem resource (score slugs, components, bands, case items)."""
    t = terminology()
    return {
        "resourceType": "CodeSystem", "id": "spinemets", "url": t.project,
        "version": software_version(), "name": "Spinemets", "status": "draft",
        "title": "spinemets scores, bands and case items",
        "description": "Codes of the spinemets project: score slugs, their components and "
        "bands, and case fields that have no standard code. Decision support only.",
        "caseSensitive": True, "content": "complete",
        "concept": [{"code": code, "display": display} for code, display in project_concepts()],
    }


class _Builder:
    def __init__(self, case: Case, when: dt.datetime) -> None:
        self.case = case
        self.when = when.isoformat()
        ehr = case.ehr
        # Different cases never share a Patient: a case without an id or an EHR patient id
        # gets a fresh random seed.
        self.seed = case.id or (f"ehr/{ehr.patient_id}" if ehr and ehr.patient_id else (
            f"anonymous/{uuid.uuid4()}"))
        self.patient_id = ehr.patient_id if ehr and ehr.patient_id else "patient"
        self.observed = dict(ehr.observed_at) if ehr else {}
        self.entries: list[dict[str, Any]] = []
        self.patient = self.url("Patient", self.patient_id)
        self.lesion_refs: list[str] = []
        self.inputs: dict[str, list[str]] = {"patient": []}

    def url(self, kind: str, rid: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.seed}/{kind}/{rid}')}"

    def add(self, resource: dict[str, Any]) -> str:
        full = self.url(resource["resourceType"], resource["id"])
        self.entries.append({"fullUrl": full, "resource": resource})
        return full

    def observation(self, rid: str, code: dict[str, Any], value: dict[str, Any], *,
                    path: str | None, category: str | None = None,
                    **extra: Any) -> dict[str, Any]:
        """An Observation dated when its value was measured (``path`` in observed_at).

        ``path`` None: a spinemets result, ``issued`` now (no clinical time of its own).
        """
        out: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final"}
        if category is not None:
            t = terminology()
            row = t.category[category]
            out["category"] = [{"coding": [{"system": t.category["system"],
                                            "code": row["code"], "display": row["display"]}]}]
        out.update({"code": code, "subject": {"reference": self.patient}})
        if path is None:
            out["issued"] = self.when
        elif path in self.observed:
            out["effectiveDateTime"] = self.observed[path]
        return {**out, **value, **extra}


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _rid(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text)[:64]


def _value(path: str, value: Any) -> dict[str, Any]:
    t = terminology()
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        unit = ITEM_UNITS.get(path, "1")
        return {"valueQuantity": {"value": value, "unit": unit, "system": t.ucum, "code": unit}}
    if isinstance(value, dt.date):
        return {"valueDateTime": value.isoformat()}
    if isinstance(value, Mapping):
        return {"valueQuantity": {"value": value["value"], "unit": value["unit"],
                                  "system": t.ucum, "code": value["unit"]}}
    return {"valueString": str(value)}


def _lab(value: Any) -> dict[str, Any]:
    return {"value": value.value, "unit": value.unit}


def _patient_and_conditions(b: _Builder) -> None:
    t = terminology()
    patient: dict[str, Any] = {"resourceType": "Patient", "id": b.patient_id}
    identifiers = [{"system": i.system, "value": i.value} if i.system else {"value": i.value}
                   for i in (b.case.ehr.identifier if b.case.ehr else ())]
    if b.case.id:
        identifiers.append({"system": t.case_ref, "value": b.case.id})
    if identifiers:
        patient["identifier"] = identifiers
    if b.case.patient.sex is not None:
        patient["gender"] = b.case.patient.sex
    b.add(patient)
    if b.case.cancer.primary is not None:
        row = catalogue()[b.case.cancer.primary]
        b.add({"resourceType": "Condition", "id": "primary",
               "subject": {"reference": b.patient},
               "code": _coding(t.project, f"histology.{row.id}", row.label)})
    snomed, icd = t.secondary["snomed"], t.secondary["icd10cm"]
    for index, lesion in enumerate(b.case.lesions):
        code = {"coding": [{"system": t.snomed, "code": snomed["code"],
                            "display": snomed["display"]},
                           {"system": t.icd10cm, "code": icd["code"], "display": icd["display"]}],
                "text": f"Secondary malignant neoplasm, spine {lesion.label}"}
        b.lesion_refs.append(b.add({
            "resourceType": "Condition", "id": f"lesion-{index}",
            "subject": {"reference": b.patient}, "code": code,
            "bodySite": [{"coding": [{"system": t.snomed, "code": t.vertebral_levels[level]}],
                          "text": level} if level in t.vertebral_levels else {"text": level}
                         for level in lesion.levels or ()]}))


def _standard_observations(b: _Builder) -> None:
    t = terminology()
    perf = b.case.performance
    for key in ("ecog", "kps"):
        value = getattr(perf, key)
        if value is None:
            continue
        row = t.performance[key]
        answer = next((code for code, score in t.performance_answers[key].items()
                       if score == value), None)
        extra: dict[str, Any] = {"meta": {"profile": [t.profiles[key]]}}
        if answer is not None:  # the LOINC answer list the mCODE profiles expect
            extra["interpretation"] = [{"coding": [{"system": t.loinc, "code": answer}]}]
        b.inputs["patient"].append(b.add(b.observation(
            f"perf-{key}", _coding(t.loinc, row["code"], row["display"]),
            {"valueInteger": value}, path=f"performance.{key}", category="survey", **extra)))
    if b.case.patient.weight_kg is not None:
        row = t.body["weight"]
        b.inputs["patient"].append(b.add(b.observation(
            "body-weight", _coding(t.loinc, row["code"], row["display"]),
            {"valueQuantity": {"value": b.case.patient.weight_kg, "unit": "kg",
                               "system": t.ucum, "code": "kg"}}, path="patient.weight_kg")))
    for analyte in type(b.case.labs).model_fields:
        code = t.lab_code(analyte)
        given = b.case.labs.given(analyte)
        if code is None or given is None:
            continue
        b.inputs["patient"].append(b.add(b.observation(
            f"lab-{_rid(analyte)}", _coding(t.loinc, code, t.labs[code]["display"]),
            _value("labs", given), path=f"labs.{analyte}", category="laboratory")))


def _item_observations(b: _Builder) -> None:
    t = terminology()
    document = b.case.model_dump(mode="python")
    for item in case_items():
        if item.lesion:
            continue
        value: Any = document
        for part in item.path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            continue
        b.inputs["patient"].append(b.add(b.observation(
            f"item-{_rid(item.code)}", _coding(t.project, item.code, f"Case item: {item.label}"),
            _value(item.code, value), path=item.code)))
    for index, lesion in enumerate(b.case.lesions):
        refs = b.inputs.setdefault(lesion.label, [])
        for item in case_items():
            value = getattr(lesion, item.path[0]) if item.lesion else None
            if value is None:
                continue
            refs.append(b.add(b.observation(
                f"lesion-{index}-{_rid(item.path[0])}",
                _coding(t.project, item.code, f"Case item: {item.label}"),
                _value(item.code, value), path=f"lesions[{index}].{item.path[0]}",
                focus=[{"reference": b.lesion_refs[index]}],
                bodySite={"text": lesion.label})))


def _component(slug: str, comp: Mapping[str, Any]) -> dict[str, Any]:
    t = terminology()
    label = comp["label"] + (f": {comp['category_label']}" if comp.get("category_label") else "")
    out: dict[str, Any] = {"code": {"coding": [{"system": t.project,
                                                "code": f"{slug}.{comp['name']}"}],
                                    "text": label}}
    if comp.get("points") is not None:
        out["valueInteger"] = comp["points"]
    elif comp.get("category_label"):
        out["valueCodeableConcept"] = {"text": str(comp["category_label"])}
    else:
        missing = ", ".join(comp.get("missing") or ()) or "input"
        out["dataAbsentReason"] = {"text": f"unknown: {missing} not recorded"}
    return out


def _interpretation(slug: str, score: Mapping[str, Any]) -> list[dict[str, Any]]:
    band = score.get("band")
    if not band:
        return []
    return [_coding(terminology().project, f"{slug}.band.{band['id']}", band["label"])]


def _score_value(score: Mapping[str, Any]) -> dict[str, Any]:
    if score.get("total") is not None:
        return {"valueInteger": score["total"]}
    if score.get("grade") is not None:
        return {"valueCodeableConcept": {"text": str(score["grade"])}}
    missing = ", ".join(score.get("missing") or ()) or "inputs"
    return {"dataAbsentReason": {"text": f"incomplete: {missing} not recorded"}}


def _score_observations(b: _Builder, scores: list[Mapping[str, Any]]) -> list[str]:
    t = terminology()
    refs: list[str] = []
    for score in scores:
        slug = score["score"]
        if slug in t.performance and score.get("lesion") is None:
            refs.extend(_performance_interpretation(b, slug, score))
            continue
        lesion = score.get("lesion")
        extra: dict[str, Any] = {
            "method": {"text": f"{score['name']} ({score['version']})"},
            "component": [_component(slug, c) for c in score["components"]],
            "note": [{"text": f"Citation: {score['citation']}"}]
            + [{"text": f"Warning: {w}"} for w in score.get("warnings") or ()],
        }
        if score["status"] != "complete":
            extra["status"] = "preliminary"
        interpretation = _interpretation(slug, score)
        if interpretation:
            extra["interpretation"] = interpretation
        derived = b.inputs["patient"] if lesion is None else b.inputs.get(lesion, [])
        if derived:
            extra["derivedFrom"] = [{"reference": r} for r in derived]
        if lesion is not None:
            extra["bodySite"] = {"text": lesion}
            index = next((i for i, les in enumerate(b.case.lesions) if les.label == lesion), None)
            if index is not None:
                extra["focus"] = [{"reference": b.lesion_refs[index]}]
        rid = _rid(f"score-{slug}-{lesion or 'patient'}")
        refs.append(b.add(b.observation(rid, _coding(t.project, slug, score["name"]),
                                        _score_value(score), path=None, category="survey",
                                        **extra)))
    return refs


def _performance_interpretation(b: _Builder, slug: str, score: Mapping[str, Any]) -> list[str]:
    """ECOG / KPS: the input Observation (LOINC, mCODE profile, LOINC answer code) is the score."""
    rid = f"perf-{slug}"
    for entry in b.entries:
        if entry["resource"]["id"] == rid:
            entry["resource"]["method"] = {"text": f"{score['name']} ({score['version']})"}
            return [entry["fullUrl"]]
    return []


def _activity(item: Mapping[str, Any], kind: str) -> dict[str, Any]:
    where = f" ({item['lesion']})" if item.get("lesion") else ""
    detail: dict[str, Any] = {
        "status": "not-started",
        "code": {"text": item["id"]},
        "description": f"{kind} {item['id']}{where}: {item['status']}",
        "doNotPerform": item["status"] in _AGAINST,
        "reasonCode": [{"text": f"Basis: {line}"} for line in item.get("basis") or ()]
        + [{"text": f"Rule {item['rule']} ({item.get('evidence', 'evidence not stated')})"}],
    }
    progress = [{"text": f"Citation: {c}"} for c in item.get("citations") or ()]
    progress += [{"text": f"Caution: {c}"} for c in item.get("cautions") or ()]
    out: dict[str, Any] = {"detail": detail}
    if progress:
        out["progress"] = progress
    return out


def _care_plan(b: _Builder, plan: Mapping[str, Any], score_refs: list[str]) -> str:
    triage = plan["triage"]
    notes = [{"text": f"MDT flag ({f['id']}{', ' + f['lesion'] if f.get('lesion') else ''}): "
                      f"{f['reason']}"} for f in plan["flags"]]
    notes += [{"text": f"Unknown that would change the plan: {u}"} for u in plan["unknowns"]]
    notes.append({"text": "Decision support only: a clinician decides."})
    resource: dict[str, Any] = {
        "resourceType": "CarePlan", "id": "plan", "status": "draft", "intent": "proposal",
        "title": PLAN_TITLE, "subject": {"reference": b.patient},
        "created": b.when,
        "description": f"Triage: {triage['level']}. {triage['clinician_advice']}",
        "activity": [_activity(i, "Work-up") for i in plan["workup"]]
        + [_activity(i, "Recommendation") for i in plan["recommendations"]],
        "note": notes,
    }
    if b.lesion_refs:
        resource["addresses"] = [{"reference": r} for r in b.lesion_refs]
    if score_refs:
        resource["supportingInfo"] = [{"reference": r} for r in score_refs]
    return b.add(resource)


def _provenance(b: _Builder, targets: list[str], author: str | None) -> None:
    digest = tables_hash()
    t = terminology()
    agents: list[dict[str, Any]] = [{"type": {"text": "software (assembler)"},
                                     "who": {"display": f"spinemets {software_version()}"}}]
    if author:
        row = t.agent_type["author"]
        agents.append({"type": {"coding": [{"system": t.agent_type["system"],
                                            "code": row["code"], "display": row["display"]}],
                                "text": "author"}, "who": {"display": author}})
    b.add({"resourceType": "Provenance", "id": "provenance",
           "target": [{"reference": r} for r in targets], "recorded": b.when, "agent": agents,
           "entity": [{"role": "source", "what": {
               "identifier": {"system": terminology().tables_hash, "value": digest},
               "display": f"spinemets clinical tables sha256:{digest}"}}]})


def export_case(
    case: Case | Mapping[str, Any],
    *,
    author: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle with the case, its scores, plan and provenance.

    Parameters
    ----------
    case
        A ``spinemets-case/1`` document or :class:`~spinemets.case.Case`.
    author
        Who asked for the export (Provenance author), e.g. the signed-in clinician.
    now
        Time stamp of the export (default: now, UTC); observations are dated with it.
    """
    from spinemets.rules import plan as make_plan  # noqa: PLC0415 - the rules load tables

    loaded = load_case(case)
    when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    b = _Builder(loaded, when)
    _patient_and_conditions(b)
    _standard_observations(b)
    _item_observations(b)
    plan = make_plan(loaded).to_dict()
    score_refs = _score_observations(b, plan["scores"])
    care_plan = _care_plan(b, plan, score_refs)
    _provenance(b, [*score_refs, care_plan], author)
    b.add(code_system())
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection",
                              "timestamp": b.when, "entry": b.entries}
    if loaded.id:
        bundle["identifier"] = {"system": terminology().case_ref, "value": loaded.id}
    return _checked(bundle)


def _checked(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Bundle parsed by the R4B models and dumped back (FHIR output only through models)."""
    from fhir.resources.R4B.bundle import Bundle  # noqa: PLC0415 - heavy, lazily imported

    model = Bundle.model_validate(bundle)
    out: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return out
