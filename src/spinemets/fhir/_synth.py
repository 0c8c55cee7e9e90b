"""SYNTHETIC FHIR patients (Bundles) derived from the synthetic cohort, with awkward data.

The people are invented (``spinemets.cohort`` synth rows: seeded, plausible inputs). Each row
becomes a case, the case becomes an EHR-like ``searchset`` Bundle (Patient with a birth date,
Conditions, LOINC observations; the fields with no standard code under the project CodeSystem),
and then the awkward parts an EHR really sends are added, by patient number ``i``:

- histology: the catalogue rows in a seeded order, so ``n >= 27`` covers every row;
- 1-4 lesions (the cohort's index lesion plus synthetic extra levels);
- labs in conventional units, or SI units (``i % 2 == 1``);
- a duplicate older albumin (``i % 3 == 0``), a stale ECOG (``i % 4 == 2``), a stale lab
  (``i % 5 == 4``), no performance status at all (``i % 6 == 5``);
- a body height (never used: the case format has none) and a prior radiotherapy Procedure;
- patient 3: albumin in an unsupported unit; patient 6: an ambiguous level ("thoracic spine");
  patient 7: one malformed resource (the import refuses the Bundle, naming the entry).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from spinemets.domain import LEVELS, catalogue
from spinemets.fhir._codes import terminology
from spinemets.fhir._export import export_case

__all__ = ["AS_OF", "SynthBundle", "synth_bundles"]

#: Reference time of every synthetic Bundle (its ``timestamp``; import with ``as_of=AS_OF``).
AS_OF = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
_DERIVED = ("CarePlan", "Provenance", "CodeSystem")
_SI = {"albumin": ("g/L", 10.0), "calcium": ("mmol/L", 1 / 4.0078),
       "bilirubin": ("umol/L", 17.104), "crp": ("mg/L", 10.0)}


@dataclass(frozen=True)
class SynthBundle:
    """One synthetic Bundle, its name and what it is meant to exercise."""

    name: str
    bundle: dict[str, Any]
    features: tuple[str, ...] = field(default=())


def _case(row: dict[str, Any], histology: str, rng: random.Random) -> dict[str, Any]:
    lesion = {k: row[k] for k in ("pain", "bone_lesion", "alignment", "collapse",
                                  "posterolateral", "escc", "pathological_fracture")}
    lesions = [{"levels": [row["level"]], **lesion, "prior_radiotherapy": rng.random() < 0.4}]
    used = {row["level"]}
    for _ in range(rng.randint(0, 3)):
        level = rng.choice([lv for lv in LEVELS[1:] if lv not in used])
        used.add(level)
        lesions.append({"levels": [level], "pain": rng.choice(["mechanical", "occasional",
                                                               "none"]),
                        "bone_lesion": rng.choice(["lytic", "mixed", "blastic"]),
                        "alignment": "normal", "collapse": rng.choice(["under_50", "none"]),
                        "posterolateral": "none", "escc": rng.choice(["0", "1a", "2", "3"])})
    labs = {"albumin": {"value": row["albumin_g_per_dl"], "unit": "g/dL"},
            "calcium": {"value": row["calcium_mg_per_dl"], "unit": "mg/dL"},
            "bilirubin": {"value": row["bilirubin_mg_per_dl"], "unit": "mg/dL"},
            "crp": {"value": row["crp_mg_per_dl"], "unit": "mg/dL"},
            "ldh": {"value": row["ldh_u_per_l"], "unit": "U/L"},
            "platelets": {"value": row["platelets_10e3_per_ul"], "unit": "10*3/uL"}}
    case = {"format": "spinemets-case/1",
            "patient": {"sex": rng.choice(["female", "male"]),
                        "weight_kg": float(rng.randint(45, 110))},
            "cancer": {"status": "known", "primary": histology,
                       "previous_chemotherapy": row["previous_chemotherapy"]},
            "performance": {"kps": row["kps"], "ecog": row["ecog"]},
            "neurology": {"frankel": row["frankel"]},
            "symptoms": {"back_pain": True, "limb_weakness": row["frankel"] in {"C", "D"},
                         "pain_progressive": rng.random() < 0.5},
            "disease": {"extraspinal_bone_metastases": row["extraspinal_bone_metastases"],
                        "vertebral_body_metastases": row["vertebral_body_metastases"],
                        "brain_metastases": rng.random() < 0.2},
            "lesions": lesions, "labs": labs}
    cleaned: dict[str, Any] = _clean(case)
    return cleaned


def _clean(value: Any) -> Any:
    """Drop the cohort's blank (unknown) cells: missing stays unknown."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None
                and not (isinstance(v, dict) and "value" in v and v["value"] is None)}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _find(bundle: dict[str, Any], rid: str) -> dict[str, Any] | None:
    return next((e for e in bundle["entry"] if e["resource"]["id"] == rid), None)


