"""The one generic evaluator: every score is a table run through :func:`evaluate`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinemets.errors import InputError, ProblemDetail, ScoreUnavailableError
from spinemets.scores._result import BandRef, ComponentResult, ScoreResult
from spinemets.scores._schema import Component, ScoreDefinition, Source
from spinemets.scores._sources import Reading, read_source

__all__ = ["achievable_totals", "evaluate"]


@dataclass
class _Notes:
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _collect(comp: Component, inputs: Mapping[str, Any],
             problems: list[ProblemDetail]) -> list[tuple[Source, Reading]]:
    readings: list[tuple[Source, Reading]] = []
    for src in comp.sources:
        try:
            reading = read_source(src, comp, inputs)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if reading is not None:
            readings.append((src, reading))
    return readings


def _label(comp: Component, option_ids: Iterable[str]) -> str:
    return " or ".join(comp.option(o).label for o in sorted(option_ids))


def _merge_primaries(comp: Component, primaries: list[tuple[Source, Reading]],
                     problems: list[ProblemDetail]) -> Reading | None:
    if not primaries:
        return None
    possible = frozenset.intersection(*(r.possible for _, r in primaries))
    if not possible:
        for src, reading in primaries:
            problems.append(ProblemDetail(
                src.input or comp.name,
                f"disagrees with the other inputs for {comp.label} "
                f"({_label(comp, reading.possible)})", reading.value))
        return None
    best = min(primaries, key=lambda sr: len(sr[1].possible))[1]
    if len(primaries) == 1 or len(best.possible) == len(possible):
        return Reading(possible, best.value, best.basis, best.ask, best.missing, best.note,
                       best.unverified)
    return Reading(possible, best.value, "; ".join(r.basis for _, r in primaries),
                   missing=tuple(m for _, r in primaries for m in r.missing))


def _choose(comp: Component, readings: list[tuple[Source, Reading]], notes: _Notes,
            problems: list[ProblemDetail]) -> tuple[Source | None, Reading | None]:
    by_role: dict[str, list[tuple[Source, Reading]]] = {"primary": [], "override": [],
                                                        "fallback": []}
    for src, reading in readings:
        by_role[src.role].append((src, reading))
    primary = _merge_primaries(comp, by_role["primary"], problems)
    if by_role["override"]:
        src, reading = by_role["override"][0]
        if primary is not None and primary.possible != reading.possible:
            notes.notes.append(f"{comp.label}: clinician input {src.input} = {reading.value} "
                               f"replaces {_label(comp, primary.possible)} from {primary.basis}")
        return src, reading
    if primary is not None and len(primary.possible) == 1:
        return next((s for s, _ in by_role["primary"]), None), primary
    if by_role["fallback"]:
        src, reading = by_role["fallback"][0]
        if src.warning:
            notes.warnings.append(src.warning)
        return src, reading
    return (by_role["primary"][0][0] if by_role["primary"] else None), primary


def _component(comp: Component, inputs: Mapping[str, Any], notes: _Notes,
               problems: list[ProblemDetail]) -> ComponentResult:
    readings = _collect(comp, inputs, problems)
    src, reading = _choose(comp, readings, notes, problems)
    if reading is not None and (reading.unverified or comp.unverified):
        notes.warnings.append(f"{comp.label}: UNVERIFIED value ({reading.basis})")
    if reading is not None and reading.note:
        notes.notes.append(f"{comp.label}: {reading.note}")
    if reading is not None and len(reading.possible) == 1:
        (option_id,) = reading.possible
        option = comp.option(option_id)
        return ComponentResult(comp.name, comp.label, reading.value, src.input if src else None,
                               option.id, option.label, option.points, reading.basis)
    possible = reading.possible if reading else frozenset(o.id for o in comp.options)
    order = [o.id for o in comp.options if o.id in possible]
    points = sorted({p for o in order if (p := comp.option(o).points) is not None})
    missing = _missing_inputs(comp, reading)
    basis = reading.basis if reading else "unknown: no input given"
    return ComponentResult(
        comp.name, comp.label, reading.value if reading else None,
        src.input if src and reading else None, None, None, None, basis,
        possible_categories=tuple(order), possible_points=tuple(points),
        missing=missing, ask=reading.ask if reading else None)


def _missing_inputs(comp: Component, reading: Reading | None) -> tuple[str, ...]:
    if reading is not None and reading.missing:
        return reading.missing
    if reading is not None and reading.ask:
        overrides = [s.input for s in comp.sources if s.role == "override" and s.input]
        return tuple(overrides) or (comp.name,)
    names: list[str] = []
    for src in comp.sources:
        if src.role != "fallback":
            names.extend(src.input_names() if src.kind == "lab_criteria" else (src.input or "",))
    return tuple(dict.fromkeys(n for n in names if n))


def achievable_totals(point_sets: Iterable[Iterable[int]]) -> frozenset[int]:
    """Every total reachable by picking one value from each set (exact, by dynamic programming)."""
    totals = frozenset({0})
    for options in point_sets:
        totals = frozenset(t + p for t in totals for p in options)
    return totals


def _check_keys(defn: ScoreDefinition, inputs: Mapping[str, Any]) -> list[ProblemDetail]:
    allowed = set(defn.input_names)
    return [ProblemDetail(str(k), f"is not an input of {defn.slug}", None,
                          tuple(defn.input_names)) for k in inputs if k not in allowed]


def evaluate(defn: ScoreDefinition, inputs: Mapping[str, Any], *,
             lesion: str | None = None) -> ScoreResult:
    """Evaluate one score on ``inputs``; raise :class:`InputError` listing every bad input."""
    if not defn.available:
        raise ScoreUnavailableError(defn.slug, defn.status_reason or "unavailable")
    if not isinstance(inputs, Mapping):
        raise InputError.single("inputs", "must be an object of named inputs", value=inputs)
    problems = _check_keys(defn, inputs)
    notes = _Notes()
    components = tuple(_component(c, inputs, notes, problems) for c in defn.components)
    if problems:
        raise InputError(problems)
    if defn.status == "provisional" and defn.provisional_label:
        notes.warnings.insert(0, defn.provisional_label)
    if defn.kind == "scale":
        return _scale_result(defn, components, notes, lesion)
    return _points_result(defn, components, notes, lesion)


def _common(defn: ScoreDefinition, components: tuple[ComponentResult, ...], notes: _Notes,
            lesion: str | None) -> dict[str, Any]:
    missing = tuple(dict.fromkeys(m for c in components if not c.known for m in c.missing))
    return {
        "slug": defn.slug, "name": defn.name, "version": defn.version,
        "components": components, "citation": defn.provenance.citation,
        "verification": defn.provenance.verification,
        "warnings": tuple(dict.fromkeys(notes.warnings)),
        "notes": tuple(dict.fromkeys(notes.notes)),
        "missing": missing, "provisional": defn.status == "provisional", "lesion": lesion,
    }


def _band_ref(defn: ScoreDefinition, band_id: str) -> BandRef:
    band = defn.band(band_id)
    detail = band.detail
    if band.unverified:
        detail = ((detail + " ") if detail else "") + "UNVERIFIED: " + "; ".join(band.unverified)
    return BandRef(band.id, band.label, detail)


def _points_result(defn: ScoreDefinition, components: tuple[ComponentResult, ...], notes: _Notes,
                   lesion: str | None) -> ScoreResult:
    sets = [(c.points,) if c.points is not None else c.possible_points for c in components]
    totals = achievable_totals(sets)
    bands = tuple(dict.fromkeys(defn.band_for(t).id for t in sorted(totals)))
    common = _common(defn, components, notes, lesion)
    if all(c.known for c in components):
        (total,) = totals
        return ScoreResult(status="complete", total=total, band=_band_ref(defn, bands[0]),
                           possible_totals=(total, total), possible_bands=bands, **common)
    return ScoreResult(status="incomplete", total=None, band=None,
                       possible_totals=(min(totals), max(totals)), possible_bands=bands, **common)


def _scale_result(defn: ScoreDefinition, components: tuple[ComponentResult, ...], notes: _Notes,
                  lesion: str | None) -> ScoreResult:
    (comp,) = components
    definition = defn.components[0]
    common = _common(defn, components, notes, lesion)
    if comp.known and comp.category is not None:
        band_id = definition.option(comp.category).band or ""
        return ScoreResult(status="complete", total=None, band=_band_ref(defn, band_id),
                           grade=comp.category, possible_totals=None, possible_bands=(band_id,),
                           **common)
    bands = tuple(dict.fromkeys(definition.option(o).band or "" for o in comp.possible_categories))
    return ScoreResult(status="incomplete", total=None, band=None, possible_totals=None,
                       possible_bands=bands, **common)
