"""Symptom triage: emergency, urgent, soon or routine (``pathway.md`` §2), as a decision table.

The level is the highest one that the given answers establish. An unanswered question never
lowers it: the result lists the unanswered questions that could raise it, and the highest level
still possible. An emergency feature always wins.

Which questions are still worth asking (``TriageResult.open_questions``) is read from the rule
table too, never written per question: see :func:`open_questions`. The web checker, the CLI's
``--interactive`` questions and the API all ask, or list, exactly those.

References
----------
NICE NG234 (2023) recs 1.5.2, 1.8.1; NICE QS56; NICE CG75 red-flag lists (``scores.md`` §13).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal

from spinemets.errors import DefinitionError, InputError, ProblemDetail
from spinemets.rules._engine import Condition, Fact, parse_condition, read_table, references

__all__ = [
    "LEVELS",
    "TRIAGE_QUESTIONS",
    "TriageOption",
    "TriageQuestion",
    "TriageResult",
    "TriageRule",
    "open_questions",
    "triage",
    "triage_rules",
    "warning_sign_questions",
]

Level = Literal["emergency", "urgent", "soon", "routine"]
LEVELS: Final[tuple[Level, ...]] = ("routine", "soon", "urgent", "emergency")
_RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True, slots=True)
class TriageOption:
    """One answer: ``value`` goes to :func:`triage`; ``label`` is plain English."""

    value: Any
    label: str


@dataclass(frozen=True, slots=True)
class TriageQuestion:
    """One symptom-checker question (one per page); ``id`` is stable (translation key)."""

    id: str
    text: str
    options: tuple[TriageOption, ...]
    hint: str | None = None


_YES_NO = (TriageOption(True, "Yes"), TriageOption(False, "No"), TriageOption(None, "Not sure"))


def _q(qid: str, text: str, hint: str | None = None) -> TriageQuestion:
    return TriageQuestion(qid, text, _YES_NO, hint)


TRIAGE_QUESTIONS: Final[tuple[TriageQuestion, ...]] = (
    TriageQuestion("cancer_status", "Do you have cancer, or have you had cancer?", (
        TriageOption("known", "Yes, I have or have had cancer"),
        TriageOption("suspected", "Doctors are checking me for possible cancer"),
        TriageOption("none", "No"),
        TriageOption("unknown", "I am not sure"))),
    _q("limb_weakness", "Have you noticed new weakness in your arms or legs?"),
    _q("difficulty_walking", "Do you have new trouble walking, or do you feel unsteady on "
       "your feet?"),
    _q("numbness_or_tingling", "Do you have new numbness, tingling or pins and needles in your "
       "arms, legs or body?"),
    _q("saddle_numbness", "Do you have numbness around your bottom, genitals or inner thighs?",
       "This is the area that would touch a saddle when riding a bike or horse."),
    _q("bladder_or_bowel_dysfunction", "Have you had new problems controlling your bladder or "
       "bowels? Or are you unable to pass urine?"),
    _q("rapidly_progressive", "Is weakness in your legs getting worse quickly, over hours or "
       "days?"),
    _q("radicular_pain", "Do you have pain that shoots down your arms or legs? Or pain like a "
       "tight band around your chest or tummy?"),
    _q("back_pain", "Do you have pain in your back or neck?"),
    TriageQuestion("pain_location", "Where is the pain worst?", (
        TriageOption("cervical", "Neck"),
        TriageOption("thoracic", "Upper or middle back"),
        TriageOption("lumbar", "Lower back"),
        TriageOption("sacral", "Bottom of the spine, near the buttocks"),
        TriageOption(None, "Not sure"))),
    _q("pain_onset_sudden", "Did the pain start suddenly?"),
    _q("pain_better_with_rest", "Does the pain get better when you rest?"),
    _q("pain_progressive", "Is the pain getting worse over time?"),
    _q("pain_severe_unremitting", "Is the pain severe and constant, without letting up?"),
    _q("pain_night", "Does the pain stop you sleeping at night?"),
    _q("pain_worse_on_straining", "Is the pain worse when you cough, sneeze or strain on the "
       "toilet?"),
    _q("spinal_tenderness", "Does one spot on your spine hurt when it is pressed?"),
    _q("weight_loss", "Have you lost weight without trying?"),
    _q("age_over_50", "Are you over 50 years old?"),
    _q("fever", "Have you had a fever (a high temperature)?"),
)

_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "cancer_status": ("known", "suspected", "none", "unknown"),
    "pain_location": ("cervical", "thoracic", "lumbar", "sacral"),
}
TRIAGE_QUESTION_IDS: Final[frozenset[str]] = frozenset(q.id for q in TRIAGE_QUESTIONS)
ANSWER_KEYS: Final[tuple[str, ...]] = (*(q.id for q in TRIAGE_QUESTIONS), "neurological_signs")

_PATIENT_ADVICE: Final[dict[str, str]] = {
    "emergency": "Go to the emergency department or call the emergency number now. Tell them "
                 "you have cancer (or may have cancer) and these symptoms.",
    "urgent": "Contact your cancer team or your doctor today.",
    "soon": "Book an appointment with your doctor within the next few days. Get help at once "
            "if any of the warning signs below appear.",
    "routine": "Your answers do not show warning signs. Watch for the warning signs below and "
               "get help at once if any appear.",
}
#: Emergency advice when cancer is not known or suspected (status none, not sure or not
#: answered): never "tell them you have cancer" to someone who has not said so.
_PATIENT_EMERGENCY_NO_KNOWN_CANCER: Final = (
    "Go to the emergency department or call the emergency number now. Tell them about any "
    "cancer you have or had, and these symptoms.")
#: Routine so far, but questions that could raise the level or show a warning sign are not
#: answered (or "not sure"): never "no warning signs".
_PATIENT_OPEN: Final = ("Your answers are not finished, so we cannot say that you have no warning "
                        "signs. Please answer the remaining questions. Get help at once if any of "
                        "the warning signs below appear.")
_PATIENT_WARNING: Final[dict[bool, str]] = {
    True: "You said yes to a warning sign. If you have cancer, may have cancer, or are not sure, "
          "this can be an emergency: go to the emergency department or call the emergency "
          "number now.",
    False: "You said yes to a warning sign. See your doctor about it, and get help at once if "
           "it gets worse.",
}
_PATIENT_WATCH: Final = ("Watch for the other warning signs below and get help at once if any "
                         "appear.")
WARNING_SIGNS: Final[tuple[str, ...]] = (
    "new weakness in your arms or legs",
    "new difficulty walking or unsteadiness",
    "new numbness or tingling in your arms, legs, body or around your bottom",
    "new problems controlling your bladder or bowels",
    "shooting pain down your arms or legs, or band-like pain around your body",
)
_CLINICIAN_ADVICE: Final[dict[str, str]] = {
    "emergency": "Suspected MSCC: contact the MSCC coordinator / acute oncology immediately; "
                 "whole-spine MRI as soon as possible and within 24 h; dexamethasone 16 mg as "
                 "soon as possible unless lymphoma is possible and there is no tissue diagnosis "
                 "(discuss first); lie flat and immobilise if instability is suspected.",
    "urgent": "Suspected spinal metastases: contact the MSCC coordinator within 24 h; "
              "whole-spine MRI within 1 week (NICE QS56 as updated for NG234, 2023); check "
              "neurology again and give safety-net advice.",
    "soon": "Review within days; safety-net advice on the emergency signs.",
    "routine": "No red flags in the answers given: general advice and the warning signs.",
}
#: The rule of the amendment "new neurological deficit without cancer: urgent, same day".
SAME_DAY_RULE: Final = "triage.urgent.new_deficit_no_cancer"
#: What a provisional emergency (a warning sign with cancer status not known) asks for.
TO_FIND_OUT: Final = ("Possible spinal cord compression: find out now whether this person has "
                      "or may have cancer")
_CLINICIAN_SAME_DAY: Final = (
    "New neurological deficit without known or suspected cancer: same-day assessment and MRI "
    "arranged by the doctor (regional NHS acute back pain pathways); bladder or bowel loss, "
    "saddle numbness or rapidly progressing leg weakness remain an emergency.")
_PATIENT_SAME_DAY: Final = (
    "See a doctor today: new weakness, difficulty walking or numbness needs to be checked the "
    "same day. If you lose control of your bladder or bowels, get numbness around your bottom, "
    "or the weakness gets worse quickly, get help at once at the emergency department.")
#: The level in words: the same word in the CLI, API, web page and report.
_HEADLINES: Final[dict[str, str]] = {
    "emergency": "Emergency (now)",
    "urgent": "Urgent (within 24 hours)",
    "same_day": "Urgent (same day)",
    "soon": "Soon (within days)",
    "routine": "Routine",
}
_NO_RULE_REASON: Final = "No triage rule fired on the answers given"


@dataclass(frozen=True, slots=True)
class TriageRule:
    """One triage rule: conditions on answers, the level it sets, text and citations."""

    id: str
    level: Level
    when: tuple[Condition, ...]
    text: str
    citations: tuple[str, ...]
    #: The level rests on an unknown answer counted as the worst case (cancer status with a
    #: warning sign): shown as "provisional" with what to find out.
    provisional: bool = False


@cache
def triage_rules() -> tuple[TriageRule, ...]:
    """The triage decision table (``rules/tables/triage.yaml``)."""
    refs = references()
    out = []
    for raw in read_table("triage.yaml")["rules"]:
        where = f"triage rule {raw['id']}"
        citations = tuple(raw["citations"])
        if not citations or any(c not in refs for c in citations):
            raise DefinitionError(f"{where}: every rule needs citations from the reference list")
        out.append(TriageRule(raw["id"], raw["level"],
                              tuple(parse_condition(c, where) for c in raw["when"]),
                              raw["text"], citations, bool(raw.get("provisional", False))))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The triage level, the answers and rules behind it, and what could still raise it."""

    level: Level
    basis: tuple[str, ...]
    rules: tuple[str, ...]
    unanswered_could_raise: tuple[str, ...]
    highest_possible: Level
    patient_advice: str
    clinician_advice: str
    citations: tuple[str, ...]
    warning_signs: tuple[str, ...] = WARNING_SIGNS
    answers_used: tuple[str, ...] = ()
    #: Emergency-rule symptoms answered yes while no emergency rule fired (cancer status no,
    #: not sure or unanswered): the patient advice still routes them to emergency care.
    warning_answers: tuple[str, ...] = ()
    #: A warning-sign symptom was answered yes and an emergency rule is undecided only for want
    #: of another answer (cancer status "not sure" or unanswered). False while no warning-sign
    #: symptom is answered yes: an unanswered question is never a possible emergency by itself.
    possible_emergency: bool = False
    #: Warning signs (the symptoms of the emergency rules) not answered, or answered "not
    #: sure", while the level is below emergency. Even where they cannot raise the level (no
    #: cancer), a yes would route the person to emergency care: never "no warning signs".
    open_warning_signs: tuple[str, ...] = ()
    #: The level counts an unknown answer as the worst case (pathway amendment 2026-12: a
    #: warning sign with cancer status not known is an emergency, provisional).
    provisional: bool = False
    #: What to do to settle a provisional level (empty when the level is not provisional).
    to_find_out: str = ""
    #: The level in words, the same in every output ("Emergency (now), provisional", ...).
    headline: str = ""
    #: Why, in one sentence: the text of the rule that set the level (or "no red flags ...").
    reason: str = ""
    #: Questions not answered, or answered "not sure", whose answer can still change the level,
    #: the rules that set it or the advice (:func:`open_questions`), in question order. Every
    #: other unanswered question is skipped: no answer to it can change this result.
    open_questions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``level``, ``basis``, ``unanswered_could_raise``, advice, citations)."""
        return {
            "level": self.level,
            "basis": list(self.basis),
            "rules": list(self.rules),
            "unanswered_could_raise": list(self.unanswered_could_raise),
            "highest_possible": self.highest_possible,
            "answers_used": list(self.answers_used),
            "warning_answers": list(self.warning_answers),
            "possible_emergency": self.possible_emergency,
            "open_warning_signs": list(self.open_warning_signs),
            "provisional": self.provisional,
            "to_find_out": self.to_find_out,
            "headline": self.headline,
            "reason": self.reason,
            "open_questions": list(self.open_questions),
            "patient_advice": self.patient_advice,
            "clinician_advice": self.clinician_advice,
            "warning_signs": list(self.warning_signs),
            "citations": list(self.citations),
        }


@cache
def warning_sign_questions() -> tuple[str, ...]:
    """The warning signs: the symptoms in the any-of lists of the emergency rules, in order."""
    names = [c.fact for rule in triage_rules() if rule.level == "emergency"
             for condition in rule.when for c in condition.any if c.fact is not None]
    return tuple(dict.fromkeys(names))


def _check(key: str, value: Any) -> ProblemDetail | None:
    if key not in ANSWER_KEYS:
        return ProblemDetail(key, "is not a triage question", None, ANSWER_KEYS)
    if value is None:
        return None
    allowed = _CHOICES.get(key)
    if allowed is not None:
        if isinstance(value, str) and value in allowed:
            return None
        return ProblemDetail(key, f"{value!r} is not an allowed answer", value, allowed)
    if isinstance(value, bool) or (isinstance(value, str) and value == "unknown"):
        return None
    return ProblemDetail(key, "must be true or false (or null when not answered)", value,
                         ("true", "false", "null"))


def _facts(answers: Mapping[str, Any]) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    for key in ANSWER_KEYS:
        value = answers.get(key)
        if value is None or (value == "unknown" and key != "cancer_status"):
            continue
        facts[key] = Fact.known(value, (key,), f"{key}: {_shown(value)}")
    status = answers.get("cancer_status")
    if status == "unknown":  # "not sure" may still be cancer: never read as "none"
        facts["cancer_status"] = Fact(frozenset({"known", "suspected", "none"}),
                                      ("cancer_status",), "cancer_status: not sure")
    # Amendment 2026-12: with a warning sign, a cancer status not answered, not recorded or
    # "not sure" counts as the worst case (triage.emergency.warning_sign_cancer_status_unknown).
    facts["cancer_status_open"] = Fact.known(
        status in (None, "unknown"), ("cancer_status",),
        "cancer_status: " + ("not answered" if status is None else
                             "not sure" if status == "unknown" else str(status)))
    if status is not None:
        facts["cancer_history_unclear"] = Fact.known(status == "unknown", ("cancer_status",),
                                                     f"cancer_status: {status}")
    return facts


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _evaluate(rule: TriageRule, facts: Mapping[str, Fact]) -> tuple[
        bool | None, list[tuple[str, str]], list[str]]:
    basis: list[tuple[str, str]] = []
    unknown: list[str] = []
    for condition in rule.when:
        result, names = condition.evaluate(facts)
        if result is False:
            return False, [], []
        if result is None:
            unknown.extend(names)
            continue
        basis.extend(_true_parts(condition, facts))
    return (None if unknown else True), basis, unknown


def _true_parts(condition: Condition, facts: Mapping[str, Fact]) -> list[tuple[str, str]]:
    """(answer key, text) of the answers that made ``condition`` true."""
    if condition.any:
        return [(c.fact, facts[c.fact].text) for c in condition.any
                if c.fact is not None and c.fact in facts and c.evaluate(facts)[0] is True]
    key = condition.fact or ""
    fact = facts.get(key)
    return [(fact.sources[0] if fact.sources else key, fact.text)] if fact is not None else []


def triage(answers: Mapping[str, Any]) -> TriageResult:
    """Triage level from symptom answers.

    Parameters
    ----------
    answers
        Keyed by question id (:data:`TRIAGE_QUESTIONS`): the case-format ``symptoms`` names,
        ``cancer_status`` (known, suspected, none, unknown), ``weight_loss``, ``age_over_50``,
        ``fever``, ``rapidly_progressive``, and the clinician-only ``neurological_signs``.
        ``None`` or a missing key means not answered.

    Returns
    -------
    TriageResult
        The level established by the answers; never lowered by an unanswered question.

    Raises
    ------
    InputError
        An unknown question id or an impossible answer, one problem per answer.
    """
    problems = [p for k, v in answers.items() if (p := _check(str(k), v)) is not None]
    if problems:
        raise InputError(problems)
    facts = _facts(answers)
    level: Level = "routine"
    highest: Level = "routine"
    hits: list[tuple[TriageRule, list[tuple[str, str]]]] = []
    pending: dict[str, Level] = {}
    undecided: list[tuple[Level, list[str]]] = []
    possible_emergency = False
    warning: list[str] = []
    for rule in triage_rules():
        result, because, unknown = _evaluate(rule, facts)
        if rule.level == "emergency":
            reported = [key for key, _ in _reported(rule, facts)]
            warning += reported
            possible_emergency |= result is None and bool(reported)
        if result is True:
            hits.append((rule, because))
            level = max(level, rule.level, key=_RANK.__getitem__)
        elif result is None:
            undecided.append((rule.level, unknown))
            for name in unknown:
                pending[name] = max(pending.get(name, "routine"), rule.level,
                                    key=_RANK.__getitem__)
        if result is not False:
            highest = max(highest, rule.level, key=_RANK.__getitem__)
    could_raise = tuple(n for n, lvl in pending.items() if _RANK[lvl] > _RANK[level])
    # The basis is the answers of the rules that set the level; lower-level rules that also
    # fired do not explain it.
    decisive = [(rule, because) for rule, because in hits if rule.level == level]
    fired = [rule for rule, _ in decisive]
    basis = [f"{text} ({rule.id})" for rule, because in decisive for _, text in because]
    used = [key for _, because in decisive for key, _ in because]
    if not fired:
        basis.append("no triage rule fired on the answers given")
    provisional = bool(fired) and all(rule.provisional for rule in fired)
    if level == "emergency":
        warning, possible_emergency = [], provisional
    else:  # symptoms the deciding rule already acts on (a same-day deficit) are not "unrouted"
        warning = [w for w in warning if w not in used]
    open_signs = () if level == "emergency" else tuple(
        n for n in warning_sign_questions() if n not in facts and n in TRIAGE_QUESTION_IDS)
    still_open = _open(level, undecided, facts, answers)
    return _result(level, highest, fired, basis, could_raise=could_raise, still_open=still_open,
                   used=tuple(dict.fromkeys(used)), warning=tuple(dict.fromkeys(warning)),
                   possible_emergency=possible_emergency, open_signs=open_signs,
                   cancer_known=answers.get("cancer_status") in ("known", "suspected"),
                   provisional=provisional)


#: Rule facts derived from an answer rather than named by a question id.
_DERIVED: Final[dict[str, str]] = {"cancer_history_unclear": "cancer_status",
                                   "cancer_status_open": "cancer_status"}


def _open(level: Level, undecided: list[tuple[Level, list[str]]], facts: Mapping[str, Fact],
          answers: Mapping[str, Any]) -> tuple[str, ...]:
    """The open questions (:func:`open_questions`) from the rules left undecided."""
    names = {_DERIVED.get(n, n) for rule_level, unknown in undecided
             if _RANK[rule_level] >= _RANK[level] for n in unknown}
    if level != "emergency":
        names.update(n for n in warning_sign_questions() if n not in facts)
    if answers.get("cancer_status") is None:
        names.add("cancer_status")
    return tuple(n for n in ANSWER_KEYS if n in names)


def open_questions(answers: Mapping[str, Any]) -> tuple[str, ...]:
    """The questions whose answer can still change the result; every other one is skipped.

    A question is *open* when it is not answered, or answered "not sure" (never read as no),
    and some answer to it can still change the level, the rules that set it or the advice. This
    is read from the rule table (``rules/tables/triage.yaml``), not written per question. A rule
    is *undecided* when none of its conditions is false on the answers given and one or more
    is unknown; a rule's conditions are a conjunction, each one a test of one answer or an
    any-of list of such tests. A question is open when:

    1. it is named by an unknown condition (or an unknown item of an undecided any-of list) of
       an undecided rule whose level is at least the level reached. Answering it can fire that
       rule, which raises the level or adds a rule that sets it (and so the advice and its
       basis). A rule that is ruled out (a condition answered false, for example "no back
       pain" for every pain rule), already fired, or below the level reached can no longer
       change the result, and neither can its questions;
    2. it is a warning sign (a symptom of an emergency rule) and the level is below emergency:
       a yes always changes the advice (emergency care, or "you said yes to a warning sign"),
       even where no rule can fire on it (cancer answered no), so it is never skipped there;
    3. it is cancer status, not answered: the advice reads it directly (the emergency advice
       says "tell them you have cancer" only when cancer is known or suspected).

    No answer to any other question, with any answers to the rest, changes the result
    (``tests/rules/test_triage_skip.py`` checks this against every answer to the skipped
    questions). Questions answered already are not open, except "not sure" answers that still
    matter. In question order; ``neurological_signs`` (clinicians only) comes last.

    Raises
    ------
    InputError
        As :func:`triage`.
    """
    return triage(answers).open_questions


def _reported(rule: TriageRule, facts: Mapping[str, Fact]) -> list[tuple[str, str]]:
    """(answer key, text) of the symptoms in ``rule``'s any-of lists that were answered yes."""
    return [part for condition in rule.when if condition.any
            for part in _true_parts(condition, facts)]


def _result(level: Level, highest: Level, fired: list[TriageRule], basis: list[str], *,
            could_raise: tuple[str, ...], used: tuple[str, ...],
            still_open: tuple[str, ...] = (),
            warning: tuple[str, ...] = (), possible_emergency: bool = False,
            open_signs: tuple[str, ...] = (), cancer_known: bool = False,
            provisional: bool = False) -> TriageResult:
    refs = references()
    citations = tuple(dict.fromkeys(refs[c] for rule in fired for c in rule.citations))
    same_day = level == "urgent" and all(r.id == SAME_DAY_RULE for r in fired) and bool(fired)
    head = _CLINICIAN_SAME_DAY if same_day else _CLINICIAN_ADVICE[level]
    if provisional:
        head = TO_FIND_OUT + ". " + head
    clinician = head + " " + " ".join(r.text + "." for r in fired)
    patient = _PATIENT_SAME_DAY if same_day else _PATIENT_ADVICE[level]
    if level == "emergency" and not cancer_known:
        patient = _PATIENT_EMERGENCY_NO_KNOWN_CANCER
    if level == "routine" and (could_raise or open_signs):
        patient = _PATIENT_OPEN
    if warning:
        # Never "no warning signs" beside a warning sign answered yes: route it to emergency care.
        rest = _PATIENT_WATCH if level == "routine" else patient
        patient = _PATIENT_WARNING[possible_emergency] + " " + rest
        if level == "routine":  # not "no red flags": a red-flag symptom was answered yes
            clinician = "No triage rule fired on the answers given."
        clinician += (
            f" Emergency-rule symptoms answered yes ({', '.join(warning)}) without an emergency "
            "rule firing: " + ("the MSCC rule is undecided because cancer status is not known; "
                               "establish it now." if possible_emergency else
                               "cancer is not known or suspected; assess clinically."))
    if could_raise and level != "emergency":
        clinician += (f" Not yet answered and could raise the level (up to {highest}): "
                      f"{', '.join(could_raise)}.")
        if patient != _PATIENT_OPEN:
            patient += " Please answer the remaining questions: some could change this advice."
    headline = _HEADLINES["same_day" if same_day else level] + (", provisional" if provisional
                                                                   else "")
    reason = (TO_FIND_OUT if provisional else
              "; ".join(r.text for r in fired) if fired else _NO_RULE_REASON)
    return TriageResult(level, tuple(dict.fromkeys(basis)), tuple(r.id for r in fired),
                        could_raise if level != "emergency" else (),
                        highest if could_raise else level, patient, clinician.strip(),
                        citations, answers_used=used, warning_answers=warning,
                        possible_emergency=possible_emergency, open_warning_signs=open_signs,
                        provisional=provisional, to_find_out=TO_FIND_OUT if provisional else "",
                        headline=headline, reason=reason, open_questions=still_open)
