"""Real FHIR material no one here wrote: Synthea R4 bundles and the mCODE STU4 example patients.

Read from ``../shared/fhir-examples`` (never copied into the repository). On every bundle: no
crash; a deceased patient is refused; every cancer Condition is either the mapped primary or
reported with its code and display; no stale value is used without an explicit accept; the
mCODE examples' ECOG, KPS and primary cancer are read.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from spinemets.fhir import ImportResult, Windows, import_bundle
from spinemets.fhir._import import DeceasedPatientError

pytestmark = pytest.mark.shared

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
# Test-only: how this test spots a cancer Condition to check it is accounted for (the importer
# itself never reads display text).
_CANCER_WORDS = ("neoplasm", "carcinoma", "cancer", "malignant", "lymphoma", "myeloma",
                 "melanoma", "sarcoma", "tumor", "metastasis")


def _bundles(shared_dir: Path) -> list[Path]:
    root = shared_dir / "fhir-examples"
    paths = sorted(root.glob("synthea/*.json")) + sorted(root.glob("mcode/*.json"))
    assert len(paths) >= 18, f"expected the 16 Synthea and 2 mCODE bundles under {root}"
    return paths


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _alive(bundle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    for entry in out["entry"]:
        entry["resource"].pop("deceasedDateTime", None)
        entry["resource"].pop("deceasedBoolean", None)
    return out


def _cancer_conditions(bundle: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Condition":
            continue
        for coding in resource["code"].get("coding", []):
            if any(w in coding.get("display", "").lower() for w in _CANCER_WORDS):
                out.append((f"Condition/{resource['id']}", coding["code"], coding["display"]))
    return out


def _check_accounted(bundle: dict[str, Any], result: ImportResult) -> None:
    mapped = {m.source for m in result.mapped if m.field == "cancer.primary"}
    lesions = {m.source for m in result.mapped if m.field.startswith("lesions[")}
    reported = {(u.source, u.detail) for u in result.unused}
    for source, code, display in _cancer_conditions(bundle):
        if source in mapped or source in lesions:
            continue
        details = [d for s, d in reported if s == source]
        assert any(code in d and display in d for d in details), (source, code, details)


def _check_fresh(result: ImportResult, accepted: bool) -> None:
    windows = Windows()
    for m in result.mapped:
        if m.date is None or accepted:
            continue
        days = windows.performance_days if m.field.startswith("performance") else (
            windows.labs_days)
        assert result.as_of - dt.datetime.fromisoformat(m.date) <= dt.timedelta(days=days), m


def test_every_shared_bundle_imports_refuses_the_deceased_and_accounts_for_cancer(
        shared_dir: Path) -> None:
    deceased = cancer = 0
    for path in _bundles(shared_dir):
        bundle = _load(path)
        dead = any(e["resource"].get("deceasedDateTime") or e["resource"].get("deceasedBoolean")
                   for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        if dead:
            deceased += 1
            with pytest.raises(DeceasedPatientError, match="deceased"):
                import_bundle(bundle, as_of=NOW)
            bundle = _alive(bundle)  # the rest of the reading is still checked
        cancer += bool(_cancer_conditions(bundle))
        for accept in (False, True):
            result = import_bundle(bundle, as_of=NOW, accept_stale=accept)
            _check_accounted(bundle, result)
            _check_fresh(result, accept)
            json.dumps(result.to_dict(), default=str)
    assert deceased >= 1 and cancer >= 12


def _mcode(shared_dir: Path, name: str) -> dict[str, Any]:
    return _load(shared_dir / "fhir-examples" / "mcode" / name)


def test_mcode_john_anyperson_ecog_kps_and_primary(shared_dir: Path) -> None:
    bundle = _mcode(shared_dir, "mcode-john-anyperson.json")
    strict = import_bundle(bundle, as_of=NOW)
    assert strict.case.cancer.primary == "lung_nsclc"  # SNOMED 254637007
    assert strict.case.performance.ecog is None and strict.case.performance.kps is None
    assert {u.source for u in strict.stale} >= {
        "Observation/ecog-performance-status-fully-active",
        "Observation/karnofsky-performance-status-normal-activity"}
    accepted = import_bundle(bundle, as_of=NOW, accept_stale=True)
    assert (accepted.case.performance.ecog, accepted.case.performance.kps) == (0, 90)
    assert accepted.patient is not None and accepted.patient.id == (
        "cancer-patient-john-anyperson")


def test_mcode_jenny_m_ecog_and_primary_reported(shared_dir: Path) -> None:
    bundle = _mcode(shared_dir, "mcode-jenny-m.json")
    result = import_bundle(bundle, as_of=NOW, accept_stale=True)
    assert result.case.performance.ecog == 0
    # Her primary (SNOMED 353431000119107) is outside the curated list and in remission:
    # reported by code and display, never guessed from the text.
    assert result.case.cancer.primary is None
    (primary,) = [u for u in result.unused
                  if u.source == "Condition/primary-cancer-condition-jenny-m"]
    assert "353431000119107" in primary.detail and "female left breast" in primary.detail
    # The chest-wall radiotherapy course is recognised by its code but is not in the spine.
    rt = [u.detail for u in result.unused if u.source.startswith("Procedure/radiotherapy")]
    assert any("1217123003" in detail for detail in rt), rt
