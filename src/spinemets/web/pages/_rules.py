"""The rule book page ``/rules``: every rule and check with its citations (public reference).

Built from the same model as ``docs/clinical/rules.md`` (:func:`spinemets.rules._book.rule_book`);
each rule has the anchor ``#<rule id>``, so a plan item's rule id links to ``/rules#<id>``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from spinemets.rules._book import EVIDENCE_WORDS, rule_book
from spinemets.web._state import Permission, render, requires

__all__ = ["router"]

router = APIRouter()


@router.api_route("/rules", methods=["GET", "HEAD"], response_class=HTMLResponse,
                  dependencies=[requires(Permission.PUBLIC)])
def rules_page(request: Request) -> HTMLResponse:
    """The rule book: reference material, public like the score calculators."""
    return render(request, "clinician/rules.html",
                  {"book": rule_book(), "evidence_words": EVIDENCE_WORDS, "user": None,
                   "can": None, "csrf": ""}, language="en")
