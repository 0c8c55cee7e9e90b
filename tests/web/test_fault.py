"""Crash safety (issue 15): the real server in a subprocess, 32 signed-in clients saving and
editing cases in parallel over HTTP, SIGKILL of the server mid-way, restart.

After the restart every save the server acknowledged (``303`` from the case form) is there
with exactly the document that was sent, no version is partial (versions contiguous, the case
row agrees with its last version, each version has its plan), and every stored version has its
``success`` audit row: the audit record commits in the same transaction as the version.
Runs on SQLite (WAL) and, when ``SPINEMETS_TEST_POSTGRES_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.web import _accounts_helpers as accounts_helpers

from spinemets import storage
from spinemets.storage import AuditEvent
from spinemets.web.pages._caseform import case_to_form

pytestmark = pytest.mark.slow

CLIENTS = 32
KILL_AFTER_ACKS = 96  # acknowledged saves before the SIGKILL (about three per client)
SECRET = "fault-test-secret-" + "k" * 32
h = accounts_helpers


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fault.sqlite3'}"
    else:
        yield from h.postgres_database()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``uvicorn --workers 2`` in its own process group (so SIGKILL reaches every worker)."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "SPINEMETS_DATABASE_URL": self.url,
               "SPINEMETS_ENVIRONMENT": "test", "SPINEMETS_SECRET_KEY": SECRET,
               "SPINEMETS_DEMO": "false", "SPINEMETS_AUTO_MIGRATE": "false"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "spinemets.web:create_app_from_env",
                 "--factory", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "2", "--log-level", "warning", "--no-access-log"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to the whole process group (the supervisor and both workers)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # pragma: no cover - stuck shutdown
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _prepare(url: str) -> list[str]:
    """Migrate, add one clinician and open one session per client (the clients' cookies)."""
    engine = storage.make_engine(url)
    storage.migrate(engine)
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        user = storage.create_user(session, username="fault", password_hash="!",
                                   display_name="Fault clinician", roles=["clinician"])
        tokens = [storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
                  for _ in range(CLIENTS)]
    engine.dispose()
    return tokens


def _document(ref: str, step: int) -> dict[str, Any]:
    doc = storage.demo_cases()[step % 3]
    doc["id"] = ref
    doc["patient"]["age_years"] = 30 + step
    return doc


def _csrf(http: httpx.Client) -> str:
    page = http.get("/clinician/account").text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None, page[:200]
    return found.group(1)


def _save(http: httpx.Client, csrf: str, ref: str, step: int) -> httpx.Response:
    """Post the case form: step 0 creates the case, step n edits version n."""
    values, count = case_to_form(_document(ref, step))
    form = {**values, "csrf": csrf, "lesion_count": str(count), "action": "save",
            "reason": f"step {step}"}
    if step:
        form |= {"original_ref": ref, "base_version": str(step)}
    return http.post("/clinician/cases", data=form, follow_redirects=False)


class Client(threading.Thread):
    """One signed-in clinician: creates its case, then edits it until the server dies."""

    def __init__(self, index: int, base: str, token: str, acks: list[tuple[str, int, int]],
                 lock: threading.Lock) -> None:
        super().__init__(daemon=True)
        self.ref = f"fault-{index:02d}"
        self.base = base
        self.token = token
        self.acks = acks
        self.lock = lock
        self.error: str | None = None

    def run(self) -> None:
        headers = {"Cookie": f"sm_session={self.token}"}
        try:
            with httpx.Client(base_url=self.base, headers=headers, timeout=30) as http:
                self._loop(http, _csrf(http))
        except httpx.TransportError:
            return  # the server was killed: the request in flight is not acknowledged
        except Exception as exc:  # reported by the test
            self.error = repr(exc)

    def _loop(self, http: httpx.Client, csrf: str) -> None:
        for step in range(1000):
            response = _save(http, csrf, self.ref, step)
            if response.status_code != 303:
                self.error = f"step {step}: {response.status_code} {response.text[:300]}"
                return
            with self.lock:
                self.acks.append((self.ref, step + 1, 30 + step))


def _check(url: str, acks: list[tuple[str, int, int]]) -> dict[str, int]:
    """Every acknowledged version present and whole; an audit row for every version."""
    engine = storage.make_engine(url)
    sessions = storage.make_sessionmaker(engine)
    found = 0
    versions_total = 0
    with sessions.begin() as session:
        audit: dict[str, int] = {}
        for event in session.scalars(select(AuditEvent).where(
                AuditEvent.action.in_(("case_create", "case_update")),
                AuditEvent.outcome == "success")):
            assert event.case_ref is not None
            audit[event.case_ref] = audit.get(event.case_ref, 0) + 1
        for record in storage.list_cases(session, limit=1000):
            versions = storage.case_versions(session, case_ref=record.case_ref)
            numbers = [v.version for v in versions]
            assert numbers == list(range(1, record.current_version + 1)), record.case_ref
            assert record.data == versions[-1].data
            for v in versions:
                assert v.plan is not None and v.tables_hash and v.data["id"] == record.case_ref
                assert v.data["patient"]["age_years"] == 29 + v.version
                assert v.reason == f"step {v.version - 1}"
            assert audit.get(record.case_ref, 0) == len(versions), record.case_ref
            versions_total += len(versions)
        for ref, version, age in acks:
            stored = storage.get_version(session, case_ref=ref, version=version)
            assert stored is not None, f"acknowledged {ref} v{version} lost"
            assert stored.data["patient"]["age_years"] == age
            found += 1
    engine.dispose()
    return {"acknowledged": len(acks), "found": found, "versions": versions_total}


def test_acknowledged_saves_survive_sigkill(db_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    tokens = _prepare(db_url)
    server = Server(db_url, tmp_path / "server.log")
    server.start()
    acks: list[tuple[str, int, int]] = []
    lock = threading.Lock()
    clients = [Client(i, server.base, tokens[i], acks, lock) for i in range(CLIENTS)]
    try:
        for c in clients:
            c.start()
        deadline = time.monotonic() + 60
        while len(acks) < KILL_AFTER_ACKS and any(c.is_alive() for c in clients):
            assert time.monotonic() < deadline, f"only {len(acks)} saves in 60 s"
            time.sleep(0.01)
        in_flight = sum(c.is_alive() for c in clients)
        server.kill()
        for c in clients:
            c.join(timeout=30)
        assert [c.error for c in clients if c.error] == []
        assert in_flight == CLIENTS  # every client had a save in flight at the kill
        acknowledged = list(acks)

        server.start()  # restart on the same database (SQLite recovers its WAL)
        figures = _check(db_url, acknowledged)
        assert figures["found"] == figures["acknowledged"] >= KILL_AFTER_ACKS
        # The restarted server serves the cases and accepts the next edit of one.
        ref = acknowledged[0][0]
        with httpx.Client(base_url=server.base, timeout=30,
                          headers={"Cookie": f"sm_session={tokens[0]}"}) as http:
            assert http.get(f"/clinician/cases/{ref}").status_code == 200
            current = max(v for r, v, _ in acknowledged if r == ref)
            response = _save(http, _csrf(http), ref, current)
            if response.status_code == 409:  # a save committed but not acknowledged
                current += 1
                response = _save(http, _csrf(http), ref, current)
            assert response.status_code == 303
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    print(f"\n{db_url.split(':', maxsplit=1)[0]}: {figures} in {elapsed:.1f} s")
