"""The rule book: every decision rule and check, read from the tables, with resolved citations.

One model (:class:`RuleBook`) feeds both the Markdown pages (``docs/clinical/rules.md``, written
by ``python -m spinemets.rules.gen_book``) and the web page ``/rules``. Each rule has an anchor
equal to its id; citations are numbered in order of first use and resolve to the reference list
(``knowledge/references.yaml``), which the book prints in full with every DOI, PMID or URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from spinemets.errors import DefinitionError
from spinemets.knowledge import Reference, reference_list
from spinemets.rules._checks import checks
from spinemets.rules._engine import Condition, Rule, read_table, tables
from spinemets.rules._triage import triage_rules
from spinemets.scores import registry

__all__ = [
    "BookReference",
    "BookRule",
    "BookScore",
    "BookSection",
    "RuleBook",
    "rule_book",
    "short_label",
]

#: Facts that are read straight from a score (or its band): the rule links to those score pages.
FACT_SCORES: Mapping[str, tuple[str, ...]] = {
    "sins_band": ("sins",), "worst_sins": ("sins",), "sins_ct_inputs_missing": ("sins",),
    "escc_class": ("bilsky_escc",), "escc_grade": ("bilsky_escc",),
    "worst_escc": ("bilsky_escc",),
    "prognosis_strategy": ("tokuhashi_2005", "tomita_2001", "bauer_modified"),
    "prognosis_agreement": ("tokuhashi_2005", "tomita_2001", "bauer_modified", "bauer_1995",
                            "katagiri_2014", "van_der_linden_2005"),
    "tokuhashi_band": ("tokuhashi_2005",), "tomita_band": ("tomita_2001",),
    "frankel": ("frankel",), "asia": ("asia_ais",), "motor_deficit": ("frankel", "asia_ais"),
    "kps": ("kps",), "ecog": ("ecog",),
}

EVIDENCE_WORDS: Mapping[str, str] = {
    "verified": "verified: the rule matches its published source",
    "partial": "partial: part of the rule is checked against its source, part is not",
    "unverified": "UNVERIFIED: for MDT discussion, not a verified rule",
    "standard_practice": "standard practice: no single published source; basis stated in the rule",
}


@dataclass(frozen=True, slots=True)
class BookReference:
    """A numbered entry of the book's reference list."""

    number: int
    reference: Reference
    label: str


@dataclass(frozen=True, slots=True)
class BookRule:
    """One rule or check as the book shows it."""

    id: str
    statement: str
    outcome: str
    conditions: tuple[str, ...]
    evidence: str
    citations: tuple[BookReference, ...]
    scores: tuple[str, ...]
    cautions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BookSection:
    """One table of rules."""

    id: str
    title: str
    source: str
    intro: str
    rules: tuple[BookRule, ...]


@dataclass(frozen=True, slots=True)
class BookScore:
    """A score, its page and the rules that read it."""

    slug: str
    name: str
    page: str
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleBook:
    """The whole book."""

    sections: tuple[BookSection, ...]
    scores: tuple[BookScore, ...]
    references: tuple[BookReference, ...]
    medication: tuple[tuple[str, tuple[BookReference, ...]], ...]

    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for s in self.sections for r in s.rules)


def short_label(ref: Reference) -> str:
    """A short in-text label: first author and year, or the guideline's id."""
    if ref.short:
        return ref.short
    if ref.kind == "project":
        return "spinemets rule book"
    if ref.guideline_id:
        section = ref.section.split(" (")[0] if ref.section else ""
        return ref.guideline_id.replace("guideline ", "").replace("clinical ", "").replace(
            "quality standard ", "") + (
            f" {section.replace('recommendation', 'rec')}" if section.startswith("rec") else "")
    if ref.authors:
        first = ref.authors.split(",")[0].rsplit(" ", 1)[0]
        return f"{first} {ref.year}" if ref.year else first
    return ref.title.split(":")[0]


class _Numbering:
    """Numbers references in order of first citation."""

    def __init__(self, refs: Mapping[str, Reference]) -> None:
        self.refs = refs
        self.numbers: dict[str, BookReference] = {}

    def cite(self, keys: Iterable[str], where: str) -> tuple[BookReference, ...]:
        out = []
        for key in keys:
            if key not in self.refs:
                raise DefinitionError(f"{where}: citation {key!r} is not in the reference list")
            if key not in self.numbers:
                ref = self.refs[key]
                self.numbers[key] = BookReference(len(self.numbers) + 1, ref, short_label(ref))
            out.append(self.numbers[key])
        return tuple(out)


