"""Consistency checks: inputs of one case that contradict each other (``tables/checks.yaml``).

A firing check is reported as a ``consistency`` flag on the plan, with its severity, the case
fields involved, the plain reason and what to verify. Checks never change an input and never
fire on an unknown one. Inputs that cannot be read at all (a level in two lesions, more lesions
than levels) are refused earlier by the case format (:class:`~spinemets.errors.CaseFormatError`).

References
----------
Frankel 1969 and ISNCSCI 2019 (grade definitions); Bilsky 2010 (ESCC); Karnofsky and Oken 1982
(performance status); Cockcroft and Gault 1976. The rule book ``docs/rules.md`` lists each check
with its severity and rationale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from spinemets.case import Case, load_case
from spinemets.errors import DefinitionError
from spinemets.rules._engine import Condition, Fact, parse_condition, read_table, references
from spinemets.rules._facts import case_crcl
from spinemets.rules._medication import CrCl, medication_table

__all__ = ["ESCC_ORDER", "Check", "Inconsistency", "check_case", "checks", "consistency"]

ESCC_ORDER = ("0", "1a", "1b", "1c", "2", "3")
_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the checks table."""

    id: str
    severity: str
    when: tuple[Condition, ...]
    reason: str
    verify: str
    citations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Inconsistency:
    """A check that fired on a case: the flag the plan shows."""

    check: str
    severity: str
    fields: tuple[str, ...]
    reason: str
    verify: str
    citations: tuple[str, ...]

    def to_flag(self) -> dict[str, Any]:
        """The plan's flag: ``{"id": "consistency", "check", "severity", "fields", ...}``."""
        return {"id": "consistency", "check": self.check, "severity": self.severity,
                "fields": list(self.fields), "reason": self.reason, "verify": self.verify,
                "citations": list(self.citations), "rule": self.check}


@cache
def checks() -> tuple[Check, ...]:
    """The checks table (``rules/tables/checks.yaml``), validated at load."""
    data = read_table("checks.yaml")
    refs = references()
    severities = tuple(data["severities"])
    out: list[Check] = []
    for raw in data["checks"]:
        where = f"checks table: {raw.get('id')}"
        citations = tuple(raw.get("citations", ()))
        if not citations or any(c not in refs for c in citations):
            raise DefinitionError(f"{where}: every check needs citations from the reference list")
        if raw.get("severity") not in severities:
            raise DefinitionError(f"{where}: severity must be one of {severities}")
        if not raw.get("when") or not raw.get("reason") or not raw.get("verify"):
            raise DefinitionError(f"{where}: a check needs when, reason and verify")
        out.append(Check(str(raw["id"]), str(raw["severity"]),
                         tuple(parse_condition(c, where) for c in raw["when"]),
                         str(raw["reason"]), str(raw["verify"]), citations))
    if len({c.id for c in out}) != len(out):
        raise DefinitionError("checks table: duplicate check id")
    return tuple(out)


def _worst_escc(case: Case) -> Fact:
    sources = tuple(f"lesions[{i}].escc" for i in range(len(case.lesions)))
    grades = [lesion.escc for lesion in case.lesions]
    if not grades or any(g is None for g in grades):
        return Fact.unknown(sources)
    return Fact.known(max(grades, key=ESCC_ORDER.index), sources)


def _counts(case: Case) -> dict[str, Fact]:
    declared = case.disease.vertebral_body_metastases
    field = "disease.vertebral_body_metastases"
    n = len(case.lesions)
    exceed = None if declared is None or not n else declared < n
    empty = (not n) if case.lesions_recorded else None
    return {
        "lesions_exceed_declared": Fact.of(exceed, (field, "lesions")),
        "vertebral_metastases_declared": Fact.of(None if declared is None else declared > 0,
                                                 (field,)),
        "no_lesions_entered": Fact.of(empty, ("lesions",)),
    }


def _crcl_implausible(crcl: CrCl) -> Fact:
    sources = ("patient.age_years", "patient.sex", "patient.weight_kg", "labs.creatinine")
    return Fact.of(None if crcl.ml_min is None else crcl.implausible, sources)


def check_facts(case: Case, crcl: CrCl) -> dict[str, Fact]:
    """The facts the checks read (names as in ``checks.yaml``)."""
    n, p = case.neurology, case.performance
    fit = case.fitness.fit_for_open_surgery
    return {
        "frankel": Fact.of(n.frankel, ("neurology.frankel",)),
        "asia": Fact.of(n.asia, ("neurology.asia",)),
        "ambulatory": Fact.of(n.ambulatory, ("neurology.ambulatory",)),
        "limb_weakness": Fact.of(case.symptoms.limb_weakness, ("symptoms.limb_weakness",)),
        "fit_for_open_surgery": Fact.of(None if fit == "unknown" else fit,
                                        ("fitness.fit_for_open_surgery",)),
        "kps": Fact.of(p.kps, ("performance.kps",)),
        "ecog": Fact.of(p.ecog, ("performance.ecog",)),
        "worst_escc": _worst_escc(case),
        "crcl_implausible": _crcl_implausible(crcl),
        **_counts(case),
    }


def _values(case: Case, facts: Mapping[str, Fact], crcl: CrCl) -> dict[str, str]:
    values = {name: str(f.value) for name, f in facts.items() if f.value is not None}
    values["ambulatory"] = {"independent": "independently", "with_aid": "with an aid"}.get(
        values.get("ambulatory", ""), values.get("ambulatory", ""))
    values["declared"] = str(case.disease.vertebral_body_metastases)
    values["lesion_count"] = str(len(case.lesions))
    values["crcl"] = "" if crcl.ml_min is None else f"{crcl.ml_min:.1f}"
    values["crcl_limit"] = str(medication_table()["cockcroft_gault"]["implausible_above_ml_min"])
    return values


def _fill(text: str, values: Mapping[str, str]) -> str:
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _fields(check: Check, facts: Mapping[str, Fact]) -> tuple[str, ...]:
    """The case fields of the conditions that made ``check`` fire (true parts of an ``any``)."""
    out: list[str] = []
    for condition in check.when:
        parts = [c for c in condition.any if c.evaluate(facts)[0] is True] or [condition]
        for part in parts:
            for name in part.facts():
                out.extend(facts[name].sources)
    return tuple(dict.fromkeys(out))


def consistency(case: Case, crcl: CrCl) -> tuple[Inconsistency, ...]:
    """Every check that fires on ``case`` (``crcl``: its Cockcroft-Gault clearance)."""
    facts = check_facts(case, crcl)
    values = _values(case, facts, crcl)
    refs = references()
    out = []
    for check in checks():
        if all(c.evaluate(facts)[0] is True for c in check.when):
            out.append(Inconsistency(
                check.id, check.severity, _fields(check, facts), _fill(check.reason, values),
                _fill(check.verify, values), tuple(refs[c] for c in check.citations)))
    return tuple(out)


def check_case(case: Case | Mapping[str, Any] | str) -> tuple[Inconsistency, ...]:
    """The consistency checks that fire on ``case`` (a case, mapping or file path).

    Raises
    ------
    CaseFormatError
        The case cannot be read (including a level in two lesions, or too many lesions).
    """
    case = load_case(case)
    return consistency(case, case_crcl(case))
