"""Storage: migrations, accounts, sessions, versioned cases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, inspect, text

from spinemets import storage


def test_migrations_seed_and_sessions(engine: Engine) -> None:
    assert {"users", "web_sessions", "cases", "case_versions", "audit_events"} <= set(
        inspect(engine).get_table_names())
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        storage.seed_demo(session, hash_password=lambda p: f"hashed:{p}")
        storage.seed_demo(session, hash_password=lambda p: f"hashed:{p}")  # idempotent
    with sessions.begin() as session:
        user = storage.get_user(session, username=storage.DEMO_USERNAME)
        assert user is not None and user.password_hash.startswith("hashed:")
        assert user.role_set == {"clinician", "coordinator"}
        refs = [c.case_ref for c in storage.list_cases(session)]
        assert sorted(refs) == sorted(c["id"] for c in storage.demo_cases())
        assert all(len(storage.case_versions(session, case_ref=r)) == 1 for r in refs)
        token = storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
        assert storage.get_session_user(session, token=token) == user
        expired = storage.create_session(session, user_id=user.id,
                                         lifetime=timedelta(seconds=-1))
        assert storage.get_session_user(session, token=expired) is None
        storage.delete_session(session, token=token)
        assert storage.get_session_user(session, token=token) is None
        # idle timeout: a session unused for longer than the idle limit is gone
        idle = storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
        assert storage.get_session_user(session, token=idle, idle=timedelta(seconds=-1)) is None
        # a disabled account's session stops working at once
        live = storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
        storage.update_user(session, username=user.username, disabled=True)
        assert storage.get_session_user(session, token=live) is None


def _user(engine: Engine, name: str = "alice") -> storage.User:
    with storage.make_sessionmaker(engine).begin() as session:
        return storage.create_user(session, username=name, password_hash="x",
                                   display_name=name.title())


def test_create_never_overwrites(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    alice = _user(engine)
    big = {"id": "demo-003", "lesions": [{"level": "T7"}] * 5, "patient": {"age_years": 70}}
    with sessions.begin() as session:
        storage.create_case(session, case_ref="demo-003", data=big, user=alice)
    with pytest.raises(storage.CaseExistsError, match="already exists"), \
            sessions.begin() as session:
        storage.create_case(session, case_ref="demo-003", data={"id": "demo-003"}, user=alice)
    with sessions.begin() as session:
        record = storage.get_case(session, case_ref="demo-003")
        assert record is not None and record.data == big
        assert [v.version for v in storage.case_versions(session, case_ref="demo-003")] == [1]


def test_stale_edit_is_refused_and_history_kept(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    alice, bob = _user(engine, "alice"), _user(engine, "bob")
    info = storage.VersionInfo(plan={"triage": {"level": "routine"}}, software_version="t",
                               tables_hash="h" * 64)
    with sessions.begin() as session:
        storage.create_case(session, case_ref="c-1", data={"id": "c-1", "v": 0}, user=alice,
                            info=info, reason="first")
    with sessions.begin() as session:  # both start from version 1; alice saves first
        storage.update_case(session, case_ref="c-1", data={"id": "c-1", "v": 1},
                            base_version=1, user=alice, reason="alice")
    with pytest.raises(storage.StaleVersionError) as caught, sessions.begin() as session:
        storage.update_case(session, case_ref="c-1", data={"id": "c-1", "v": 2},
                            base_version=1, user=bob, reason="bob")
    assert (caught.value.base_version, caught.value.current_version) == (1, 2)
    with sessions.begin() as session:  # bob re-applies on top of version 2
        record = storage.update_case(session, case_ref="c-1", data={"id": "c-1", "v": 2},
                                     base_version=2, user=bob, reason="bob again")
        assert record.current_version == 3 and record.updated_by == bob.id
        assert record.created_by == alice.id
        versions = storage.case_versions(session, case_ref="c-1")
        assert [(v.version, v.author, v.data["v"]) for v in versions] == [
            (1, "alice", 0), (2, "alice", 1), (3, "bob", 2)]
        assert versions[0].plan == {"triage": {"level": "routine"}}
        assert versions[0].tables_hash == "h" * 64
        changes = storage.diff_documents(versions[0].data, versions[2].data)
        assert [(c.path, c.before, c.after) for c in changes] == [("v", 0, 2)]


def test_soft_delete_keeps_history_and_reference(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    alice = _user(engine)
    with sessions.begin() as session:
        storage.create_case(session, case_ref="gone", data={"id": "gone"}, user=alice)
        storage.soft_delete_case(session, case_ref="gone", base_version=1, user=alice,
                                 reason="duplicate")
    with sessions.begin() as session:
        assert storage.get_case(session, case_ref="gone") is None
        assert [c.case_ref for c in storage.list_cases(session)] == []
        kinds = [v.kind for v in storage.case_versions(session, case_ref="gone")]
        assert kinds == ["create", "delete"]
    with pytest.raises(storage.CaseExistsError), sessions.begin() as session:
        storage.create_case(session, case_ref="gone", data={"id": "gone"}, user=alice)
    with sessions.begin() as session:
        assert storage.purge_case(session, case_ref="gone")
    with sessions.begin() as session:
        assert storage.case_versions(session, case_ref="gone") == []


LONG = "r" * 200


@pytest.mark.parametrize("ref", ["a", "demo-001", "A.b_c-9", LONG])
def test_valid_references_round_trip(engine: Engine, ref: str) -> None:
    with storage.make_sessionmaker(engine).begin() as session:
        storage.create_case(session, case_ref=ref, data={"id": ref}, user=None)
    with storage.make_sessionmaker(engine).begin() as session:
        record = storage.get_case(session, case_ref=ref)
        assert record is not None and record.case_ref == ref


@pytest.mark.parametrize("ref", ["", "a/b", "a?b", "a#b", "a%2Fb", "a b", ".", "..", "-x",
                                 "r" * 201, "é", "a\nb"])
def test_invalid_references_refused_before_the_database(engine: Engine, ref: str) -> None:
    with pytest.raises(storage.InvalidCaseRefError) as caught, \
            storage.make_sessionmaker(engine).begin() as session:
        storage.create_case(session, case_ref=ref, data={"id": ref}, user=None)
    assert len(str(caught.value)) < 300  # never echoes a long value in full


def test_audit_is_append_only(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        storage.record_audit(session, action="case_read", outcome="success", actor="x",
                             case_ref="c-1", client="127.0.0.1")
    for statement in ("UPDATE audit_events SET outcome = 'forged'",
                      "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with sessions.begin() as session:
        assert [e.outcome for e in storage.list_audit(session)] == ["success"]


def test_throttle_backs_off_exponentially(engine: Engine) -> None:
    policy = storage.ThrottlePolicy(free=5)
    with storage.make_sessionmaker(engine).begin() as session:
        for expected in range(1, 6):
            assert storage.throttle_wait(session, key="account:x") == 0
            assert storage.record_failure(session, key="account:x", policy=policy) == expected
        first = storage.throttle_wait(session, key="account:x")
        assert 25 < first <= 30
        storage.record_failure(session, key="account:x", policy=policy)
        assert 55 < storage.throttle_wait(session, key="account:x") <= 60
        storage.clear_failures(session, key="account:x")
        assert storage.throttle_wait(session, key="account:x") == 0


def test_login_nonce_is_single_use(engine: Engine) -> None:
    with storage.make_sessionmaker(engine).begin() as session:
        nonce = storage.issue_login_nonce(session)
        assert storage.consume_login_nonce(session, nonce=nonce)
        assert not storage.consume_login_nonce(session, nonce=nonce)
        assert not storage.consume_login_nonce(session, nonce="never-issued")


def test_sqlite_wal(tmp_path: object) -> None:
    engine = storage.make_engine(f"sqlite:///{tmp_path}/s.sqlite3")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_migration_from_0001_keeps_existing_cases(db_url: str) -> None:
    engine = storage.make_engine(db_url)
    storage.migrate(engine, revision="0001")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO cases (case_ref, data, demo, created_at, updated_at) VALUES "
            "('old-1', '{\"id\": \"old-1\"}', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    storage.migrate(engine)
    with storage.make_sessionmaker(engine).begin() as session:
        versions = storage.case_versions(session, case_ref="old-1")
        assert [(v.version, v.data) for v in versions] == [(1, {"id": "old-1"})]
    engine.dispose()
