"""``POST /api/v1/plan``: the spinemets-plan/1 document for a case."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Request, Response
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from spinemets.web import _core
from spinemets.web._state import AppState, get_state
from spinemets.web.api._strict import StrictJSONRoute
from spinemets.web.api.v1._models import CASE_EXAMPLE

__all__ = ["PlanCache", "router"]

router = APIRouter(tags=["cases"], route_class=StrictJSONRoute)


class PlanCache:
    """Plan documents remembered per request body and day, newest kept (one per application).

    A plan is a function of the case, the day (intervals since prior radiotherapy, the age of
    the imaging) and the site's local model, which is fixed for the application's life; so the
    same body on the same day gets the same bytes. An EHR asks again for the plan of a case
    it has not changed (each view, each card); the answer is then read here, on the event loop,
    without the engine, the ranking of unknowns or a thread-pool hop. Bounded by entries and
    by bytes, so large hostile cases cannot fill the memory; only successful plans are kept.
    Used on the event loop only (no lock needed).
    """

    ENTRIES: Final = 256
    BYTES: Final = 32 * 1024 * 1024

    def __init__(self) -> None:
        self._docs: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0

    @staticmethod
    def key(body: bytes, today: dt.date) -> bytes:
        return hashlib.blake2b(body, digest_size=32, person=today.isoformat().encode()).digest()

    def get(self, key: bytes) -> bytes | None:
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
        return doc

    def put(self, key: bytes, doc: bytes) -> None:
        if len(doc) > self.BYTES // 8:  # a huge plan is not worth the room
            return
        old = self._docs.pop(key, None)
        self._bytes += len(doc) - (len(old) if old is not None else 0)
        self._docs[key] = doc
        while len(self._docs) > self.ENTRIES or self._bytes > self.BYTES:
            _, dropped = self._docs.popitem(last=False)
            self._bytes -= len(dropped)


def _cache(state: AppState) -> PlanCache:
    cache = state.extras.get("plan_cache")
    if cache is None:
        cache = state.extras["plan_cache"] = PlanCache()
    return cache


@router.post("/plan", summary="Triage, scores, work-up and NOMS plan for a case",
             response_model=dict[str, Any])
async def plan(
    request: Request,
    case: Annotated[dict[str, Any], Body(openapi_examples={"case": {"value": CASE_EXAMPLE}})],
) -> Response:
    # A plan asked for again (same body, same day) is answered from the cache on the event
    # loop. Otherwise one thread-pool hop for the plan and its serialisation together, so the
    # event loop stays free (health checks answer while a hostile case is planned). The
    # document is plain JSON data: pydantic's Rust core writes the same bytes FastAPI's
    # response path wrote.
    state = get_state(request)
    today = _today()
    cache = _cache(state)
    key = PlanCache.key(await request.body(), today)
    doc = cache.get(key)
    if doc is None:
        doc = await run_in_threadpool(_plan_json, case, state.local_model, today)
        cache.put(key, doc)
    return Response(doc, media_type="application/json")


def _today() -> dt.date:
    return dt.date.today()


def _plan_json(case: dict[str, Any], local_model: Any, today: dt.date) -> bytes:
    return to_json(_core.plan_case(case, local_model=local_model, today=today))
