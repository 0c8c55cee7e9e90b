"""Golden tests: the coding real EHRs use and the record-status rules, one test per rule.

Codes are the ones ``terminology.yaml`` lists (copied from the project's checked interop list);
each test names the rule of the issue it proves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spinemets.fhir import BundleFormatError, Reason, import_bundle, terminology
from spinemets.fhir._import import DeceasedPatientError

T = terminology()
NOW = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)
PATIENT = {"fullUrl": "urn:uuid:p", "resource": {
    "resourceType": "Patient", "id": "p",
    "identifier": [{"system": "https://hospital.example.org/mrn", "value": "MRN-1"}]}}


def _bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [PATIENT, *entries]}


def _coding(system: str, code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _condition(rid: str, system: str, code: str, *sites: dict[str, Any], display: str = "",
               **extra: Any) -> dict[str, Any]:
    resource = {"resourceType": "Condition", "id": rid, "subject": {"reference": "Patient/p"},
                "code": _coding(system, code, display), **extra}
    if sites:
        resource["bodySite"] = list(sites)
    return {"fullUrl": f"urn:uuid:{rid}", "resource": resource}


def _site(level: str) -> dict[str, Any]:
    return _coding(T.snomed, T.vertebral_levels[level])


def _obs(rid: str, code: str, when: str = "2025-01-10", status: str = "final",
         subject: str = "Patient/p", **value: Any) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{rid}", "resource": {
        "resourceType": "Observation", "id": rid, "status": status,
        "subject": {"reference": subject}, "code": _coding(T.loinc, code),
        "effectiveDateTime": when, **value}}


def _lab(rid: str, code: str, value: float, unit: str, *, system: str | None = None,
         **extra: Any) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": unit, "code": unit}
    quantity["system"] = system if system is not None else T.ucum
    return _obs(rid, code, valueQuantity=quantity, **extra)


def _reasons(result: Any) -> dict[str, Reason]:
    return {u.source: u.reason for u in result.unused}


# -- 1. spinal metastasis codes -----------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(c for c, row in T.secondary_codes["snomed"].items()
                                        if row.get("region") not in {None, "spinal cord"}))
def test_pre_coordinated_spinal_metastasis_codes_make_a_lesion(code: str) -> None:
    result = import_bundle(_bundle(_condition("m", T.snomed, code)), as_of=NOW)
    (lesion,) = result.case.lesions
    assert lesion.levels is None  # the code names the region; the level stays unknown
    (mapped,) = [m for m in result.mapped if m.field == "lesions[0].levels"]
    assert mapped.source == "Condition/m" and "level not recorded" in (mapped.note or "")


def test_pre_coordinated_code_with_a_coded_level_and_a_contradicting_level() -> None:
    thoracic = next(c for c, r in T.secondary_codes["snomed"].items()
                    if r.get("region") == "thoracic")
    result = import_bundle(_bundle(
        _condition("t", T.snomed, thoracic, _site("T12")),
        _condition("wrong", T.snomed, thoracic, _site("L3"))), as_of=NOW)
    assert [les.levels for les in result.case.lesions] == [("T12",), None]
    assert _reasons(result) == {"Condition/wrong": Reason.AMBIGUOUS_LEVEL}


@pytest.mark.parametrize(("system", "code"), [(T.snomed, "128462008"),
                                             (T.snomed, "94222008"),
                                              (T.icd10cm, "C79.51"), (T.icd10cm, "C7B.03")])
def test_post_coordinated_codes_need_a_vertebral_body_site(system: str, code: str) -> None:
    femur = {"coding": [{"system": T.snomed, "code": "71341001", "display": "Femur"}]}
    result = import_bundle(_bundle(_condition("spine", system, code, _site("L2")),
                                   _condition("bone", system, code, femur),
                                   _condition("nosite", system, code)), as_of=NOW)
    assert [les.levels for les in result.case.lesions] == [("L2",)]
    assert {u.source for u in result.unused} == {"Condition/bone", "Condition/nosite"}


def test_spinal_cord_metastasis_is_reported_not_made_a_vertebral_lesion() -> None:
    result = import_bundle(_bundle(_condition("cord", T.snomed, "94600009")), as_of=NOW)
    assert result.case.lesions == ()
    assert _reasons(result) == {"Condition/cord": Reason.NOT_IN_CASE_FORMAT}


@pytest.mark.parametrize("level", sorted(T.vertebral_levels))
def test_every_level_c1_to_s5_is_read_from_its_snomed_body_site(level: str) -> None:
    result = import_bundle(_bundle(_condition("m", T.icd10cm, "C79.51", _site(level))),
                           as_of=NOW)
    assert result.case.lesions[0].levels == (level,)


# -- 1. primary cancer --------------------------------------------------------------------------


@pytest.mark.parametrize(("system", "code", "histology"), [
    *((T.snomed, c, h) for c, h in T.primary_snomed.items() if h is not None),
    *((T.icd10cm, p + ("" if "." in p else ".9"), h) for p, h in T.primary_icd10cm.items()
      if h is not None),
])
def test_primary_cancer_codes_map_to_the_catalogue(system: str, code: str,
                                                   histology: str) -> None:
    result = import_bundle(_bundle(_condition("c", system, code)), as_of=NOW)
    assert result.case.cancer.primary == histology


@pytest.mark.parametrize(("system", "code", "display", "reason"), [
    (T.snomed, "363358000", "Malignant tumor of lung", Reason.AMBIGUOUS),  # type not given
    (T.icd10cm, "C34.90", "Malignant neoplasm of lung", Reason.AMBIGUOUS),
    (T.snomed, "353431000119107", "Primary malignant neoplasm of female left breast",
     Reason.UNKNOWN_CODE),  # outside the curated list: reported, never guessed from text
    (T.snomed, "94260004", "Secondary malignant neoplasm of colon", Reason.UNKNOWN_CODE),
    (T.icd10cm, "C78.00", "Secondary malignant neoplasm of lung", Reason.UNKNOWN_CODE),
])
def test_primary_outside_the_catalogue_is_reported_by_code_and_display(
        system: str, code: str, display: str, reason: Reason) -> None:
    result = import_bundle(_bundle(_condition("c", system, code, display=display)), as_of=NOW)
    assert result.case.cancer.primary is None
    (unused,) = result.unused
    assert unused.reason == reason
    assert code in unused.detail and display in unused.detail


# -- 1. labs, units, performance, procedures -----------------------------------------------------


@pytest.mark.parametrize(("code", "analyte", "value", "unit"), [
    ("718-7", "hemoglobin", 11.2, "g/dL"), ("2857-1", "psa", 4.1, "ng/mL"),
    ("14682-9", "creatinine", 91.2, "umol/L"), ("77140-2", "creatinine", 80, "umol/L"),
    ("6301-6", "inr", 1.1, "1"), ("49765-1", "calcium", 9.4, "mg/dL"),
])
def test_listed_loinc_labs_are_read(code: str, analyte: str, value: float, unit: str) -> None:
    result = import_bundle(_bundle(_lab("l", code, value, unit)), as_of=NOW)
    assert result.document["labs"][analyte] == {"value": value, "unit": unit}


@pytest.mark.parametrize(("written", "ucum", "system"), [
    ("mg/dl", "mg/dL", None), ("umol/l", "umol/L", None), ("µmol/L", "umol/L", None),
    ("mg/dl", "mg/dL", "http://unitsofmeasure.org"),
])
def test_unit_spellings_are_accepted_and_recorded_in_provenance(
        written: str, ucum: str, system: str | None) -> None:
    code = "2160-0" if ucum == "mg/dL" else "14682-9"
    value = 1.1 if ucum == "mg/dL" else 97
    lab = _lab("l", code, value, written, system=system or "")
    if system is None:
        del lab["resource"]["valueQuantity"]["system"]
    result = import_bundle(_bundle(lab), as_of=NOW)
    assert result.document["labs"]["creatinine"] == {"value": value, "unit": ucum}
    (mapped,) = [m for m in result.mapped if m.field == "labs.creatinine"]
    assert f"{written!r}" in (mapped.note or "") and f"UCUM {ucum!r}" in (mapped.note or "")


def test_implausible_value_for_its_unit_is_refused_with_a_reason() -> None:
    result = import_bundle(_bundle(_lab("l", "2160-0", 91.2, "mg/dL")), as_of=NOW)
    assert "labs" not in result.document
    (unused,) = result.unused
    assert unused.reason == Reason.INVALID_VALUE and "implausible" in unused.detail


@pytest.mark.parametrize(("key", "answer", "score"), [
    *(("ecog", a, s) for a, s in T.performance_answers["ecog"].items()),
    *(("kps", a, s) for a, s in T.performance_answers["kps"].items()),
])
def test_ecog_and_kps_loinc_answer_codes(key: str, answer: str, score: int) -> None:
    code = T.performance[key]["code"]
    result = import_bundle(_bundle(_obs("p", code,
                                        valueCodeableConcept=_coding(T.loinc, answer))),
                           as_of=NOW)
    assert getattr(result.case.performance, key) == score


def test_performance_value_disagreeing_with_its_answer_code_is_not_used() -> None:
    result = import_bundle(_bundle(_obs("p", "89247-1", valueInteger=1,
                                        interpretation=[_coding(T.loinc, "LA9622-7")])),
                           as_of=NOW)
    assert result.case.performance.ecog is None
    assert _reasons(result) == {"Observation/p": Reason.CONFLICT}


# -- 2. record status and identity ---------------------------------------------------------------


@pytest.mark.parametrize(("element", "code"), [
    ("verificationStatus", "refuted"), ("verificationStatus", "entered-in-error"),
    ("clinicalStatus", "resolved"), ("clinicalStatus", "inactive"),
    ("clinicalStatus", "remission"),
])
@pytest.mark.parametrize("kind", ["lesion", "primary"])
def test_condition_not_current_is_not_used(element: str, code: str, kind: str) -> None:
    status = {element: _coding("http://terminology.hl7.org/CodeSystem/condition-"
                               + ("ver-status" if element == "verificationStatus"
                                  else "clinical"), code)}
    condition = (_condition("c", T.icd10cm, "C79.51", _site("T4"), **status) if kind == "lesion"
                 else _condition("c", T.snomed, "254837009", **status))
    result = import_bundle(_bundle(condition), as_of=NOW)
    assert result.case.lesions == () and result.case.cancer.primary is None
    assert _reasons(result) == {"Condition/c": Reason.STATUS}


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered"])
def test_observation_not_a_value(status: str) -> None:
    result = import_bundle(_bundle(_obs("e", "89247-1", status=status, valueInteger=1)),
                           as_of=NOW)
    assert result.case.performance.ecog is None
    assert _reasons(result) == {"Observation/e": Reason.STATUS}


def test_preliminary_only_when_nothing_final_and_marked() -> None:
    final = _obs("f", "89247-1", when="2025-01-05", valueInteger=1)
    prelim = _obs("pre", "89247-1", when="2025-01-12", status="preliminary", valueInteger=3)
    both = import_bundle(_bundle(final, prelim), as_of=NOW)
    assert both.case.performance.ecog == 1
    assert _reasons(both) == {"Observation/pre": Reason.PRELIMINARY}
    alone = import_bundle(_bundle(prelim), as_of=NOW)
    assert alone.case.performance.ecog == 3
    (mapped,) = [m for m in alone.mapped if m.field == "performance.ecog"]
    assert "preliminary" in (mapped.note or "")


@pytest.mark.parametrize("subject", ["Patient/other", "urn:uuid:other",
                                     "https://ehr.example.org/fhir/Patient/other"])
def test_resource_of_another_patient_is_never_used(subject: str) -> None:
    result = import_bundle(_bundle(
        _obs("ecog", "89247-1", subject=subject, valueInteger=4),
        {"resource": {**_condition("m", T.icd10cm, "C79.51", _site("T4"))["resource"],
                      "subject": {"reference": subject}}}), as_of=NOW)
    assert result.case.performance.ecog is None and result.case.lesions == ()
    assert _reasons(result) == {"Observation/ecog": Reason.OTHER_SUBJECT,
                                "Condition/m": Reason.OTHER_SUBJECT}
    own = import_bundle(_bundle(_obs("ecog", "89247-1", subject="urn:uuid:p", valueInteger=4)),
                        as_of=NOW)
    assert own.case.performance.ecog == 4


@pytest.mark.parametrize("deceased", [{"deceasedBoolean": True},
                                      {"deceasedDateTime": "2007-03-25T19:08:38+00:00"}])
def test_deceased_patient_is_refused_with_a_clear_message(deceased: dict[str, Any]) -> None:
    bundle = _bundle()
    bundle["entry"] = [{**PATIENT, "resource": {**PATIENT["resource"], **deceased}}]
    with pytest.raises(DeceasedPatientError) as info:
        import_bundle(bundle, as_of=NOW)
    (problem,) = info.value.problems
    assert problem.field.startswith("entry[0].resource.deceased")
    assert "deceased" in problem.message
    assert isinstance(info.value, BundleFormatError)
    alive = {**PATIENT, "resource": {**PATIENT["resource"], "deceasedBoolean": False}}
    bundle["entry"] = [alive]
    assert import_bundle(bundle, as_of=NOW).patient is not None


def test_ehr_patient_id_and_identifier_are_kept_in_the_report() -> None:
    result = import_bundle(_bundle(), as_of=NOW)
    assert result.patient is not None
    assert result.patient.id == "p"
    assert result.patient.identifiers == (("https://hospital.example.org/mrn", "MRN-1"),)
    assert result.to_dict()["patient"]["identifier"][0]["value"] == "MRN-1"


# -- 3. export keeps clinical time: a round trip keeps values, dates and staleness -------------


def test_round_trip_keeps_values_dates_and_staleness() -> None:
    from spinemets.fhir import export_case  # noqa: PLC0415

    old = _obs("ecog", "89247-1", when="2018-04-12", valueInteger=1)
    lab = _lab("alb", "1751-7", 3.1, "g/dL")
    first = import_bundle(_bundle(old, lab), as_of=NOW, accept_stale=True)
    assert first.case.performance.ecog == 1
    exported = export_case(first.case, now=NOW + dt.timedelta(days=400))
    ecog = next(e["resource"] for e in exported["entry"] if e["resource"]["id"] == "perf-ecog")
    assert ecog["effectiveDateTime"].startswith("2018-04-12")
    later = NOW + dt.timedelta(days=3)
    again = import_bundle(exported, as_of=later)
    assert again.case.performance.ecog is None  # still stale: never fresh by export
    assert again.case.labs.albumin is not None and again.case.labs.albumin.value == 3.1
    assert {u.field for u in again.stale} == {"performance.ecog"}
    accepted = import_bundle(exported, as_of=later, accept_stale=True)
    assert accepted.case == first.case
    assert accepted.case.ehr is not None and accepted.case.ehr.patient_id == "p"


def test_a_record_care_plan_is_not_taken_for_spinemets_output() -> None:
    plan = {"resource": {"resourceType": "CarePlan", "id": "cp", "status": "active",
                         "intent": "plan", "subject": {"reference": "Patient/p"},
                         "title": "Cancer care plan"}}
    result = import_bundle(_bundle(plan), as_of=NOW)
    assert _reasons(result) == {"CarePlan/cp": Reason.UNSUPPORTED_RESOURCE}
