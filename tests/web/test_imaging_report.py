"""The newest CT overlay of a case on the results page, the print view and the PDF report, with
its caption: CT series, when it was stored and by whom, and each suggestion marked "suggestion,
to be confirmed" or "from CT measurement, confirmed by <user>"."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from tests.imaging._phantoms import build
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage
from spinemets.imaging import measure_volumes
from spinemets.imaging._overlay import render_overlay

h = accounts_helpers
REF = "ct-report-1"
UID = "1.2.826.0.1.3680043.8.498.1234567890"


@pytest.fixture(scope="module")
def measured() -> tuple[bytes, bytes]:
    phantom = build(["L1", "L2", "L3", "L4"], crush={"L2": 0.35})
    run = measure_volumes(phantom.ct, phantom.labels, phantom.label_map,
                          source={"ct": {"kind": "dicom", "series_uid": UID, "files": 10}})
    return json.dumps(run.document).encode(), render_overlay(run)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    assert h.sign_in(c, "clinician") == 303
    with c.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        storage.create_case(session, case_ref=REF, user=None, data={
            "format": "spinemets-case/1", "id": REF,
            "lesions": [{"levels": ["L2"], "pain": "mechanical"}]})
    yield c
    c.__exit__(None, None, None)


def _upload(client: TestClient, document: bytes, overlay: bytes | None) -> Any:
    files: dict[str, Any] = {"document": ("m.json", document, "application/json")}
    if overlay is not None:
        files["overlay"] = ("m.png", overlay, "image/png")
    return client.post(f"/clinician/cases/{REF}/imaging", files=files,
                       data={"csrf": h.csrf(client)}, follow_redirects=False)


def test_no_measurement_no_overlay(client, measured):
    assert "sagittal overlay" not in client.get(f"/clinician/cases/{REF}").text
    assert _upload(client, measured[0], None).status_code == 303  # a measurement without PNG
    assert "sagittal overlay" not in client.get(f"/clinician/cases/{REF}").text
    assert "sagittal overlay" not in client.get(f"/clinician/cases/{REF}/print").text


def test_results_and_print_show_the_newest_overlay_with_its_caption(client, measured):
    assert _upload(client, *measured).status_code == 303
    assert _upload(client, *measured).status_code == 303  # measurement 2 is the newest
    for path in ("", "/print"):
        page = client.get(f"/clinician/cases/{REF}{path}").text
        assert "CT measurement 2: sagittal overlay" in page
        assert f'src="/clinician/cases/{REF}/imaging/2/overlay.png"' in page
        assert f"CT series {UID}" in page and "stored by clinician on" in page
        assert "L2, vertebral body collapse: &lt;50% collapse" in page
        assert "No SINS value suggested for L1, L3, L4" in page
        assert "suggestion, to be confirmed" in page
    accepted = client.post(f"/clinician/cases/{REF}/imaging/2/decide", data={
        "csrf": h.csrf(client), "key": "L2.collapse", "decision": "accept",
        "base_version": "1"})
    assert accepted.status_code == 200
    page = client.get(f"/clinician/cases/{REF}").text
    assert "<strong>from CT measurement, confirmed by clinician</strong>" in page
    assert "Review the CT suggestions" in page


def test_pdf_report_carries_the_overlay_image_and_caption(client, measured):
    assert _upload(client, *measured).status_code == 303
    client.post(f"/clinician/cases/{REF}/imaging/1/decide", data={
        "csrf": h.csrf(client), "key": "L2.collapse", "decision": "accept",
        "base_version": "1"})
    response = client.get(f"/clinician/cases/{REF}/report.pdf")
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    assert "CT measurement 1: sagittal overlay" in text
    assert f"CT series {UID}" in text
    assert "from CT measurement, confirmed by clinician" in text
    images = [image for p in reader.pages for image in p.images]
    assert images, "the overlay PNG is embedded in the PDF"
    assert "Review the CT suggestions" not in text  # no web link in the printed report


def test_hostile_stored_values_are_escaped_and_a_broken_png_does_not_break_the_pdf(client,
                                                                                 measured):
    document = json.loads(measured[0])
    document["source"] = {"ct": {"series_uid": "<script>alert(1)</script>"}}
    document["software"] = "<b>x</b>" * 100
    broken = b"\x89PNG\r\n\x1a\n" + b"not an image" * 50
    assert _upload(client, json.dumps(document).encode(), broken).status_code == 303
    page = client.get(f"/clinician/cases/{REF}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert "<b>x</b>" not in page
    response = client.get(f"/clinician/cases/{REF}/report.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
