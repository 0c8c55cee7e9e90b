"""The presentation model of a plan: what every renderer (web page, PDF, text) shows.

Built once from a ``spinemets-plan/1`` document and its case by :func:`build_report`; the
renderers read only these objects, never the raw plan. Every value is already in words (labels
from the score tables, the histology catalogue and ``labels.yaml``); ids, rule ids and field
paths are kept beside the words for the details a reader opens on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "Component",
    "Flag",
    "InputSection",
    "Item",
    "LesionRow",
    "LocalModel",
    "Meta",
    "Reference",
    "Report",
    "ScoreRow",
    "SpineLevel",
    "Triage",
    "Unknown",
]


@dataclass(frozen=True, slots=True)
class Reference:
    """One numbered reference (a citation of the plan, of a score or of the triage)."""

    number: int
    text: str
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None

    @property
    def anchor(self) -> str:
        return f"ref-{self.number}"


@dataclass(frozen=True, slots=True)
class Item:
    """One work-up item or recommendation, in words, with its details."""

    key: str  # unique, usable as an HTML id
    id: str
    label: str
    status: str
    status_label: str
    group: str  # workup | lesion | medication | systemic | supportive
    lesion: str | None
    headline: str  # one line: time frame, dose, or the main reason
    unverified: bool
    evidence: str
    evidence_label: str
    rule: str | None
    basis: tuple[str, ...] = ()
    cautions: tuple[str, ...] = ()
    references: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()  # inputs not recorded, in words
    extra: tuple[tuple[str, str], ...] = ()  # label, value pairs (dose, CrCl, formula)

    @property
    def active(self) -> bool:
        """Proposed or asked of the MDT (not contraindicated, not 'not indicated')."""
        return self.status in ("recommended", "consider", "mdt_review")


@dataclass(frozen=True, slots=True)
class Flag:
    """A plan flag in words; ``kind`` is consistency | urgent | mdt | info."""

    id: str
    kind: str
    title: str
    reason: str
    lesion: str | None = None
    severity: str | None = None
    fields: tuple[str, ...] = ()  # in words
    field_paths: tuple[str, ...] = ()
    verify: str | None = None
    rule: str | None = None
    missing: tuple[str, ...] = ()  # in words
    references: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Component:
    """One score component: its label, the input in words, and its points when it has any."""

    label: str
    value: str
    points: str | None
    basis: str


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One score, in words: total (or the range still possible) and band."""

    key: str
    slug: str
    name: str
    version: str
    lesion: str | None
    complete: bool
    total: str  # "14", "10-13", "1b", "not known"
    band: str  # band label, or the possible band labels joined with " or "
    band_id: str | None
    provisional: bool
    verification: str
    components: tuple[Component, ...] = ()
    missing: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    reference: int | None = None

    @property
    def summary(self) -> str:
        """``14: Predicted prognosis >= 1 year`` or ``possible 9-12: ...``."""
        if self.complete:
            return f"{self.total}: {self.band}" if self.total != self.band else self.band
        return f"incomplete (possible {self.total}): {self.band}"


@dataclass(frozen=True, slots=True)
class LesionRow:
    """One lesion of the per-lesion table: scores, NOMS assessment, treatment, MDT flags."""

    index: int
    label: str
    levels: tuple[str, ...]
    sins: str
    sins_band: str
    sins_band_id: str | None
    escc: str
    escc_band: str
    escc_band_id: str | None
    radiosensitivity: str
    noms: tuple[tuple[str, str], ...]  # ("N", "high grade ESCC (3)"), ("O", ...), ("M", ...)
    treatment: tuple[Item, ...]  # active items of this lesion
    other_items: tuple[Item, ...]  # contraindicated / not indicated items of this lesion
    flags: tuple[Flag, ...]
    scores: tuple[ScoreRow, ...]
    #: "imaged 2026-11-20, 17 days ago" or "imaging date not recorded".
    imaging: str = "imaging date not recorded"


@dataclass(frozen=True, slots=True)
class Triage:
    """The triage level with its reasons in words."""

    level: str | None
    label: str
    reasons: tuple[str, ...]
    advice: str
    rules: tuple[str, ...] = ()
    basis: tuple[str, ...] = ()
    could_raise: tuple[str, ...] = ()
    references: tuple[int, ...] = ()


