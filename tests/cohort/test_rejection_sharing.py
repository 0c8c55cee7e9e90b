"""The reason for a rejected cell is worked out once per column and value, not once per score.

The kernel reuses one source's reason for a rejected value in every source with the same
rejection key (``_kernel._rejection_key``). These tests hold the key to the readers themselves:
sources that share a key accept and reject the same values with the same problems.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import pyarrow as pa
import pytest

from spinemets.cohort import _kernel
from spinemets.cohort._encode import ABSENT, INVALID
from spinemets.cohort._kernel import _SourcePlan, compile_kernel
from spinemets.cohort._synth import GARBAGE
from spinemets.domain import histology_ids

KERNEL = compile_kernel()


def _sources() -> list[_SourcePlan]:
    return [s for plan in KERNEL.plans for comp in plan.components for s in comp.sources]


def _sharing() -> dict[tuple[Any, ...], list[_SourcePlan]]:
    groups: dict[tuple[Any, ...], list[_SourcePlan]] = defaultdict(list)
    for source in _sources():
        if source.reject_key is not None and source.src.kind != "lab_criteria":
            groups[source.reject_key].append(source)
    return {key: group for key, group in groups.items() if len(group) > 1}


def _probes(group: list[_SourcePlan]) -> list[Any]:
    """Junk of every kind, and every value any source of the group accepts."""
    accepted: set[Any] = set()
    for source in group:
        accepted.update(source.src.values or (o.id for o in source.comp.options))
    return [*GARBAGE, *sorted(accepted), *histology_ids(), "zz123456", "  ", "T12", "t12", "L5",
            "O", "C1", "true", "True", True, False, 0, 1, 80, 2.5, INVALID, "\x00invalid\x01",
            "x" * 300, "it's", "lung "]


def test_primary_is_shared_by_several_scores() -> None:
    keys = {key[0]: len(group) for key, group in _sharing().items()}
    assert keys.get("histology", 0) >= 5


@pytest.mark.parametrize("key", list(_sharing()), ids=lambda k: f"{k[0]}-{'-'.join(k[2])}")
def test_sources_sharing_a_key_reject_alike(key: tuple[Any, ...]) -> None:
    group = _sharing()[key]
    extra = len(group[0].inputs) - 1  # histology modifiers
    modifiers = list(itertools.product([ABSENT, True, False, "maybe", INVALID], repeat=extra))
    for value in _probes(group):
        for rest in modifiers:
            values = (value, *rest)
            answers = [s._read(values) for s in group]
            problems = {found for _, found in answers}
            assert len(problems) == 1, (values, [(s.slug, s.comp.name) for s in group], answers)


def test_lab_problems_depend_on_the_analyte_only() -> None:
    by_analyte: dict[str, list[_SourcePlan]] = defaultdict(list)
    for source in _sources():
        if source.src.kind == "lab_criteria":
            for name in source.inputs:
                by_analyte[name].append(source)
    assert by_analyte
    for name, group in by_analyte.items():
        for value in ["abc", "NaN", "inf", "-1", 1e9, 35.0, -0.5, float("nan"), "zz1"]:
            given = {name: {"value": value, "unit": _kernel.ANALYTES[name].canonical_unit}}
            reasons = set()
            for source in group:
                try:
                    _kernel.read_source(source.src, source.comp, given)
                except _kernel.InputError as exc:
                    reasons.add(_kernel._problems(source.slug, exc))
                else:
                    reasons.add(())
            assert len(reasons) == 1, (name, value, reasons)


def test_one_off_junk_is_read_once_per_column_not_once_per_score(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """500 one-off texts in ``primary``, read by the histology sources of six scores: one
    reader call per text and rejection key (two), not per source, and every score still
    reports every cell."""
    calls: dict[str, int] = defaultdict(int)
    real = _kernel.read_source

    def counting(src: Any, comp: Any, given: Any) -> Any:
        calls[src.kind] += 1
        return real(src, comp, given)

    monkeypatch.setattr(_kernel, "read_source", counting)
    kernel = compile_kernel()
    n = 500
    texts = [f"zz{i}" for i in range(n)] + [*histology_ids()[:2], None]
    out = kernel.run(pa.RecordBatch.from_arrays([pa.array(texts)], names=["primary"]))
    readers = [s for plan in kernel.plans for c in plan.components for s in c.sources
               if s.src.kind == "histology"]
    keys = {s.reject_key for s in readers}  # a reader with modifiers reads other cells too
    assert len(readers) >= 2 * len(keys) + 3
    assert calls["histology"] <= n * len(keys) + 3 * len(readers)
    lines = [p for p in out.problems.to_pylist() if p["field"] == "primary"]
    assert [p["row"] for p in lines] == list(range(1, n + 1))
    slugs = {s.slug for s in readers}
    assert len(slugs) >= 5
    assert {p["scores"] for p in lines} == {",".join(s for s in kernel.slugs if s in slugs)}
    # a second batch with the same texts reads none of them again
    before = calls["histology"]
    kernel.run(pa.RecordBatch.from_arrays([pa.array(texts[::-1])], names=["primary"]))
    assert calls["histology"] == before


def test_the_memo_of_answers_is_bounded_and_changes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"zz{i}" for i in range(300)] + [*histology_ids()[:3], None, "T13", "zz1"]
    columns = {"primary": texts, "level": texts, "frankel": texts,
               "kps": [str(i % 120) for i in range(len(texts))]}
    batch = pa.RecordBatch.from_pydict({k: pa.array(v) for k, v in columns.items()})
    expected = compile_kernel().run(batch)
    monkeypatch.setattr(_kernel, "_KEPT_ANSWERS", 16)
    kernel = compile_kernel()
    for _ in range(2):
        got = kernel.run(batch)
        assert got.scores.equals(expected.scores)
        assert got.problems.equals(expected.problems)
    sources = [s for plan in kernel.plans for comp in plan.components for s in comp.sources]
    assert all(len(s.cache) <= 16 and len(s.rejections) <= 16 for s in sources)
