"""The plan: triage, scores, work-up and NOMS-based recommendations with basis and trace.

Output format ``spinemets-plan/1`` (``case-format.md``). Every item carries its rule id, basis,
citations and cautions; the trace lists every rule that fired or was blocked by unknown inputs;
"no recommendation" is reported as a flag, never left silent.

References
----------
Laufer I et al. The NOMS framework. Oncologist 2013;18(6):744-751. NICE NG234 (2023).
``pathway.md`` §2-§5 and ``scores.md`` §12-§16 (spinemets clinical specification).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinemets.case import Assessment, Case, assess, load_case
from spinemets.rules._engine import Fact, Firing, Rule, all_rules, evaluate_rule, references
from spinemets.rules._facts import PatientFacts, lesion_facts, patient_facts
from spinemets.rules._triage import TriageResult, triage

__all__ = ["Item", "Plan", "plan", "triage_case", "workup"]

ACTIVE = ("recommended", "consider", "mdt_review")
OPEN_SURGERY = ("separation_surgery", "stabilisation", "reconstruction_corpectomy",
                "en_bloc_resection")
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
    return triage(answers)


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

    def to_dict(self) -> dict[str, Any]:
        """The plan in the documented JSON format."""
        return {
            "format": "spinemets-plan/1",
            "triage": self.triage.to_dict(),
            "scores": self.assessment.to_dict()["scores"],
            "workup": [i.to_dict() for i in self.workup],
            "recommendations": [i.to_dict() for i in self.recommendations],
            "flags": [dict(f) for f in self.flags],
            "unknowns": list(self.unknowns),
            "trace": [dict(t) for t in self.trace],
        }


@dataclass
class _Scope:
    lesion: int | None
    label: str | None
    facts: dict[str, Fact]


@dataclass
class _Run:
    case: Case
    assessment: Assessment
    triage: TriageResult
    patient: PatientFacts
    scopes: list[_Scope]
    firings: list[Firing] = field(default_factory=list)


def _scopes(case: Case, assessment: Assessment, patient: PatientFacts) -> list[_Scope]:
    scopes = [_Scope(None, None, dict(patient.facts))]
    for index, lesion in enumerate(case.lesions):
        scopes.append(_Scope(index, lesion.label,
                             lesion_facts(case, assessment, index, patient.facts)))
    return scopes


def _evaluate(run: _Run, stage: int) -> None:
    for rule in all_rules():
        if rule.stage != stage:
            continue
        for scope in run.scopes:
            if (rule.scope == "lesion") == (scope.lesion is not None):
                run.firings.append(evaluate_rule(rule, scope.facts, scope.lesion))


Slot = tuple[str, str, int | None]


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


def _stage_two_facts(run: _Run) -> None:
    winners = _winners(run.firings)

    def proposed(ids: Iterable[str], lesion: int | None) -> bool:
        return any((w := winners.get(("recommendation", i, lesion))) is not None
                   and w.rule.status in ACTIVE for i in ids)

    bma = Fact.known(proposed(("bone_modifying_agent",), None), ("cancer.primary",),
                     "bone-modifying agent proposed")
    for scope in run.scopes:
        scope.facts["bma_proposed"] = bma
        if scope.lesion is None:
            continue
        scope.facts["open_surgery_proposed"] = Fact.known(
            proposed(OPEN_SURGERY, scope.lesion), (), "open surgery proposed for this lesion")
        scope.facts["procedure_proposed"] = Fact.known(
            proposed(PROCEDURES, scope.lesion), (), "surgery, SRS or augmentation proposed")


def _run(case: Case) -> _Run:
    assessment = assess(case)
    tri = triage_case(case)
    patient = patient_facts(case, assessment, tri)
    run = _Run(case, assessment, tri, patient, _scopes(case, assessment, patient))
    _evaluate(run, 1)
    _stage_two_facts(run)
    _evaluate(run, 2)
    return run


# -- building the output -------------------------------------------------------------------------


def _facts_of(run: _Run, lesion: int | None) -> dict[str, Fact]:
    return next(s.facts for s in run.scopes if s.lesion == lesion)


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
    label = None if winner.lesion is None else run.case.lesions[winner.lesion].label
    item = Item(winner.rule.outcome, winner.rule.status, winner.rule.id,
                tuple(dict.fromkeys(basis)), tuple(dict.fromkeys(citations)),
                tuple(dict.fromkeys(cautions)), evidence, label)
    return _enrich(run, item)


def _enrich(run: _Run, item: Item) -> Item:
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
    if dose.band is None:
        cautions.append("Dose needs CrCl: ask for " + ", ".join(crcl.missing)
                        + " (no default dose is given)")
    basis = (crcl.describe(), f"dose band: {dose.label}")
    return _add(item, basis=basis, cautions=tuple(cautions), extra=extra)


def _with_missing_labs(run: _Run, item: Item) -> Item:
    labs = list(BASELINE_LABS)
    if run.case.cancer.primary == "prostate":
        labs.append("psa")
    missing = [name for name in labs if run.case.labs.given(name) is None]
    text = ("not recorded: " + ", ".join(missing)) if missing else "all baseline values recorded"
    return _add(item, basis=(text,), extra={"missing": [f"labs.{m}" for m in missing]})


def _items(run: _Run, kind: str) -> list[Item]:
    out = []
    slots = _slots(run.firings)
    for slot, winner in _winners(run.firings).items():
        if slot[0] == kind:
            out.append(_item(run, slots[slot], winner))
    return out


def _flags(run: _Run, recommendations: list[Item]) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    for f in run.firings:
        if f.rule.kind == "flag" and f.result is True:
            flag = {"id": f.rule.outcome, "reason": f.rule.text, "rule": f.rule.id}
            if f.lesion is not None:
                flag["lesion"] = run.case.lesions[f.lesion].label
            flags.append(flag)
    flags.extend(_no_recommendation(run, recommendations))
    return flags


def _no_recommendation(run: _Run, recommendations: list[Item]) -> list[dict[str, Any]]:
    out = []
    for index, lesion in enumerate(run.case.lesions):
        treatments = [r for r in recommendations if r.lesion == lesion.label
                      and r.status in ACTIVE]
        if not treatments:
            missing = _blocked_sources(run, index)
            reason = "no treatment rule applies to this lesion"
            if missing:
                reason += "; would need: " + ", ".join(missing)
            out.append({"id": "no_recommendation", "lesion": lesion.label, "reason": reason})
    if not recommendations:
        out.append({"id": "no_recommendation", "reason": "no patient-level treatment rule "
                    "applies on the information given"})
    return out


def _blocked_sources(run: _Run, lesion: int | None) -> list[str]:
    facts = _facts_of(run, lesion)
    names = [n for f in run.firings if f.result is None and f.lesion == lesion
             and f.rule.kind == "recommendation" for n in f.unknown_facts]
    return list(dict.fromkeys(s for n in names for s in facts.get(n, Fact.unknown()).sources))


def _unknowns(run: _Run) -> list[str]:
    winners = _winners(run.firings)
    slots = _slots(run.firings)
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
    return list(dict.fromkeys(out))


def _trace(run: _Run) -> list[dict[str, Any]]:
    winners = _winners(run.firings)
    out = []
    for f in run.firings:
        if f.result is False:
            continue
        entry: dict[str, Any] = {"rule": f.rule.id, "table": f.rule.table}
        if f.lesion is not None:
            entry["lesion"] = run.case.lesions[f.lesion].label
        entry["outcome"] = _outcome(f, winners)
        entry["then"] = f"{f.rule.outcome}: {f.rule.status}"
        if f.result is True:
            entry["because"] = list(f.basis)
        else:
            facts = _facts_of(run, f.lesion)
            entry["unknown"] = list(dict.fromkeys(
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
    labels = [None, *(lesion.label for lesion in run.case.lesions)]
    return tuple(sorted(items, key=lambda i: (labels.index(i.lesion),
                                              _STATUS_ORDER[i.status], i.id)))


def plan(case: Case | Mapping[str, Any] | str) -> Plan:
    """Triage, scores, work-up and the NOMS-based plan for a case.

    Parameters
    ----------
    case
        A :class:`~spinemets.case.Case`, a ``spinemets-case/1`` mapping or a file path.

    Returns
    -------
    Plan
        Deterministic for a given case; ``to_dict()`` gives ``spinemets-plan/1``.

    Raises
    ------
    CaseFormatError
        The case is malformed (one problem per field).
    """
    run = _run(load_case(case))
    recommendations = _items(run, "recommendation")
    return Plan(
        run.case.id, run.triage, run.assessment,
        _order(_items(run, "workup"), run), _order(recommendations, run),
        tuple(_flags(run, recommendations)), tuple(_unknowns(run)), tuple(_trace(run)))


def workup(case: Case | Mapping[str, Any] | str) -> tuple[Item, ...]:
    """The diagnostic work-up items of :func:`plan` for ``case``."""
    return plan(case).workup
