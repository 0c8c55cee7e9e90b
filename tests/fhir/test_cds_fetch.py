"""CDS Hooks against a local FHIR server double: paging, failures never silent, SSRF, tokens.

The double serves one synthetic patient under ``/<mode>/fhir``; the mode picks how it misbehaves
on the Observation search (OperationOutcome, HTML, 403, slow, invalid resource, redirect to the
cloud metadata address, a 300 MB answer).
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from spinemets.fhir._cds import SERVICE_ID
from spinemets.web import Settings, create_app
from spinemets.web.cds import CdsSettings, cds_case

from .test_cds_hooks import (
    BASE,
    ISS,
    KEY,
    _call,
    _hook,
    _lesion_bundle,
    _prefetch,
    _token,
    allow_fhir_server,
)

_MB = 1024 * 1024


def _data() -> dict[str, Any]:
    """The double's patient: the ESCC 3 fixture as a FHIR server's searches give it."""
    return _prefetch(_lesion_bundle("3"))


class _Double(BaseHTTPRequestHandler):
    data: ClassVar[dict[str, Any]] = {}
    seen: ClassVar[list[str]] = []

    def _send(self, status: int, body: bytes, kind: str = "application/fhir+json",
              **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any) -> None:
        self._send(200, json.dumps(value).encode())

    def do_GET(self) -> None:
        self.seen.append(self.path)
        parts = urlsplit(self.path)
        mode, _, rest = parts.path.strip("/").partition("/fhir/")
        resource = rest.split("/")[0]
        if resource == "Patient":
            self._json(self.data["patient"])
        elif resource == "Condition":
            self._json(self.data["conditions"])
        elif resource == "Procedure":
            self._json(self.data["procedures"])
        elif resource == "Observation":
            self._observations(mode, parts.query)
        else:
            self._send(404, b"{}")

    def _observations(self, mode: str, query: str) -> None:
        search = copy.deepcopy(self.data["observations"])
        if mode == "paged":
            escc = [e for e in search["entry"] if "escc" in json.dumps(e["resource"]["code"])]
            rest = [e for e in search["entry"] if e not in escc]
            if "page=2" in query:
                search["entry"] = escc
            else:
                search["entry"] = rest
                search["link"] = [{"relation": "next", "url": f"http://127.0.0.1:"
                                   f"{self.server.server_address[1]}/paged/fhir/Observation"
                                   "?patient=patient&page=2"}]
            self._json(search)
        elif mode == "outcome":
            self._json({"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "forbidden", "diagnostics": "access denied"}]})
        elif mode == "html":
            self._send(200, b"<html><body>Sign in</body></html>", "text/html")
        elif mode == "forbidden":
            self._send(403, b'{"resourceType": "OperationOutcome"}')
        elif mode == "slow":
            time.sleep(5)
            self._json(search)
        elif mode == "invalid":
            search["entry"][0]["resource"]["valueQuantity"] = {"value": "not a number"}
            search["entry"].append({"resource": {"resourceType": "Spaceship", "id": "x"}})
            self._json(search)
        elif mode == "redirect":
            self._send(302, b"", Location="http://169.254.169.254/latest/meta-data/")
        elif mode == "huge":
            self._huge()
        elif mode == "otherhost":
            search["link"] = [{"relation": "next", "url": "http://169.254.169.254/fhir/x"}]
            self._json(search)
        else:
            self._json(search)

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(300 * _MB))
        self.end_headers()
        chunk = b" " * _MB
        try:
            for _ in range(300):
                self.wfile.write(chunk)
        except OSError:  # the service stops reading at its limit
            return

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def double() -> Iterator[str]:
    _Double.data = _data()
    _Double.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Double)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _app(path: Path, environment: str = "test", **cds: Any) -> Any:
    app = create_app(Settings(database_url=f"sqlite:///{path}", environment=environment,
                              secret_key="c" * 40, demo=False))
    app.state.spinemets_cds = CdsSettings(
        issuers={ISS: {"keys": [KEY.as_dict(private=False)]}}, **{"service_base": BASE, **cds})
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path / "cds.sqlite3"), raise_server_exceptions=False) as test:
        yield test


def _fetching(client: TestClient, root: str, mode: str, **settings: Any) -> Any:
    server = f"{root}/{mode}/fhir"
    allow_fhir_server(client, server, **settings)
    return _call(client, _hook(fhirServer=server, fhirAuthorization={
        "access_token": "ehr-token", "token_type": "Bearer", "expires_in": 300,
        "scope": "patient/*.read", "subject": "spinemets"}))


def _warning(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    failures = [c for c in cards if "could not be read" in c["summary"]]
    assert len(failures) == 1, cards
    assert failures[0]["indicator"] == "warning"
    return failures[0]


def test_result_pages_are_followed(client: TestClient, double: str) -> None:
    response = _fetching(client, double, "paged")
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert any("ESCC 3" in c["summary"] for c in cards), cards  # only on page 2
    assert any("page=2" in path for path in _Double.seen)
    token = cards[0]["links"][0]["url"].split("cds=", 1)[1]
    bundle = cds_case(type("R", (), {"app": client.app})(), token)  # type: ignore[arg-type]
    assert bundle is not None


def test_page_limit_is_reported(client: TestClient, double: str) -> None:
    card = _warning(_fetching(client, double, "paged", fetch_max_pages=1))
    assert "pages" in card["detail"]


@pytest.mark.parametrize(("mode", "says"), [
    ("outcome", "access denied"), ("html", "not JSON"), ("forbidden", "403"),
    ("redirect", "redirect"), ("otherhost", "not under the allow-listed"),
])
def test_unreadable_data_is_a_warning_card_never_no_cards(client: TestClient, double: str,
                                                          mode: str, says: str) -> None:
    card = _warning(_fetching(client, double, mode))
    assert says in card["detail"]
    assert not any("169.254" in path for path in _Double.seen)


def test_slow_server_answer_within_the_budget(client: TestClient, double: str) -> None:
    started = time.monotonic()
    card = _warning(_fetching(client, double, "slow", fetch_budget_s=0.5))
    elapsed = time.monotonic() - started
    assert "did not answer within 0.5 s" in card["detail"]
    assert elapsed < 2.5, elapsed  # the budget, not the server, decides


def test_huge_answer_is_cut_at_the_size_limit(client: TestClient, double: str) -> None:
    card = _warning(_fetching(client, double, "huge", fetch_max_bytes=5 * _MB))
    assert "larger than" in card["detail"]


def test_invalid_resource_is_skipped_and_reported_not_fatal(client: TestClient,
                                                            double: str) -> None:
    response = _fetching(client, double, "invalid")
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    skipped = [c for c in cards if "skipped" in c["summary"]]
    assert len(skipped) == 1 and "Spaceship" in skipped[0]["detail"]
    assert any("ESCC 3" in c["summary"] for c in cards)  # the rest was still read


@pytest.mark.parametrize("server", [
    "http://127.0.0.1:1/fhir", "http://169.254.169.254/latest", "http://localhost/fhir",
    "file:///etc/passwd", "http://user:pw@ehr.example.org/fhir",
])
def test_fhir_server_outside_the_allow_list_is_refused(client: TestClient, double: str,
                                                       server: str) -> None:
    allow_fhir_server(client, f"{double}/ok/fhir")
    response = _call(client, _hook(fhirServer=server))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    assert _Double.seen == []


def test_allow_list_is_per_issuer(client: TestClient, double: str) -> None:
    client.app.state.spinemets_cds = client.app.state.spinemets_cds.model_copy(  # type: ignore[attr-defined]
        update={"fhir_servers": {"https://other-ehr.example.org": [f"{double}/ok/fhir"]}})
    client.app.state.spinemets_cds_runtime = None  # type: ignore[attr-defined]
    assert _call(client, _hook(fhirServer=f"{double}/ok/fhir")).status_code == 412
    assert _Double.seen == []


@pytest.mark.parametrize("patient", ["../..", "a/../../admin", "p?x=1", "p#x", "x" * 65, ""])
def test_patient_id_must_be_a_fhir_id(client: TestClient, double: str, patient: str) -> None:
    allow_fhir_server(client, f"{double}/ok/fhir")
    body = _hook(fhirServer=f"{double}/ok/fhir")
    body["context"]["patientId"] = patient
    response = _call(client, body)
    assert response.status_code == 400
    assert _Double.seen == []


def test_prefetched_patient_must_be_the_context_patient(client: TestClient) -> None:
    prefetch = _data()
    prefetch["patient"] = {**prefetch["patient"], "id": "someone-else"}
    card = _warning(_call(client, _hook(prefetch=prefetch)))
    assert "not the context patient" in card["detail"]


def test_deceased_patient_gets_a_card_not_an_assessment(client: TestClient) -> None:
    prefetch = _data()
    prefetch["patient"] = {**prefetch["patient"], "deceasedDateTime": "2020-01-01"}
    response = _call(client, _hook(prefetch=prefetch))
    (card,) = response.json()["cards"]
    assert "died" in card["summary"] and card["indicator"] == "info"


# -- tokens ---------------------------------------------------------------------------------------


def test_replayed_jti_is_refused_across_workers_and_restarts(tmp_path: Path) -> None:
    database = tmp_path / "shared.sqlite3"
    body = _hook(prefetch=_data())
    token = _token()
    with TestClient(_app(database), raise_server_exceptions=False) as one, TestClient(
            _app(database), raise_server_exceptions=False) as two:
        assert _call(one, body, token).status_code == 200
        replay = _call(two, body, token)
        assert replay.status_code == 401
        assert "replay" in replay.json()["issue"][0]["diagnostics"]
        assert _call(one, body, token).status_code == 401
    with TestClient(_app(database), raise_server_exceptions=False) as restarted:
        assert _call(restarted, body, token).status_code == 401
        assert _call(restarted, body, _token()).status_code == 200


# Offsets from the time the test RUNS (not when it is collected: a long run would age them).
@pytest.mark.parametrize(("offsets", "says"), [
    ({"exp": 3600}, "at most 300 s"),
    ({"exp": 100 * 365 * 86400}, "at most 300 s"),
    ({"iat": 600, "exp": 700}, "InvalidClaimError"),
])
def test_token_lifetime_at_most_five_minutes(client: TestClient, offsets: dict[str, int],
                                             says: str) -> None:
    now = int(time.time())
    claims = {name: now + offset for name, offset in offsets.items()}
    response = _call(client, _hook(prefetch=_data()), _token(**claims))
    assert response.status_code == 401
    assert says in response.json()["issue"][0]["diagnostics"]


def test_audience_comes_from_configuration_never_the_host_header(client: TestClient) -> None:
    evil = "http://evil.example.org/cds-services"
    response = client.post(f"/cds-services/{SERVICE_ID}", json=_hook(prefetch=_data()),
                           headers={"Authorization": f"Bearer {_token(aud=f'{evil}/{SERVICE_ID}')}",
                                    "Host": "evil.example.org"})
    assert response.status_code == 401


def test_unconfigured_audience_outside_production_is_not_the_request_host(
        tmp_path: Path) -> None:
    app = _app(tmp_path / "dev.sqlite3", service_base=None)
    with TestClient(app, raise_server_exceptions=False) as test:
        assert _call(test, _hook(prefetch=_data())).status_code == 401  # aud testserver


def test_production_requires_a_configured_audience(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
                              environment="production", secret_key="p" * 40, demo=False))
    app.state.spinemets_cds = CdsSettings(issuers={ISS: {"keys": [KEY.as_dict(private=False)]}})
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as test:
        response = _call(test, _hook(prefetch=_data()))
    assert response.status_code == 503
    assert "SPINEMETS_CDS_SERVICE_BASE" in response.json()["issue"][0]["diagnostics"]


# -- hostile FHIR on the CDS service ------------------------------------------------------------


def _deep(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "https://example.org/x", "valueString": "a"}
    for _ in range(depth):
        extension = {"url": "https://example.org/x", "extension": [extension]}
    return extension


@pytest.mark.parametrize("hostile", [
    {"resourceType": "Spaceship", "id": "x"},
    {"resourceType": "Observation", "id": "deep", "status": "final", "code": {"text": "a"},
     "extension": [_deep(200)]},
    {"resourceType": "Observation", "id": "wide", "status": "final",
     "code": {"coding": [{"code": "x"}] * 20_000}},
    {"resourceType": {"a": 1}},
    [1, 2, 3],
    {"resourceType": "Observation", "id": "odd", "status": {"x": 1}, "code": [1],
     "subject": 7, "effectiveDateTime": {"y": 2}},
    {"resourceType": "Observation", "id": "odd2", "status": ["final"],
     "code": {"coding": [{"system": "http://example.org", "code": {"z": 1}}]}},
])
def test_hostile_resources_never_give_a_5xx(client: TestClient, hostile: Any) -> None:
    prefetch = _data()
    prefetch["observations"]["entry"].append({"resource": hostile})
    response = _call(client, _hook(prefetch=prefetch))
    assert response.status_code < 500, response.text[:300]
    for value in (hostile, None):
        prefetch = _data()
        prefetch["procedures"] = value if value is not None else "not a bundle"
        response = _call(client, _hook(prefetch=prefetch, hookInstance=str(uuid.uuid4())))
        assert response.status_code < 500, response.text[:300]


def test_cards_name_the_ehr_patient_they_were_computed_from(client: TestClient) -> None:
    prefetch = _data()
    prefetch["patient"] = {**prefetch["patient"], "identifier": [
        {"system": "https://hospital.example.org/mrn", "value": "MRN-42"}]}
    cards = _call(client, _hook(prefetch=prefetch)).json()["cards"]
    assert cards
    for card in cards:
        assert "Record: Patient/patient" in card["detail"]
        assert "MRN-42" in card["detail"]


def test_oversized_prefetch_is_a_400_not_minutes_of_work(client: TestClient) -> None:
    prefetch = _data()
    tiny = {"resource": {"resourceType": "Observation", "id": "o", "status": "final",
                         "code": {"text": "x"}}}
    prefetch["observations"]["entry"] = [tiny] * 10_001
    started = time.monotonic()
    response = _call(client, _hook(prefetch=prefetch))
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert time.monotonic() - started < 10


def test_resources_of_another_patient_are_named_in_a_card(client: TestClient) -> None:
    prefetch = _data()
    stranger = copy.deepcopy(prefetch["observations"]["entry"][0])
    stranger["resource"]["id"] = "stranger"
    stranger["resource"]["subject"] = {"reference": "Patient/someone-else"}
    prefetch["observations"]["entry"].append(stranger)
    cards = _call(client, _hook(prefetch=prefetch)).json()["cards"]
    skipped = [c for c in cards if "skipped" in c["summary"]]
    assert len(skipped) == 1 and "Observation/stranger" in skipped[0]["detail"]


def test_hook_request_extension_is_accepted(client: TestClient) -> None:
    body = _hook(prefetch=_data(), extension={"com.example.ehr": {"tenant": "north"}})
    response = _call(client, body)
    assert response.status_code == 200, response.text
    assert all(c["source"]["topic"]["code"] == "cds.spine-metastases"
               for c in response.json()["cards"])
