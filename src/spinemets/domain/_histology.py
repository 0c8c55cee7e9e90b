"""The histology catalogue (``knowledge/histology.yaml``, from ``pathway.md`` §1).

A cell is a placed value, an UNVERIFIED value, a conditional on a case modifier
(``hormone_dependent``, ``targeted_therapy``) or "ask": the papers do not place the histology and
the clinician must choose. :meth:`Histology.resolve` turns a cell into the value, or into the
question to ask, never into a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from spinemets._yaml import safe_load
from spinemets.errors import DefinitionError, InputError

__all__ = [
    "ATTRIBUTES",
    "Cell",
    "CellResolution",
    "Histology",
    "catalogue",
    "histology_ids",
    "parse_histology",
]

ATTRIBUTES = (
    "tokuhashi_primary",
    "tomita_growth",
    "mbauer_favourable",
    "lung",
    "vdl_primary",
    "katagiri_group",
    "radiosensitivity",
    "hypervascular",
)
MODIFIERS = ("hormone_dependent", "targeted_therapy")


@dataclass(frozen=True, slots=True)
class Cell:
    """One catalogue cell."""

    value: Any = None
    ask: str | None = None
    options: tuple[Any, ...] = ()
    when: str | None = None
    if_true: Any = None
    if_false: Any = None
    unverified: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CellResolution:
    """What a cell gives for one case: a value, or the question to ask."""

    value: Any = None
    ask: str | None = None
    missing_modifier: str | None = None
    unverified: bool = False
    note: str | None = None
    basis: str = ""

    @property
    def known(self) -> bool:
        return self.ask is None


@dataclass(frozen=True, slots=True)
class Histology:
    """One row of the catalogue."""

    id: str
    label: str
    cells: Mapping[str, Cell]
    frequency_pct: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, attribute: str, modifiers: Mapping[str, Any] | None = None) -> CellResolution:
        cell = self.cells[attribute]
        where = f"histology catalogue: {self.id} -> {attribute}"
        if cell.ask is not None:
            return CellResolution(ask=cell.ask, unverified=cell.unverified, basis=where)
        if cell.when is not None:
            flag = (modifiers or {}).get(cell.when)
            if not isinstance(flag, bool):
                return CellResolution(
                    ask=f"{self.label}: {attribute} depends on {cell.when}, which is unknown",
                    missing_modifier=cell.when,
                    basis=where,
                )
            value = cell.if_true if flag else cell.if_false
            return CellResolution(value=value, unverified=cell.unverified, note=cell.note,
                                  basis=f"{where} ({cell.when}={str(flag).lower()})")
        return CellResolution(value=cell.value, unverified=cell.unverified, note=cell.note,
                              basis=where)


def _parse_cell(hid: str, attribute: str, raw: Any) -> Cell:
    if not isinstance(raw, Mapping):
        return Cell(value=raw)
    unknown = set(raw) - {"value", "ask", "options", "when", "true", "false", "unverified", "note"}
    if unknown:
        msg = f"histology {hid}.{attribute}: unknown keys {sorted(unknown)}"
        raise DefinitionError(msg)
    if "when" in raw and raw["when"] not in MODIFIERS:
        msg = f"histology {hid}.{attribute}: modifier {raw['when']!r} not in {MODIFIERS}"
        raise DefinitionError(msg)
    if sum(k in raw for k in ("value", "ask", "when")) != 1:
        msg = f"histology {hid}.{attribute}: exactly one of value/ask/when is required"
        raise DefinitionError(msg)
    return Cell(
        value=raw.get("value"),
        ask=raw.get("ask"),
        options=tuple(raw.get("options", ())),
        when=raw.get("when"),
        if_true=raw.get("true"),
        if_false=raw.get("false"),
        unverified=bool(raw.get("unverified", False)),
        note=raw.get("note"),
    )


@cache
def catalogue() -> Mapping[str, Histology]:
    """The catalogue keyed by histology id, loaded once from the package data."""
    text = resources.files("spinemets.knowledge").joinpath("histology.yaml").read_text("utf-8")
    data = safe_load(text)
    out: dict[str, Histology] = {}
    for hid, row in data["histologies"].items():
        missing = [a for a in ATTRIBUTES if a not in row]
        if missing:
            msg = f"histology {hid}: missing columns {missing}"
            raise DefinitionError(msg)
        cells = {a: _parse_cell(hid, a, row[a]) for a in ATTRIBUTES}
        extra = {k: v for k, v in row.items() if k not in ATTRIBUTES and k not in {"label",
                                                                                   "frequency_pct"}}
        out[hid] = Histology(hid, row["label"], cells, row.get("frequency_pct"), extra)
    return out


def histology_ids() -> tuple[str, ...]:
    return tuple(catalogue())


def parse_histology(value: object, *, field: str = "primary") -> Histology:
    """The catalogue row for a histology id, or :class:`InputError` naming the allowed ids."""
    if isinstance(value, str):
        row = catalogue().get(value.strip().lower())
        if row is not None:
            return row
    raise InputError.single(field, f"{value!r} is not a histology id", value=value,
                            allowed=histology_ids())