def _ehr_like(bundle: dict[str, Any], rng: random.Random) -> None:
    """Remove spinemets outputs, give the Patient a birth date instead of the age item."""
    t = terminology()
    bundle["entry"] = [e for e in bundle["entry"]
                       if e["resource"]["resourceType"] not in _DERIVED
                       and not e["resource"]["id"].startswith("score-")]
    for obs in _resources(bundle, "Observation"):
        obs.pop("interpretation", None)
        obs.pop("method", None)
    bundle["type"] = "searchset"
    bundle.pop("identifier", None)
    patient = _resources(bundle, "Patient")[0]
    patient["birthDate"] = dt.date(AS_OF.year - rng.randint(40, 85), rng.randint(1, 12),
                                   rng.randint(1, 28)).isoformat()
    for entry in bundle["entry"]:
        entry["search"] = {"mode": "match"}
        resource = entry["resource"]
        if resource["resourceType"] == "Condition" and resource["id"] == "primary":
            resource["code"] = {"text": resource["code"]["text"]}  # EHRs send free text
    height = {"resourceType": "Observation", "id": "body-height", "status": "final",
              "code": {"coding": [{"system": t.loinc, "code": t.body["height"]["code"],
                                   "display": t.body["height"]["display"]}]},
              "subject": {"reference": bundle["entry"][0]["fullUrl"]},
              "effectiveDateTime": _date(10),
              "valueQuantity": {"value": rng.randint(150, 195), "unit": "cm",
                                "system": t.ucum, "code": "cm"}}
    bundle["entry"].append({"fullUrl": "urn:uuid:" + _uuid(rng), "resource": height,
                            "search": {"mode": "include"}})


def _uuid(rng: random.Random) -> str:
    return "%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),  # noqa: UP031
                                            rng.getrandbits(12), rng.getrandbits(12),
                                            rng.getrandbits(48))


def _date(days_ago: int) -> str:
    return (AS_OF - dt.timedelta(days=days_ago)).isoformat()


def _dates(bundle: dict[str, Any], rng: random.Random) -> None:
    for obs in _resources(bundle, "Observation"):
        obs["effectiveDateTime"] = _date(rng.randint(0, 6))


def _si_units(bundle: dict[str, Any]) -> None:
    for analyte, (unit, factor) in _SI.items():
        entry = _find(bundle, f"lab-{analyte}")
        if entry is not None:
            quantity = entry["resource"]["valueQuantity"]
            quantity.update(value=round(quantity["value"] * factor, 2), unit=unit, code=unit)


def _duplicate(bundle: dict[str, Any], rid: str, days_ago: int, new_id: str,
               rng: random.Random) -> dict[str, Any] | None:
    entry = _find(bundle, rid)
    if entry is None:
        return None
    copied = copy.deepcopy(entry)
    copied["resource"]["id"] = new_id
    copied["fullUrl"] = "urn:uuid:" + _uuid(rng)
    copied["resource"]["effectiveDateTime"] = _date(days_ago)
    bundle["entry"].append(copied)
    return copied


