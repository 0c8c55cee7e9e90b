"""Storage: migrations, repositories, demo seeding (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from spinemets import storage


def _check(engine: Engine) -> None:
    storage.migrate(engine)
    assert {"users", "web_sessions", "cases"} <= set(inspect(engine).get_table_names())
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        storage.seed_demo(session, hash_password=lambda p: f"hashed:{p}")
        storage.seed_demo(session, hash_password=lambda p: f"hashed:{p}")  # idempotent
    with sessions.begin() as session:
        user = storage.get_user(session, username=storage.DEMO_USERNAME)
        assert user is not None and user.password_hash.startswith("hashed:")
        refs = [c.case_ref for c in storage.list_cases(session)]
        assert sorted(refs) == sorted(c["id"] for c in storage.demo_cases())
        token = storage.create_session(session, user_id=user.id, lifetime=timedelta(hours=1))
        assert storage.get_session_user(session, token=token) == user
        expired = storage.create_session(session, user_id=user.id,
                                         lifetime=timedelta(seconds=-1))
        assert storage.get_session_user(session, token=expired) is None
        storage.delete_session(session, token=token)
        assert storage.get_session_user(session, token=token) is None
        record = storage.save_case(session, case_ref="t-1", data={"id": "t-1"})
        storage.save_case(session, case_ref="t-1", data={"id": "t-1", "x": 1})
        assert storage.get_case(session, case_ref="t-1") is record
        assert record.data == {"id": "t-1", "x": 1}
        assert storage.delete_case(session, case_ref="t-1")


def test_sqlite_wal(tmp_path: Path) -> None:
    engine = storage.make_engine(f"sqlite:///{tmp_path / 's.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    _check(engine)
    engine.dispose()


def test_sqlite_memory() -> None:
    engine = storage.make_engine("sqlite://")
    _check(engine)
    engine.dispose()


@pytest.mark.postgres
def test_postgres() -> None:
    url = os.environ.get("SPINEMETS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SPINEMETS_TEST_POSTGRES_URL not set")
    engine = storage.make_engine(url)
    with engine.begin() as connection:
        for table in ("web_sessions", "cases", "users", "alembic_version"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    _check(engine)
    engine.dispose()
