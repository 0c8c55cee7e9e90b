"""Export: every resource valid against the R4 JSON schema and the R4B models; codes as listed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from spinemets.case import load_case
from spinemets.fhir import code_system, export_case, project_concepts, tables_hash, terminology
from spinemets.rules import plan
from spinemets.storage import demo_cases

from .conftest import schema_errors

NOW = dt.datetime(2025, 1, 15, 12, 0, tzinfo=dt.UTC)
CASES = demo_cases()


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.fixture(scope="module", params=CASES, ids=[c["id"] for c in CASES])
def exported(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    case: dict[str, Any] = request.param
    return case, export_case(case, author="Dr Example", now=NOW)


def test_every_resource_is_valid_r4_json_and_r4b_model(exported: Any) -> None:
    _, bundle = exported
    assert schema_errors(bundle) == []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert schema_errors(resource) == [], resource["id"]
        model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert model.model_dump(mode="json", exclude_none=True) == resource


def test_one_observation_per_score_with_components_band_and_level(exported: Any) -> None:
    case, bundle = exported
    t = terminology()
    scores = plan(case).to_dict()["scores"]
    observations = _resources(bundle, "Observation")
    for score in scores:
        slug = score["score"]
        if slug in t.performance:  # ECOG / KPS: the LOINC input Observation carries the band
            row = t.performance[slug]
            obs = next(o for o in observations
                       if o["code"]["coding"][0] == {"system": t.loinc, "code": row["code"],
                                                     "display": row["display"]})
            assert obs["meta"]["profile"] == [t.profiles[slug]]
            assert obs["category"][0]["coding"][0]["code"] == "survey"
            if score["total"] is not None:  # the LOINC answer list the mCODE profile expects
                answers = {v: k for k, v in t.performance_answers[slug].items()}
                assert obs["interpretation"][0]["coding"][0] == {
                    "system": t.loinc, "code": answers[score["total"]]}
            continue
        matches = [o for o in observations if o["code"]["coding"][0]["code"] == slug
                   and o.get("bodySite", {}).get("text") == score.get("lesion")]
        assert len(matches) == 1, slug
        obs = matches[0]
        assert len(obs["component"]) == len(score["components"])
        for comp, out in zip(score["components"], obs["component"], strict=True):
            assert out["code"]["coding"][0]["code"] == f"{slug}.{comp['name']}"
            assert out.get("valueInteger") == comp["points"]
        if score["total"] is not None:
            assert obs["valueInteger"] == score["total"]
        assert obs["note"][0]["text"] == f"Citation: {score['citation']}"
        if score["band"]:
            assert obs["interpretation"][0]["coding"][0]["code"] == (
                f"{slug}.band.{score['band']['id']}")


def test_care_plan_holds_every_recommendation_with_basis_and_citations(exported: Any) -> None:
    case, bundle = exported
    result = plan(case).to_dict()
    (care_plan,) = _resources(bundle, "CarePlan")
    assert care_plan["status"] == "draft"
    assert care_plan["intent"] == "proposal"
    items = result["workup"] + result["recommendations"]
    assert [a["detail"]["code"]["text"] for a in care_plan["activity"]] == [i["id"] for i in items]
    for item, activity in zip(items, care_plan["activity"], strict=True):
        reasons = [r["text"] for r in activity["detail"]["reasonCode"]]
        assert reasons[:len(item["basis"])] == [f"Basis: {b}" for b in item["basis"]]
        progress = [p["text"] for p in activity.get("progress", [])]
        assert [f"Citation: {c}" for c in item["citations"]] == progress[:len(item["citations"])]
    notes = [n["text"] for n in care_plan["note"]]
    assert sum(n.startswith("MDT flag") for n in notes) == len(result["flags"])


def test_provenance_names_software_tables_hash_and_author(exported: Any) -> None:
    _, bundle = exported
    (provenance,) = _resources(bundle, "Provenance")
    who = [a["who"]["display"] for a in provenance["agent"]]
    assert who[0].startswith("spinemets ")
    assert "Dr Example" in who
    assert provenance["entity"][0]["what"]["identifier"]["value"] == tables_hash()
    targets = {t["reference"] for t in provenance["target"]}
    urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    assert urls["plan"] in targets


def test_code_system_lists_every_project_code_used(exported: Any) -> None:
    _, bundle = exported
    (system,) = _resources(bundle, "CodeSystem")
    assert system == code_system() | {"version": system["version"]}
    codes = {c["code"] for c in system["concept"]}
    project = terminology().project
    used = set()
    for entry in bundle["entry"]:
        _collect(entry["resource"], project, used)
    assert used <= codes


def _collect(value: Any, system: str, out: set[str]) -> None:
    if isinstance(value, dict):
        if value.get("system") == system and "code" in value:
            out.add(value["code"])
        for item in value.values():
            _collect(item, system, out)
    elif isinstance(value, list):
        for item in value:
            _collect(item, system, out)


def test_standard_codes_come_only_from_the_terminology_file() -> None:
    """Every LOINC / SNOMED / ICD-10-CM code exported is listed in terminology.yaml."""
    t = terminology()
    allowed = ({r["code"] for r in t.performance.values()} | set(t.labs)
               | {r["code"] for r in t.body.values()}
               | {r["code"] for r in t.secondary.values()}
               | {c for answers in t.performance_answers.values() for c in answers}
               | set(t.vertebral_levels.values()))
    for case in CASES:
        bundle = export_case(case, now=NOW)
        for system in (t.loinc, t.snomed, t.icd10cm):
            found: set[str] = set()
            for entry in bundle["entry"]:
                _collect(entry["resource"], system, found)
            assert found <= allowed


def test_project_concepts_are_unique() -> None:
    codes = [c for c, _ in project_concepts()]
    assert len(codes) == len(set(codes))


def test_export_takes_a_loaded_case_too() -> None:
    case = load_case(CASES[0])
    assert export_case(case, now=NOW) == export_case(CASES[0], now=NOW)


def test_clinical_time_is_kept_and_export_time_is_only_the_provenance() -> None:
    case = {"format": "spinemets-case/1", "id": "c-1", "performance": {"ecog": 1},
            "labs": {"albumin": {"value": 3.1, "unit": "g/dL"}},
            "ehr": {"patient_id": "ehr-7", "identifier": [{"system": "urn:mrn", "value": "7"}],
                    "observed_at": {"performance.ecog": "2018-04-12T00:00:00+00:00"}}}
    bundle = export_case(case, now=NOW)
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert by_id["perf-ecog"]["effectiveDateTime"].startswith("2018-04-12T00:00:00")
    assert "effectiveDateTime" not in by_id["lab-albumin"]  # time unknown: undated, not "now"
    assert by_id["lab-albumin"]["category"][0]["coding"][0]["code"] == "laboratory"
    (provenance,) = _resources(bundle, "Provenance")
    assert provenance["recorded"].startswith("2025-01-15")
    (patient,) = _resources(bundle, "Patient")
    assert patient["id"] == "ehr-7"
    assert {"system": "urn:mrn", "value": "7"} in patient["identifier"]
    assert {"system": terminology().case_ref, "value": "c-1"} in patient["identifier"]
    author = [a for a in provenance["agent"] if a["who"]["display"] == "Dr Example"]
    assert author == [] or author[0]["type"]["coding"][0]["code"] == "author"


def test_cases_without_an_id_never_share_a_patient() -> None:
    first = export_case({"performance": {"ecog": 1}}, now=NOW)
    second = export_case({"performance": {"ecog": 1}}, now=NOW)
    urls = [next(e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient")
            for b in (first, second)]
    assert urls[0] != urls[1]


def test_pseudonymised_export_never_carries_the_ehr_identifiers_or_dates() -> None:
    from spinemets.storage import pseudonymise_case  # noqa: PLC0415

    case = {"format": "spinemets-case/1", "id": "c-1", "performance": {"ecog": 1},
            "ehr": {"patient_id": "ehr-7", "identifier": [{"system": "urn:mrn", "value": "7"}],
                    "observed_at": {"performance.ecog": "2018-04-12T00:00:00+00:00"}}}
    out = pseudonymise_case(case, secret=b"k" * 32)
    assert out is not None and "ehr" not in out
    assert "ehr-7" not in str(out) and "2018-04-12" not in str(out)
