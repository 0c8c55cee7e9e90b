"""Clinician "Import from FHIR" page: the report before saving (values with sources, unused
elements with reasons, stale observations to accept), a save through the case storage path
(new case or new version, never an overwrite, audited) and the CDS card link."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage

h = accounts_helpers
BUNDLES = Path(__file__).parents[1] / "fixtures" / "fhir" / "bundles"
BUNDLE = BUNDLES / "synth-1-005-prostate.json"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    assert h.sign_in(c, "clinician") == 303
    yield c
    c.__exit__(None, None, None)


def _state(client: TestClient) -> Any:
    return client.app.state.spinemets  # type: ignore[attr-defined]


def _preview(client: TestClient, text: str, **extra: Any) -> Any:
    return client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), "bundle": text, "action": "preview", **extra})


def _stale_sources(html: str) -> list[str]:
    return re.findall(r'name="accept" type="checkbox" value="([^"]+)"', html)


def test_report_is_shown_before_anything_is_saved(client: TestClient) -> None:
    with _state(client).sessions.begin() as session:
        before = storage.count_versions(session)
    page = _preview(client, BUNDLE.read_text())
    assert page.status_code == 200, page.text[:500]
    assert "Values read" in page.text and "Not used" in page.text
    assert re.search(r"Age<br><span class=\"nhsuk-body-s sm-path\">patient\.age_years</span>",
                     page.text)
    assert "Patient/" in page.text  # a source
    stale = _stale_sources(page.text)
    assert stale and all(s.startswith("Observation/") for s in stale)
    with _state(client).sessions.begin() as session:
        assert storage.count_versions(session) == before
        events = storage.list_audit(session, action="fhir_import")
        assert [e.outcome for e in events] == ["preview"]


def test_accepting_a_stale_observation_uses_it(client: TestClient) -> None:
    text = BUNDLE.read_text()
    stale = _stale_sources(_preview(client, text).text)
    page = _preview(client, text, accept=stale[0])
    assert f"Used although stale: {stale[0]}." in page.text
    assert re.search(f'value="{stale[0]}" checked', page.text)  # still listed, ticked
    assert f'<td class="nhsuk-table__cell">{stale[0]}</td>' in page.text  # a source now
    saved = client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), "bundle": text, "action": "save", "ref": "fhir-acc",
        "mode": "new", "accept": stale[0]}, follow_redirects=False)
    assert saved.status_code == 303
    plain = client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), "bundle": text, "action": "save", "ref": "fhir-plain",
        "mode": "new"}, follow_redirects=False)
    assert plain.status_code == 303
    with _state(client).sessions.begin() as session:
        with_stale = storage.get_case(session, case_ref="fhir-acc")
        without = storage.get_case(session, case_ref="fhir-plain")
        assert with_stale is not None and without is not None
        assert {**with_stale.data, "id": ""} != {**without.data, "id": ""}


def test_save_creates_a_case_through_the_storage_path(client: TestClient) -> None:
    text = BUNDLE.read_text()
    response = client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), "bundle": text, "action": "save", "ref": "fhir-imp-1",
        "mode": "new"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/clinician/cases/fhir-imp-1"
    with _state(client).sessions.begin() as session:
        [version] = storage.case_versions(session, case_ref="fhir-imp-1")
        assert version.reason == "imported from FHIR" and version.author == "clinician"
        assert version.plan is not None and version.data["id"] == "fhir-imp-1"
        [event] = storage.list_audit(session, action="case_create", case_ref="fhir-imp-1")
        assert (event.outcome, event.detail) == ("success", "fhir import")


def test_existing_reference_is_never_overwritten(client: TestClient) -> None:
    text = BUNDLE.read_text()
    form = {"bundle": text, "action": "save", "ref": "demo-001", "mode": "new"}
    refused = client.post("/clinician/fhir/import", data={"csrf": h.csrf(client), **form})
    assert refused.status_code == 409
    assert "exists" in refused.text and "(now version 1)" in refused.text
    with _state(client).sessions.begin() as session:
        assert storage.get_case(session, case_ref="demo-001").current_version == 1  # type: ignore[union-attr]
    # As a new version: made from the version shown (1), so it is version 2.
    stale = client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), **form, "mode": "version", "base_version": "0"})
    assert stale.status_code == 409 and 'name="base_version" value="1"' in stale.text
    saved = client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), **form, "mode": "version", "base_version": "1"},
        follow_redirects=False)
    assert saved.status_code == 303
    with _state(client).sessions.begin() as session:
        versions = storage.case_versions(session, case_ref="demo-001")
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].data["id"] == "demo-001" and versions[1].kind == "edit"


def test_bad_input_is_reported_in_an_error_summary(client: TestClient) -> None:
    for text, message in (("", "Choose a file"), ("{not json", "not valid JSON"),
                          ("[1]", "not a FHIR resource"),
                          ('{"resourceType": "Bundle", "type": "collection", "entry": 3}',
                           "entry")):
        page = _preview(client, text)
        assert page.status_code == 422, text
        assert "There is a problem" in page.text and message in page.text
    bad_ref = client.post("/clinician/fhir/import", data={
        "csrf": h.csrf(client), "bundle": BUNDLE.read_text(), "action": "save",
        "ref": "no spaces/allowed", "mode": "new"})
    assert bad_ref.status_code == 422 and 'id="f-ref-error"' in bad_ref.text


def test_file_upload_and_csrf(client: TestClient) -> None:
    page = client.post("/clinician/fhir/import", data={"csrf": h.csrf(client),
                                                      "action": "preview"},
                       files={"file": ("bundle.json", BUNDLE.read_bytes(), "application/json")})
    assert page.status_code == 200 and "Values read" in page.text
    assert client.post("/clinician/fhir/import", data={
        "csrf": "0" * 64, "bundle": BUNDLE.read_text()}).status_code == 400


def test_cds_card_link_opens_the_report(client: TestClient) -> None:
    bundle = json.loads(BUNDLE.read_text())
    with _state(client).sessions.begin() as session:
        token = storage.store_cds_handoff(session, bundle=bundle)
    page = client.get(f"/clinician/fhir/import?cds={token}")
    assert page.status_code == 200 and "through a CDS Hooks card" in page.text
    assert 'name="cds" value="1"' in page.text
    assert client.get("/clinician/fhir/import?cds=unknown").status_code == 404


def test_only_case_writers_may_import(tmp_path: Path) -> None:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        assert h.sign_in(c, "coordinator") == 303
        assert c.get("/clinician/fhir/import").status_code == 403
    finally:
        c.__exit__(None, None, None)

# The page in real Chromium with axe-core: tests/a11y/test_fhir_import_page.py
