"""CDS Hooks ``patient-view`` latency on real Synthea R4 bundles, with prefetch.

Each bundle of ``../shared/fhir-examples/synthea`` becomes the four prefetch searches an EHR
would send (Patient, Condition, Observation, Procedure, every resource of that type, subjects as
``Patient/<id>``); the hook is called ``--repeat`` times per bundle through the application
(in-process ASGI client, a fresh ES384 token each call, SQLite database), and the median and 95th
percentile of the answer time are printed, twice: the bundles as they are (most Synthea patients
are deceased: the service answers with a "has died" card without assessing) and the same
bundles with the death date removed (the full path: per-resource checks, import, plan, cards).
Then one call against a FHIR server that takes 5 s to answer, with the default 2 s budget.

Run: ``.venv/bin/python benchmarks/bench_cds.py [--shared ../shared] [--repeat 5]``.
About 1-2 minutes on 2 shared cores with the defaults. Prints figures only.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from spinemets.fhir._cds import SERVICE_ID
from spinemets.web import Settings, create_app
from spinemets.web.cds import CdsSettings

ISS = "https://ehr.example.org"
BASE = "http://testserver/cds-services"
KEY = ECKey.generate_key("P-384", parameters={"kid": "bench"})


def _token() -> str:
    now = int(time.time())
    return jwt.encode({"alg": "ES384", "kid": "bench", "typ": "JWT"},
                      {"iss": ISS, "aud": f"{BASE}/{SERVICE_ID}", "exp": now + 300, "iat": now,
                       "jti": str(uuid.uuid4())}, KEY, algorithms=["ES384"])


def _prefetch(bundle: dict[str, Any], *, alive: bool) -> tuple[str, dict[str, Any]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    patient: dict[str, Any] = {}
    for entry in bundle["entry"]:
        resource = copy.deepcopy(entry["resource"])
        if resource["resourceType"] == "Patient":
            patient = resource
            if alive:
                resource.pop("deceasedDateTime", None)
                resource.pop("deceasedBoolean", None)
            continue
        if "subject" in resource:
            resource["subject"] = {"reference": "Patient/" + str(patient.get("id"))}
        by_type.setdefault(resource["resourceType"], []).append({"resource": resource})
    search = {kind: {"resourceType": "Bundle", "type": "searchset",
                     "entry": by_type.get(kind, [])}
              for kind in ("Condition", "Observation", "Procedure")}
    return str(patient["id"]), {
        "patient": patient, "conditions": search["Condition"],
        "observations": search["Observation"], "procedures": search["Procedure"]}


def _hook(patient_id: str, **extra: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": patient_id}, **extra}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _run(client: TestClient, bundles: list[dict[str, Any]], repeat: int, *,
         alive: bool) -> list[float]:
    times = []
    for bundle in bundles:
        patient_id, prefetch = _prefetch(bundle, alive=alive)
        body = json.dumps(_hook(patient_id, prefetch=prefetch))
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.post(f"/cds-services/{SERVICE_ID}", content=body, headers={
                "Authorization": f"Bearer {_token()}", "Content-Type": "application/json"})
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
    return times


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(5)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paths = sorted((args.shared / "fhir-examples" / "synthea").glob("*.json"))
    if not paths:
        raise SystemExit(f"no Synthea bundles under {args.shared / 'fhir-examples'}")
    bundles = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                                  environment="test", secret_key="b" * 40, demo=False))
        slow = _slow_server()
        server = next(slow)
        app.state.spinemets_cds = CdsSettings(
            issuers={ISS: {"keys": [KEY.as_dict(private=False)]}}, service_base=BASE,
            fhir_servers={ISS: [server]})
        with TestClient(app) as client:
            _run(client, bundles[:1], 1, alive=True)  # warm-up: imports, tables, models
            for alive in (False, True):
                times = _run(client, bundles, args.repeat, alive=alive)
                label = "death date removed (full path)" if alive else "as they are"
                print(f"{len(bundles)} Synthea bundles, {label}: {len(times)} calls, median "
                      f"{statistics.median(times) * 1000:.0f} ms, p95 "
                      f"{_percentile(times, 0.95) * 1000:.0f} ms, max "
                      f"{max(times) * 1000:.0f} ms (target p95 < 500 ms)")
            started = time.perf_counter()
            response = client.post(f"/cds-services/{SERVICE_ID}",
                                   json=_hook("patient", fhirServer=server),
                                   headers={"Authorization": f"Bearer {_token()}"})
            took = time.perf_counter() - started
            print(f"FHIR server answering after 5 s, budget 2 s: HTTP {response.status_code}, "
                  f"{len(response.json().get('cards', []))} card(s), answered in {took:.2f} s "
                  "(target < 2.5 s)")
        slow.close()


if __name__ == "__main__":
    main()