def _values(values: Iterable[Any]) -> str:
    shown = sorted(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


def describe(condition: Condition) -> str:
    """A condition in words: ``escc_class`` is high; ``kps`` is one of 0, 10."""
    if condition.any:
        return "any of: " + "; ".join(describe(c) for c in condition.any)
    name = f"`{condition.fact}`"
    if condition.unknown is not None:
        return f"{name} is {'not recorded' if condition.unknown else 'recorded'}"
    verb = "is not" if condition.negate else "is"
    return f"{name} {verb} {_values(condition.values)}"


def _scores(facts: Iterable[str], citations: Sequence[str],
            primary: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    slugs = [s for f in facts for s in FACT_SCORES.get(f, ())]
    slugs += [s for key in citations for s in primary.get(key, ())]
    return tuple(dict.fromkeys(slugs))


def _primary_sources() -> dict[str, tuple[str, ...]]:
    """Reference key -> the scores whose primary source it is."""
    out: dict[str, list[str]] = {}
    for slug, defn in registry().items():
        if defn.provenance.references:
            out.setdefault(defn.provenance.references[0], []).append(slug)
    return {k: tuple(v) for k, v in out.items()}


def _facts(when: Iterable[Condition]) -> list[str]:
    return [name for c in when for name in c.facts()]


def _outcome(rule: Rule) -> str:
    scope = "per lesion" if rule.scope == "lesion" else "per patient"
    what = {"recommendation": "recommendation", "workup": "work-up item", "flag": "flag"}
    text = f"{what[rule.kind]} `{rule.outcome}`"
    if rule.kind != "flag":
        text += f", status {rule.status}"
    if rule.urgency:
        text += f" ({rule.urgency})"
    if rule.modifier:
        text += "; a modifier: it only changes an item another rule proposed"
    return f"{text} ({scope}, priority {rule.priority})"


def _cautions(rule: Rule) -> tuple[str, ...]:
    out = list(rule.cautions)
    for cw in rule.cautions_when:
        out.append(f"when {describe(cw.condition)}: {cw.text}")
        if cw.if_unknown:
            out.append(f"when that is not recorded: {cw.if_unknown}")
    return tuple(dict.fromkeys(out))


_TABLE_TEXT: Mapping[str, tuple[str, str]] = {
    "workup": ("rules/tables/workup.yaml", "What to examine or order. A work-up rule fires "
               "only when every condition is known to be true."),
    "noms": ("rules/tables/noms.yaml", "NOMS per lesion: N (ESCC grade and neurology), O "
             "(radiosensitivity) and the patient-level S (what the patient can tolerate). Within "
             "one item the highest-priority rule that fires wins; the others stay in the trace."),
    "mechanical": ("rules/tables/mechanical.yaml", "NOMS M per lesion (SINS), with cement "
                   "augmentation, reconstruction, en bloc resection and embolisation."),
    "patient": ("rules/tables/patient.yaml", "Patient-level treatments and medication safety."),
}


def _engine_sections(numbering: _Numbering, primary: Mapping[str, tuple[str, ...]]
                     ) -> list[BookSection]:
    order = {"workup": 1, "noms": 2, "mechanical": 3, "patient": 4}
    out = []
    for table in sorted(tables(), key=lambda t: order.get(t.name, 9)):
        rules = tuple(
            BookRule(r.id, r.text, _outcome(r), tuple(describe(c) for c in r.when) or (
                "always (every case)",), EVIDENCE_WORDS[r.evidence],
                numbering.cite(r.citations, r.id),
                _scores(_facts(r.when), r.citations, primary), _cautions(r))
            for r in table.rules)
        source, intro = _TABLE_TEXT.get(table.name, (f"rules/tables/{table.name}.yaml", ""))
        out.append(BookSection(table.name, table.title, source, intro, rules))
    return out


def _triage_section(numbering: _Numbering, primary: Mapping[str, tuple[str, ...]]
                    ) -> BookSection:
    rules = tuple(
        BookRule(r.id, r.text, f"triage level {r.level}",
                 tuple(describe(c) for c in r.when),
                 "not graded in the triage table (its citations are the basis)",
                 numbering.cite(r.citations, r.id),
                 _scores(_facts(r.when), r.citations, primary))
        for r in triage_rules())
    return BookSection(
        "triage", "Triage of symptoms", "rules/tables/triage.yaml",
        "Conditions read the answers to the symptom questions. Any emergency rule wins; an "
        "unanswered question never lowers the level.", rules)


def _checks_section(numbering: _Numbering, primary: Mapping[str, tuple[str, ...]]
                    ) -> BookSection:
    rules = tuple(
        BookRule(c.id, c.reason, f"consistency flag, severity {c.severity}",
                 tuple(describe(w) for w in c.when),
                 "a data-entry check on the grade definitions it cites, not a recommendation",
                 numbering.cite(c.citations, c.id),
                 _scores(_facts(c.when), c.citations, primary), (f"verify: {c.verify}",))
        for c in checks())
    return BookSection(
        "checks", "Consistency checks on the inputs", "rules/tables/checks.yaml",
        "A check fires only when every input it reads is recorded, never changes an input, and "
        "adds a `consistency` flag naming the fields to verify ({name} is the value entered).",
        rules)


def _medication(numbering: _Numbering) -> tuple[tuple[str, tuple[BookReference, ...]], ...]:
    data = read_table("medication.yaml")
    zol = data["zoledronic_acid"]
    lines: list[tuple[str, tuple[BookReference, ...]]] = []
    cite = numbering.cite([zol["citation"], "aapro_2008"], "medication.yaml")
    for band in zol["bands"]:
        lines.append((f"Zoledronic acid, baseline {band['label']}", cite))
    w = zol["withhold"]
    lines.append((
        f"Withhold zoledronic acid when serum creatinine rises by "
        f"{w['increase_normal_baseline_mg_dl']} mg/dL (normal baseline, below "
        f"{w['abnormal_baseline_from_mg_dl']} mg/dL) or {w['increase_abnormal_baseline_mg_dl']} "
        f"mg/dL (abnormal baseline, {w['abnormal_baseline_from_mg_dl']} mg/dL or more); resume "
        f"within {round(w['resume_within_fraction'] * 100)}% of baseline", cite))
    local = numbering.cite(["rule_book"], "medication.yaml")
    lines.append((
        "CrCl is rounded down to a whole number before banding, and a value within "
        f"{zol['near_boundary_ml_min']} mL/min of a band edge is flagged (basis: local "
        "implementation decision, UNVERIFIED)", local))
    cg = data["cockcroft_gault"]
    cg_cite = numbering.cite([cg["citation"]], "medication.yaml")
    lines.append((
        "Cockcroft-Gault: CrCl (mL/min) = (140 - age) x weight (kg) / (72 x serum creatinine "
        f"mg/dL), x {cg['female_factor']} for women; creatinine in umol/L is divided by "
        f"{cg['umol_per_mg_dl']}", cg_cite))
    lines.append((
        f"A CrCl above {cg['implausible_above_ml_min']} mL/min from inputs each within bounds is "
        "an implausible combination: no dose is given (basis: local parameter, UNVERIFIED)",
        local))
    return tuple(lines)


def _score_index(sections: Sequence[BookSection]) -> tuple[BookScore, ...]:
    out = []
    for slug, defn in registry().items():
        ids = tuple(r.id for s in sections for r in s.rules if slug in r.scores)
        out.append(BookScore(slug, defn.name, f"../scores/{slug}.md", ids))
    return tuple(out)


@cache
def rule_book() -> RuleBook:
    """The rule book of the installed tables (validated: every citation resolves)."""
    refs = reference_list()
    numbering = _Numbering(refs)
    primary = _primary_sources()
    sections = [_triage_section(numbering, primary), *_engine_sections(numbering, primary),
                _checks_section(numbering, primary)]
    medication = _medication(numbering)
    for defn in registry().values():  # score sources come last, after those rules cite
        numbering.cite(defn.provenance.references, f"score {defn.slug}")
    numbering.cite(refs, "reference list")
    return RuleBook(tuple(sections), _score_index(sections),
                    tuple(numbering.numbers.values()), medication)
