"""Schema of the score table files (``scores/tables/<slug>.yaml``), validated at load.

A table holds everything clinical about one score: components, their options and points, the
inputs that can decide each component (``sources``), the bands, and provenance. Python holds no
points. The loader rejects a table whose bands leave a gap, overlap, or miss part of the range of
possible totals (there is no fallback band), and whose sources name options that do not exist.

Source kinds
------------
``choice``          an input from a fixed vocabulary (``values`` maps input -> option id)
``level``           a vertebral level, mapped to its SINS location category
``integer_ranges``  an integer input (KPS, ECOG, counts) mapped by inclusive ranges
``boolean``         ``true``/``false`` mapped to options
``points``          an integer that is itself the option's points (a clinician override)
``histology``       a histology id, looked up in the catalogue column ``attribute``
``lab_criteria``    lab values with units, tested against thresholds worst level first

Roles: ``primary`` inputs decide the component (two primaries that disagree are an error);
an ``override`` wins over primaries and says so; a ``fallback`` is used only when no primary is
known, with a warning (ASIA grade standing in for Frankel).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Band",
    "Component",
    "LabCriterion",
    "LabLevel",
    "Option",
    "Provenance",
    "Range",
    "ScoreDefinition",
    "Source",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Frozen):
    citation: str
    source: str
    #: Keys of the reference list (``knowledge/references.yaml``); the first is the primary
    #: source, whose full citation is ``citation``.
    references: tuple[str, ...] = ()
    verification: Literal["verified", "partial", "unverified"]
    doi: str | None = None
    pmid: str | None = None
    notes: tuple[str, ...] = ()


class Option(_Frozen):
    id: str
    label: str
    points: int | None = None
    band: str | None = None  # scales: the band this grade belongs to


class Range(_Frozen):
    min: int
    max: int | None = None  # None: open-ended
    option: str

    def contains(self, value: int) -> bool:
        return value >= self.min and (self.max is None or value <= self.max)


class LabCriterion(_Frozen):
    analyte: str
    op: Literal[">=", "<"]
    threshold: Decimal
    unit: str

    def met(self, value: Decimal) -> bool:
        return value >= self.threshold if self.op == ">=" else value < self.threshold

    def describe(self) -> str:
        return f"{self.analyte} {self.op} {self.threshold} {self.unit}"


class LabLevel(_Frozen):
    option: str
    any: tuple[LabCriterion, ...]


class Source(_Frozen):
    kind: Literal["choice", "level", "integer_ranges", "boolean", "points", "histology",
                  "lab_criteria"]
    input: str | None = None
    role: Literal["primary", "override", "fallback"] = "primary"
    values: dict[str, str] | None = None  # choice, histology: input/attribute value -> option id
    minimum: int | None = None
    maximum: int | None = None
    step: int = 1
    ranges: tuple[Range, ...] = ()
    true: str | None = None
    false: str | None = None
    attribute: str | None = None
    modifiers: tuple[str, ...] = ()
    levels: tuple[LabLevel, ...] = ()
    default: str | None = None
    warning: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> Source:
        need: dict[str, tuple[str, ...]] = {
            "choice": ("input",),
            "level": ("input",),
            "integer_ranges": ("input", "minimum", "ranges"),
            "boolean": ("input", "true", "false"),
            "points": ("input",),
            "histology": ("input", "attribute", "values"),
            "lab_criteria": ("levels", "default"),
        }
        missing = [k for k in need[self.kind] if getattr(self, k) in (None, ())]
        if missing:
            msg = f"source kind {self.kind!r} needs {missing}"
            raise ValueError(msg)
        return self

    def input_names(self) -> tuple[str, ...]:
        """Every input field this source reads."""
        if self.kind == "lab_criteria":
            return tuple(dict.fromkeys(c.analyte for lv in self.levels for c in lv.any))
        assert self.input is not None
        return (self.input, *self.modifiers)

    def option_ids(self) -> set[str]:
        ids: set[str] = set()
        ids.update((self.values or {}).values())
        ids.update(r.option for r in self.ranges)
        ids.update(x for x in (self.true, self.false, self.default) if x is not None)
        ids.update(lv.option for lv in self.levels)
        return ids


class Component(_Frozen):
    name: str
    label: str
    options: tuple[Option, ...]
    sources: tuple[Source, ...]
    unverified: bool = False

    def option(self, option_id: str) -> Option:
        for opt in self.options:
            if opt.id == option_id:
                return opt
        raise KeyError(option_id)


class Band(_Frozen):
    id: str
    label: str
    min: int | None = None
    max: int | None = None
    detail: str | None = None
    unverified: tuple[str, ...] = ()


Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class ScoreDefinition(_Frozen):
    """One score, as loaded from its table file."""

    slug: Slug
    name: str
    version: str
    family: Literal["instability", "neurology", "prognosis", "performance"]
    kind: Literal["points", "scale"] = "points"
    scope: Literal["patient", "lesion"] = "patient"
    status: Literal["available", "provisional", "unavailable"] = "available"
    status_reason: str | None = None
    provisional_label: str | None = None
    purpose: str = ""
    use: str = ""
    misuse: str = ""
    provenance: Provenance
    components: tuple[Component, ...] = ()
    bands: tuple[Band, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> ScoreDefinition:
        if self.status == "unavailable":
            if not self.status_reason:
                msg = f"{self.slug}: an unavailable score needs status_reason"
                raise ValueError(msg)
            return self
        if self.status == "provisional" and not self.provisional_label:
            msg = f"{self.slug}: a provisional score needs provisional_label"
            raise ValueError(msg)
        if not self.components or not self.bands:
            msg = f"{self.slug}: components and bands are required"
            raise ValueError(msg)
        for comp in self.components:
            ids = {o.id for o in comp.options}
            for src in comp.sources:
                stray = src.option_ids() - ids
                if stray:
                    msg = f"{self.slug}.{comp.name}: sources name unknown options {sorted(stray)}"
                    raise ValueError(msg)
        if self.kind == "points":
            self._check_points_bands()
        else:
            self._check_scale_bands()
        return self

    def _check_points_bands(self) -> None:
        for comp in self.components:
            if any(o.points is None for o in comp.options):
                msg = f"{self.slug}.{comp.name}: every option needs points"
                raise ValueError(msg)
        low, high = self.total_range
        expected = low
        for band in self.bands:
            if band.min is None or band.max is None:
                msg = f"{self.slug}: band {band.id} needs min and max"
                raise ValueError(msg)
            if band.min != expected:
                msg = f"{self.slug}: band {band.id} starts at {band.min}, expected {expected}"
                raise ValueError(msg)
            if band.max < band.min:
                msg = f"{self.slug}: band {band.id} is empty"
                raise ValueError(msg)
            expected = band.max + 1
        if expected - 1 != high:
            msg = f"{self.slug}: bands end at {expected - 1}, total range ends at {high}"
            raise ValueError(msg)

    def _check_scale_bands(self) -> None:
        if len(self.components) != 1:
            msg = f"{self.slug}: a scale has exactly one component"
            raise ValueError(msg)
        band_ids = {b.id for b in self.bands}
        used = {o.band for o in self.components[0].options}
        if None in used or not used <= band_ids or used != band_ids:
            msg = f"{self.slug}: every grade needs a band and every band a grade"
            raise ValueError(msg)

    @property
    def total_range(self) -> tuple[int, int]:
        low = sum(min(o.points or 0 for o in c.options) for c in self.components)
        high = sum(max(o.points or 0 for o in c.options) for c in self.components)
        return low, high

    @property
    def input_names(self) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for comp in self.components:
            for src in comp.sources:
                names.update(dict.fromkeys(src.input_names()))
        return tuple(names)

    @property
    def available(self) -> bool:
        return self.status != "unavailable"

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.min is not None and band.max is not None and band.min <= total <= band.max:
                return band
        msg = f"{self.slug}: no band for total {total}"
        raise LookupError(msg)

    def band(self, band_id: str) -> Band:
        for band in self.bands:
            if band.id == band_id:
                return band
        raise KeyError(band_id)

    def summary(self) -> dict[str, Any]:
        """Registry entry for listings (CLI, API)."""
        out: dict[str, Any] = {
            "slug": self.slug,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "family": self.family,
            "scope": self.scope,
            "citation": self.provenance.citation,
            "verification": self.provenance.verification,
        }
        if self.status_reason:
            out["status_reason"] = self.status_reason
        if self.available:
            out["inputs"] = list(self.input_names)
            out["bands"] = [{"id": b.id, "label": b.label, "min": b.min, "max": b.max}
                            for b in self.bands]
        return out
