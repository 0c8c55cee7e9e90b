"""Import: sources of every value, reasons for everything not used, staleness, no defaults."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from spinemets.fhir import (
    AS_OF,
    BundleFormatError,
    Reason,
    Windows,
    export_case,
    import_bundle,
    terminology,
)
from spinemets.rules import plan

from .conftest import BUNDLES, MALFORMED, load

READABLE = [p for p in BUNDLES if not p.name.startswith(MALFORMED)]
T = terminology()


def _obs(rid: str, code: str, when: str, **value: Any) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{rid}", "resource": {
        "resourceType": "Observation", "id": rid, "status": "final",
        "code": {"coding": [{"system": T.loinc, "code": code}]},
        "effectiveDateTime": when, **value}}


def _bundle(*entries: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": T.ucum, "code": unit}}


NOW = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize("path", READABLE, ids=[p.stem for p in READABLE])
def test_round_trip_import_export_import_keeps_case_scores_and_plan(path: Path) -> None:
    first = import_bundle(load(path), as_of=AS_OF)
    again = import_bundle(export_case(first.case, now=AS_OF), as_of=AS_OF)
    assert again.case == first.case
    assert plan(again.case).to_dict() == plan(first.case).to_dict()
    third = import_bundle(export_case(again.case, now=AS_OF), as_of=AS_OF)
    assert third.case == first.case


@pytest.mark.parametrize("path", READABLE, ids=[p.stem for p in READABLE])
def test_every_value_has_a_source_and_every_resource_is_accounted_for(path: Path) -> None:
    bundle = load(path)
    result = import_bundle(bundle, as_of=AS_OF)
    named = {m.source for m in result.mapped} | {u.source for u in result.unused}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert f"{resource['resourceType']}/{resource['id']}" in named
    for mapped in result.mapped:
        assert mapped.source.split("/")[0] in {"Patient", "Observation", "Condition",
                                               "Procedure"}
        assert mapped.element


def test_malformed_bundle_names_entry_and_element() -> None:
    (path,) = [p for p in BUNDLES if p.name.startswith(MALFORMED)]
    with pytest.raises(BundleFormatError) as info:
        import_bundle(load(path), as_of=AS_OF)
    (problem,) = info.value.problems
    assert problem.field.startswith("entry[")
    assert problem.field.endswith("].resource.valueQuantity.value")


@pytest.mark.parametrize(("data", "field"), [
    ([], "bundle"),
    ({"resourceType": "Patient"}, "resourceType"),
    ({"resourceType": "Bundle", "type": "history"}, "type"),
    ({"resourceType": "Bundle", "type": "collection", "entry": {}}, "entry"),
    ({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "x"}]},
     "entry[0].resource"),
])
def test_envelope_problems(data: Any, field: str) -> None:
    with pytest.raises(BundleFormatError) as info:
        import_bundle(data)
    assert info.value.problems[0].field == field


def test_more_than_one_patient_is_refused() -> None:
    patient = {"resource": {"resourceType": "Patient", "id": "a"}}
    other = {"resource": {"resourceType": "Patient", "id": "b"}}
    with pytest.raises(BundleFormatError) as info:
        import_bundle(_bundle(patient, other))
    assert [p.field for p in info.value.problems] == ["entry[0].resource", "entry[1].resource"]


def test_nothing_is_filled_in() -> None:
    result = import_bundle(_bundle(kind="searchset"))
    assert result.document == {"format": "spinemets-case/1"}
    assert not result.case.lesions_recorded
    assert result.case.performance.ecog is None


def test_most_recent_observation_wins_and_older_is_reported() -> None:
    bundle = _bundle(_obs("new", "1751-7", "2025-01-10", **_quantity(32, "g/L")),
                     _obs("old", "1751-7", "2025-01-01", **_quantity(3.9, "g/dL")))
    result = import_bundle(bundle, as_of=NOW)
    assert result.document["labs"]["albumin"] == {"value": 32, "unit": "g/L"}
    (mapped,) = [m for m in result.mapped if m.field == "labs.albumin"]
    assert (mapped.source, mapped.element) == ("Observation/new", "valueQuantity")
    assert mapped.date is not None and mapped.date.startswith("2025-01-10")
    assert mapped.note == "32 g/L = 3.20 g/dL"
    (unused,) = result.unused
    assert (unused.source, unused.reason) == ("Observation/old", Reason.SUPERSEDED)


def test_unsupported_unit_is_reported_never_guessed() -> None:
    bundle = _bundle(_obs("a", "17861-6", "2025-01-10", **_quantity(2.4, "mg/L")),
                     _obs("w", "29463-7", "2025-01-10", **_quantity(150, "[stone_av]")),
                     _obs("p", "777-3", "2025-01-10",
                          valueQuantity={"value": 150, "unit": "thousand per microlitre"}))
    result = import_bundle(bundle, as_of=NOW)
    assert "labs" not in result.document
    assert "patient" not in result.document
    assert {u.source: u.reason for u in result.unused} == {
        "Observation/a": Reason.UNSUPPORTED_UNIT, "Observation/w": Reason.UNSUPPORTED_UNIT,
        "Observation/p": Reason.UNSUPPORTED_UNIT}


def test_newest_unusable_value_is_not_replaced_by_an_older_one() -> None:
    bundle = _bundle(_obs("new", "1751-7", "2025-01-10", **_quantity(32, "mmol/L")),
                     _obs("old", "1751-7", "2025-01-01", **_quantity(3.9, "g/dL")))
    result = import_bundle(bundle, as_of=NOW)
    assert "labs" not in result.document
    assert {u.source: u.reason for u in result.unused} == {
        "Observation/new": Reason.UNSUPPORTED_UNIT, "Observation/old": Reason.SUPERSEDED}


def test_stale_observations_need_acceptance() -> None:
    bundle = _bundle(_obs("ecog", "89247-1", "2024-12-25", valueInteger=1),
                     _obs("crp", "1988-5", "2024-11-01", **_quantity(12, "mg/L")),
                     _obs("kps", "89243-0", "2025-01-10", valueInteger=80))
    result = import_bundle(bundle, as_of=NOW)
    assert result.document["performance"] == {"kps": 80}
    assert {u.source for u in result.stale} == {"Observation/ecog", "Observation/crp"}
    accepted = import_bundle(bundle, as_of=NOW, accept_stale={"Observation/ecog"})
    assert accepted.document["performance"] == {"kps": 80, "ecog": 1}
    assert "accepted although" in next(m.note or "" for m in accepted.mapped
                                       if m.field == "performance.ecog")
    wide = import_bundle(bundle, as_of=NOW, windows=Windows(labs_days=90, performance_days=30))
    assert wide.document["labs"]["crp"] == {"value": 12, "unit": "mg/L"}
    assert import_bundle(bundle, as_of=NOW, accept_stale=True).stale == ()


def test_undated_observation_is_not_used_unless_accepted() -> None:
    entry = _obs("e", "89247-1", "2025-01-01", valueInteger=2)
    del entry["resource"]["effectiveDateTime"]
    result = import_bundle(_bundle(entry), as_of=NOW)
    assert [u.reason for u in result.unused] == [Reason.NO_DATE]
    assert import_bundle(_bundle(entry), accept_stale=["Observation/e"]).case.performance.ecog == 2


def test_unknown_code_and_height_and_bad_value_are_reported() -> None:
    other = _obs("x", "0000-0", "2025-01-10", valueInteger=1)
    height = _obs("h", "8302-2", "2025-01-10", **_quantity(170, "cm"))
    wrong = _obs("k", "89243-0", "2025-01-10", valueString="eighty")
    bad = _obs("k2", "89247-1", "2025-01-10", valueInteger=9)
    result = import_bundle(_bundle(other, height, wrong, bad), as_of=NOW)
    assert {u.source: u.reason for u in result.unused} == {
        "Observation/x": Reason.UNKNOWN_CODE, "Observation/h": Reason.NOT_IN_CASE_FORMAT,
        "Observation/k": Reason.INVALID_VALUE, "Observation/k2": Reason.INVALID_VALUE}
    assert result.case.performance.ecog is None


def _condition(rid: str, *sites: str, secondary: bool = True) -> dict[str, Any]:
    code = ({"coding": [{"system": T.icd10cm, "code": "C79.51"}]} if secondary
            else {"text": rid})
    return {"fullUrl": f"urn:uuid:{rid}", "resource": {
        "resourceType": "Condition", "id": rid, "subject": {"reference": "Patient/p"},
        "code": code, "bodySite": [{"text": s} for s in sites]}}


def test_lesions_levels_and_ambiguous_sites() -> None:
    result = import_bundle(_bundle(
        _condition("a", "T11-T12"), _condition("b", "L1 vertebra", "lumbar spine"),
        _condition("c", "T12"), _condition("Breast", secondary=False),
        _condition("Hypertension", secondary=False)))
    assert [list(les.levels or ()) for les in result.case.lesions] == [["T11", "T12"], ["L1"]]
    assert result.case.cancer.primary == "breast"
    reasons = {(u.source, u.element): u.reason for u in result.unused}
    assert reasons == {("Condition/b", "bodySite[1]"): Reason.AMBIGUOUS_LEVEL,
                       ("Condition/c", "bodySite"): Reason.AMBIGUOUS_LEVEL,
                       ("Condition/Hypertension", "code"): Reason.UNKNOWN_CODE}


def test_two_primaries_are_ambiguous() -> None:
    result = import_bundle(_bundle(_condition("Breast", secondary=False),
                                   _condition("Prostate", secondary=False)))
    assert result.case.cancer.primary is None
    assert {u.reason for u in result.unused} == {Reason.AMBIGUOUS}


def test_prior_radiotherapy_and_surgery_procedures_by_snomed_code_only() -> None:
    def procedure(rid: str, text: str, site: str, code: str | None = None) -> dict[str, Any]:
        concept: dict[str, Any] = {"text": text}
        if code is not None:
            concept["coding"] = [{"system": T.snomed, "code": code}]
        return {"resource": {"resourceType": "Procedure", "id": rid, "status": "completed",
                             "subject": {"reference": "Patient/p"}, "code": concept,
                             "bodySite": [{"text": site}]}}

    result = import_bundle(_bundle(
        _condition("a", "T7"),
        procedure("rt", "Palliative radiotherapy 8 Gy", "T7", "1156506007"),
        procedure("op", "Posterior fixation", "T7", "55705006"),
        procedure("rt2", "Radiotherapy", "L4", "1217123003"),
        procedure("ct", "Radiotherapy planning CT", "T7"),
        procedure("tx", "Transfusion of red cells (infusion)", "T7")))
    assert result.case.lesions[0].prior_radiotherapy is True
    reasons = {u.source: u.reason for u in result.unused}
    assert reasons == {"Procedure/op": Reason.NOT_IN_CASE_FORMAT,
                       "Procedure/rt2": Reason.NO_LESION,
                       "Procedure/ct": Reason.UNKNOWN_CODE,
                       "Procedure/tx": Reason.UNKNOWN_CODE}
    texts_only = import_bundle(_bundle(_condition("a", "T7"),
                                       procedure("ct", "Radiotherapy planning CT", "T7")))
    assert texts_only.case.lesions[0].prior_radiotherapy is None


def test_patient_age_and_sex() -> None:
    patient = {"resource": {"resourceType": "Patient", "id": "p", "gender": "female",
                            "birthDate": "1960-01-16"}}
    result = import_bundle(_bundle(patient), as_of=NOW)
    assert result.document["patient"] == {"sex": "female", "age_years": 64.0}


def test_entered_in_error_is_not_used() -> None:
    entry = _obs("e", "89247-1", "2025-01-10", valueInteger=1)
    entry["resource"]["status"] = "entered-in-error"
    result = import_bundle(_bundle(entry), as_of=NOW)
    assert result.unused[0].reason == Reason.STATUS


def test_report_is_json_ready() -> None:
    bundle = load(READABLE[0])
    report = import_bundle(copy.deepcopy(bundle), as_of=AS_OF).to_dict()
    assert report["format"] == "spinemets-fhir-import/1"
    assert {"case", "provenance", "unused", "as_of"} <= set(report)


def test_radiotherapy_procedure_date_is_the_last_course() -> None:
    def course(rid: str, performed: dict[str, Any]) -> dict[str, Any]:
        return {"resource": {"resourceType": "Procedure", "id": rid, "status": "completed",
                             "subject": {"reference": "Patient/p"},
                             "code": {"coding": [{"system": T.snomed, "code": "1156506007"}]},
                             "bodySite": [{"text": "T7"}], **performed}}

    result = import_bundle(_bundle(
        _condition("a", "T7"),
        course("rt1", {"performedDateTime": "2024-03-02T10:00:00Z"}),
        course("rt2", {"performedPeriod": {"start": "2026-05-01", "end": "2026-05-05"}}),
        course("rt3", {})))
    lesion = result.case.lesions[0]
    assert lesion.prior_radiotherapy is True
    assert str(lesion.prior_radiotherapy_date) == "2026-05-05"
    assert lesion.prior_radiotherapy_dose_gy is None  # not read from a Procedure