def _radiotherapy(bundle: dict[str, Any], rng: random.Random) -> None:
    """The first lesion's prior radiotherapy (if yes) becomes a Procedure, as an EHR has it."""
    entry = _find(bundle, "lesion-0-prior-radiotherapy")
    lesion = _find(bundle, "lesion-0")
    if entry is None or lesion is None:
        return
    bundle["entry"].remove(entry)
    if not entry["resource"].get("valueBoolean"):
        return
    rt_codes = terminology().procedures["radiotherapy"]
    rt_code = next(iter(rt_codes))  # the course of treatment, the first listed
    bundle["entry"].append({"fullUrl": "urn:uuid:" + _uuid(rng), "resource": {
        "resourceType": "Procedure", "id": "prior-rt", "status": "completed",
        "code": {"coding": [{"system": terminology().snomed, "code": rt_code,
                             "display": rt_codes[rt_code]}],
                 "text": "Radiotherapy to the spine"},
        "subject": {"reference": bundle["entry"][0]["fullUrl"]},
        "performedDateTime": _date(200),
        "bodySite": lesion["resource"]["bodySite"]}, "search": {"mode": "match"}})


def _awkward(i: int, bundle: dict[str, Any], rng: random.Random) -> list[str]:
    features: list[str] = []
    if i % 2 == 1:
        _si_units(bundle)
        features.append("si-units")
    if i % 3 == 0 and _duplicate(bundle, "lab-albumin", 12, "lab-albumin-older", rng):
        features.append("duplicate")
    if i % 4 == 2:
        entry = _find(bundle, "perf-ecog")
        if entry is not None:
            entry["resource"]["effectiveDateTime"] = _date(20)
            features.append("stale-ecog")
    if i % 5 == 4:
        entry = _find(bundle, "lab-crp")
        if entry is not None:
            entry["resource"]["effectiveDateTime"] = _date(45)
            features.append("stale-lab")
    if i % 6 == 5:
        bundle["entry"] = [e for e in bundle["entry"]
                           if e["resource"]["id"] not in {"perf-ecog", "perf-kps"}]
        features.append("no-performance-status")
    return features + _one_off(i, bundle, rng)


def _one_off(i: int, bundle: dict[str, Any], rng: random.Random) -> list[str]:
    features: list[str] = []
    if i == 3:
        entry = _find(bundle, "lab-albumin")
        if entry is not None:
            entry["resource"]["valueQuantity"].update(unit="umol/L", code="umol/L")
            features.append("unsupported-unit")
    if i == 6:
        _ambiguous_level(bundle, rng)
        features.append("ambiguous-level")
    if i == 7:
        entry = _find(bundle, "lab-ldh")
        if entry is not None:
            entry["resource"]["valueQuantity"]["value"] = "four hundred"
            features.append("malformed")
    return features


def _ambiguous_level(bundle: dict[str, Any], rng: random.Random) -> None:
    t = terminology()
    bundle["entry"].append({"fullUrl": "urn:uuid:" + _uuid(rng), "resource": {
        "resourceType": "Condition", "id": "lesion-unplaced",
        "subject": {"reference": bundle["entry"][0]["fullUrl"]},
        "code": {"coding": [{"system": t.snomed, "code": t.secondary["snomed"]["code"]}]},
        "bodySite": [{"text": "thoracic spine"}]}, "search": {"mode": "match"}})


def synth_bundles(n: int, *, seed: int = 1) -> list[SynthBundle]:
    """``n`` synthetic FHIR Bundles (same seed, same Bundles). Needs the ``cohort`` extra."""
    from spinemets.cohort import synth_table  # noqa: PLC0415 - numpy/pyarrow (cohort extra)

    rng = random.Random(seed)
    histologies = list(catalogue())
    rng.shuffle(histologies)
    rows = synth_table(n, seed).to_pylist()
    out = []
    for i, row in enumerate(rows):
        case = _case(row, histologies[i % len(histologies)], rng)
        case["id"] = f"synth-{seed}-{i:03d}"
        bundle = export_case(case, now=AS_OF)
        _ehr_like(bundle, rng)
        _dates(bundle, rng)
        _radiotherapy(bundle, rng)
        features = _awkward(i, bundle, rng)
        bundle["id"] = case["id"]
        bundle["timestamp"] = AS_OF.isoformat()
        bundle["meta"] = {"tag": [{"display": "SYNTHETIC: invented patient, not real data"}]}
        out.append(SynthBundle(f"{case['id']}-{case['cancer']['primary']}", bundle,
                               tuple(features)))
    return out
