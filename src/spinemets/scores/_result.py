"""Immutable score results and their JSON contract (``ScoreResult.to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["BandRef", "ComponentResult", "ScoreResult"]

Status = Literal["complete", "incomplete", "error"]


@dataclass(frozen=True, slots=True)
class BandRef:
    """The band a result falls in, with clinician wording."""

    id: str
    label: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "label": self.label}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class ComponentResult:
    """One component: the input that decided it, its category and points, and why."""

    name: str
    label: str
    input: Any
    source: str | None
    category: str | None
    category_label: str | None
    points: int | None
    basis: str
    possible_categories: tuple[str, ...] = ()
    possible_points: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()
    ask: str | None = None

    @property
    def known(self) -> bool:
        return self.category is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "input": self.input,
            "source": self.source,
            "category": self.category,
            "category_label": self.category_label,
            "points": self.points,
            "basis": self.basis,
        }
        if not self.known:
            out["possible_categories"] = list(self.possible_categories)
            out["possible_points"] = list(self.possible_points)
            out["missing"] = list(self.missing)
            if self.ask:
                out["ask"] = self.ask
        return out


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The result of one score on one set of inputs (one lesion for per-lesion scores).

    ``status`` is ``complete`` when every component is known; otherwise ``incomplete``, with
    ``total`` and ``band`` left empty and ``possible_totals`` / ``possible_bands`` giving what
    is still possible. Unknown inputs are never counted as zero.
    """

    slug: str
    name: str
    version: str
    status: Status
    total: int | None
    band: BandRef | None
    possible_totals: tuple[int, int] | None
    possible_bands: tuple[str, ...]
    components: tuple[ComponentResult, ...]
    citation: str
    verification: str
    grade: str | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    provisional: bool = False
    lesion: str | None = None

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "score": self.slug,
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "total": self.total,
            "band": self.band.to_dict() if self.band else None,
            "possible_totals": list(self.possible_totals) if self.possible_totals else None,
            "possible_bands": list(self.possible_bands),
            "components": [c.to_dict() for c in self.components],
            "citation": self.citation,
            "verification": self.verification,
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "missing": list(self.missing),
            "notes": list(self.notes),
            "provisional": self.provisional,
        }
        if self.grade is not None:
            out["grade"] = self.grade
        if self.lesion is not None:
            out["lesion"] = self.lesion
        return out