#: What a missing input could change, in the order the first screen lists them.
UNKNOWN_GROUPS: dict[str, str] = {
    "triage": "Could change the triage level",
    "decision": "Could change a treatment decision, a dose or a flag",
    "score": "Could change a score only",
    "unlisted": "Could change the plan",
}


@dataclass(frozen=True, slots=True)
class Unknown:
    """An input that would change the plan if known, and what it could change."""

    label: str
    path: str
    #: "triage", "decision", "score" or "unlisted" (see spinemets.rules.plan).
    consequence: str = "unlisted"

    @property
    def consequence_label(self) -> str:
        return UNKNOWN_GROUPS.get(self.consequence, UNKNOWN_GROUPS["unlisted"])


@dataclass(frozen=True, slots=True)
class InputSection:
    """One section of the patient's inputs: (label, value) rows in words."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SpineLevel:
    """One vertebral level of the spine diagram."""

    name: str
    label: str  # "O (occiput)", "T12"
    lesion: str | None = None
    sins_band_id: str | None = None
    text: str = ""  # the facts at this level in words (empty when not involved)


@dataclass(frozen=True, slots=True)
class Meta:
    """Who, when and with which software and tables the report was produced."""

    case_ref: str
    case_version: int | None
    generated_at: datetime
    author: str | None
    software_version: str
    tables_hash: str
    plan_format: str
    demo: bool = False


@dataclass(frozen=True, slots=True)
class LocalModel:
    """The site's local model's prediction, shown beside the prognostic scores (issue 25).

    Only present when the site configures a local model. Information beside the scores: it
    changes no triage level and no item of the plan.
    """

    label: str  # "local model <name>, fitted <date> on N patients, internally validated only"
    computed: bool
    survival: tuple[tuple[str, str], ...]  # ("3 months", "81 %")
    inputs: tuple[tuple[str, str, str, str], ...]  # input, value, coef x value, contribution
    not_computed: tuple[str, ...]  # "Not computed: Albumin (labs.albumin) not recorded"
    basis: str  # linear predictor and how survival is computed from it
    performance: str  # optimism-corrected C, or that the file holds none
    note: str  # "Information beside the classic scores: ..."
    intended_use: str


@dataclass(frozen=True, slots=True)
class Report:
    """The presentation model of one plan (see the module docstring)."""

    meta: Meta
    triage: Triage
    patient: tuple[tuple[str, str], ...]  # headline facts: reference, age, sex, primary, ...
    alerts: tuple[Flag, ...]  # consistency and urgent flags (shown first)
    flags: tuple[Flag, ...]  # every other flag
    lesions: tuple[LesionRow, ...]
    prognosis: tuple[ScoreRow, ...]
    prognosis_note: str | None  # disagreement between the prognostic scores, in words
    function: tuple[ScoreRow, ...]  # KPS, ECOG, Frankel, ASIA
    workup: tuple[Item, ...]
    medication: tuple[Item, ...]
    systemic: tuple[Item, ...]
    supportive: tuple[Item, ...]
    crcl: str | None
    unknowns: tuple[Unknown, ...]
    inputs: tuple[InputSection, ...]
    references: tuple[Reference, ...]
    spine: tuple[SpineLevel, ...]
    no_recommendation: bool = False
    notes: tuple[str, ...] = field(default=())
    local_model: LocalModel | None = None  # only when the site configures one

    @property
    def items(self) -> tuple[Item, ...]:
        """Every item of the plan, in report order."""
        lesion_items = tuple(i for row in self.lesions
                             for i in (*row.treatment, *row.other_items))
        return (*self.workup, *self.medication, *self.systemic, *self.supportive,
                *lesion_items)

    def reference(self, number: int) -> Reference:
        return self.references[number - 1]

    @property
    def uncertain(self) -> tuple[tuple[str, tuple[Unknown, ...]], ...]:
        """The missing inputs grouped by what they could change, most consequential first."""
        groups = [(label, tuple(u for u in self.unknowns if u.consequence == key))
                  for key, label in UNKNOWN_GROUPS.items()]
        return tuple((label, group) for label, group in groups if group)
