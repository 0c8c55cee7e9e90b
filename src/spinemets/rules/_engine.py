"""A small decision-table engine over tri-state facts.

A *fact* is the set of values still possible for one clinical variable (one value when known;
``None`` when entirely unknown), with the case fields it came from. A *condition* is true,
false or unknown; a rule fires only when every condition is known to be true, so a rule never
fires on a guess. A rule whose conditions are all true-or-unknown is *blocked*: the case fields
behind its unknown conditions are reported as inputs that would change the plan.

Tables live in ``rules/tables/*.yaml``; each rule has an id, a priority, conditions, one outcome
(a recommendation, a work-up item or a flag) with its status, the rule text, citations (keys of
``knowledge/references.yaml``) and its evidence status (``verified``, ``partial``, ``unverified``,
``standard_practice``). Within one slot (outcome id and lesion) the highest-priority fired rule
wins; the others are kept in the trace as overridden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from spinemets._yaml import safe_load
from spinemets.errors import DefinitionError
from spinemets.knowledge import reference_list

__all__ = [
    "EVIDENCE",
    "STATUSES",
    "Condition",
    "Fact",
    "Firing",
    "Rule",
    "Table",
    "all_rules",
    "evaluate_rule",
    "parse_condition",
    "references",
    "tables",
]

STATUSES = ("recommended", "consider", "mdt_review", "contraindicated", "not_indicated")
EVIDENCE = ("verified", "partial", "unverified", "standard_practice")
Kind = Literal["recommendation", "workup", "flag"]


@dataclass(frozen=True, slots=True)
class Fact:
    """What is known of one variable: the possible values (``None``: unknown) and provenance."""

    possible: frozenset[Any] | None
    sources: tuple[str, ...] = ()
    text: str = ""
    unverified: bool = False

    @classmethod
    def known(cls, value: Any, sources: Iterable[str] = (), text: str = "",
              *, unverified: bool = False) -> Fact:
        return cls(frozenset({value}), tuple(sources), text, unverified)

    @classmethod
    def unknown(cls, sources: Iterable[str] = (), text: str = "") -> Fact:
        return cls(None, tuple(sources), text)

    @classmethod
    def of(cls, value: Any, sources: Iterable[str] = (), text: str = "") -> Fact:
        """Known when ``value`` is not ``None``, else unknown."""
        if value is None:
            return cls.unknown(sources, text)
        return cls.known(value, sources, text)

    @property
    def value(self) -> Any:
        """The single known value, or ``None``."""
        if self.possible is not None and len(self.possible) == 1:
            return next(iter(self.possible))
        return None


#: A fact no scope holds (Facts are immutable, so one object serves every lookup).
_UNKNOWN = Fact(None)


@dataclass(frozen=True, slots=True)
class Condition:
    """``fact`` in/not in ``values``, or whether ``fact`` is unknown; or ``any`` of several."""

    fact: str | None = None
    values: frozenset[Any] = frozenset()
    negate: bool = False
    unknown: bool | None = None
    any: tuple[Condition, ...] = ()

    def evaluate(self, facts: Mapping[str, Fact]) -> tuple[bool | None, tuple[str, ...]]:
        """(True/False/None, names of the facts whose unknown value left it undecided)."""
        if self.any:
            results = [c.evaluate(facts) for c in self.any]
            if any(r is True for r, _ in results):
                return True, ()
            if all(r is False for r, _ in results):
                return False, ()
            return None, tuple(n for r, names in results if r is None for n in names)
        assert self.fact is not None
        fact = facts.get(self.fact)
        if fact is None:
            fact = _UNKNOWN
        if self.unknown is not None:
            return (fact.possible is None) == self.unknown, ()
        if fact.possible is None:
            return None, (self.fact,)
        if fact.possible <= self.values:
            return not self.negate, ()
        if not fact.possible & self.values:
            return self.negate, ()
        return None, (self.fact,)

    def facts(self) -> tuple[str, ...]:
        """Every fact this condition reads (for the citation/reachability checks)."""
        if self.any:
            return tuple(n for c in self.any for n in c.facts())
        return (self.fact,) if self.fact else ()

    def needs(self) -> tuple[str, ...]:
        """Facts whose *value* this condition needs (not those tested only for unknown-ness)."""
        if self.any:
            optional = {c.fact for c in self.any if c.unknown is not None}
            return tuple(n for c in self.any for n in c.needs() if n not in optional)
        return (self.fact,) if self.fact and self.unknown is None else ()


@dataclass(frozen=True, slots=True)
class CautionWhen:
    """A caution added when a condition is true (``text``) or undecided (``if_unknown``)."""

    condition: Condition
    text: str
    if_unknown: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a decision table."""

    id: str
    table: str
    scope: Literal["patient", "lesion"]
    stage: int
    priority: int
    when: tuple[Condition, ...]
    kind: Kind
    outcome: str
    status: str
    text: str
    citations: tuple[str, ...]
    evidence: str
    cautions: tuple[str, ...] = ()
    cautions_when: tuple[CautionWhen, ...] = ()
    modifier: bool = False
    #: For a flag: ``urgent`` when the decision cannot wait (shown with the flag).
    urgency: str | None = None
    #: For an S modifier that takes open surgery away: why, in words ("the patient is not fit
    #: for open surgery"); the plan then says what replaces the surgery in an item of its own.
    replaces: str | None = None

    def needs(self) -> frozenset[str]:
        return frozenset(n for c in self.when for n in c.needs())


@dataclass(frozen=True, slots=True)
class Table:
    """One decision-table file."""

    name: str
    title: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Firing:
    """The evaluation of one rule on one scope."""

    rule: Rule
    lesion: int | None
    result: bool | None
    unknown_facts: tuple[str, ...] = ()
    basis: tuple[str, ...] = ()
    unverified: tuple[str, ...] = field(default_factory=tuple)


