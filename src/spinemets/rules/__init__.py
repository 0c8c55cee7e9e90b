"""Clinical reasoning: symptom triage, diagnostic work-up and the NOMS-based plan.

Decision tables are data (``rules/tables/*.yaml``): each rule has an id, priority, conditions,
one outcome with its status, the rule text, citations and evidence status. A rule never fires on
a guess: an unknown input leaves it blocked, and the plan lists that input among ``unknowns``.

>>> from spinemets.rules import triage
>>> triage({"cancer_status": "known", "back_pain": True, "limb_weakness": True}).level
'emergency'
"""

from spinemets.rules._checks import Inconsistency, check_case, checks
from spinemets.rules._engine import Fact, Rule, all_rules, references, tables
from spinemets.rules._medication import (
    CrCl,
    ZoledronicDose,
    cockcroft_gault,
    zoledronic_dose,
    zoledronic_withhold,
)
from spinemets.rules._plan import Item, Plan, plan, triage_case, workup
from spinemets.rules._triage import (
    TRIAGE_QUESTIONS,
    TriageOption,
    TriageQuestion,
    TriageResult,
    open_questions,
    triage,
    triage_rules,
    warning_sign_questions,
)

__all__ = [
    "TRIAGE_QUESTIONS",
    "CrCl",
    "Fact",
    "Inconsistency",
    "Item",
    "Plan",
    "Rule",
    "TriageOption",
    "TriageQuestion",
    "TriageResult",
    "ZoledronicDose",
    "all_rules",
    "check_case",
    "checks",
    "cockcroft_gault",
    "open_questions",
    "plan",
    "references",
    "tables",
    "triage",
    "triage_case",
    "triage_rules",
    "warning_sign_questions",
    "workup",
    "zoledronic_dose",
    "zoledronic_withhold",
]
