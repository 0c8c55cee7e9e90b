"""The cohort table schema, derived from the score registry (never written out by hand).

One row is one patient (its index lesion). Each score input of the single-case contract
(``spinemets score``) becomes one cohort column of the same name, with three exceptions:

* inputs whose name is shared by scores with *different vocabularies* are prefixed with the
  score family name (``tokuhashi_visceral``, ``tomita_visceral``, ``katagiri_visceral``,
  ``tomita_growth``, ``katagiri_growth``); the modified/original Bauer and van der Linden scores
  share the boolean ``visceral_metastases``;
* laboratory inputs (``{"value": ..., "unit": ...}`` in a case) become one numeric column in the
  analyte's canonical unit, the unit in the name (``albumin_g_per_dl``);
* survival columns (default ``time_months``, ``event``) and any other column are carried through.

Column kinds come from the kind of the score sources that read them: ``choice``/``level``/
``histology`` -> string, ``integer_ranges``/``points`` -> integer, ``boolean`` and histology
modifiers -> boolean, ``lab_criteria`` -> number. Unknown is a null cell (or the string
``"unknown"``), never zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from spinemets.domain import ANALYTES
from spinemets.errors import DefinitionError
from spinemets.scores import ScoreDefinition, Source, registry
from spinemets.scores._columns import RENAMED_INPUTS, column_for, lab_column

__all__ = [
    "RENAMED_INPUTS",
    "CohortColumn",
    "Kind",
    "cohort_columns",
    "column_for",
    "lab_column",
    "present_scores",
    "score_slugs",
]

Kind = Literal["string", "integer", "boolean", "number"]

_KIND_OF_SOURCE: Mapping[str, Kind] = {
    "choice": "string",
    "level": "string",
    "histology": "string",
    "integer_ranges": "integer",
    "points": "integer",
    "boolean": "boolean",
}


@dataclass(frozen=True, slots=True)
class CohortColumn:
    """One score-input column of the cohort table.

    Attributes
    ----------
    name : str
        Column name in the cohort file.
    kind : {"string", "integer", "boolean", "number"}
        How cells are read.
    inputs : tuple of (str, str)
        The ``(score slug, input name)`` pairs this column feeds.
    unit : str or None
        Canonical UCUM unit of a laboratory column (the single-case input's ``unit``).
    """

    name: str
    kind: Kind
    inputs: tuple[tuple[str, str], ...]
    unit: str | None = None


def _source_kinds(src: Source) -> list[tuple[str, Kind]]:
    if src.kind == "lab_criteria":
        return [(name, "number") for name in src.input_names()]
    assert src.input is not None
    out: list[tuple[str, Kind]] = [(src.input, _KIND_OF_SOURCE[src.kind])]
    out.extend((m, "boolean") for m in src.modifiers)
    return out


def score_slugs() -> tuple[str, ...]:
    """Slugs of every computable score (available or provisional), in registry order."""
    return tuple(slug for slug, defn in registry().items() if defn.available)


def present_scores(columns: Iterable[str]) -> tuple[str, ...]:
    """Computable scores with at least one input column among ``columns``.

    Parameters
    ----------
    columns : iterable of str
        Column names of a cohort file.

    Returns
    -------
    tuple of str
        Score slugs in registry order.
    """
    names = set(columns)
    return tuple(s for s in score_slugs()
                 if any(column_for(s, i) in names for i in registry()[s].input_names))


def _definitions() -> list[ScoreDefinition]:
    return [registry()[slug] for slug in score_slugs()]


@cache
def cohort_columns() -> Mapping[str, CohortColumn]:
    """Every score-input column of the cohort schema, by name.

    Returns
    -------
    Mapping[str, CohortColumn]
        Columns in first-use order over the registry.

    Raises
    ------
    DefinitionError
        Two scores read the same column with different kinds (a table bug: rename one input in
        :data:`RENAMED_INPUTS`).
    """
    kinds: dict[str, Kind] = {}
    inputs: dict[str, list[tuple[str, str]]] = {}
    for defn in _definitions():
        for comp in defn.components:
            for src in comp.sources:
                for input_name, kind in _source_kinds(src):
                    name = column_for(defn.slug, input_name)
                    if kinds.setdefault(name, kind) != kind:
                        msg = (f"cohort column {name!r} is read as {kinds[name]} and as {kind} "
                               f"({defn.slug}.{input_name})")
                        raise DefinitionError(msg)
                    pairs = inputs.setdefault(name, [])
                    if (defn.slug, input_name) not in pairs:
                        pairs.append((defn.slug, input_name))
    return {
        name: CohortColumn(
            name, kind, tuple(inputs[name]),
            ANALYTES[inputs[name][0][1]].canonical_unit if kind == "number" else None)
        for name, kind in kinds.items()
    }