def evaluate_rule(rule: Rule, facts: Mapping[str, Fact], lesion: int | None) -> Firing:
    """Evaluate every condition of ``rule`` against ``facts``."""
    unknown: list[str] = []
    basis: list[str] = []
    unverified: list[str] = []
    for condition in rule.when:
        result, names = condition.evaluate(facts)
        if result is False:
            return Firing(rule, lesion, False)
        if result is None:
            unknown.extend(names)
            continue
        for name in condition.facts():
            fact = facts.get(name)
            if fact is not None and fact.text and fact.possible is not None:
                basis.append(fact.text)
                if fact.unverified:
                    unverified.append(fact.text)
    if unknown:
        return Firing(rule, lesion, None, tuple(dict.fromkeys(unknown)))
    return Firing(rule, lesion, True, (), tuple(dict.fromkeys(basis)),
                  tuple(dict.fromkeys(unverified)))


# -- loading -------------------------------------------------------------------------------------


def parse_condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{where}: a condition must be a mapping")
    if "any" in raw:
        return Condition(any=tuple(parse_condition(c, where) for c in raw["any"]))
    known_keys = {"fact", "in", "not_in", "is", "unknown"}
    if set(raw) - known_keys or "fact" not in raw:
        raise DefinitionError(f"{where}: bad condition {dict(raw)}")
    if "unknown" in raw:
        return Condition(fact=raw["fact"], unknown=bool(raw["unknown"]))
    if "is" in raw:
        return Condition(fact=raw["fact"], values=frozenset({raw["is"]}))
    if "in" in raw:
        return Condition(fact=raw["fact"], values=frozenset(raw["in"]))
    if "not_in" in raw:
        return Condition(fact=raw["fact"], values=frozenset(raw["not_in"]), negate=True)
    raise DefinitionError(f"{where}: condition needs in, not_in, is or unknown")


def _outcome(raw: Mapping[str, Any], where: str) -> tuple[Kind, str, str]:
    then = raw.get("then")
    if not isinstance(then, Mapping):
        raise DefinitionError(f"{where}: missing then")
    for kind in ("recommendation", "workup", "flag"):
        if kind in then:
            status = str(then.get("status", "flag" if kind == "flag" else ""))
            if kind != "flag" and status not in STATUSES:
                raise DefinitionError(f"{where}: status {status!r} not in {STATUSES}")
            return kind, str(then[kind]), status
    raise DefinitionError(f"{where}: then needs recommendation, workup or flag")


def _rule(raw: Mapping[str, Any], table: str, refs: Mapping[str, str]) -> Rule:
    where = f"rules table {table}: {raw.get('id')}"
    citations = tuple(raw.get("citations", ()))
    if not citations or any(c not in refs for c in citations):
        raise DefinitionError(f"{where}: every rule needs citations from the reference list")
    evidence = str(raw.get("evidence", ""))
    if evidence not in EVIDENCE:
        raise DefinitionError(f"{where}: evidence {evidence!r} not in {EVIDENCE}")
    kind, outcome, status = _outcome(raw, where)
    cautions_when = tuple(
        CautionWhen(parse_condition(c["when"], where), str(c["caution"]), c.get("if_unknown"))
        for c in raw.get("cautions_when", ()))
    return Rule(
        id=str(raw["id"]), table=table, scope=raw.get("scope", "patient"),
        stage=int(raw.get("stage", 1)), priority=int(raw.get("priority", 0)),
        when=tuple(parse_condition(c, where) for c in raw.get("when", ())), kind=kind,
        outcome=outcome, status=status, text=str(raw["text"]), citations=citations,
        evidence=evidence, cautions=tuple(raw.get("cautions", ())),
        cautions_when=cautions_when, modifier=bool(raw.get("modifier", False)),
        urgency=_urgency(raw, where), replaces=raw.get("replaces"))


URGENCIES = ("urgent",)


def _urgency(raw: Mapping[str, Any], where: str) -> str | None:
    urgency = raw["then"].get("urgency")
    if urgency is not None and (urgency not in URGENCIES or "flag" not in raw["then"]):
        raise DefinitionError(f"{where}: urgency {urgency!r} (only flags, one of {URGENCIES})")
    return None if urgency is None else str(urgency)


def read_table(name: str) -> Any:
    """Parse one YAML file of ``rules/tables`` (every rule table is read through here)."""
    files = resources.files("spinemets.rules").joinpath("tables")
    return safe_load(files.joinpath(name).read_text("utf-8"))


@cache
def references() -> Mapping[str, str]:
    """Citation key -> full citation with its DOI, PMID or URL (``knowledge/references.yaml``)."""
    return {key: ref.citation() for key, ref in reference_list().items()}


TABLE_FILES = ("noms.yaml", "mechanical.yaml", "patient.yaml", "workup.yaml")


@cache
def tables() -> tuple[Table, ...]:
    """Every decision table, in evaluation order; rule ids are unique."""
    refs = references()
    out: list[Table] = []
    seen: set[str] = set()
    for name in TABLE_FILES:
        data = read_table(name)
        table = str(data["table"])
        rules = tuple(_rule(r, table, refs) for r in data["rules"])
        for rule in rules:
            if rule.id in seen:
                raise DefinitionError(f"duplicate rule id {rule.id}")
            seen.add(rule.id)
        out.append(Table(table, str(data.get("title", table)), rules))
    return tuple(out)


def all_rules() -> Sequence[Rule]:
    """Every rule of every table, in evaluation order."""
    return tuple(r for t in tables() for r in t.rules)
