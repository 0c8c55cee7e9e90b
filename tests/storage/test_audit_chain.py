"""The audit hash chain (SQLite and PostgreSQL): intact after appends, concurrent appends stay
linear, and ``spinemets db verify-audit`` finds an inserted, a changed and a deleted row (the
tampering is done the way an attacker with database access would: triggers lifted first)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, text
from typer.testing import CliRunner

from spinemets import storage
from spinemets.cli import app as cli_app

runner = CliRunner()


def _append(engine: Engine, n: int, *, prefix: str = "a") -> None:
    sessions = storage.make_sessionmaker(engine)
    for i in range(n):
        with sessions.begin() as session:
            storage.record_audit(session, action="case_read", outcome="success",
                                 actor=f"{prefix}{i}", case_ref=f"ref-{i}", client="127.0.0.1")


def _verify(engine: Engine) -> storage.AuditVerification:
    with storage.make_sessionmaker(engine).begin() as session:
        return storage.verify_audit_chain(session)


def _cli_verify(engine: Engine) -> tuple[int, str]:
    url = engine.url.render_as_string(hide_password=False)
    result = runner.invoke(cli_app, ["db", "verify-audit", "--database-url", url])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


class _Unguarded:
    """Lift the append-only triggers, as an attacker with database access would."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def __enter__(self) -> Connection:
        if self.postgres:
            self.connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            self.connection.execute(text("DROP TRIGGER audit_events_no_update"))
            self.connection.execute(text("DROP TRIGGER audit_events_no_delete"))
        return self.connection

    def __exit__(self, *_exc: object) -> None:
        if self.postgres:
            self.connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


@pytest.fixture
def chained(engine: Engine) -> Engine:
    _append(engine, 6)
    return engine


def test_appends_form_an_intact_chain(chained: Engine) -> None:
    result = _verify(chained)
    assert result.intact, result.problems
    assert result.rows == 6 and result.head_seq == 6
    code, output = _cli_verify(chained)
    assert code == 0 and "audit chain intact: 6 rows" in output


def test_triggers_still_refuse_update_and_delete(chained: Engine) -> None:
    for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events",
                      "DELETE FROM audit_chain_head"):
        with chained.begin() as connection, pytest.raises(
                Exception, match=r"append-only|cannot be deleted"):
            connection.execute(text(statement))


def test_changed_row_is_detected(chained: Engine) -> None:
    with chained.begin() as connection, _Unguarded(connection) as raw:
        raw.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3"))
    result = _verify(chained)
    assert any("position 3) was changed" in p for p in result.problems), result.problems
    code, output = _cli_verify(chained)
    assert code == 1 and "audit chain broken" in output and "Traceback" not in output


def test_deleted_row_is_detected(chained: Engine) -> None:
    with chained.begin() as connection, _Unguarded(connection) as raw:
        raw.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    problems = _verify(chained).problems
    assert any("missing" in p for p in problems), problems
    assert _cli_verify(chained)[0] == 1


def test_deleted_last_row_is_detected(chained: Engine) -> None:
    with chained.begin() as connection, _Unguarded(connection) as raw:
        raw.execute(text("DELETE FROM audit_events WHERE seq = 6"))
    problems = _verify(chained).problems
    assert any("chain head" in p for p in problems), problems


def test_inserted_row_is_detected(chained: Engine) -> None:
    """A backdated row slipped in between (with a plausible but made-up position and hash)."""
    with chained.begin() as connection:
        prev = connection.execute(text("SELECT row_hash FROM audit_events WHERE seq = 3")
                                  ).scalar_one()
        # Positions are unique: shift rows 4.. up by one to make room, as a forger must.
        with _Unguarded(connection) as raw:
            raw.execute(text("UPDATE audit_events SET seq = seq + 100 WHERE seq > 3"))
            raw.execute(text("UPDATE audit_events SET seq = seq - 99 WHERE seq > 100"))
            at = datetime(2020, 1, 1, tzinfo=UTC)
            digest = storage.row_digest(prev, seq=4, at=at, actor="ghost", actor_id=None,
                                        roles="", action="case_read", case_ref="x",
                                        target=None, client="", outcome="success", detail="")
            raw.execute(text(
                "INSERT INTO audit_events (at, actor, roles, action, client, outcome, detail, "
                "case_ref, seq, prev_hash, row_hash) VALUES (:at, 'ghost', '', 'case_read', "
                "'', 'success', '', 'x', 4, :prev, :hash)"), {"at": at, "prev": prev,
                                                             "hash": digest})
    problems = _verify(chained).problems
    assert problems, "an inserted row went unnoticed"
    assert _cli_verify(chained)[0] == 1


