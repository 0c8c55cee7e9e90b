"""CDS Hooks 2.0 contract tests: discovery, cards, 412, OperationOutcome, JWT, an EHR double."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from spinemets.fhir._cds import PREFETCH, SERVICE_ID, SUMMARY_LIMIT
from spinemets.web import Settings, create_app
from spinemets.web.cds import CdsSettings

from .conftest import BUNDLES, MALFORMED, load

ISS = "https://ehr.example.org"
BASE = "http://testserver/cds-services"
KEY = ECKey.generate_key("P-384", parameters={"kid": "ehr-1"})
READABLE = [p for p in BUNDLES if not p.name.startswith(MALFORMED)]


def _token(**override: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": f"{BASE}/{SERVICE_ID}", "exp": now + 300, "iat": now,
              "jti": str(uuid.uuid4())}
    claims.update(override)
    return jwt.encode({"alg": "ES384", "kid": "ehr-1", "typ": "JWT"}, claims, KEY,
                      algorithms=["ES384"])


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'cds.sqlite3'}",
                              environment="test", secret_key="c" * 40, demo=False))
    app.state.spinemets_cds = CdsSettings(
        issuers={ISS: {"keys": [KEY.as_dict(private=False)]}},
        allowed_origins=["https://ehr.example.org"])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _prefetch(bundle: dict[str, Any]) -> dict[str, Any]:
    """The fixture's resources as prefetch, observations re-dated to today (the service uses
    the current time for staleness)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    today = datetime.now(UTC).isoformat()
    for entry in bundle["entry"]:
        if "effectiveDateTime" in entry["resource"]:
            entry["resource"]["effectiveDateTime"] = today
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry)
    search = {kind: {"resourceType": "Bundle", "type": "searchset",
                     "entry": by_type.get(kind, [])}
              for kind in ("Condition", "Observation", "Procedure")}
    return {"patient": by_type["Patient"][0]["resource"], "conditions": search["Condition"],
            "observations": search["Observation"], "procedures": search["Procedure"]}


def _call(client: TestClient, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token or _token()}"}
    return client.post(f"/cds-services/{SERVICE_ID}", json=body, headers=headers)


