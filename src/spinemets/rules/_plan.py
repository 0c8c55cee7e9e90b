"""The plan: triage, scores, work-up and NOMS-based recommendations with basis and trace.

Output format ``spinemets-plan/1`` (``case-format.md``). Every item carries its rule id, basis,
citations and cautions; the trace lists every rule that fired or was blocked by unknown inputs;
"no recommendation" is reported as a flag, never left silent, and names the missing inputs in
words. Inputs that contradict each other give ``consistency`` flags (``tables/checks.yaml``).
``unknowns`` and every "would need" list name only inputs missing from the case.

The cost is linear in the number of lesions: every per-lesion look-up is a dictionary look-up.

References
----------
Laufer I et al. The NOMS framework. Oncologist 2013;18(6):744-751. NICE NG234 (2023).
``pathway.md`` §2-§5 and ``scores.md`` §12-§16 (spinemets clinical specification).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from spinemets._identity import IdentityMemo
from spinemets.case import Assessment, Case, assess, load_case
from spinemets.rules._checks import consistency
from spinemets.rules._consequence import _Signature, clear_cache, rank_unknowns
from spinemets.rules._engine import Fact, Firing, Rule, all_rules, evaluate_rule, references
from spinemets.rules._facts import (
    ADULT_AGE_YEARS,
    PatientFacts,
    clear_lesion_facts,
    lesions_own_facts,
    lesions_wide_facts,
    patient_facts,
)
from spinemets.rules._fields import in_words, is_missing
from spinemets.rules._triage import TriageResult, triage

if TYPE_CHECKING:
    from spinemets.local_model import LocalPrediction, ModelFile

__all__ = ["Item", "Plan", "plan", "triage_case", "workup"]

ACTIVE = ("recommended", "consider", "mdt_review")
#: Statuses that propose an item (an MDT review is a question, not a proposal).
PROPOSED = ("recommended", "consider")
OPEN_SURGERY = ("separation_surgery", "stabilisation", "reconstruction_corpectomy",
                "en_bloc_resection")
_NAMES = {"separation_surgery": "separation surgery", "stabilisation": "stabilisation",
          "reconstruction_corpectomy": "reconstruction / corpectomy",
          "en_bloc_resection": "en bloc resection"}
_RADIOSENSITIVITY_CHOICE = ("radiosensitivity", "overrides.radiosensitivity")
_TEMPLATE = re.compile(r"\{(\w+)\}")
PROCEDURES = (*OPEN_SURGERY, "srs", "cement_augmentation")
BASELINE_LABS = ("hemoglobin", "platelets", "calcium", "albumin", "alkaline_phosphatase",
                 "creatinine", "inr", "ldh", "crp")
_SYMPTOM_KEYS = ("back_pain", "pain_onset_sudden", "pain_better_with_rest", "pain_location",
                 "pain_progressive", "pain_severe_unremitting", "pain_night",
                 "pain_worse_on_straining", "spinal_tenderness", "radicular_pain",
                 "limb_weakness", "difficulty_walking", "numbness_or_tingling",
                 "saddle_numbness", "bladder_or_bowel_dysfunction", "weight_loss", "fever")


def triage_case(case: Case | Mapping[str, Any]) -> TriageResult:
    """Triage a case from its symptoms, cancer status, age and neurology.

    ``age_over_50`` is read from ``patient.age_years``; ``neurological_signs`` is true for a
    Frankel or ASIA grade A-D and false for E; unknown values stay unanswered.
    """
    case = load_case(case)
    answers: dict[str, Any] = {k: getattr(case.symptoms, k) for k in _SYMPTOM_KEYS}
    answers["cancer_status"] = case.cancer.status
    age = case.patient.age_years
    answers["age_over_50"] = None if age is None else age > 50
    answers["rapidly_progressive"] = case.neurology.rapidly_progressive
    grades = [g for g in (case.neurology.frankel, case.neurology.asia) if g is not None]
    answers["neurological_signs"] = (any(g != "E" for g in grades) or None) if grades else None
    if grades and all(g == "E" for g in grades):
        answers["neurological_signs"] = False
    return _triage_of(tuple(sorted(answers.items())))


@lru_cache(maxsize=1024)
def _triage_of(answers: tuple[tuple[str, Any], ...]) -> TriageResult:
    """Triage remembered per answers (immutable, deterministic; the ranking of unknowns
    triages many variants of one case with the same answers)."""
    return triage(dict(answers))


@dataclass(frozen=True, slots=True)
class Item:
    """One recommendation or work-up item."""

    id: str
    status: str
    rule: str
    basis: tuple[str, ...]
    citations: tuple[str, ...]
    cautions: tuple[str, ...]
    evidence: str
    lesion: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.lesion is not None:
            out["lesion"] = self.lesion
        out |= {"basis": list(self.basis), "citations": list(self.citations),
                "cautions": list(self.cautions), "rule": self.rule, "evidence": self.evidence}
        return out | dict(self.extra)


@dataclass(frozen=True, slots=True)
class Plan:
    """The ``spinemets-plan/1`` result (immutable; render with :meth:`to_dict`)."""

    case_id: str | None
    triage: TriageResult
    assessment: Assessment
    workup: tuple[Item, ...]
    recommendations: tuple[Item, ...]
    flags: tuple[Mapping[str, Any], ...]
    unknowns: tuple[str, ...]
    trace: tuple[Mapping[str, Any], ...]
    #: False for a patient under 18 (pathway 6.4: every score is then labelled "validated in
    #: adults only"), None when the age is not recorded.
    adult: bool | None = None
    #: Per unknown, in the same order, what it could change: "triage", "decision" (a treatment
    #: or work-up item, a dose or a flag), "score" (a score's band only) or "unlisted" (its
    #: values cannot be listed, so it is kept). Unknowns are ordered by this consequence.
    unknown_consequences: tuple[str, ...] = ()
    #: The site's local model's prediction (issue 25), only when a site configures one.
    local_model: LocalPrediction | None = None

    def to_dict(self) -> dict[str, Any]:
        """The plan in the documented JSON format."""
        scores = self.assessment.to_dict()["scores"]
        if self.adult is False:
            for score in scores:
                score["warnings"] = [ADULTS_ONLY, *score.get("warnings", [])]
                score["validated_in_adults_only"] = True
        return {
            "format": "spinemets-plan/1",
            "triage": self.triage.to_dict(),
            "scores": scores,
            "workup": [i.to_dict() for i in self.workup],
            "recommendations": [i.to_dict() for i in self.recommendations],
            "flags": [dict(f) for f in self.flags],
            "unknowns": list(self.unknowns),
            "unknown_consequences": list(self.unknown_consequences),
            "trace": [dict(t) for t in self.trace],
        } | ({} if self.local_model is None else {"local_model": self.local_model.to_dict()})


Slot = tuple[str, str, int | None]


@dataclass
class _Scope:
    lesion: int | None
    label: str | None
    _facts: dict[str, Fact] | None = None
    #: A lesion scope made by :func:`_scopes`: the facts shared by every lesion (patient-level
    #: and :func:`lesions_wide_facts`) and the lesion's own (remembered, immutable). Its facts
    #: are merged on first use: the ranking of unknowns keys most lesions without merging.
    common: Mapping[str, Fact] | None = None
    own: Mapping[str, Fact] | None = None

    @property
    def facts(self) -> dict[str, Fact]:
        if self._facts is None:
            self._facts = {**(self.common or {}), **(self.own or {})}
        return self._facts


@dataclass
class _Run:
    case: Case
    assessment: Assessment
    triage: TriageResult
    patient: PatientFacts
    scopes: list[_Scope]
    firings: list[Firing] = field(default_factory=list)
    by_lesion: dict[int | None, _Scope] = field(default_factory=dict)
    _missing: dict[str, bool] = field(default_factory=dict)
    _final: tuple[dict[Slot, list[Firing]], dict[Slot, Firing]] | None = None

    def __post_init__(self) -> None:
        self.by_lesion = {scope.lesion: scope for scope in self.scopes}

    def label(self, lesion: int | None) -> str | None:
        return None if lesion is None else self.by_lesion[lesion].label

    def is_missing(self, path: str) -> bool:
        """Whether ``path`` is missing from the case (memoised: asked once per path)."""
        known = self._missing.get(path)
        if known is None:
            known = self._missing[path] = is_missing(self.case, path)
        return known

    def only_missing(self, paths: Iterable[str]) -> tuple[str, ...]:
        return tuple(p for p in dict.fromkeys(paths) if self.is_missing(p))

    def final(self) -> tuple[dict[Slot, list[Firing]], dict[Slot, Firing]]:
        """Slots and their winners once every stage is evaluated (computed once)."""
        if self._final is None:
            self._final = (_slots(self.firings), _winners(self.firings))
        return self._final


def _scopes(case: Case, assessment: Assessment, patient: PatientFacts,
            today: dt.date) -> list[_Scope]:
    scopes = [_Scope(None, None, dict(patient.facts))]
    if not case.lesions:
        return scopes
    common = {**patient.facts, **lesions_wide_facts(case, assessment)}
    owns = lesions_own_facts(case, assessment, patient.facts, today)
    for index, (lesion, own) in enumerate(zip(case.lesions, owns, strict=True)):
        scopes.append(_Scope(index, lesion.label, common=common, own=own))
    return scopes


def _evaluate(run: _Run, stage: int) -> None:
    for rule in all_rules():
        if rule.stage != stage:
            continue
        for scope in run.scopes:
            if (rule.scope == "lesion") == (scope.lesion is not None):
                run.firings.append(evaluate_rule(rule, scope.facts, scope.lesion))


def _slots(firings: Iterable[Firing]) -> dict[Slot, list[Firing]]:
    slots: dict[Slot, list[Firing]] = {}
    for f in firings:
        if f.rule.kind != "flag":
            slots.setdefault((f.rule.kind, f.rule.outcome, f.lesion), []).append(f)
    return slots


def _winner(firings: list[Firing]) -> Firing | None:
    fired = [f for f in firings if f.result is True]
    if not any(not f.rule.modifier for f in fired):
        return None
    return max(fired, key=lambda f: f.rule.priority)


def _winners(firings: Iterable[Firing]) -> dict[Slot, Firing]:
    out = {}
    for slot, group in _slots(firings).items():
        best = _winner(group)
        if best is not None:
            out[slot] = best
    return out


def _stage_two_facts(run: _Run, bma: Fact | None = None) -> None:
    """The facts stage-2 rules read: what stage 1 proposed (``bma``: given when ``run`` holds
    lesion scopes only, see :func:`_decisions_by_scope`)."""
    winners = _winners(run.firings)
    slots = _slots(run.firings)

    def proposed(ids: Iterable[str], lesion: int | None,
                 statuses: tuple[str, ...] = ACTIVE) -> list[str]:
        return [f"{_NAMES.get(i, i)} ({w.rule.status})" for i in ids
                if (w := winners.get(("recommendation", i, lesion))) is not None
                and w.rule.status in statuses]

    if bma is None:
        bma = Fact.known(bool(proposed(("bone_modifying_agent",), None)), ("cancer.primary",),
                         "bone-modifying agent proposed")
    for scope in run.scopes:
        scope.facts["bma_proposed"] = bma
        if scope.lesion is None:
            continue
        open_surgery = proposed(OPEN_SURGERY, scope.lesion, PROPOSED)
        scope.facts["open_surgery_proposed"] = Fact.known(
            bool(open_surgery), (), "open surgery proposed for this lesion: "
            + (", ".join(open_surgery) or "none"))
        scope.facts["procedure_proposed"] = Fact.known(
            bool(proposed(PROCEDURES, scope.lesion)), (),
            "surgery, SRS or augmentation proposed")
        scope.facts["open_surgery_replaced"] = _replaced(slots, winners, scope.lesion)


def _replaced(slots: Mapping[Slot, list[Firing]], winners: Mapping[Slot, Firing],
              lesion: int) -> Fact:
    """Open surgery that a base rule indicated and an S modifier (``replaces``) took away."""
    surgeries: list[str] = []
    because: list[str] = []
    for outcome in OPEN_SURGERY:
        slot = ("recommendation", outcome, lesion)
        winner = winners.get(slot)
        if winner is None or winner.rule.status in PROPOSED:
            continue
        reasons = [f.rule.replaces for f in slots[slot]
                   if f.result is True and f.rule.modifier and f.rule.replaces]
        if reasons:
            surgeries.append(_NAMES[outcome])
            because.extend(reasons)
    if not surgeries:
        return Fact.known(False, (), "no open surgery replaced")
    return Fact.known(True, (), "radiotherapy alone / best supportive care instead of open "
                      f"surgery ({', '.join(surgeries)}) because "
                      + " and ".join(dict.fromkeys(because)))


def _run(case: Case, today: dt.date) -> _Run:
    return _finish(_prepare(case, today))


def _prepare(case: Case, today: dt.date) -> _Run:
    """Scores, triage and every fact of the case, before any rule is evaluated."""
    assessment = assess(case)
    tri = triage_case(case)
    patient = patient_facts(case, assessment, tri)
    return _Run(case, assessment, tri, patient, _scopes(case, assessment, patient, today))


def _finish(run: _Run) -> _Run:
    _evaluate(run, 1)
    _stage_two_facts(run)
    _evaluate(run, 2)
    return run


class _Global(NamedTuple):
    """What the items read besides the facts of their own scope (see :func:`_inputs_key`)."""

    level: str
    provisional: bool
    crcl: str
    zoledronic: str
    #: The consistency checks that fire (their flags are decisions too).
    checks: frozenset[str]
    age_years: float | None
    sex: str | None
    primary: str | None
    labs: frozenset[str]


def _global_key(run: _Run) -> _Global:
    case = run.case
    labs = frozenset(name for name in type(case.labs).model_fields
                     if case.labs.given(name) is not None)
    checks = frozenset(c.check for c in consistency(case, run.patient.crcl))
    return _Global(run.triage.level, run.triage.provisional, repr(run.patient.crcl),
                   repr(run.patient.zoledronic), checks, case.patient.age_years,
                   case.patient.sex, case.cancer.primary, labs)


#: The parts of :class:`_Global` each item's :func:`_enrich` reads (its extra, status and rule
#: are part of a decision; cautions are not). Every other item reads none of them.
_ENRICH_READS: Final[dict[str, tuple[str, ...]]] = {
    "dexamethasone": ("under_18",),
    "denosumab": ("under_18",),
    "bone_modifying_agent": ("under_18",),
    "cebrt": ("under_18", "level"),
    "srs": ("under_18", "level"),
    "zoledronic_acid": ("under_18", "crcl", "zoledronic"),
    "analgesia": ("crcl",),
    "bloods_baseline": ("primary", "labs"),
}


@cache
def _lesion_reads() -> tuple[str, ...]:
    """The parts of :class:`_Global` a lesion's decisions can read: those the items lesion rules
    can give read (:data:`_ENRICH_READS`), from the rule tables."""
    outcomes = {rule.outcome for rule in all_rules() if rule.scope == "lesion"}
    return tuple(sorted({part for outcome in outcomes for part in _ENRICH_READS.get(outcome, ())}))


def _lesion_global(common: _Global) -> tuple[Any, ...]:
    """:func:`_global_key` narrowed to what a lesion's decisions read (:func:`_lesion_reads`):
    a value tried for a patient field that changes, say, the clearance evaluates no lesion
    again."""
    age = common.age_years
    under_18 = age is not None and age < ADULT_AGE_YEARS
    return tuple(under_18 if part == "under_18" else getattr(common, part)
                 for part in _lesion_reads())


#: Lesion facts the items read besides the rules (the dose schedules, :func:`_with_schedules`).
_SCHEDULE_FACTS = ("escc_class", "lesion_pain", "sins_band", "fracture")


@cache
def _read_by(scope: str) -> tuple[str, ...]:
    """The facts the decisions of a ``scope`` ("patient" or "lesion") can depend on: those the
    scope's rules test, and for a lesion those its dose schedules read. Stage-2 facts (what
    stage 1 proposed) are computed from the rules' results, so they need not be keyed."""
    names = {n for rule in all_rules() if rule.scope == scope
             for condition in rule.when for n in condition.facts()}
    if scope == "lesion":
        names.update(_SCHEDULE_FACTS)
    return tuple(sorted(names))


