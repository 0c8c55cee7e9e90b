"""Reading one input source of a component: what it says, or why it cannot say yet.

Each reader returns a :class:`Reading`: the set of categories still possible given that input
(one category when the input decides it), or ``None`` when the input is unknown. Impossible
values raise :class:`~spinemets.errors.InputError` naming the field and the allowed values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spinemets.domain import is_unknown, parse_histology, parse_lab, parse_level, sins_location
from spinemets.errors import InputError
from spinemets.scores._schema import Component, Source

__all__ = ["Reading", "read_source"]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one source says about its component."""

    possible: frozenset[str]
    value: Any
    basis: str
    ask: str | None = None
    missing: tuple[str, ...] = ()
    note: str | None = None
    unverified: bool = False


def _identity(component: Component) -> dict[str, str]:
    return {o.id: o.id for o in component.options}


def _range_text(src: Source) -> str:
    parts = []
    for r in src.ranges:
        parts.append(f"{r.min}+" if r.max is None else (
            str(r.min) if r.min == r.max else f"{r.min}-{r.max}"))
    return ", ".join(parts)


def _read_choice(src: Source, comp: Component, value: Any) -> Reading:
    mapping = src.values or _identity(comp)
    key = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(key, str) or key not in mapping:
        raise InputError.single(src.input or comp.name, f"{value!r} is not a valid choice",
                                value=value, allowed=tuple(mapping))
    return Reading(frozenset({mapping[key]}), key, f"{src.input} = {key}")


def _read_level(src: Source, comp: Component, value: Any) -> Reading:
    level = parse_level(value, field=src.input or "level")
    location = sins_location(level).value
    mapping = src.values or _identity(comp)
    return Reading(frozenset({mapping[location]}), level,
                   f"level {level} is {location.replace('_', '-')} (SINS level lookup)")


def _strict_int(src: Source, value: Any, allowed: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError.single(src.input or "", "must be a whole number", value=value,
                                allowed=(allowed,))
    return value


def _read_integer_ranges(src: Source, comp: Component, value: Any) -> Reading:
    lo, hi, step = src.minimum, src.maximum, src.step
    domain = f"{lo}-{hi}" if hi is not None else f">= {lo}"
    if step != 1:
        domain += f" in steps of {step}"
    number = _strict_int(src, value, domain)
    assert lo is not None
    if number < lo or (hi is not None and number > hi) or (number - lo) % step:
        raise InputError.single(src.input or "", f"{number} is not allowed", value=number,
                                allowed=(domain,))
    for r in src.ranges:
        if r.contains(number):
            return Reading(frozenset({r.option}), number, f"{src.input} {number} is in "
                           f"{comp.option(r.option).label}")
    raise InputError.single(src.input or "", f"{number} is outside the categories of this score",
                            value=number, allowed=(_range_text(src),))


def _read_boolean(src: Source, comp: Component, value: Any) -> Reading:
    if not isinstance(value, bool):
        raise InputError.single(src.input or "", "must be true or false", value=value,
                                allowed=("true", "false"))
    option = src.true if value else src.false
    assert option is not None
    return Reading(frozenset({option}), value, f"{src.input} = {str(value).lower()}")


def _read_points(src: Source, comp: Component, value: Any) -> Reading:
    by_points = {o.points: o.id for o in comp.options}
    allowed = tuple(str(p) for p in sorted(p for p in by_points if p is not None))
    number = _strict_int(src, value, ", ".join(allowed))
    if number not in by_points:
        raise InputError.single(src.input or "", f"{number} is not a points value of this item",
                                value=number, allowed=allowed)
    return Reading(frozenset({by_points[number]}), number,
                   f"{src.input} = {number} (clinician-assigned category)")


def _modifiers(src: Source, inputs: Mapping[str, Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for name in src.modifiers:
        raw = inputs.get(name)
        if is_unknown(raw):
            continue
        if not isinstance(raw, bool):
            raise InputError.single(name, "must be true or false", value=raw,
                                    allowed=("true", "false"))
        out[name] = raw
    return out


def _read_histology(src: Source, comp: Component, value: Any,
                    inputs: Mapping[str, Any]) -> Reading:
    row = parse_histology(value, field=src.input or "primary")
    assert src.attribute is not None
    assert src.values is not None
    cell = row.resolve(src.attribute, _modifiers(src, inputs))
    if not cell.known:
        raw = row.cells[src.attribute]
        options = raw.options or ((raw.if_true, raw.if_false) if raw.when else ())
        possible = ({src.values[str(o).lower()] for o in options} if options
                    else {o.id for o in comp.options})
        missing = (cell.missing_modifier,) if cell.missing_modifier else ()
        return Reading(frozenset(possible), row.id, cell.basis, ask=cell.ask, missing=missing,
                       unverified=cell.unverified)
    key = str(cell.value).lower()
    return Reading(frozenset({src.values[key]}), row.id, f"{cell.basis} = {key}",
                   note=cell.note, unverified=cell.unverified)


def _read_labs(src: Source, comp: Component, inputs: Mapping[str, Any]) -> Reading | None:
    names = src.input_names()
    values = {n: parse_lab(n, inputs[n], field=n).canonical for n in names
              if not is_unknown(inputs.get(n))}
    if not values:
        return None
    possible: set[str] = set()
    reasons: list[str] = []
    missing: list[str] = []
    for level in src.levels:
        met = [c for c in level.any if c.analyte in values and c.met(values[c.analyte])]
        unknown = [c.analyte for c in level.any if c.analyte not in values]
        if met:
            possible.add(level.option)
            reasons.append(", ".join(c.describe() for c in met))
            break
        if unknown:
            possible.add(level.option)
            missing.extend(unknown)
    else:
        assert src.default is not None
        possible.add(src.default)
    shown = {n: float(v) for n, v in values.items()}
    basis = ("criteria met: " + "; ".join(reasons)) if reasons else "no criterion met among " + (
        ", ".join(sorted(values)))
    return Reading(frozenset(possible), shown, basis, missing=tuple(dict.fromkeys(missing)))


_Reader = Callable[[Source, Component, Any], Reading]
_READERS: dict[str, _Reader] = {
    "choice": _read_choice,
    "level": _read_level,
    "integer_ranges": _read_integer_ranges,
    "boolean": _read_boolean,
    "points": _read_points,
}


def read_source(src: Source, comp: Component, inputs: Mapping[str, Any]) -> Reading | None:
    """Read one source; ``None`` when its input is unknown."""
    if src.kind == "lab_criteria":
        return _read_labs(src, comp, inputs)
    assert src.input is not None
    value = inputs.get(src.input)
    if is_unknown(value):
        return None
    if src.kind == "histology":
        return _read_histology(src, comp, value, inputs)
    return _READERS[src.kind](src, comp, value)
