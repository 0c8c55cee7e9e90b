"""The CDS Hooks replay store and issued cards, on SQLite and PostgreSQL (migration 0004)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from spinemets import storage


def test_a_jti_is_claimed_once_across_workers(engine: Engine) -> None:
    worker_one = storage.make_sessionmaker(engine)
    worker_two = storage.make_sessionmaker(engine)
    until = datetime.now(UTC) + timedelta(minutes=5)
    assert storage.claim_cds_jti(worker_one, issuer="https://ehr", jti="a", expires_at=until)
    assert not storage.claim_cds_jti(worker_two, issuer="https://ehr", jti="a", expires_at=until)
    assert storage.claim_cds_jti(worker_two, issuer="https://other", jti="a", expires_at=until)


def test_concurrent_claims_of_one_jti_accept_exactly_one(engine: Engine) -> None:
    until = datetime.now(UTC) + timedelta(minutes=5)
    results: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        sessions = storage.make_sessionmaker(engine)
        got = storage.claim_cds_jti(sessions, issuer="https://ehr", jti="race", expires_at=until)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_expired_ids_are_pruned(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    past = datetime.now(UTC) - timedelta(minutes=1)
    assert storage.claim_cds_jti(sessions, issuer="i", jti="old", expires_at=past)
    assert storage.claim_cds_jti(sessions, issuer="i", jti="new",
                                 expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert storage.claim_cds_jti(sessions, issuer="i", jti="old", expires_at=past)


def test_issued_cards_are_known_to_the_service_that_issued_them(engine: Engine) -> None:
    sessions = storage.make_sessionmaker(engine)
    with sessions.begin() as session:
        storage.record_cds_cards(session, cards=["c-1", "c-2"], service="svc", issuer="i")
    with sessions.begin() as session:
        assert storage.cds_card_issued(session, card="c-1", service="svc")
        assert not storage.cds_card_issued(session, card="c-1", service="other")
        assert not storage.cds_card_issued(session, card="c-3", service="svc")
