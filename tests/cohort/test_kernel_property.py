"""The vectorised kernel agrees with the single-case ``score()`` on random rows (style rule 8)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinemets.cohort._columns import column_for
from spinemets.cohort._kernel import compile_kernel
from spinemets.domain import ANALYTES
from spinemets.errors import InputError
from spinemets.scores import registry, score

from .strategies import junk_rows, rows, text_table, typed_table

KERNEL = compile_kernel()


def _single_inputs(slug: str, record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in registry()[slug].input_names:
        value = record.get(column_for(slug, name))
        if value is None:
            continue
        if name in ANALYTES:
            value = {"value": value, "unit": ANALYTES[name].canonical_unit}
        out[name] = value
    return out


def _expected(slug: str, record: dict[str, Any]) -> tuple[str, int | None, str | None,
                                                          set[str]]:
    try:
        result = score(slug, _single_inputs(slug, record))
    except InputError as exc:
        return "error", None, None, {p.message for p in exc.problems}
    band = result.band.id if result.band else None
    return result.status, result.total, band, set()


def _check(table: pa.Table, records: list[dict[str, Any]]) -> None:
    out = KERNEL.run(table.to_batches(max_chunksize=len(records))[0])
    got = out.scores.to_pylist()
    problems = out.problems.to_pylist()
    for i, record in enumerate(records):
        for slug in KERNEL.slugs:
            status, total, band, messages = _expected(slug, record)
            row = got[i]
            assert row[f"{slug}_status"] == status, (slug, record)
            assert row[f"{slug}_total"] == total, (slug, record)
            assert row[f"{slug}_band"] == band, (slug, record)
            reported = {p["reason"] for p in problems
                        if p["row"] == i + 1 and slug in p["scores"].split(",")}
            assert reported == messages, (slug, record)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_batch_and_single_case_agree(records: list[dict[str, Any]]) -> None:
    _check(typed_table(records), records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk_rows())
def test_junk_text_cells_agree_with_single_case(records: list[dict[str, Any]]) -> None:
    """Bad cells are scored in the vectorised pass and reported as the single-case path does:
    the same statuses and reasons, the cell as in the file, the allowed values."""
    table = text_table(records)
    _check(table, records)
    out = KERNEL.run(table.to_batches()[0])
    for p in out.problems.to_pylist():
        if p["field"] in KERNEL.columns:
            cell = table.column(p["field"])[p["row"] - 1].as_py()
            assert p["value"] == cell, p
        assert p["reason"] and p["scores"], p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(invalid=False))
def test_text_cells_read_like_typed_cells(records: list[dict[str, Any]]) -> None:
    typed = KERNEL.run(typed_table(records).to_batches()[0]).scores
    text = KERNEL.run(text_table(records).to_batches()[0]).scores
    assert text.equals(typed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_blank_unknown_and_padded_text_cells_read_like_typed_cells(
        records: list[dict[str, Any]]) -> None:
    """Every text column, categories included: padding is ignored, blank is unknown."""
    typed = KERNEL.run(typed_table(records).to_batches()[0])
    text = KERNEL.run(text_table(records, messy=True).to_batches()[0])
    assert text.scores.equals(typed.scores)
    assert text.problems.column("reason").equals(typed.problems.column("reason"))
    assert text.problems.column("row").equals(typed.problems.column("row"))


def test_category_text_cells_are_trimmed_and_blank_is_unknown() -> None:
    table = pa.table({"frankel": ["", "  ", " D ", "d", " Unknown ", None, "\tE"]})
    out = KERNEL.run(table.to_batches()[0])
    status = out.scores.column(out.scores.schema.get_field_index("frankel_status")).to_pylist()
    assert status == ["incomplete", "incomplete", "complete", "error", "incomplete",
                      "incomplete", "complete"]
    problems = out.problems.to_pylist()
    assert [(p["row"], p["value"], p["reason"], p["allowed"]) for p in problems] == [
        (4, "d", "'d' is not a valid choice", "A, B, C, D, E")]


def test_text_cells_of_the_wrong_kind_are_errors_not_unknown() -> None:
    table = pa.table({"kps": ["80.0", "eighty", " 80 ", "unknown", ""],
                      "previous_chemotherapy": ["yes", "TRUE", "false", None, "1"]})
    out = KERNEL.run(table.to_batches()[0])
    status = out.scores.column(out.scores.schema.get_field_index("kps_status")).to_pylist()
    assert status == ["error", "error", "complete", "incomplete", "incomplete"]
    reasons = {(p["row"], p["field"]): p["reason"] for p in out.problems.to_pylist()}
    assert reasons[1, "kps"] == "must be a whole number"
    assert reasons[2, "kps"] == "must be a whole number"
    assert reasons[1, "previous_chemotherapy"] == "must be true or false"
    assert reasons[5, "previous_chemotherapy"] == "must be true or false"
    assert (2, "previous_chemotherapy") not in reasons


@pytest.mark.parametrize("slug", ["sins", "tokuhashi_2005", "katagiri_2014"])
def test_missing_columns_are_unknown_never_zero(slug: str) -> None:
    kernel = compile_kernel([slug])
    out = kernel.run(pa.table({"other": [1, 2]}).to_batches()[0])
    assert out.scores.column(f"{slug}_status").to_pylist() == ["incomplete"] * 2
    assert out.scores.column(f"{slug}_total").null_count == 2


def _with_garbage_in_nulls(arr: pa.Array) -> pa.Array:
    """The same column with arbitrary values under its null cells (as a file may hold)."""
    if arr.null_count == 0 or not (pa.types.is_integer(arr.type) or
                                   pa.types.is_floating(arr.type) or
                                   pa.types.is_boolean(arr.type)):
        return arr
    mask = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if pa.types.is_boolean(arr.type):
        data = np.asarray(arr.fill_null(True).to_numpy(zero_copy_only=False), dtype=np.bool_)
    elif pa.types.is_integer(arr.type):
        data = np.where(mask, np.int64(-(2**62)), arr.fill_null(0).to_numpy())
    else:
        data = np.where(mask, np.nan, arr.fill_null(0.0).to_numpy())
    return pa.array(data, type=arr.type, mask=mask)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(), st.integers(0, 13))
def test_offsets_and_values_under_nulls_do_not_matter(records: list[dict[str, Any]],
                                                       pad: int) -> None:
    """Columns are read from Arrow buffers: slicing and values under nulls change nothing."""
    clean = typed_table(records).to_batches()[0]
    padded = typed_table(records[:1] * pad + records).to_batches()[0]
    messy = pa.RecordBatch.from_arrays([_with_garbage_in_nulls(c) for c in padded.columns],
                                       schema=padded.schema).slice(pad)
    expected = KERNEL.run(clean)
    got = KERNEL.run(messy)
    assert got.scores.equals(expected.scores)
    assert got.problems.equals(expected.problems)


def test_integers_spread_wider_than_a_dense_domain_agree_with_single_case() -> None:
    records = [dict.fromkeys(KERNEL.columns) for _ in range(4)]
    for record, kps, count in zip(records, [80, 10**12, None, 50], [0, 2**40, 3, None],
                                  strict=True):
        record.update(kps=kps, ecog=1, extraspinal_bone_metastases=count,
                      vertebral_body_metastases=1)
    _check(typed_table(records), records)


def test_bad_cells_are_explained_once_per_distinct_value_not_per_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No row is scored on its own: 20,000 rows with a bad kps column (whole numbers written as
    80.0, junk text) cost a few reader calls per distinct value, and every bad cell is reported.

    The tables' readers give the same reason for every invalid cell of a number column ("must
    be a whole number"); a reader that quotes the cell is simulated, to show that such a reason
    is worked out once per distinct text and still names each cell.
    """
    from spinemets.cohort import _kernel  # noqa: PLC0415

    calls = 0
    real = _kernel.read_source

    def quoting(src: Any, comp: Any, given: Any) -> Any:
        nonlocal calls
        calls += 1
        value = given.get("kps")
        if src.input == "kps" and comp.name == "kps" and isinstance(value, str | float):
            raise InputError.single("kps", f"{value!r} is not a KPS grade", value=value)
        return real(src, comp, given)

    monkeypatch.setattr(_kernel, "read_source", quoting)
    kernel = compile_kernel(["kps", "tokuhashi_2005", "van_der_linden_2005"])
    n = 20_000
    kps = pa.array(["80", "90.5", None, "zz9", "abc"] * (n // 5))
    out = kernel.run(pa.RecordBatch.from_arrays([kps], names=["kps"]))
    assert calls < 200
    problems = out.problems.to_pylist()
    assert len(problems) == n // 5 * 3 * 2  # per bad cell: the kps line and the others' line
    got = {(p["row"], p["reason"], p["scores"]) for p in problems if p["row"] <= 5}
    quoted = "kps,van_der_linden_2005"  # both have a component named kps
    assert got == {
        (2, "'90.5' is not a KPS grade", quoted), (2, "must be a whole number", "tokuhashi_2005"),
        (4, "'zz9' is not a KPS grade", quoted), (4, "must be a whole number", "tokuhashi_2005"),
        (5, "'abc' is not a KPS grade", quoted), (5, "must be a whole number", "tokuhashi_2005"),
    }
    assert all(p["value"] == ["80", "90.5", None, "zz9", "abc"][(p["row"] - 1) % 5]
               for p in problems)
