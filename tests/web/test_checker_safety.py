"""The symptom checker's safety invariants, asserted on the rendered result page of the web app.

- Reassurance ("no warning signs") only when no way of answering the open questions (not
  answered, or "Not sure") could raise the level: checked against the triage rules by drawing
  completions of the open answers.
- Known or suspected cancer, or "not sure", leads to the warning-sign questions, not to a result.
- An emergency answer, or a new warning sign answered yes, ends the questions at once with
  emergency advice and a tap-to-call link.
- "Not sure" and unanswered never lower the level.

Answer sequences are drawn by Hypothesis: any order, changing answers, going back (answering an
earlier question again), skipping by URL, change links, starting again.
"""

from __future__ import annotations

import base64
import contextlib
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.rules import triage
from spinemets.web import Settings, create_app
from spinemets.web._core import Question, triage_questions

QUESTIONS: tuple[Question, ...] = triage_questions()
BY_ID = {q.id: q for q in QUESTIONS}
IDS = [q.id for q in QUESTIONS]
RANK = {"routine": 0, "soon": 1, "urgent": 2, "emergency": 3}
#: Every emergency-rule symptom (warning sign) of the checker.
WARNING_SIGNS = ["limb_weakness", "difficulty_walking", "numbness_or_tingling", "saddle_numbness",
                 "bladder_or_bowel_dysfunction", "radicular_pain", "rapidly_progressive"]
REASSURANCE = ("No warning signs in your answers", "None of your answers was a warning sign",
               'data-level="routine"')
#: Cancer status answers that mean cancer is, or may be, present. With a warning sign, "not
#: sure" is the worst case: a provisional emergency (pathway amendments 2026-12).
CANCER_MAYBE = {"known": "emergency", "suspected": "emergency", "unknown": "emergency"}


def _key(qid: str, value: Any) -> str:
    return next(o.key for o in BY_ID[qid].options if o.value == value)


def _definite(value: Any) -> bool:
    return value is not None and value != "unknown"


