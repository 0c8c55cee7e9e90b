"""The symptom checker: one question per page, no JavaScript needed, answers changeable.

Answers live in signed cookies on the person's own device (never stored on the server), one
cookie per answer so that two tabs answering at once cannot lose an answer (see
:mod:`spinemets.web.pages._answers`). After every answer the triage rules run; an emergency
answer goes straight to the advice, and a question whose answer can no longer change the level
or the advice is skipped (``spinemets.rules.open_questions``, read from the rule table).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from spinemets.web import _core
from spinemets.web._core import Question
from spinemets.web._i18n import translations
from spinemets.web._state import page_context, render
from spinemets.web.pages._answers import (
    Answers,
    add_answer,
    clear_answers,
    read_answers,
    warning_questions,
)

__all__ = ["router"]

#: The triage rule of a new deficit without cancer (``spinemets.rules._triage.SAME_DAY_RULE``;
#: a test keeps them equal): its result is "see a doctor today", never "your cancer team".
SAME_DAY_RULE = "triage.urgent.new_deficit_no_cancer"
router = APIRouter(prefix="/check")


def _questions() -> tuple[Question, ...]:
    return _core.triage_questions()


def _find(qid: str) -> tuple[int, Question]:
    for index, question in enumerate(_questions()):
        if question.id == qid:
            return index, question
    raise HTTPException(status_code=404)


def _rule_answers(answers: dict[str, str]) -> dict[str, Any]:
    return {qid: json.loads(key) for qid, key in answers.items()}


def question_text(question: Question, language: str) -> str:
    """The question in ``language`` (Spanish from the catalogue, keyed by question id)."""
    if language == "en":
        return question.text
    text = translations(language).pgettext("triage-question", question.id)
    return question.text if text == question.id else text


def hint_text(question: Question, language: str) -> str | None:
    """The question's hint in ``language``, if it has one."""
    if question.hint is None or language == "en":
        return question.hint
    text = translations(language).pgettext("triage-hint", question.id)
    return question.hint if text == question.id else text


def option_label(question: Question, option: _core.Option, language: str) -> str:
    """An answer label in ``language``: question-specific entry first, then the generic one."""
    if language == "en":
        return option.label
    trans = translations(language)
    specific = f"{question.id}:{option.key}"
    text = trans.pgettext("triage-option", specific)
    if text != specific:
        return text
    return trans.pgettext("triage-option", option.label)


def _view(question: Question, language: str, selected: str | None) -> dict[str, Any]:
    return {
        "id": question.id,
        "text": question_text(question, language),
        "hint": hint_text(question, language),
        "options": [{"key": o.key, "label": option_label(question, o, language),
                     "checked": o.key == selected} for o in question.options],
    }


def _summary(answers: dict[str, str], language: str) -> list[dict[str, str]]:
    rows = []
    for question in _questions():
        key = answers.get(question.id)
        option = question.option_for(key) if key else None
        if option is not None:
            rows.append({"id": question.id, "question": question_text(question, language),
                         "answer": option_label(question, option, language)})
    return rows


@router.api_route("", methods=["GET", "HEAD"], response_class=HTMLResponse)
def start(request: Request) -> Response:
    try:
        questions = _questions()
    except _core.CoreUnavailableError:  # the emergency advice still shows
        questions = ()
    return render(request, "checker/start.html", {"first": questions[0].id if questions else None})


def _question_page(request: Request, index: int, question: Question, seen: Answers, *,
                   selected: str | None, change: bool, error: bool = False,
                   changed_elsewhere: bool = False, status_code: int = 200) -> Response:
    language = page_context(request).language
    answers = seen.current()
    # "Question 3 of 9": this person's questions (answered, or still to ask), not all of them
    path = _path(_core.triage_answers(_rule_answers(answers)), answers, question.id)
    number = path.index(question.id)
    back = "/check" if number == 0 else f"/check/q/{path[number - 1]}"
    current = answers.get(question.id)
    option = question.option_for(current) if current is not None else None
    return render(request, "checker/question.html", {
        "question": _view(question, language, selected), "number": number + 1,
        "total": len(path), "back": "/check/result" if change else back,
        "change": change, "error": error or None,
        # the revision of this question's answer the form is given against
        "revision": seen.question_revision(question.id),
        "changed_elsewhere": changed_elsewhere,
        "current_answer": option_label(question, option, language) if option else None,
    }, status_code=status_code)


