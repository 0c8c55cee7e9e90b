"""Clinician "CT measurements" page: a measurement stored with its provenance, suggestions
beside the case's SINS values, accept (a new case version, marked as confirmed by the user, only
into an empty value) and reject; hostile uploads refused with a clear message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.imaging._phantoms import build
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage
from spinemets.imaging import measure_volumes
from spinemets.imaging._overlay import render_overlay
from spinemets.storage._imaging import list_measurements

h = accounts_helpers
REF = "ct-case-1"


@pytest.fixture(scope="module")
def measured() -> tuple[bytes, bytes]:
    phantom = build(["T12", "L1", "L2", "L3", "L4", "L5"], crush={"L2": 0.35, "L4": 0.6})
    run = measure_volumes(phantom.ct, phantom.labels, phantom.label_map, body=phantom.labels,
                          body_label_map=phantom.label_map,
                          source={"ct": {"kind": "nifti", "file": "phantom.nii.gz"}})
    return json.dumps(run.document).encode(), render_overlay(run)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    assert h.sign_in(c, "clinician") == 303
    with _state(c).sessions.begin() as session:
        storage.create_case(session, case_ref=REF, user=None, data={
            "format": "spinemets-case/1", "id": REF,
            "lesions": [{"levels": ["L2"], "pain": "mechanical"},
                        {"levels": ["L4"], "collapse": "none"}]})
    yield c
    c.__exit__(None, None, None)


def _state(client: TestClient) -> Any:
    return client.app.state.spinemets  # type: ignore[attr-defined]


def _upload(client: TestClient, document: bytes, overlay: bytes | None = None) -> Any:
    files: dict[str, Any] = {"document": ("m.json", document, "application/json")}
    if overlay is not None:
        files["overlay"] = ("m.png", overlay, "image/png")
    return client.post(f"/clinician/cases/{REF}/imaging", files=files,
                       data={"csrf": h.csrf(client)}, follow_redirects=False)


def _decide(client: TestClient, key: str, decision: str, version: int) -> Any:
    return client.post(f"/clinician/cases/{REF}/imaging/1/decide", data={
        "csrf": h.csrf(client), "key": key, "decision": decision,
        "base_version": str(version)})


def _case(client: TestClient) -> Any:
    with _state(client).sessions.begin() as session:
        record = storage.get_case(session, case_ref=REF)
        assert record is not None
        return dict(record.data), record.current_version


def test_store_then_accept_into_an_empty_value(client, measured):
    document, png = measured
    stored = _upload(client, document, png)
    assert stored.status_code == 303, stored.text[:300]
    page = client.get(stored.headers["location"])
    assert page.status_code == 200
    assert "Measurement 1" in page.text and "L2: Vertebral body collapse" in page.text
    assert "phantom.nii.gz" in page.text
    image = client.get(f"/clinician/cases/{REF}/imaging/1/overlay.png")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    accepted = _decide(client, "L2.collapse", "accept", 1)
    assert accepted.status_code == 200, accepted.text[accepted.text.find("error-summary"):][:400]
    assert "From CT measurement, confirmed by clinician" in accepted.text
    data, version = _case(client)
    assert version == 2
    assert data["lesions"][0]["collapse"] == "under_50"
    with _state(client).sessions.begin() as session:
        versions = storage.case_versions(session, case_ref=REF)
        assert "from CT measurement 1, confirmed by clinician" in versions[-1].reason
        events = storage.list_audit(session, action="imaging_decision")
        assert [e.outcome for e in events] == ["success"]


def test_a_value_a_clinician_entered_is_never_replaced(client, measured):
    assert _upload(client, measured[0]).status_code == 303
    refused = _decide(client, "L4.collapse", "accept", 1)
    assert refused.status_code == 409
    assert "never replaces it" in refused.text
    data, version = _case(client)
    assert version == 1
    assert data["lesions"][1]["collapse"] == "none"
    rejected = _decide(client, "L4.collapse", "reject", 1)
    assert rejected.status_code == 200
    assert "Rejected by clinician" in rejected.text


def test_stale_version_is_refused(client, measured):
    assert _upload(client, measured[0]).status_code == 303
    assert _decide(client, "L2.collapse", "accept", 7).status_code == 409
    assert _case(client)[1] == 1


@pytest.mark.parametrize(("document", "overlay", "message"), [
    (b"not json", None, "not JSON"),
    (b'{"format": "other"}', None, "spinemets-imaging/1"),
    (json.dumps({"format": "spinemets-imaging/1", "levels": [{"level": "L9", "status":
                 "measured"}]}).encode(), None, "is not a vertebra"),
    (json.dumps({"format": "spinemets-imaging/1", "levels": [{"level": "L2", "status":
                 "measured", "suggestions": {"collapse": {"value": "total"}}}]}).encode(),
     None, "is not a SINS option"),
    (None, b"GIF89a", "not a PNG"),
])
def test_bad_uploads_are_refused(client, measured, document, overlay, message):
    page = _upload(client, document or measured[0], overlay)
    assert page.status_code == 422
    assert message in page.text
    with _state(client).sessions.begin() as session:
        record = storage.get_case(session, case_ref=REF)
        assert list_measurements(session, case=record) == []


def test_signed_out_users_cannot_see_measurements(tmp_path):
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    try:
        page = c.get(f"/clinician/cases/{REF}/imaging", follow_redirects=False)
        assert page.status_code in (303, 401, 403)
    finally:
        c.__exit__(None, None, None)
