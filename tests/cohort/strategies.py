"""Hypothesis strategies for cohort rows, drawn from the vocabularies of the score tables."""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa
from hypothesis import strategies as st

from spinemets.cohort._columns import CohortColumn, cohort_columns
from spinemets.domain import ANALYTES, LEVELS, histology_ids
from spinemets.scores import registry

ARROW_TYPES = {"string": pa.string(), "integer": pa.int64(), "boolean": pa.bool_(),
               "number": pa.float64()}


@cache
def _string_vocabulary(column: CohortColumn) -> tuple[str, ...]:
    words: dict[str, None] = {}
    for slug, name in column.inputs:
        for comp in registry()[slug].components:
            for src in comp.sources:
                if src.input != name:
                    continue
                if src.kind == "level":
                    words.update(dict.fromkeys(LEVELS))
                elif src.kind == "histology":
                    words.update(dict.fromkeys(histology_ids()))
                elif src.values:
                    words.update(dict.fromkeys(src.values))
                else:
                    words.update(dict.fromkeys(o.id for o in comp.options))
    return tuple(words)


@cache
def _integer_values(column: CohortColumn) -> tuple[int, ...]:
    values: set[int] = set()
    for slug, name in column.inputs:
        for comp in registry()[slug].components:
            for src in comp.sources:
                if src.input == name and src.kind == "integer_ranges":
                    low = src.minimum or 0
                    high = src.maximum if src.maximum is not None else low + 6
                    values.update(range(low, high + 1, src.step))
                elif src.input == name and src.kind == "points":
                    values.update(o.points or 0 for o in comp.options)
    return tuple(sorted(values))


#: Alternative or override inputs: mostly left unknown, as in real cohorts.
RARE = {"location", "primary_points", "primary_group", "lung_cancer", "tomita_growth",
        "katagiri_growth", "lab_status", "asia"}


def cell(column: CohortColumn, *, invalid: bool = True) -> st.SearchStrategy[Any]:
    """One cell: mostly valid values, sometimes unknown, sometimes impossible."""
    unknown = st.none()
    if column.kind == "string":
        valid = st.sampled_from(_string_vocabulary(column))
        bad = st.sampled_from(["bogus", "unknown", "T13", "6"])
    elif column.kind == "integer":
        valid = st.sampled_from(_integer_values(column))
        bad = st.integers(-5, 200)
    elif column.kind == "boolean":
        valid = st.booleans()
        bad = st.booleans()
    else:
        spec = ANALYTES[column.name.split("_", 1)[0]]
        lo, hi = float(spec.plausible[0]), float(spec.plausible[1])
        valid = st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, 2))
        bad = st.sampled_from([-1.0, hi * 10, 0.4, 250.0, 3.7, 100.0, 10.3, 1.4])
    n_unknown = 14 if column.name in RARE else 2
    n_bad = 1 if invalid else 0

    def pick(k: int) -> st.SearchStrategy[Any]:
        if k < n_bad:
            return bad
        if k < n_bad + n_unknown:
            return unknown
        return valid

    return st.integers(0, 19).flatmap(pick)


def rows(*, min_size: int = 1, max_size: int = 25,
         invalid: bool = True) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows over every score-input column of the cohort schema."""
    row = st.fixed_dictionaries({name: cell(col, invalid=invalid)
                                 for name, col in cohort_columns().items()})
    return st.lists(row, min_size=min_size, max_size=max_size)


def typed_table(records: list[dict[str, Any]]) -> pa.Table:
    """An Arrow table with each cohort column in its natural type."""
    schema = pa.schema([(name, ARROW_TYPES[col.kind]) for name, col in cohort_columns().items()])
    return pa.Table.from_pylist(records, schema=schema)


#: Ways a text file writes an unknown cell, and whitespace it may put around a value.
UNKNOWN_TEXT = (None, "", "   ", "unknown", " UNKNOWN\t", "Unknown")
PADDING = ("", " ", "  ", "\t", " \t ")


def text_table(records: list[dict[str, Any]], *, messy: bool = False) -> pa.Table:
    """The same rows as a CSV reader gives them: every cell text.

    ``messy``: unknown cells written in each of the ways of :data:`UNKNOWN_TEXT` and values padded
    with whitespace, in rotation over the cells (the kernel must read them all alike).
    """
    def text(v: Any, k: int) -> str | None:
        if v is None:
            return UNKNOWN_TEXT[k % len(UNKNOWN_TEXT)] if messy else None
        value = ("true" if v else "false") if isinstance(v, bool) else str(v)
        pad = PADDING[k % len(PADDING)] if messy else ""
        return pad + value + pad[::-1]

    names = list(cohort_columns())
    return pa.table({n: pa.array([text(r[n], i * len(names) + j) for i, r in enumerate(records)],
                                 pa.string()) for j, n in enumerate(names)})


#: Junk a text file may hold in any column: never a number, a boolean, an unknown marker or
#: padded (padding is trimmed, tested elsewhere), so the single-case path receives it as it is
#: (labs as ``{"value": junk, "unit": ...}``).
JUNK = ("abc", "?", "n.d.", "#REF!", "yes", "D+", "none?", "x", "T13", "maybe")


def junk_cell() -> st.SearchStrategy[str]:
    """A junk text cell: a fixed one or a one-off (``zz...``)."""
    return st.sampled_from(JUNK) | st.from_regex(r"zz[a-z0-9]{0,6}", fullmatch=True)


def junk_rows(*, min_size: int = 1, max_size: int = 25) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows as :func:`rows`, with about one cell in eight replaced by junk text."""
    def spoil(record: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        names = sorted(record)
        return st.lists(st.tuples(st.sampled_from(names), junk_cell()), max_size=5).map(
            lambda cells: {**record, **dict(cells)})

    row = st.fixed_dictionaries({name: cell(col) for name, col in cohort_columns().items()})
    return st.lists(row.flatmap(spoil), min_size=min_size, max_size=max_size)