@router.api_route("/q/{qid}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def ask(request: Request, qid: str, change: bool = False) -> Response:
    index, question = _find(qid)
    seen = read_answers(request)
    return _question_page(request, index, question, seen,
                          selected=seen.current().get(qid), change=change)


@router.post("/q/{qid}", response_class=HTMLResponse)
def answer(
    request: Request,
    qid: str,
    answer: Annotated[str | None, Form()] = None,
    change: Annotated[bool, Form()] = False,
    rev: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Record an answer given against revision ``rev`` of this question's answer.

    A stale submit (the answer changed since ``rev``, in another tab) is not applied: the page
    shows the answer now recorded, to check and submit again. The one exception keeps people
    safe: "Yes" to a warning sign is applied even when stale, and it is never replaced by a
    stale "No" or "Not sure". Without ``rev`` the answers the request's cookies carry count.
    """
    index, question = _find(qid)
    seen = read_answers(request)
    if answer is None or question.option_for(answer) is None:
        return _question_page(request, index, question, seen, selected=None, change=change,
                              error=True, status_code=422)
    answers = seen.current()
    stale = rev is not None and rev != seen.question_revision(qid)
    if stale and answers.get(qid) != answer and not (
            qid in warning_questions() and answer == "true"):
        if qid in warning_questions() and answers.get(qid) == "true":
            # a stale No or Not sure to a warning sign answered Yes: show what to do now
            return RedirectResponse(f"/check/result?changed={qid}", status_code=303)
        return _question_page(request, index, question, seen, selected=answers.get(qid),
                              change=change, changed_elsewhere=True, status_code=409)
    before = _core.triage_answers(_rule_answers(answers))
    answers[qid] = answer
    after = _core.triage_answers(_rule_answers(answers))
    if _raised_to_emergency(before, after) or change:
        target = "/check/result"
    else:
        following = _next_unanswered(answers, index, after)
        target = "/check/result" if following is None else f"/check/q/{following}"
    response = RedirectResponse(target, status_code=303)
    add_answer(request, response, seen, qid, answer)
    return response


def _raised_to_emergency(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """True when the answer just given is an emergency or a new warning sign answered yes.

    Such an answer ends the questions at once and shows the emergency advice. Answers given
    after that (from the result page's link) move on to the next question instead of bouncing
    back to the result every time.
    """
    if after.get("level") == "emergency":
        return before.get("level") != "emergency"
    new_warning = set(after.get("warning_answers") or ()) - set(before.get("warning_answers") or ())
    return bool(new_warning)


def _to_ask(triage: dict[str, Any], answers: dict[str, str]) -> list[str]:
    """The questions still to ask: not answered, and open in the rules' sense.

    A question is open while some answer to it can still change the level, the rules that set
    it or the advice (``spinemets.rules.open_questions``, read from the rule table); every
    other one is skipped. Without that list (an older rules package) nothing is skipped.
    """
    open_ids = triage.get("open_questions")
    return [q.id for q in _questions() if q.id not in answers
            and (open_ids is None or q.id in open_ids)]


def _path(triage: dict[str, Any], answers: dict[str, str], current: str) -> list[str]:
    """This person's questions in order: answered, still to ask, and ``current``."""
    to_ask = set(_to_ask(triage, answers))
    return [q.id for q in _questions() if q.id in answers or q.id in to_ask or q.id == current]


def _next_unanswered(answers: dict[str, str], index: int, triage: dict[str, Any]) -> str | None:
    """The next question to ask (:func:`_to_ask`), after ``index`` first, then from the start.

    The questions are in the order that matters for safety: cancer status, then the
    emergency warning signs, then the urgent pain features. Questions answered already (for
    example after skipping ahead by URL) are not asked twice, and questions whose answer can no
    longer change the advice are skipped (after "No" to back pain, the pain questions).
    """
    to_ask = set(_to_ask(triage, answers))
    questions = _questions()
    for question in (*questions[index + 1:], *questions[:index + 1]):
        if question.id in to_ask:
            return question.id
    return None


# Rule facts that are derived from an answer rather than being a question id.
_DERIVED: dict[str, str] = {"cancer_history_unclear": "cancer_status"}


def _question_ids(names: Any) -> set[str]:
    """The question ids behind fact names reported by the rules."""
    return {_DERIVED.get(str(name), str(name)) for name in names or ()}


#: Answers that say "not sure": they never lower the level and never count as "no".
_NOT_SURE: frozenset[str] = frozenset({"null", '"unknown"'})


def outcome(triage: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """What the result page shows, decided in one place (the page's safety invariants).

    ``state`` is the advice shown first: ``emergency``, ``possible-emergency`` (a warning sign
    answered yes while cancer is not known), ``warning-sign`` (a warning sign answered yes
    without cancer), ``urgent``, ``soon``, ``routine`` (no warning signs: only when every
    question that could raise the level was answered, and not with "not sure"), or
    ``incomplete`` (routine so far, but questions that could raise the level, or warning
    signs, are unanswered or "not sure"). ``not_answered`` and ``not_sure`` list them.
    """
    level = triage.get("level")
    warning = bool(triage.get("warning_answers"))
    could_raise = _question_ids(triage.get("unanswered_could_raise")) | _question_ids(
        triage.get("open_warning_signs"))
    if level == "emergency":
        could_raise = set()
    not_answered = [q.id for q in _questions() if q.id in could_raise and q.id not in answers]
    not_sure = [q.id for q in _questions()
                if q.id in could_raise and answers.get(q.id) in _NOT_SURE]
    if level == "emergency":
        state = "emergency"
    elif warning and triage.get("possible_emergency"):
        state = "possible-emergency"
    elif warning:
        state = "warning-sign"
    elif level in {"urgent", "soon"}:
        state = str(level)
    elif not_answered or not_sure:
        state = "incomplete"
    else:
        state = "routine"
    return {"state": state, "level": level, "warning": warning,
            "not_answered": not_answered, "not_sure": not_sure}


@router.api_route("/result", methods=["GET", "HEAD"], response_class=HTMLResponse)
def result(request: Request, changed: str | None = None) -> Response:
    language = page_context(request).language
    seen = read_answers(request)
    answers = seen.current()
    if not answers:
        return RedirectResponse("/check", status_code=303)
    triage = _core.triage_answers(_rule_answers(answers))
    shown = outcome(triage, answers)
    summary = _summary(answers, language)
    warning = _question_ids(triage.get("warning_answers"))
    used = _question_ids(triage.get("answers_used")) | warning
    reasons = [row for row in summary if row["id"] in used]
    texts = {q.id: question_text(q, language) for q in _questions()}
    unanswered = _to_ask(triage, answers)  # skipped questions are not offered
    next_question = (shown["not_answered"] or unanswered or [None])[0]
    return render(request, "checker/result.html", {
        **shown, "reasons": reasons, "summary": summary,
        "not_answered": [{"id": i, "text": texts[i]} for i in shown["not_answered"]],
        "not_sure": [{"id": i, "text": texts[i]} for i in shown["not_sure"]],
        "unanswered": unanswered, "next_question": next_question,
        # "tell them you have cancer" only when cancer is known or suspected
        "cancer_maybe": answers.get("cancer_status") in {'"known"', '"suspected"'},
        # urgent because of a new deficit without cancer: same day, not "your cancer team"
        "same_day": shown["level"] == "urgent" and list(triage.get("rules") or []) == [
            SAME_DAY_RULE],
        "revision": seen.revision(),
        # a stale answer from this tab was not applied: which question, and its answer now
        "changed_elsewhere": next((row for row in summary if row["id"] == changed), None),
    })


@router.api_route("/revision", methods=["GET", "HEAD"])
def revision(request: Request) -> Response:
    """The revision of the answers: a result page left open reloads when it changes."""
    return JSONResponse({"revision": read_answers(request).revision()})


@router.post("/restart")
def restart(request: Request) -> Response:
    response = RedirectResponse("/check", status_code=303)
    clear_answers(request, response, read_answers(request))
    return response
