"""Terminology for the FHIR adapter: standard codes (``terminology.yaml``) and project codes.

Standard codes come only from ``terminology.yaml`` (copied from the project's checked interop
list). Project codes are generated, never hand-listed: one per case field that has no standard
code (its dotted path, ``symptoms.back_pain``; lesion fields as ``lesion.pain``), one per score
slug, component (``sins.pain``) and band (``sins.band.stable``), and one per histology
(``histology.breast``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

from spinemets._yaml import safe_load

__all__ = [
    "ITEM_UNITS",
    "CaseItem",
    "Terminology",
    "case_items",
    "project_concepts",
    "terminology",
]

#: Case fields carried by standard resources or codes (not project items).
_STANDARD_FIELDS = frozenset({
    "patient.sex", "patient.weight_kg", "performance.kps", "performance.ecog", "cancer.primary",
})


#: UCUM unit of the case items that are plain numbers (labs carry their own unit).
ITEM_UNITS = {"patient.age_years": "a"}


@dataclass(frozen=True, slots=True)
class CaseItem:
    """One case field exchanged as an Observation coded in the project CodeSystem."""

    code: str  # "symptoms.back_pain", "lesion.pain"
    path: tuple[str, ...]  # ("symptoms", "back_pain"); for lesion items ("pain",)
    lesion: bool
    label: str


@dataclass(frozen=True, slots=True)
class Terminology:
    """The parsed ``terminology.yaml``."""

    loinc: str
    snomed: str
    icd10cm: str
    ucum: str
    project: str
    case_ref: str
    tables_hash: str
    profiles: Mapping[str, str]
    performance: Mapping[str, Mapping[str, str]]
    labs: Mapping[str, Mapping[str, str]]
    body: Mapping[str, Mapping[str, str]]
    weight_units: Mapping[str, Decimal]
    secondary: Mapping[str, Mapping[str, str]]
    secondary_codes: Mapping[str, Mapping[str, Mapping[str, str]]]
    vertebral_levels: Mapping[str, str]
    primary_snomed: Mapping[str, str | None]
    primary_icd10cm: Mapping[str, str | None]
    procedures: Mapping[str, Mapping[str, str]]
    unit_spellings: Mapping[str, str]
    performance_answers: Mapping[str, Mapping[str, int]]
    record_status: Mapping[str, frozenset[str]]
    cds_topic: Mapping[str, str]
    category: Mapping[str, Any]
    history_items: frozenset[str]
    agent_type: Mapping[str, Any]

    def level_of_site(self, code: str) -> str | None:
        """The vertebral level whose SNOMED CT body structure code is ``code``."""
        return self._site_levels().get(code)

    def _site_levels(self) -> Mapping[str, str]:
        return {code: level for level, code in self.vertebral_levels.items()}

    def primary_of(self, system: str, code: str) -> tuple[bool, str | None]:
        """``(recognised, histology id or None)`` of a primary cancer code.

        ICD-10-CM codes match by prefix (the longest listed prefix wins); SNOMED CT codes match
        the curated list exactly.
        """
        if system == self.snomed:
            return (code in self.primary_snomed, self.primary_snomed.get(code))
        if system == self.icd10cm:
            hits = [p for p in self.primary_icd10cm if code.upper().startswith(p)]
            if hits:
                return True, self.primary_icd10cm[max(hits, key=len)]
        return False, None

    def lab_code(self, analyte: str) -> str | None:
        """The (first) LOINC code of ``analyte``, if interop.md lists one."""
        for code, row in self.labs.items():
            if row["analyte"] == analyte:
                return code
        return None


@cache
def terminology() -> Terminology:
    """The terminology file, loaded once."""
    text = resources.files("spinemets.fhir").joinpath("terminology.yaml").read_text("utf-8")
    raw: dict[str, Any] = safe_load(text)
    systems = raw["systems"]
    base = (os.environ.get("SPINEMETS_FHIR_CANONICAL_BASE") or raw["canonical_base"]).rstrip("/")
    return Terminology(
        loinc=systems["loinc"], snomed=systems["snomed"], icd10cm=systems["icd10cm"],
        ucum=systems["ucum"], project=raw["project_system"].format(base=base),
        case_ref=raw["case_ref_system"].format(base=base),
        tables_hash=raw["tables_hash_system"].format(base=base), profiles=raw["mcode_profiles"],
        performance=raw["performance"], labs=raw["labs"], body=raw["body"],
        weight_units={k: Decimal(v) for k, v in raw["weight_units"].items()},
        secondary=raw["secondary_cancer"],
        secondary_codes=raw["secondary_codes"],
        vertebral_levels={str(k): str(v) for k, v in raw["vertebral_levels"].items()},
        primary_snomed={str(k): v for k, v in raw["primary_cancer"]["snomed"].items()},
        primary_icd10cm={str(k): v for k, v in raw["primary_cancer"]["icd10cm_prefix"].items()},
        procedures=raw["procedures"], unit_spellings=raw["unit_spellings"],
        performance_answers=raw["performance_answers"],
        record_status={k: frozenset(v) for k, v in raw["record_status"].items()},
        cds_topic=raw["cds_topic"], category=raw["observation_category"],
        agent_type=raw["provenance_agent_type"], history_items=frozenset(raw["history_items"]),
    )


def _sections(model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...],
                                                                            str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        path = (*prefix, name)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and (
                annotation.__name__ not in {"LabInput"}):
            out.extend(_sections(annotation, path))
        else:
            out.append((path, (field.description or name).replace("_", " ")))
    return out


@cache
def case_items() -> tuple[CaseItem, ...]:
    """Every case field exchanged under a project code, generated from the case model."""
    from spinemets.case import Case, Lesion  # noqa: PLC0415 - the case model is heavy-ish

    t = terminology()
    coded_labs = {row["analyte"] for row in t.labs.values()}
    items: list[CaseItem] = []
    for name, field in Case.model_fields.items():
        annotation = field.annotation
        if name in {"format", "id", "lesions", "ehr"} or not (
                isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            continue
        for path, label in _sections(annotation, (name,)):
            dotted = ".".join(path)
            if dotted in _STANDARD_FIELDS or (path[0] == "labs" and path[1] in coded_labs):
                continue
            items.append(CaseItem(dotted, path, lesion=False, label=label))
    for name in Lesion.model_fields:
        if name != "levels":
            items.append(CaseItem(f"lesion.{name}", (name,), lesion=True,
                                  label=f"lesion {name.replace('_', ' ')}"))
    return tuple(items)


@cache
def project_concepts() -> tuple[tuple[str, str], ...]:
    """``(code, display)`` of every concept of the project CodeSystem, in a stable order."""
    from spinemets.domain import catalogue  # noqa: PLC0415
    from spinemets.scores import registry  # noqa: PLC0415

    out: list[tuple[str, str]] = []
    for slug, defn in registry().items():
        out.append((slug, defn.name))
        out.extend((f"{slug}.{c.name}", f"{defn.name}: {c.label}") for c in defn.components)
        out.extend((f"{slug}.band.{b.id}", f"{defn.name}: {b.label}") for b in defn.bands)
    out.extend((item.code, f"Case item: {item.label}") for item in case_items())
    out.extend((f"histology.{h.id}", f"Primary histology: {h.label}")
               for h in catalogue().values())
    topic = terminology().cds_topic
    out.append((topic["code"], f"CDS Hooks card topic: {topic['display']}"))
    seen: dict[str, str] = {}
    for code, display in out:
        seen.setdefault(code, display)
    return tuple(seen.items())
