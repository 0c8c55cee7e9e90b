"""Request-to-response amplification: a plan for a case with many lesions is large (every
lesion's scores carry their basis), so the public calculators answer gzip-compressed; pages
with secrets or answers and case routes (CSRF tokens, case data) are never compressed (BREACH).
Static files and the patient information pages are (tests/web/test_static.py)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from tests.rules.conftest import vignette_case

LEVELS = ["C3", "C4", "C5", "C6", "C7", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9",
          "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]


def test_many_lesion_plan_is_sent_compressed(client: TestClient) -> None:
    case = vignette_case("v03")
    case["lesions"] = [dict(case["lesions"][0], levels=[level]) for level in LEVELS]
    body = json.dumps(case)
    response = client.post("/api/v1/plan", content=body,
                           headers={"content-type": "application/json",
                                    "accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    wire = int(response.headers["content-length"])
    assert wire < 10 * len(body), (wire, len(body), len(response.content))
    assert response.json()["format"] == "spinemets-plan/1"


def test_pages_with_secrets_or_answers_are_never_compressed(client: TestClient) -> None:
    for path in ("/clinician/sign-in", "/check", "/check/q/cancer_status", "/check/result",
                 "/?next=%2Fguide", "/guide?x=reflected"):
        response = client.get(path, headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in response.headers