def test_row_inserted_without_position_is_detected(chained: Engine) -> None:
    with chained.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_events (at, actor, roles, action, client, outcome, detail) "
            "VALUES (:at, 'ghost', '', 'case_read', '', 'success', '')"),
            {"at": datetime(2020, 1, 1, tzinfo=UTC)})
    assert any("no chain position" in p for p in _verify(chained).problems)


def test_concurrent_appends_keep_the_chain_linear(engine: Engine) -> None:
    errors: list[BaseException] = []

    def worker(prefix: str) -> None:
        try:
            _append(engine, 15, prefix=prefix)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}-",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    result = _verify(engine)
    assert result.intact, result.problems
    assert result.rows == 90


def test_counters_add_up_per_hour_and_route(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    moment = datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    for minute in (0, 10, 59):
        with sessions.begin() as session:
            storage.count_call(session, route="/cds-services", outcome="success",
                               now=moment.replace(minute=minute))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT route, calls FROM audit_counters")).all()
    assert [(r[0], r[1]) for r in rows] == [("/cds-services", 3)]
    assert storage.count_audit(sessions()) == 0


def test_purged_reference_stays_reserved(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    data = {"format": "spinemets-case/1", "id": "keep-1"}
    with sessions.begin() as session:
        storage.create_case(session, case_ref="keep-1", data=data, user=None)
        storage.record_audit(session, action="case_create", outcome="success",
                             case_ref="keep-1")
    with sessions.begin() as session:
        assert storage.purge_case(session, case_ref="keep-1")
    with sessions.begin() as session, pytest.raises(storage.ReservedCaseRefError,
                                                    match="stays reserved"):
        storage.create_case(session, case_ref="keep-1", data=data, user=None)
    with sessions.begin() as session:
        assert storage.is_reserved_ref(session, case_ref="keep-1")
        assert storage.get_case(session, case_ref="keep-1", include_deleted=True) is None
        # the old audit rows stay, and no new case can ever claim them
        assert len(storage.list_audit(session, case_ref="keep-1")) == 1


def test_migration_chains_existing_rows(db_url: str) -> None:
    engine = storage.make_engine(db_url)
    try:
        storage.migrate(engine, revision="0003")
        with engine.begin() as connection:
            for i in range(3):
                connection.execute(text(
                    "INSERT INTO audit_events (at, actor, roles, action, client, outcome, "
                    "detail) VALUES (:at, :actor, '', 'sign_in', '', 'success', '')"),
                    {"at": datetime(2025, 1, 1, 0, 0, i, 123456, tzinfo=UTC),
                     "actor": f"u{i}"})
        storage.migrate(engine)
        _append(engine, 2)
        result = _verify(engine)
        assert result.intact, result.problems
        assert result.rows == 5
        with engine.begin() as connection, pytest.raises(Exception, match="append-only"):
            connection.execute(text("UPDATE audit_events SET detail = 'x'"))
    finally:
        engine.dispose()


def test_prune_removes_only_expired_short_lived_rows(engine: Engine) -> None:
    from datetime import timedelta  # noqa: PLC0415

    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        user = storage.create_user(session, username="pruned", password_hash="x",
                                   display_name="P", roles=["clinician"])
        storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
        storage.create_session(session, user_id=user.id, lifetime=timedelta(seconds=-1))
        storage.issue_login_nonce(session, lifetime=timedelta(seconds=-1))
        storage.record_audit(session, action="sign_in", outcome="success", user=user)
    with sessions.begin() as session:
        removed = storage.prune_expired(session)
    assert removed == {"web_sessions": 1, "login_nonces": 1, "cds_handoffs": 0}
    with sessions.begin() as session:
        assert session.query(storage.WebSession).count() == 1
        assert storage.count_audit(session) == 1
