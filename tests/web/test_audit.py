"""Audit trail (reads, writes, sign-ins, exports), MDT decisions in the history and report,
the accounts CLI and backup/restore round trips."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.web import _accounts_helpers as accounts_helpers
from typer.testing import CliRunner

from spinemets import storage
from spinemets.cli import app as cli_app

h = accounts_helpers


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    c = h.open_client(h.make_settings(h.sqlite_url(tmp_path)))
    yield c
    c.__exit__(None, None, None)


def _events(client: TestClient, **filters: str) -> list[storage.AuditEvent]:
    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        return list(storage.list_audit(session, **filters))  # type: ignore[arg-type]


def test_reads_writes_and_sign_ins_are_audited(client: TestClient) -> None:
    assert h.sign_in(client, "clinician", "wrong") == 401
    assert h.sign_in(client, "clinician") == 303
    client.get("/clinician/cases/demo-001")
    client.get("/clinician/cases/demo-001/history")
    events = _events(client)
    seen = {(e.action, e.outcome, e.case_ref) for e in events}
    assert ("sign_in", "failure", None) in seen and ("sign_in", "success", None) in seen
    assert ("case_read", "success", "demo-001") in seen
    assert ("case_history", "success", "demo-001") in seen
    read = next(e for e in events if e.action == "case_read")
    assert read.actor == "clinician" and read.roles == "clinician" and read.client
    # no case content in the audit trail
    assert all("lesion" not in (e.detail or "") for e in events)


def test_admin_sees_audit_with_filters_and_exports(client: TestClient) -> None:
    h.sign_in(client, "clinician")
    client.get("/clinician/cases/demo-002")
    client.cookies.clear()
    assert h.sign_in(client, "admin") == 303
    assert client.get("/clinician/cases/demo-002").status_code == 403  # no case content
    page = client.get("/admin/audit", params={"case_ref": "demo-002"})
    assert page.status_code == 200 and "case_read" in page.text
    exported = client.get("/admin/audit.csv", params={"action": "sign_in"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and {r["action"] for r in rows} == {"sign_in"}
    bundle = client.get("/admin/audit.fhir.json").json()
    assert bundle["resourceType"] == "Bundle"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert kinds == {"AuditEvent"}
    from fhir.resources.R4B.bundle import Bundle  # noqa: PLC0415

    Bundle.model_validate(bundle)
    assert [e.action for e in _events(client, action="audit_export")] == ["audit_export"] * 2


def test_meeting_decision_enters_history_and_report(client: TestClient) -> None:
    assert h.sign_in(client, "coordinator") == 303
    token = h.csrf(client, "/clinician/meetings")
    created = client.post("/clinician/meetings", data={
        "csrf": token, "title": "Spine MDT", "held_on": "2025-03-04",
        "attendees": "Dr A, Dr B"}, follow_redirects=False)
    assert created.status_code == 303
    meeting = created.headers["location"]
    client.post(meeting + "/cases", data={"csrf": token, "case_ref": "demo-001"})
    assert client.get(meeting + "/cases/demo-001").status_code == 403  # board decides
    client.cookies.clear()
    assert h.sign_in(client, "clinician") == 303
    form = client.get(meeting + "/cases/demo-001").text
    count = len(re.findall(r'<select class="nhsuk-select" id="v\d+"', form))
    data = {"csrf": h.csrf(client, meeting + "/cases/demo-001"), "base_version": "1",
            "free_text": "Radiotherapy 8 Gy single fraction", "responsible": "Dr A",
            "follow_up": "2025-04-01"}
    for i in range(count):
        data[f"v{i}"] = "accepted"
    if count:
        data["v0"] = "rejected"
        missing = client.post(meeting + "/cases/demo-001", data=data)
        assert missing.status_code == 422  # a rejection needs a reason
        data["r0"] = "patient preference"
    done = client.post(meeting + "/cases/demo-001", data=data, follow_redirects=False)
    assert done.status_code == 303
    report = client.get("/clinician/cases/demo-001/print").text
    assert "Tumour board decision" in report and "Radiotherapy 8 Gy" in report
    history = client.get("/clinician/cases/demo-001/history").text
    assert "decision" in history and "MDT decision" in history


runner = CliRunner()


def test_user_cli_creates_first_admin_without_password_argument(tmp_path: Path) -> None:
    url = h.sqlite_url(tmp_path)
    result = runner.invoke(cli_app, ["user", "add", "root", "--role", "admin",
                                     "--password-stdin", "--database-url", url],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    short = runner.invoke(cli_app, ["user", "add", "x", "--role", "clinician",
                                    "--password-stdin", "--database-url", url], input="short\n")
    assert short.exit_code == 2 and "at least 12" in short.output
    runner.invoke(cli_app, ["user", "set-role", "root", "-r", "admin", "-r", "clinician",
                            "--database-url", url])
    runner.invoke(cli_app, ["user", "disable", "root", "--database-url", url])
    listing = runner.invoke(cli_app, ["user", "list", "--database-url", url])
    assert "root\tadmin clinician\tdisabled" in listing.output
    bad_role = runner.invoke(cli_app, ["user", "set-role", "root", "-r", "superuser",
                                       "--database-url", url])
    assert bad_role.exit_code == 2
    engine = storage.make_engine(url)
    with storage.make_sessionmaker(engine).begin() as session:
        actions = [e.action for e in storage.list_audit(session, oldest_first=True)]
    engine.dispose()
    assert actions == ["user_add", "user_set_role", "user_disable"]


def _populate(url: str) -> None:
    engine = storage.make_engine(url)
    storage.migrate(engine)
    with storage.make_sessionmaker(engine).begin() as session:
        storage.seed_demo(session, hash_password=lambda p: "h:" + p)
        user = storage.get_user(session, username="demo")
        storage.update_case(session, case_ref="demo-001", data={"id": "demo-001", "x": 1},
                            base_version=1, user=user, reason="edit")
        storage.record_audit(session, action="case_update", outcome="success", user=user,
                             case_ref="demo-001")
    engine.dispose()


#: The backup key lives outside the database (here: the environment of the CLI run).
BACKUP_KEY = {"SPINEMETS_BACKUP_KEY": "k" * 40}


def test_sqlite_backup_restore_round_trip(tmp_path: Path) -> None:
    source = h.sqlite_url(tmp_path)
    _populate(source)
    backup = tmp_path / "backup.sqlite3"
    result = runner.invoke(cli_app, ["db", "backup", str(backup), "--database-url", source],
                           env=BACKUP_KEY)
    assert result.exit_code == 0, result.output
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    result = runner.invoke(cli_app, ["db", "restore", str(backup), "--database-url", target],
                           env=BACKUP_KEY)
    assert result.exit_code == 0, result.output
    assert "history and audit checked" in result.output
    a, b = storage.make_engine(source), storage.make_engine(target)
    assert storage.fingerprint(a) == storage.fingerprint(b)
    assert storage.fingerprint(b)["case_versions"]["rows"] == 6
    a.dispose()
    b.dispose()
    again = runner.invoke(cli_app, ["db", "restore", str(backup), "--database-url", target],
                          env=BACKUP_KEY)
    assert again.exit_code == 2 and "not empty" in again.output


@pytest.mark.postgres
def test_postgres_backup_restore_round_trip(tmp_path: Path) -> None:
    import shutil  # noqa: PLC0415

    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    sources, targets = h.postgres_database(), h.postgres_database()
    source, target = next(sources), next(targets)
    try:
        _populate(source)
        backup = tmp_path / "backup.pgdump"
        assert runner.invoke(cli_app, ["db", "backup", str(backup), "--database-url",
                                       source], env=BACKUP_KEY).exit_code == 0
        result = runner.invoke(cli_app, ["db", "restore", str(backup), "--database-url",
                                         target], env=BACKUP_KEY)
        assert result.exit_code == 0, result.output
        a, b = storage.make_engine(source), storage.make_engine(target)
        assert storage.fingerprint(a) == storage.fingerprint(b)
        with b.begin() as connection, pytest.raises(Exception, match="append-only"):
            connection.execute(text("DELETE FROM audit_events"))
        a.dispose()
        b.dispose()
    finally:
        for generator in (sources, targets):
            for _ in generator:
                pass


def test_cds_feedback_page_lists_stored_feedback_for_admins(client: TestClient) -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    with client.app.state.spinemets.sessions.begin() as session:  # type: ignore[attr-defined]
        storage.record_cds_feedback(session, service="spinemets-spine-metastases",
                                    issuer="https://ehr.example.org", card="card-1",
                                    outcome="overridden",
                                    outcome_at=datetime(2025, 1, 15, 12, tzinfo=UTC),
                                    override_code="patient-refused",
                                    override_text="prefers to <wait>")
    assert h.sign_in(client, "clinician") == 303
    assert client.get("/admin/cds-feedback").status_code == 403
    client.post("/clinician/sign-out", data={"csrf": h.csrf(client)})
    assert h.sign_in(client, "admin") == 303
    page = client.get("/admin/cds-feedback")
    assert page.status_code == 200
    assert "card-1" in page.text and "patient-refused" in page.text
    assert "prefers to &lt;wait&gt;" in page.text and "1 overridden" in page.text
    assert 'href="/admin/cds-feedback"' in client.get("/admin").text
