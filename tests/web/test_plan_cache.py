"""The plan API's cache: the same body on the same day gets the same bytes without planning
again; another day, another body or another application plans again; bounded by size."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spinemets.storage import demo_cases
from spinemets.web import _core
from spinemets.web.api.v1 import _plan as plan_route
from spinemets.web.api.v1._plan import PlanCache


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[dt.date | None]:
    """The days :func:`_core.plan_case` was asked to plan for (one entry a plan)."""
    days: list[dt.date | None] = []
    real = _core.plan_case

    def plan_case(data: Any, *, local_model: Any = None, today: dt.date | None = None
                  ) -> dict[str, Any]:
        days.append(today)
        return real(data, local_model=local_model, today=today)
    monkeypatch.setattr(_core, "plan_case", plan_case)
    return days


def _post(client: TestClient, body: bytes) -> bytes:
    response = client.post("/api/v1/plan", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.content


def test_the_same_case_is_planned_once_and_answered_the_same(
        client: TestClient, counted: list[dt.date | None]) -> None:
    body = json.dumps(demo_cases()[0]).encode()
    first = _post(client, body)
    assert _post(client, body) == first
    assert len(counted) == 1
    assert counted[0] == dt.date.today()
    other = json.dumps(demo_cases()[1]).encode()
    assert _post(client, other) != first
    assert len(counted) == 2


def test_another_day_plans_again(client: TestClient, counted: list[dt.date | None],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps(demo_cases()[0]).encode()
    _post(client, body)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    monkeypatch.setattr(plan_route, "_today", lambda: tomorrow)
    _post(client, body)
    assert len(counted) == 2
    assert counted[1] == tomorrow


def test_a_refused_case_is_not_kept(client: TestClient, counted: list[dt.date | None]) -> None:
    bad = json.dumps(demo_cases()[0] | {"performance": {"kps": 7}}).encode()
    for _ in range(2):
        response = client.post("/api/v1/plan", content=bad,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 422
    assert len(counted) == 2


def test_bounded_by_entries_and_bytes() -> None:
    cache = PlanCache()
    day = dt.date(2026, 12, 7)
    for i in range(PlanCache.ENTRIES + 10):
        cache.put(PlanCache.key(str(i).encode(), day), b"x" * 10)
    assert cache.get(PlanCache.key(b"0", day)) is None
    assert cache.get(PlanCache.key(str(PlanCache.ENTRIES + 9).encode(), day)) == b"x" * 10
    big = PlanCache()
    for i in range(40):
        big.put(PlanCache.key(str(i).encode(), day), b"y" * (PlanCache.BYTES // 10))
    assert sum(len(d) for d in big._docs.values()) <= PlanCache.BYTES
    big.put(b"k", b"z" * (PlanCache.BYTES // 4))  # too large to be worth keeping
    assert big.get(b"k") is None
    assert PlanCache.key(b"{}", day) != PlanCache.key(b"{}", day + dt.timedelta(days=1))
