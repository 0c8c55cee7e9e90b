"""Symptom-checker answers on the person's own device, safe with several tabs at once.

Every answer is its own sealed cookie, ``sm_check_<nonce>`` (encrypted and authenticated,
:mod:`spinemets.web._sealed`: the browser can neither read nor alter it), holding the question,
the answer and when it was given; the answers are never stored on the server. A new answer to a
question deletes only the cookies of that question that its request carried (the answers it
saw) and adds a cookie under a new name. Two requests sent at the same time both carry the same
cookies, so neither can delete what the other adds: both answers survive in the browser and
the next request sees both (an observed-remove set, "add wins"). Two answers to one question
are then merged by the rule that keeps people safe:

- a warning-sign question answered "Yes" wins over "No" and "Not sure" (a Yes is never lost);
- otherwise the answer giving the more urgent advice wins, then "Not sure" over a definite
  answer, then the later one.

Each question page carries the *revision* of that question's answer (the names of its
cookies); a submit whose revision is no longer current is stale (see
:func:`spinemets.web.pages._checker.answer`). The revision of all answers lets a result page
left open notice that another tab changed them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fastapi import Request, Response

from spinemets.web import _core
from spinemets.web._sealed import UnsealableError
from spinemets.web._state import get_state

__all__ = ["LEGACY_COOKIE", "PREFIX", "Answers", "Entry", "add_answer", "clear_answers",
           "read_answers", "warning_questions"]

PREFIX = "sm_check_"
#: The single cookie used before answers were kept one per cookie (deleted on "Start again").
LEGACY_COOKIE = "sm_check"
_SALT = "symptom-checker-answer"
_PATH = "/check"
_RANK = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}
_NOT_SURE: frozenset[str] = frozenset({"null", '"unknown"'})
_YES = "true"


@dataclass(frozen=True, slots=True)
class Entry:
    """One answer cookie: its name, the question, the answer key and when (microseconds)."""

    name: str
    qid: str
    key: str
    at: int


@cache
def warning_questions() -> frozenset[str]:
    """The warning-sign questions: "Yes" with known cancer is an emergency (from the rules)."""
    found = set()
    for question in _core.triage_questions():
        if question.option_for(_YES) is None:
            continue
        result = _core.triage_answers({"cancer_status": "known", question.id: True})
        if result.get("level") == "emergency":
            found.add(question.id)
    return frozenset(found)


def _triage(answers: Mapping[str, str]) -> dict[str, Any]:
    return _core.triage_answers({qid: json.loads(key) for qid, key in answers.items()})


@dataclass(frozen=True)
class Answers:
    """The answer cookies a request carried, by question, and their merged answers."""

    entries: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)

    def names(self, qid: str | None = None) -> list[str]:
        """Cookie names (of one question, or all)."""
        groups = [self.entries.get(qid, ())] if qid is not None else self.entries.values()
        return sorted(entry.name for group in groups for entry in group)

    def question_revision(self, qid: str) -> str:
        """The revision of one question's answer ("0" when it has none)."""
        names = self.names(qid)
        return ".".join(name.removeprefix(PREFIX) for name in names) or "0"

    def revision(self) -> str:
        """The revision of all answers: changes whenever any answer changes ("0": none)."""
        names = self.names()
        if not names:
            return "0"
        return hashlib.sha256("\n".join(names).encode("ascii")).hexdigest()[:16]

    def current(self) -> dict[str, str]:
        """The merged answers (question id -> option key)."""
        simple = {qid: _pick(qid, group) for qid, group in self.entries.items() if group}
        merged = dict(simple)
        for qid, group in self.entries.items():
            if len({entry.key for entry in group}) > 1 and qid not in warning_questions():
                merged[qid] = _most_urgent(qid, group, simple)
        return merged


def _pick(qid: str, group: Iterable[Entry]) -> str:
    """Yes to a warning sign first, then "Not sure", then the latest answer."""
    def score(entry: Entry) -> tuple[bool, bool, int]:
        return (qid in warning_questions() and entry.key == _YES, entry.key in _NOT_SURE,
                entry.at)
    return max(group, key=score).key


def _most_urgent(qid: str, group: Iterable[Entry], others: Mapping[str, str]) -> str:
    """Of answers given at the same time, the one with the most urgent advice."""
    def score(entry: Entry) -> tuple[int, int, bool, bool, int]:
        result = _triage({**others, qid: entry.key})
        return (_RANK.get(str(result.get("level")), 0), len(result.get("warning_answers") or ()),
                bool(result.get("possible_emergency")), entry.key in _NOT_SURE, entry.at)
    return max(group, key=score).key


def read_answers(request: Request) -> Answers:
    """The answer cookies of ``request`` whose signature, name and answer are valid."""
    sealed = get_state(request).sealer(_SALT)
    known = {q.id: q for q in _core.triage_questions()}
    groups: dict[str, list[Entry]] = {}
    for name, raw in request.cookies.items():
        if not name.startswith(PREFIX):
            continue
        try:
            data = sealed.loads(raw)
        except UnsealableError:
            continue
        if not (isinstance(data, list) and len(data) == 4):
            continue
        nonce, qid, key, at = data
        if (nonce != name.removeprefix(PREFIX) or not isinstance(qid, str) or qid not in known
                or not isinstance(key, str) or known[qid].option_for(key) is None
                or not isinstance(at, int)):
            continue
        groups.setdefault(qid, []).append(Entry(name=name, qid=qid, key=key, at=at))
    return Answers({qid: tuple(group) for qid, group in groups.items()})


def _secure(request: Request) -> bool:
    return get_state(request).settings.cookies_secure


def add_answer(request: Request, response: Response, seen: Answers, qid: str, key: str) -> None:
    """Record ``key`` for ``qid``: delete the cookies of ``qid`` this request saw, add one."""
    nonce = secrets.token_hex(6)
    value = get_state(request).sealer(_SALT).dumps([nonce, qid, key, time.time_ns() // 1000])
    secure = _secure(request)
    for name in seen.names(qid):
        response.delete_cookie(name, path=_PATH, secure=secure, httponly=True, samesite="lax")
    response.set_cookie(PREFIX + nonce, value, httponly=True, samesite="lax", path=_PATH,
                        secure=secure)


def clear_answers(request: Request, response: Response, seen: Answers) -> None:
    """Delete every answer cookie this request saw (an answer given meanwhile survives)."""
    secure = _secure(request)
    for name in [*seen.names(), LEGACY_COOKIE]:
        response.delete_cookie(name, path=_PATH, secure=secure, httponly=True, samesite="lax")