def _facts_key(facts: Mapping[str, Fact], names: Iterable[str]) -> tuple[Any, ...]:
    return tuple(None if (fact := facts.get(name)) is None else (fact.possible, fact.unverified)
                 for name in names)


def _scope_key(scope: _Scope) -> tuple[Any, ...]:
    return _facts_key(scope.facts, _read_by("patient" if scope.lesion is None else "lesion"))


@cache
def _split(own_names: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The facts a lesion's decisions read (:func:`_read_by`), split into those the shared
    facts give and those its own facts (named ``own_names``) give, each in ``_read_by`` order."""
    names = _read_by("lesion")
    return (tuple(n for n in names if n not in own_names),
            tuple(n for n in names if n in own_names))


#: Per own-facts mapping (identity): which read facts the shared facts give, and the key of
#: the read facts it gives itself.
_OWN_KEYS: IdentityMemo[tuple[tuple[str, ...], tuple[Any, ...]]] = IdentityMemo(1024)


def _own_key(own: Mapping[str, Fact]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    found = _OWN_KEYS.get((own,))
    if found is None:
        shared, mine = _split(frozenset(own))
        found = _OWN_KEYS.put((own,), (), (shared, _facts_key(own, mine)))
    return found


_Keys = tuple[tuple[tuple[int | None, str | None, tuple[Any, ...]], ...], _Global]


def _inputs_key(run: _Run) -> _Keys:
    """Everything the decisions read, before the rules run: per scope the facts its rules and
    items read (:func:`_read_by`), the clearance and dose, the consistency checks and the few
    case fields the items read directly. Two cases with the same key get the same decisions.

    A lesion made by :func:`_scopes` is keyed as (the read facts its shared facts give, those
    its own facts give): the same facts, grouped, and the first part computed once per case
    (its own facts are remembered objects, :func:`_own_key`)."""
    shared_keys: dict[tuple[int, int], tuple[Any, ...]] = {}
    keys: list[tuple[int | None, str | None, tuple[Any, ...]]] = []
    for scope in run.scopes:
        if scope.own is None or scope.common is None:
            keys.append((scope.lesion, scope.label, _scope_key(scope)))
            continue
        shared, mine = _own_key(scope.own)
        found = shared_keys.get((id(scope.common), id(shared)))
        if found is None:
            found = shared_keys[(id(scope.common), id(shared))] = _facts_key(scope.common,
                                                                             shared)
        keys.append((scope.lesion, scope.label, ("split", found, mine)))
    return tuple(keys), _global_key(run)


def _decisions_by_scope(run: _Run, remembered: dict[Hashable, Any],
                        keys: _Keys | None = None) -> frozenset[tuple[Any, ...]]:
    """:func:`_decisions` of the prepared ``run``, scope by scope, each scope's part remembered.

    A lesion's items and flags depend only on its facts that its rules and items read (which
    include patient-level ones), on whether a bone-modifying agent is proposed (the patient
    scope's stage 1) and on the part of :func:`_global_key` its items read
    (:func:`_lesion_global`), and on nothing else of the lesion but its label (so lesions
    whose keys agree share one evaluation, relabelled); the patient's on the facts the patient
    rules read and the global key. So a value tried for one lesion's field evaluates that
    lesion again and finds the others remembered. The only decision drawn from every scope at
    once, "no patient-level treatment rule applies", is added over the union; the
    consistency checks and the under-18 flag are added once. Equal to
    ``_decisions(_finish(run))`` (tested). ``keys``: :func:`_inputs_key` of ``run``, if known.
    """
    scope_keys, common = keys if keys is not None else _inputs_key(run)
    by_scope = {lesion: key for lesion, _, key in scope_keys}
    patient_scope = run.by_lesion[None]
    key = (None, by_scope[None], common)
    if key not in remembered:
        mini = _Run(run.case, run.assessment, run.triage, run.patient,
                    [_Scope(None, None, dict(patient_scope.facts))])
        _finish(mini)
        remembered[key] = _scope_decisions(mini)
        remembered[(key, "bma")] = frozenset({
            (mini.by_lesion[None].facts["bma_proposed"].possible,)})
    patient_part = remembered[key]
    (bma_possible,), = remembered[(key, "bma")]
    bma = Fact(bma_possible, ("cancer.primary",), "bone-modifying agent proposed")
    lesion_common = _lesion_global(common)
    parts = [frozenset(_decision_tuple(d) for d in patient_part)]
    recommends = any(d[0] == "item" and d[1] == "recommendation" for d in patient_part)
    for scope in run.scopes:
        if scope.lesion is None:
            continue
        # no lesion index: lesions whose facts read agree share one evaluation (relabelled)
        lesion_key = ("lesion", by_scope[scope.lesion], bma_possible, lesion_common)
        if lesion_key not in remembered:
            mini = _Run(run.case, run.assessment, run.triage, run.patient,
                        [_Scope(scope.lesion, scope.label, dict(scope.facts))])
            _evaluate(mini, 1)
            _stage_two_facts(mini, bma)
            _evaluate(mini, 2)
            remembered[lesion_key] = _scope_decisions(mini)
            remembered[(lesion_key, "label")] = frozenset({(scope.label,)})
        # the lesion's part as this lesion's, in the form _decisions gives (once per label)
        final = remembered.get((lesion_key, scope.label))
        if final is None:
            (label,), = remembered[(lesion_key, "label")]
            tagged = _relabel(remembered[lesion_key], label, scope.label)
            final = remembered[(lesion_key, scope.label)] = (
                frozenset(_decision_tuple(d) for d in tagged),
                any(d[0] == "item" and d[1] == "recommendation" for d in tagged))
        parts.append(final[0])
        recommends = recommends or final[1]
    out = set().union(*parts)
    if not recommends:
        out.add(("no_recommendation", None))
    out |= {("consistency", None, check) for check in common.checks}
    if _under_18(run):
        out.add(("under_18", None))
    return frozenset(out)


def _relabel(decisions: frozenset[tuple[Any, ...]], old: str | None, new: str | None
             ) -> frozenset[tuple[Any, ...]]:
    """A lesion scope's tagged decisions (:func:`_scope_decisions`) given for the lesion
    labelled ``new`` instead of ``old`` (an item's label is its 4th element, a flag's its 3rd)."""
    if old == new:
        return decisions
    out = set()
    for d in decisions:
        at = 3 if d[0] == "item" else 2
        out.add((*d[:at], new, *d[at + 1:]) if len(d) > at and d[at] == old else d)
    return frozenset(out)


def _scope_decisions(mini: _Run) -> frozenset[tuple[Any, ...]]:
    """The items and flags of the scopes in ``mini`` (tagged; see :func:`_decision_tuple`)."""
    items = _items(mini, "recommendation")
    out: set[tuple[Any, ...]] = {("item", "recommendation", i.id, i.lesion, i.status,
                                  repr(sorted(i.extra.items()))) for i in items}
    out |= {("item", "workup", i.id, i.lesion, i.status, repr(sorted(i.extra.items())))
            for i in _items(mini, "workup")}
    lesions = {s.lesion for s in mini.scopes if s.lesion is not None}
    flags = _rule_flags(mini)
    out |= {("flag", flag["id"], flag.get("lesion")) for flag in flags}
    for flag in _no_recommendation(mini, items, flags, lesions=lesions):
        if flag.get("lesion") is not None:
            out.add(("flag", flag["id"], flag["lesion"]))
    return frozenset(out)


def _decision_tuple(tagged: tuple[Any, ...]) -> tuple[Any, ...]:
    """A tagged decision in the form :func:`_decisions` gives it."""
    if tagged[0] == "item":
        return tagged[2:]
    return tagged[1:]


def _signature_of(day: dt.date) -> Callable[[Case], _Signature]:
    """The plan signature of a case, remembered by :func:`_inputs_key` (most values tried for
    a missing input change no fact: their rules are not evaluated again), and computed scope
    by scope (:func:`_decisions_by_scope`: a lesion's field re-evaluates that lesion only)."""
    seen: dict[_Keys, frozenset[tuple[Any, ...]]] = {}
    parts: dict[Hashable, Any] = {}

    def signature(case: Case) -> _Signature:
        run = _prepare(case, day)
        key = _inputs_key(run)
        if key not in seen:
            seen[key] = _decisions_by_scope(run, parts, key)
        return _Signature((run.triage.level, run.triage.provisional), seen[key], _bands(run))
    return signature


# -- building the output -------------------------------------------------------------------------


def _facts_of(run: _Run, lesion: int | None) -> dict[str, Fact]:
    return run.by_lesion[lesion].facts


def _cautions(rules: Iterable[Rule], facts: Mapping[str, Fact]) -> list[str]:
    out: list[str] = []
    for rule in rules:
        out.extend(rule.cautions)
        for cw in rule.cautions_when:
            result, _ = cw.condition.evaluate(facts)
            if result is True:
                out.append(cw.text)
            elif result is None and cw.if_unknown:
                out.append(cw.if_unknown)
        if rule.evidence == "unverified":
            out.append(f"UNVERIFIED rule ({rule.id}): for MDT discussion")
    return out


def _item(run: _Run, group: list[Firing], winner: Firing) -> Item:
    facts = _facts_of(run, winner.lesion)
    applied = [f for f in group if f.result is True and (f is winner or not f.rule.modifier)]
    applied.sort(key=lambda f: (f is winner, f.rule.priority))
    basis: list[str] = []
    for f in applied:
        basis.extend(f.basis)
        basis.append(f"{f.rule.text} (rule {f.rule.id})")
    cautions = _cautions((f.rule for f in applied), facts)
    cautions.extend(f"UNVERIFIED: {u}" for f in applied for u in f.unverified)
    refs = references()
    citations = [refs[c] for f in applied for c in f.rule.citations]
    evidence = "unverified" if (winner.rule.evidence == "unverified" or winner.unverified) else (
        winner.rule.evidence)
    label = run.label(winner.lesion)
    item = Item(winner.rule.outcome, winner.rule.status, winner.rule.id,
                tuple(dict.fromkeys(basis)), tuple(dict.fromkeys(citations)),
                tuple(dict.fromkeys(cautions)), evidence, label)
    return _enrich(run, item)


def _enrich(run: _Run, item: Item) -> Item:
    if item.id in DRUG_ITEMS and _under_18(run):
        return _no_child_dose(run, item)
    if item.id in ("cebrt", "srs"):
        return _with_schedules(run, item)
    if item.id == "zoledronic_acid":
        return _with_dose(run, item)
    if item.id == "analgesia":
        crcl = run.patient.crcl
        return _add(item, cautions=(f"NSAIDs and renal function: {crcl.describe()}",))
    if item.id == "bloods_baseline":
        return _with_missing_labs(run, item)
    if item.id.startswith("mri_whole_spine") and run.triage.unanswered_could_raise:
        return _add(item, cautions=(
            "Not yet answered and could raise the triage level (up to "
            f"{run.triage.highest_possible}): " + ", ".join(run.triage.unanswered_could_raise),))
    return item


#: Medicines whose rules name a dose (or choose between dosed agents): none for a child.
DRUG_ITEMS = ("dexamethasone", "zoledronic_acid", "denosumab", "bone_modifying_agent")
ADULTS_ONLY = ("Validated in adults only: the patient is under 18 (the scores were derived and "
               "validated in adults)")
UNDER_18 = ("Under 18: refer to the paediatric oncology team. The scores, the NOMS plan and the "
            "drug doses are for adults (derived and validated in adults; NICE NG234 covers "
            "adults); triage still applies")


def _under_18(run: _Run) -> bool:
    age = run.case.patient.age_years
    return age is not None and age < ADULT_AGE_YEARS


def _no_child_dose(run: _Run, item: Item) -> Item:
    """A medicine for a patient under 18: no dose, the paediatric oncology team decides."""
    refs = references()
    return Item(item.id, "mdt_review", "plan.under_18_no_drug_dose", (
        f"age {run.case.patient.age_years:g}: under 18",
        "Under 18: no drug dose is given (the doses are for adults); the paediatric oncology "
        "team decides the medicine and its dose (rule plan.under_18_no_drug_dose)"),
        (refs["nice_ng234"],), ("Refer to the paediatric oncology team",), "standard_practice",
        item.lesion)


def _lesion_fact(run: _Run, item: Item, name: str) -> Any:
    for scope in run.scopes:
        if scope.lesion is not None and scope.label == item.lesion:
            return scope.facts[name].value
    return None


def _with_schedules(run: _Run, item: Item) -> Item:
    """Published radiotherapy dose schedules shown with the item (pathway 6.3): options for
    the radiation oncologist, never a prescription; none for a patient under 18."""
    if _under_18(run) or item.lesion is None:
        return item
    escc = _lesion_fact(run, item, "escc_class")
    pain = _lesion_fact(run, item, "lesion_pain")
    sins = _lesion_fact(run, item, "sins_band")
    refs = references()
    options: list[dict[str, str]] = []
    if item.id == "cebrt" and (escc == "high" or run.triage.level == "emergency"):
        options.append({
            "schedule": "8 Gy in 1 fraction, or 20 Gy in 5 fractions",
            "for": "MSCC treated with radiotherapy alone",
            "result": "SCORAD: able to walk at 8 weeks 69.3 % (8 Gy x 1) vs 72.7 % (20 Gy in 5); "
                      "non-inferiority of the single fraction was not formally met (lower "
                      "confidence limit -11.5 % against a margin of -11 %)",
            "citation": refs["hoskin_2019_scorad"]})
    painful = pain in ("mechanical", "occasional")
    if painful and escc in ("low", "intermediate") and sins == "stable":
        if item.id == "srs":
            options.append({
                "schedule": "SBRT 24 Gy in 2 fractions",
                "for": "painful spinal metastasis without instability or symptomatic "
                       "compression, up to 3 contiguous segments, ECOG 0-2",
                "result": "SC.24: more complete pain responses than 20 Gy in 5 conventional "
                          "fractions",
                "citation": refs["sahgal_2021_sc24"]})
        elif _lesion_fact(run, item, "fracture") is False:
            options.append({
                "schedule": "8 Gy in 1 fraction",
                "for": "painful uncomplicated bone metastasis, conventional radiotherapy",
                "result": "the usual comparator in systematic reviews (no single source is in "
                          "the reference list); for the radiation oncologist to decide",
                "citation": ""})
    if not options:
        return item
    texts = tuple(f"Published option: {o['schedule']} ({o['for']}; {o['result']})"
                  for o in options)
    out = _add(item, basis=texts, cautions=(
        "Dose schedules are published options for the radiation oncologist, never a "
        "prescription",), extra={"dose_options": options})
    cited = tuple(o["citation"] for o in options if o["citation"])
    return Item(out.id, out.status, out.rule, out.basis,
                tuple(dict.fromkeys(out.citations + cited)), out.cautions, out.evidence,
                out.lesion, out.extra)


def _add(item: Item, *, basis: tuple[str, ...] = (), cautions: tuple[str, ...] = (),
         extra: Mapping[str, Any] | None = None) -> Item:
    return Item(item.id, item.status, item.rule, item.basis + basis, item.citations,
                item.cautions + cautions, item.evidence, item.lesion,
                {**item.extra, **(extra or {})})


def _with_dose(run: _Run, item: Item) -> Item:
    dose = run.patient.zoledronic
    crcl = dose.crcl
    extra = {"dose_mg": dose.dose_mg, "dose_band": dose.band, "dose_label": dose.label,
             "crcl_ml_min": None if crcl.ml_min is None else round(crcl.ml_min, 1),
             "crcl_inputs": crcl.inputs, "crcl_missing": list(crcl.missing),
             "crcl_formula": crcl.formula}
    cautions = list(dose.notes)
    if dose.implausible:
        cautions.append("No dose: the CrCl is implausible - check age, weight and creatinine "
                        "(see the consistency flag)")
    elif dose.band is None:
        ask = run.only_missing(crcl.missing)
        text = ("Dose needs CrCl: ask for " + ", ".join(ask)) if ask else "Dose needs CrCl"
        if "patient.sex" in crcl.missing and "patient.sex" not in ask:
            text += ("; Cockcroft-Gault has a factor for female and male only, so the clinician "
                     f"must choose it for sex {run.case.patient.sex!r}")
        cautions.append(text + " (no default dose is given)")
    return _add(item, basis=(dose.describe(),), cautions=tuple(cautions), extra=extra)


def _with_missing_labs(run: _Run, item: Item) -> Item:
    labs = list(BASELINE_LABS)
    if run.case.cancer.primary == "prostate":
        labs.append("psa")
    missing = [name for name in labs if run.case.labs.given(name) is None]
    text = ("not recorded: " + ", ".join(missing)) if missing else "all baseline values recorded"
    return _add(item, basis=(text,), extra={"missing": [f"labs.{m}" for m in missing]})


def _items(run: _Run, kind: str) -> list[Item]:
    out = []
    slots, winners = run.final()
    for slot, winner in winners.items():
        if slot[0] == kind:
            out.append(_item(run, slots[slot], winner))
    return out


def _fill(text: str, facts: Mapping[str, Fact]) -> str:
    """``{fact}`` in a flag text replaced by that fact's known value."""
    def value(match: re.Match[str]) -> str:
        fact = facts.get(match.group(1))
        return match.group(0) if fact is None or fact.value is None else str(fact.value)

    return _TEMPLATE.sub(value, text)


def _rule_flags(run: _Run) -> list[dict[str, Any]]:
    """The flags the rules raised, in the order they fired."""
    flags: list[dict[str, Any]] = []
    for f in run.firings:
        if f.rule.kind == "flag" and f.result is True:
            flag: dict[str, Any] = {"id": f.rule.outcome,
                                    "reason": _fill(f.rule.text, _facts_of(run, f.lesion)),
                                    "rule": f.rule.id}
            if f.rule.urgency:
                flag["urgency"] = f.rule.urgency
            if f.lesion is not None:
                flag["lesion"] = run.label(f.lesion)
            flags.append(flag)
    return flags


def _flags(run: _Run, recommendations: list[Item]) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = [c.to_flag() for c in consistency(run.case, run.patient.crcl)]
    flags.extend(_rule_flags(run))
    flags.extend(_no_recommendation(run, recommendations, flags))
    if _under_18(run):  # pathway 6.4: the plan's first line
        flags.insert(0, {"id": "under_18", "reason": UNDER_18, "rule": "plan.under_18",
                         "citations": [references()["nice_ng234"]]})
    return flags


def _no_recommendation(run: _Run, recommendations: list[Item],
                       flags: list[dict[str, Any]], *,
                       lesions: set[int] | None = None) -> list[dict[str, Any]]:
    """Lesions (all, or those in ``lesions``) that no treatment rule applies to, and the plan
    when no rule applies at all."""
    out = []
    treated = {r.lesion for r in recommendations if r.status in ACTIVE}
    asked = {f.get("lesion") for f in flags if f["id"] == "radiosensitivity_choice_needed"}
    blocked = _blocked_by_lesion(run)
    for index, lesion in enumerate(run.case.lesions):
        if lesion.label in treated or (lesions is not None and index not in lesions):
            continue
        missing, why = blocked.get(index, ([], []))
        if lesion.label in asked and all(m.endswith((*_RADIOSENSITIVITY_CHOICE,
                                                     ".prior_radiotherapy")) for m in missing):
            continue  # the radiosensitivity flag already says why, and what to choose
        own = f"lesions[{index}]."
        missing = sorted(missing, key=lambda m: not m.startswith(own))  # this lesion's first
        reason = "no treatment rule applies to this lesion"
        if missing:
            reason += "; would need: " + "; ".join(in_words(run.case, m) for m in missing)
        elif why:
            reason += ": " + "; ".join(why)
        out.append({"id": "no_recommendation", "lesion": lesion.label, "reason": reason,
                    "missing": missing})
    if not recommendations:
        out.append({"id": "no_recommendation", "reason": "no patient-level treatment rule "
                    "applies on the information given"})
    return out


def _blocked_by_lesion(run: _Run) -> dict[int, tuple[list[str], list[str]]]:
    """Per lesion: the missing inputs, and the undecided facts in words, that left its base
    treatment rules blocked (modifiers and contraindication checks are not treatments)."""
    out: dict[int, tuple[list[str], list[str]]] = {}
    for f in run.firings:
        if f.result is not None or f.lesion is None or f.rule.kind != "recommendation" or (
                f.rule.modifier):
            continue
        missing, why = out.setdefault(f.lesion, ([], []))
        facts = _facts_of(run, f.lesion)
        for name in f.unknown_facts:
            fact = facts.get(name, Fact.unknown())
            missing.extend(m for m in run.only_missing(fact.sources) if m not in missing)
            if fact.text and fact.text not in why:
                why.append(fact.text)
    return out


def _unknowns(run: _Run) -> list[str]:
    slots, winners = run.final()
    out: list[str] = []
    for f in run.firings:
        if f.result is not None:
            continue
        slot = (f.rule.kind, f.rule.outcome, f.lesion)
        winner = winners.get(slot)
        has_base = any(g.result is True and not g.rule.modifier for g in slots.get(slot, []))
        if f.rule.modifier and not has_base:
            continue
        if winner is None or f.rule.priority > winner.rule.priority or f.rule.kind == "flag":
            facts = _facts_of(run, f.lesion)
            out.extend(s for n in f.unknown_facts for s in facts.get(n, Fact.unknown()).sources)
    return list(run.only_missing(out))


def _trace(run: _Run) -> list[dict[str, Any]]:
    _, winners = run.final()
    out = []
    for f in run.firings:
        if f.result is False:
            continue
        entry: dict[str, Any] = {"rule": f.rule.id, "table": f.rule.table}
        if f.lesion is not None:
            entry["lesion"] = run.label(f.lesion)
        entry["outcome"] = _outcome(f, winners)
        entry["then"] = f"{f.rule.outcome}: {f.rule.status}"
        if f.result is True:
            entry["because"] = list(f.basis)
        else:
            facts = _facts_of(run, f.lesion)
            entry["unknown"] = list(run.only_missing(
                s for n in f.unknown_facts for s in facts.get(n, Fact.unknown()).sources))
        out.append(entry)
    return out


def _outcome(f: Firing, winners: Mapping[Slot, Firing]) -> str:
    if f.result is None:
        return "blocked (unknown inputs)"
    if f.rule.kind == "flag":
        return "fired"
    winner = winners.get((f.rule.kind, f.rule.outcome, f.lesion))
    if winner is f:
        return "applied"
    if winner is None:
        return "not applicable (modifies nothing proposed)"
    return f"overridden by {winner.rule.id}"


_STATUS_ORDER = {s: i for i, s in enumerate(("recommended", "consider", "mdt_review",
                                               "contraindicated", "not_indicated"))}


def _order(items: list[Item], run: _Run) -> tuple[Item, ...]:
    position: dict[str | None, int] = {None: 0}
    position |= {lesion.label: i for i, lesion in enumerate(run.case.lesions, 1)}
    return tuple(sorted(items, key=lambda i: (position[i.lesion],
                                              _STATUS_ORDER[i.status], i.id)))


def plan(case: Case | Mapping[str, Any] | str, *, today: dt.date | None = None,
         local_model: ModelFile | None = None) -> Plan:
    """Triage, scores, work-up and the NOMS-based plan for a case.

    Parameters
    ----------
    case
        A :class:`~spinemets.case.Case`, a ``spinemets-case/1`` mapping or a file path.
    today
        The date intervals are counted to (since the last radiotherapy course, the age of the
        imaging); default: today's date.
    local_model
        A site's local model (:mod:`spinemets.local_model`): its prediction is added beside the
        scores, computed once from the plan's score inputs; it changes nothing else.

    Returns
    -------
    Plan
        Deterministic for a given case; ``to_dict()`` gives ``spinemets-plan/1``.

    Raises
    ------
    CaseFormatError
        The case is malformed (one problem per field).
    """
    day = today or dt.date.today()
    run = _run(load_case(case), day)
    recommendations = _items(run, "recommendation")
    workup_items = _items(run, "workup")
    flags = _flags(run, recommendations)
    ranked = rank_unknowns(run.case, _unknowns(run), day, _signature_of(day), _triage_key)
    return Plan(
        run.case.id, run.triage, run.assessment,
        _order(workup_items, run), _order(recommendations, run),
        tuple(flags), tuple(path for path, _ in ranked), tuple(_trace(run)),
        adult=None if run.case.patient.age_years is None else not _under_18(run),
        unknown_consequences=tuple(kind for _, kind in ranked),
        local_model=None if local_model is None else _local(local_model, run.assessment))


def _local(model: ModelFile, assessment: Assessment) -> LocalPrediction:
    from spinemets.local_model import predict  # noqa: PLC0415 - only when a site configures one

    return predict(model, assessment)


def _triage_key(case: Case) -> tuple[str, bool]:
    result = triage_case(case)
    return result.level, result.provisional


def _decisions(run: _Run) -> frozenset[tuple[Any, ...]]:
    """What a missing input could change besides triage and scores: the items with their
    doses and schedules, and the flags (see :mod:`spinemets.rules._consequence`)."""
    items = _items(run, "recommendation")
    decisions: set[tuple[Any, ...]] = {
        (i.id, i.lesion, i.status, repr(sorted(i.extra.items())))
        for i in (*items, *_items(run, "workup"))}
    decisions |= {(f["id"], f.get("lesion"), *((f["check"],) if "check" in f else ()))
                  for f in _flags(run, items)}
    return frozenset(decisions)


def _bands(run: _Run) -> frozenset[tuple[Any, ...]]:
    return frozenset((r.slug, r.lesion, r.status, r.band.id if r.band else None,
                      r.possible_bands) for r in run.assessment.results)


def clear_caches() -> None:
    """Forget every remembered result (ranking, triage, scores): benchmarks time cold runs."""
    from spinemets.case._assess import (  # noqa: PLC0415 - private, benchmarks only
        _score_of,
        clear_lesion_scores,
    )

    clear_cache()
    clear_lesion_scores()
    _OWN_KEYS.clear()
    clear_lesion_facts()
    _triage_of.cache_clear()
    _score_of.cache_clear()


def workup(case: Case | Mapping[str, Any] | str) -> tuple[Item, ...]:
    """The diagnostic work-up items of :func:`plan` for ``case``."""
    return plan(case).workup