def _hook(**extra: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": "patient"}, **extra}


def _check_card(card: dict[str, Any]) -> None:
    assert len(card["summary"]) < SUMMARY_LIMIT
    assert card["indicator"] in {"info", "warning", "critical"}
    assert card["source"]["label"]
    assert uuid.UUID(card["uuid"])
    if "suggestions" in card:
        assert card["selectionBehavior"] in {"at-most-one", "any"}
    for link in card.get("links", []):
        assert link["type"] in {"absolute", "smart"}
        assert link["label"] and link["url"]


def test_discovery_lists_the_service_with_prefetch(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    (service,) = response.json()["services"]
    assert service["id"] == SERVICE_ID
    assert service["hook"] == "patient-view"
    assert service["description"]
    assert service["prefetch"] == PREFETCH
    assert all("{{context.patientId}}" in q for q in service["prefetch"].values())


@pytest.mark.parametrize("path", READABLE, ids=[p.stem for p in READABLE])
def test_cards_follow_the_contract(client: TestClient, path: Path) -> None:
    response = _call(client, _hook(prefetch=_prefetch(load(path))))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) <= {"cards", "systemActions"}
    for card in body["cards"]:
        _check_card(card)


def test_no_card_when_nothing_is_actionable(client: TestClient) -> None:
    prefetch = {"patient": {"resourceType": "Patient", "id": "patient"},
                "conditions": None, "observations": None, "procedures": None}
    response = _call(client, _hook(prefetch=prefetch))
    assert response.json() == {"cards": []}


def _lesion_bundle(escc: str) -> dict[str, Any]:
    bundle = load(READABLE[0])
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource.get("code", {}).get("coding", [{}])[0].get("code") == "lesion.escc":
            resource["valueString"] = escc
    return bundle


def test_lesion_card_for_high_grade_escc_with_suggestion(client: TestClient) -> None:
    body = _call(client, _hook(prefetch=_prefetch(_lesion_bundle("3")))).json()
    warnings = [c for c in body["cards"] if "ESCC 3" in c["summary"]]
    assert len(warnings) == 1
    assert warnings[0]["indicator"] == "warning"
    assert warnings[0]["selectionBehavior"] == "at-most-one"
    assert "Citations" in warnings[0]["detail"]
    assert warnings[0]["links"][0]["type"] == "smart"


def test_missing_prefetch_without_fhir_server_is_412(client: TestClient) -> None:
    response = _call(client, _hook(prefetch={"patient": {"resourceType": "Patient"}}))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


def test_bad_request_is_an_operation_outcome(client: TestClient) -> None:
    response = _call(client, {"hook": "patient-view", "hookInstance": "not-a-uuid",
                              "context": {"userId": "u", "patientId": "p"}})
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "invalid"


def _hs256() -> str:
    now = int(time.time())
    key = OctKey.import_key("s" * 48)
    return jwt.encode({"alg": "HS256"}, {"iss": ISS, "aud": f"{BASE}/{SERVICE_ID}",
                                         "exp": now + 60, "iat": now, "jti": "h"}, key,
                      algorithms=["HS256"])


def _none() -> str:
    import base64  # noqa: PLC0415

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    return part({"alg": "none"}) + "." + part(
        {"iss": ISS, "aud": f"{BASE}/{SERVICE_ID}", "exp": now + 60, "iat": now,
         "jti": "n"}) + "."


@pytest.mark.parametrize("token", [
    pytest.param(lambda: _token(aud=f"{BASE}/other"), id="wrong-aud"),
    pytest.param(lambda: _token(exp=int(time.time()) - 3600), id="expired"),
    pytest.param(lambda: _token(iss="https://evil.example.org"), id="unknown-iss"),
    pytest.param(_none, id="alg-none"),
    pytest.param(_hs256, id="hs256"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
])
def test_bad_tokens_are_refused_with_401(client: TestClient, token: Any) -> None:
    response = _call(client, _hook(prefetch={}), token())
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == "security"


def test_missing_token_and_replayed_jti_are_refused(client: TestClient) -> None:
    body = _hook(prefetch=_prefetch(load(READABLE[0])))
    assert client.post(f"/cds-services/{SERVICE_ID}", json=body).status_code == 401
    token = _token()
    assert _call(client, body, token).status_code == 200
    assert _call(client, body, token).status_code == 401


def test_feedback_is_stored(client: TestClient) -> None:
    from spinemets.web.cds import feedback_entries  # noqa: PLC0415

    body = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted",
                          "outcomeTimestamp": "2025-01-15T12:00:00Z"}]}
    token = _token(aud=f"{BASE}/{SERVICE_ID}/feedback")
    response = client.post(f"/cds-services/{SERVICE_ID}/feedback", json=body,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    request = type("R", (), {"app": client.app})()
    assert feedback_entries(request)[0]["outcome"] == "accepted"  # type: ignore[arg-type]
    bad = client.post(f"/cds-services/{SERVICE_ID}/feedback", json={"feedback": []},
                      headers={"Authorization": "Bearer " + _token(
                          aud=f"{BASE}/{SERVICE_ID}/feedback")})
    assert bad.status_code == 400


def test_cors_only_for_configured_origins(client: TestClient) -> None:
    good = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert good.headers["access-control-allow-origin"] == "https://ehr.example.org"
    other = client.get("/cds-services", headers={"Origin": "https://evil.example.org"})
    assert "access-control-allow-origin" not in other.headers


# -- an EHR double: a FHIR server on 127.0.0.1 serving a fixture, the service must fetch ----------


class _FhirDouble(BaseHTTPRequestHandler):
    bundle: ClassVar[dict[str, Any]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        prefetch = _prefetch(self.bundle)
        key = {"/fhir/Patient/patient": "patient", "/fhir/Condition?patient=patient":
               "conditions", "/fhir/Observation?patient=patient": "observations",
               "/fhir/Procedure?patient=patient": "procedures"}.get(self.path)
        data = json.dumps(prefetch[key] if key else {"resourceType": "OperationOutcome"})
        self.send_response(200 if key else 404)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        self.wfile.write(data.encode())

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def fhir_server() -> Iterator[str]:
    _FhirDouble.bundle = _lesion_bundle("2")
    _FhirDouble.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FhirDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def test_service_fetches_missing_prefetch_like_an_ehr(client: TestClient,
                                                      fhir_server: str) -> None:
    body = _hook(fhirServer=fhir_server, fhirAuthorization={
        "access_token": "opaque-token", "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "spinemets"})
    response = _call(client, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert any("ESCC 2" in c["summary"] and c["indicator"] == "warning" for c in cards)
    assert {p for p, _ in _FhirDouble.seen} == {
        "/fhir/Patient/patient", "/fhir/Condition?patient=patient",
        "/fhir/Observation?patient=patient", "/fhir/Procedure?patient=patient"}
    assert {a for _, a in _FhirDouble.seen} == {"Bearer opaque-token"}


def test_unreachable_fhir_server_is_412(client: TestClient) -> None:
    response = _call(client, _hook(fhirServer="http://127.0.0.1:9/fhir"))
    assert response.status_code == 412


def _audit_rows(client: TestClient, action: str) -> list[Any]:
    from spinemets import storage  # noqa: PLC0415

    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        return list(storage.list_audit(session, action=action, oldest_first=True))


def test_every_cds_call_is_audited_in_the_audit_table(client: TestClient) -> None:
    assert client.get("/cds-services").status_code == 200
    body = _hook(prefetch=_prefetch(load(READABLE[0])))
    assert _call(client, body).status_code == 200
    assert client.post(f"/cds-services/{SERVICE_ID}", json=body).status_code == 401
    assert _call(client, {"hook": "patient-view"}).status_code == 400
    # anonymous discovery is counted per hour, not stored one row each (issue 23)
    assert _audit_rows(client, "cds_discovery") == []
    from sqlalchemy import select  # noqa: PLC0415

    from spinemets.storage._models import AuditCounter  # noqa: PLC0415

    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(AuditCounter.calls).where(
            AuditCounter.route == "/cds-services")) == 1
    calls = _audit_rows(client, "cds_call")
    assert [(c.outcome, c.actor) for c in calls] == [
        ("success", f"cds:{ISS}"), ("refused", None), ("invalid", f"cds:{ISS}")]
    assert f"hook_instance={body['hookInstance']}" in calls[0].detail
    assert "patient" not in calls[0].detail.replace("patient=", "")  # a hash, not the id
    assert calls[0].target == SERVICE_ID


def test_feedback_with_override_reason_is_stored_in_the_database(client: TestClient) -> None:
    from spinemets import storage  # noqa: PLC0415

    card = str(uuid.uuid4())
    body = {"feedback": [{"card": card, "outcome": "overridden",
                          "overrideReason": {"reason": {"code": "patient-refused",
                                                        "system": "https://example.org/r",
                                                        "display": "Patient refused"},
                                             "userComment": "prefers to wait"},
                          "outcomeTimestamp": "2025-01-15T12:00:00Z"}]}
    token = _token(aud=f"{BASE}/{SERVICE_ID}/feedback")
    assert client.post(f"/cds-services/{SERVICE_ID}/feedback", json=body,
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        [row] = storage.list_cds_feedback(session)
        assert (row.card, row.outcome, row.override_code, row.override_text, row.issuer) == (
            card, "overridden", "patient-refused", "prefers to wait", ISS)
    [event] = _audit_rows(client, "cds_feedback")
    assert event.detail == f"card={card} outcome=overridden"


def test_card_link_bundle_is_kept_in_the_database(client: TestClient) -> None:
    from spinemets.web.cds import cds_case  # noqa: PLC0415

    body = _hook(prefetch=_prefetch(load(READABLE[0])))
    cards = _call(client, body).json()["cards"]
    urls = [link["url"] for card in cards for link in card.get("links", [])]
    assert urls, cards
    token = urls[0].split("cds=", 1)[1]
    request = type("R", (), {"app": client.app})()
    bundle = cds_case(request, token)  # type: ignore[arg-type]
    assert bundle is not None and bundle["resourceType"] == "Bundle"
    assert cds_case(request, token + "x") is None  # type: ignore[arg-type]