def _post(client: TestClient, qid: str, key: str, *, change: bool = False) -> str:
    data = {"answer": key, **({"change": "true"} if change else {})}
    response = client.post(f"/check/q/{qid}", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _main(html: str) -> str:
    match = re.search(r"<main.*?</main>", html, re.S)
    assert match is not None
    return match.group(0)


def _advice(html: str) -> str:
    """The part of the result page above the reasons: what the person reads first."""
    return _main(html).split("Why we say this")[0]


def _check_result_page(client: TestClient, answers: dict[str, Any], data: st.DataObject) -> None:
    """Assert the invariants on the rendered result page for ``answers`` (question -> value)."""
    response = client.get("/check/result", follow_redirects=False)
    if not answers:
        assert response.status_code == 303
        return
    assert response.status_code == 200
    page = response.text
    advice = _advice(page)
    result = triage(answers)
    reassured = any(text in page for text in REASSURANCE)
    if reassured:
        # 1. every emergency warning sign was answered, and answered no
        for qid in ("bladder_or_bowel_dysfunction", "saddle_numbness", "rapidly_progressive"):
            assert answers.get(qid) is False, (qid, answers)
        # 2. no way of answering the open questions raises the level or shows a warning sign
        open_ids = [q for q in IDS if not _definite(answers.get(q))]
        completion = dict(answers)
        for qid in open_ids:
            completion[qid] = data.draw(st.sampled_from(
                [o.value for o in BY_ID[qid].options if _definite(o.value)]), label=qid)
        completed = triage(completion)
        assert completed.level == "routine", (answers, completion)
        assert not completed.warning_answers, (answers, completion)
        assert result.level == "routine" and not result.warning_answers
    if result.level == "emergency":
        first = re.search(r'data-level="([a-z-]+)"', advice)
        assert first is not None and first.group(1) == "emergency"
        assert 'href="tel:' in advice
    if result.warning_answers:
        assert "emergency department" in advice and 'href="tel:' in advice
    if result.level in {"urgent", "soon"}:
        assert f'data-level="{result.level}"' in advice
    if result.unanswered_could_raise and result.level != "emergency" \
            and not result.warning_answers:
        # the page says the answers are open, names them and leads back to a question
        assert "data-open-questions" in advice
        assert re.search(r'href="/check/q/[a-z_0-9]+', advice)
    if result.level == "emergency" or result.warning_answers:
        # emergency and warning-sign results show only the action: no more questions offered
        assert "data-open-questions" not in advice
        assert not re.search(r'href="/check/q/[a-z_0-9]+"', advice)
    if not reassured and result.level == "routine" and not result.warning_answers:
        assert 'data-level="incomplete"' in advice


actions = st.one_of(
    st.tuples(st.just("follow"), st.none(), st.booleans()),
    st.tuples(st.just("jump"), st.sampled_from(IDS), st.booleans()),
    st.tuples(st.just("restart"), st.none(), st.just(False)),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(actions, min_size=1, max_size=30), data=st.data())
def test_result_page_invariants_over_answer_sequences(app_client: TestClient,
                                                      steps: list[Any],
                                                      data: st.DataObject) -> None:
    client = app_client
    client.cookies.clear()
    answers: dict[str, Any] = {}
    target = IDS[0]
    for kind, jump_to, change in steps:
        if kind == "restart":
            client.post("/check/restart", follow_redirects=False)
            client.cookies.clear()
            answers, target = {}, IDS[0]
            continue
        qid = jump_to if kind == "jump" else target
        if qid is None:  # the last redirect went to the result page
            qid = data.draw(st.sampled_from(IDS), label="after result")
        assert client.get(f"/check/q/{qid}").status_code == 200
        option = data.draw(st.sampled_from(BY_ID[qid].options), label=qid)
        before = triage(answers)
        answers[qid] = option.value
        after = triage(answers)
        location = _post(client, qid, option.key, change=change and kind == "jump")
        newly_emergency = after.level == "emergency" and before.level != "emergency"
        new_warning = set(after.warning_answers) - set(before.warning_answers)
        if newly_emergency or new_warning:
            assert location == "/check/result", (qid, option.value, answers)
        if location.startswith("/check/q/"):
            target = location.removeprefix("/check/q/")
            assert target not in answers  # never asked again what is answered
        else:
            assert location == "/check/result"
            target = None
        _check_result_page(client, answers, data)


@pytest.mark.parametrize("status", ["known", "suspected", "unknown"])
def test_cancer_status_leads_to_the_warning_signs_not_a_result(app_client: TestClient,
                                                               status: str) -> None:
    """The defect path: cancer "yes" on question 1 showed "No warning signs" at once."""
    client = app_client
    client.cookies.clear()
    location = _post(client, "cancer_status", _key("cancer_status", status))
    assert location == f"/check/q/{WARNING_SIGNS[0]}"
    page = client.get("/check/result").text
    assert not any(text in page for text in REASSURANCE)
    assert 'data-level="incomplete"' in page
    assert f'href="/check/q/{WARNING_SIGNS[0]}"' in _advice(page)


@pytest.mark.parametrize("status", sorted(CANCER_MAYBE))
@pytest.mark.parametrize("sign", WARNING_SIGNS)
def test_every_warning_sign_with_cancer_ends_in_emergency_advice(app_client: TestClient,
                                                                 status: str, sign: str) -> None:
    client = app_client
    client.cookies.clear()
    _post(client, "cancer_status", _key("cancer_status", status))
    assert _post(client, sign, _key(sign, True)) == "/check/result"
    advice = _advice(client.get("/check/result").text)
    first = re.search(r'data-level="([a-z-]+)"', advice)
    assert first is not None
    # rapidly progressive weakness, saddle numbness and bladder/bowel are emergencies in anyone
    expected = "emergency" if sign in {"rapidly_progressive", "saddle_numbness",
                                       "bladder_or_bowel_dysfunction"} else CANCER_MAYBE[status]
    assert first.group(1) == expected
    assert "emergency department" in advice and 'href="tel:911"' in advice
    assert not any(text in advice for text in REASSURANCE)


@pytest.mark.parametrize("sign", WARNING_SIGNS)
def test_not_sure_is_never_a_no(app_client: TestClient, sign: str) -> None:
    """Every question answered no except one warning sign answered "Not sure": no reassurance."""
    client = app_client
    client.cookies.clear()
    for question in QUESTIONS:
        value = {"cancer_status": "none", "pain_location": "lumbar"}.get(question.id, False)
        _post(client, question.id, _key(question.id, None if question.id == sign else value))
    page = client.get("/check/result").text
    assert not any(text in page for text in REASSURANCE)
    advice = _advice(page)
    assert 'data-level="incomplete"' in advice
    assert f'href="/check/q/{sign}?change=true"' in advice


def test_all_no_is_the_only_way_to_reassurance(app_client: TestClient) -> None:
    client = app_client
    client.cookies.clear()
    for question in QUESTIONS:
        value = {"cancer_status": "none", "pain_location": "lumbar"}.get(question.id, False)
        _post(client, question.id, _key(question.id, value))
    advice = _advice(client.get("/check/result").text)
    assert 'data-level="routine"' in advice
    assert "data-open-questions" not in advice


def test_answers_after_an_emergency_move_on_instead_of_bouncing_back(
        app_client: TestClient) -> None:
    """After an emergency result, the link to the next question keeps working.

    With cancer, the warning signs can still add the cord-compression rule to the emergency
    (its advice and basis), so they are asked; without cancer nothing can change the emergency
    advice any more, and the questions end (skip logic, issue 21).
    """
    client = app_client
    client.cookies.clear()
    assert _post(client, "rapidly_progressive", _key("rapidly_progressive", True)) == \
        "/check/result"
    location = _post(client, "cancer_status", _key("cancer_status", "known"))
    assert location == f"/check/q/{WARNING_SIGNS[0]}"
    client.cookies.clear()
    _post(client, "rapidly_progressive", _key("rapidly_progressive", True))
    assert _post(client, "cancer_status", _key("cancer_status", "none")) == "/check/result"


@pytest.mark.parametrize("path", ["/", "/guide", "/clinics", "/accessibility", "/check",
                                  "/check/q/cancer_status"])
def test_head_answers_like_get(app_client: TestClient, path: str) -> None:
    head = app_client.head(path)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/html")


def test_emergency_box_has_a_tap_to_call_link_from_the_site_configuration(
        app_client: TestClient) -> None:
    page = app_client.get("/").text
    box = page.split("nhsuk-card--care--emergency")[1].split("</div>\n</div>")[0]
    assert 'href="tel:911"' in box
    assert 'nhsuk-card__heading-container' in box



# --- answers from two tabs at once (issue 21): a Yes is never lost ---------------------------
#
# Two requests sent at the same time carry the same cookies. Each is sent here from a copy of
# the jar, and the browser's handling of their Set-Cookie headers is replayed in both orders.

Jar = dict[str, str]


def _jar(client: TestClient) -> Jar:
    return {name: value for name, value in client.cookies.items() if name.startswith("sm_")}


def _send(client: TestClient, jar: Jar, qid: str, key: str, *,
          rev: str | None = None) -> Any:
    client.cookies.clear()
    for name, value in jar.items():
        client.cookies.set(name, value, domain="testserver.local", path="/check")
    data = {"answer": key, **({"rev": rev} if rev is not None else {})}
    return client.post(f"/check/q/{qid}", data=data, follow_redirects=False)


def _apply(jar: Jar, response: Any) -> Jar:
    """``jar`` after the browser handles ``response``'s Set-Cookie headers."""
    out = dict(jar)
    for header in response.headers.get_list("set-cookie"):
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        if "max-age=0" in attributes.lower():
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _result(client: TestClient, jar: Jar) -> str:
    client.cookies.clear()
    for name, value in jar.items():
        client.cookies.set(name, value, domain="testserver.local", path="/check")
    return client.get("/check/result").text


def _revision(page: str) -> str:
    match = re.search(r'name="rev" value="([^"]*)"', page)
    assert match is not None
    return match.group(1)


def _answer_all_no(client: TestClient, skip: str | None = None) -> None:
    client.cookies.clear()
    for question in QUESTIONS:
        if question.id != skip:
            value = {"cancer_status": "none", "pain_location": "lumbar"}.get(question.id, False)
            _post(client, question.id, _key(question.id, value))


@pytest.mark.parametrize("base", ["unanswered", "no", "not sure", "yes"])
@pytest.mark.parametrize("other", ["false", "null"])
@pytest.mark.parametrize("yes_last", [True, False])
def test_concurrent_yes_and_no_keep_the_yes(app_client: TestClient, base: str, other: str,
                                             yes_last: bool) -> None:
    client = app_client
    _answer_all_no(client, skip="saddle_numbness")
    if base != "unanswered":
        _post(client, "saddle_numbness", {"no": "false", "not sure": "null", "yes": "true"}[base])
    jar = _jar(client)
    rev = _revision(client.get("/check/q/saddle_numbness").text)
    yes = _send(client, jar, "saddle_numbness", "true", rev=rev)
    no = _send(client, jar, "saddle_numbness", other, rev=rev)
    assert yes.status_code == no.status_code == 303
    first, last = (no, yes) if yes_last else (yes, no)
    page = _result(client, _apply(_apply(jar, first), last))
    advice = _advice(page)
    assert not any(text in page for text in REASSURANCE)
    assert re.search(r'data-level="emergency"', advice)  # saddle numbness: yes


def test_a_stale_no_is_not_applied_and_shows_the_current_yes(app_client: TestClient) -> None:
    client = app_client
    _answer_all_no(client, skip="limb_weakness")
    stale_rev = _revision(client.get("/check/q/limb_weakness").text)  # tab B opens the question
    _post(client, "limb_weakness", "true")  # tab A answers yes
    for other in ("false", "null"):
        response = client.post("/check/q/limb_weakness", data={"answer": other, "rev": stale_rev},
                               follow_redirects=False)
        # not applied: the tab shows what to do now, and the answer now recorded
        assert response.status_code == 303
        assert "set-cookie" not in response.headers
        assert response.headers["location"] == "/check/result?changed=limb_weakness"
        page = client.get(response.headers["location"]).text
        assert not any(text in page for text in REASSURANCE)
        assert 'data-level="urgent"' in _advice(page)
        notice = page.split("data-changed-elsewhere")[1].split("</div>")[0]
        assert "weakness" in notice and "Your answer now is: Yes." in notice
    # answering again, now against the current revision, is a deliberate change
    rev = _revision(client.get("/check/q/limb_weakness?change=true").text)
    assert client.post("/check/q/limb_weakness", data={"answer": "false", "rev": rev},
                       follow_redirects=False).status_code == 303
    assert "No warning signs in your answers" in client.get("/check/result").text


def test_a_stale_yes_to_a_warning_sign_is_applied(app_client: TestClient) -> None:
    client = app_client
    _answer_all_no(client)
    stale_rev = _revision(client.get("/check/q/limb_weakness").text)
    _post(client, "limb_weakness", "null")  # another tab: not sure
    response = client.post("/check/q/limb_weakness", data={"answer": "true", "rev": stale_rev},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/check/result"
    assert 'data-level="urgent"' in _advice(client.get("/check/result").text)


def test_a_stale_answer_to_any_question_is_not_applied(app_client: TestClient) -> None:
    client = app_client
    _answer_all_no(client)
    stale_rev = _revision(client.get("/check/q/cancer_status").text)
    _post(client, "cancer_status", _key("cancer_status", "known"))
    response = client.post("/check/q/cancer_status",
                           data={"answer": _key("cancer_status", "none"), "rev": stale_rev},
                           follow_redirects=False)
    assert response.status_code == 409
    assert "data-changed-elsewhere" in response.text
    assert 'value="&#34;known&#34;" checked' in response.text  # the current answer, selected
    assert "Yes, I have or have had cancer" in response.text.split("data-changed-elsewhere")[1]
    # the same answer as the current one is simply accepted
    again = client.post("/check/q/cancer_status",
                        data={"answer": _key("cancer_status", "known"), "rev": stale_rev},
                        follow_redirects=False)
    assert again.status_code == 303


def test_restart_in_one_tab_keeps_a_yes_given_at_the_same_time(app_client: TestClient) -> None:
    client = app_client
    _answer_all_no(client)
    jar = _jar(client)
    client.cookies.clear()
    for name, value in jar.items():
        client.cookies.set(name, value, domain="testserver.local", path="/check")
    restart = client.post("/check/restart", follow_redirects=False)
    yes = _send(client, jar, "bladder_or_bowel_dysfunction", "true")
    for first, last in ((restart, yes), (yes, restart)):
        page = _result(client, _apply(_apply(jar, first), last))
        assert 'data-level="emergency"' in _advice(page)


def test_the_revision_changes_with_every_answer(app_client: TestClient) -> None:
    client = app_client
    client.cookies.clear()
    seen = {client.get("/check/revision").json()["revision"]}
    for qid, key in [("cancer_status", '"none"'), ("limb_weakness", "false"),
                     ("limb_weakness", "true")]:
        _post(client, qid, key)
        revision = client.get("/check/revision").json()["revision"]
        assert revision not in seen
        assert f'name="sm-answers-revision" content="{revision}"' in \
            client.get("/check/result").text
        seen.add(revision)


def test_answer_cookies_are_signed_and_secure(app_client: TestClient) -> None:
    client = app_client
    client.cookies.clear()
    response = _send(client, {}, "rapidly_progressive", "true")
    header = response.headers["set-cookie"]
    assert "Secure" in header and "HttpOnly" in header and "Path=/check" in header
    name, value = next(iter(_apply({}, response).items()))
    forged = {name: value[:-2] + ("AA" if not value.endswith("AA") else "BB")}
    assert 'data-level="emergency"' in _advice(_result(client, {name: value}))
    client.cookies.clear()
    for jar in (forged, {name.replace("sm_check_", "sm_check_0"): value}):  # tampered, renamed
        for cookie, text in jar.items():
            client.cookies.set(cookie, text, domain="testserver.local", path="/check")
        assert client.get("/check/result", follow_redirects=False).status_code == 303
        client.cookies.clear()


def test_answer_cookies_cannot_be_read_by_the_browser(app_client: TestClient) -> None:
    """The answer is encrypted: nothing of the question or the answer shows in the cookie,
    and a value sealed for another purpose (the device cookie's key) does not open."""
    client = app_client
    client.cookies.clear()
    response = _send(client, {}, "limb_weakness", "true")
    name, value = next(iter(_apply({}, response).items()))
    decoded = b""
    for text in (value, value.split(".")[0]):  # neither the token nor a signed payload part
        with contextlib.suppress(ValueError):
            decoded += base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    for secret in (b"limb_weakness", b"true", b"weakness"):
        assert secret not in value.encode() and secret not in decoded
    state = client.app.state.spinemets  # type: ignore[attr-defined]
    other = state.sealer("spinemets-device-cookie").dumps(
        [name.removeprefix("sm_check_"), "limb_weakness", "true", 1])
    client.cookies.clear()
    client.cookies.set(name, other, domain="testserver.local", path="/check")
    assert client.get("/check/result", follow_redirects=False).status_code == 303
    client.cookies.clear()


def test_answer_cookies_are_not_secure_in_development_only() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{Path(tmp) / 'd.sqlite3'}",
                                  environment="development", demo=False))
        with TestClient(app) as client:
            response = client.post("/check/q/cancer_status", data={"answer": '"none"'},
                                   follow_redirects=False)
    assert "Secure" not in response.headers["set-cookie"]
