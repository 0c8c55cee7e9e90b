"""The vectorised scoring kernel: ``pa.RecordBatch -> pa.RecordBatch``, compiled from the tables.

Nothing clinical is written here. :func:`compile_kernel` reads the loaded
:class:`~spinemets.scores.ScoreDefinition` objects and builds, for each score, one plan per
component source. At run time each source is evaluated *by the single-case reader itself*
(:func:`spinemets.scores._sources.read_source`) once per distinct cell value (or combination of
values) in the batch; the answers (the set of categories still possible, as a bit mask, or an
error) are then broadcast to all rows with numpy fancy indexing. Laboratory criteria, the one
continuous source, are compared with numpy against the thresholds of the table. Sources are
combined with the evaluator's rules (primaries intersect, an override wins, a fallback is used
only when no primary decides), points are summed, and the band is looked up in the table.

A component whose category is not decided leaves the score ``incomplete`` (total and band
null): unknown is never zero. A cell the single-case path would reject makes the score
``error`` for that row, in the same vectorised pass: the reader's :class:`InputError` for each
distinct bad value is kept beside its mask, and the rows holding that value are reported with it
(:mod:`spinemets.cohort._problems`), so the sidecar gives the field, message and allowed values
of ``spinemets score`` without scoring any row on its own. Inputs that disagree (a level and a
location of different regions) are reported with the evaluator's wording, from the masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from spinemets.cohort._columns import cohort_columns, column_for, score_slugs
from spinemets.cohort._encode import (
    ABSENT,
    INVALID,
    Codes,
    Numbers,
    encode_absent,
    encode_codes,
    encode_numbers,
)
from spinemets.cohort._problems import PROBLEM_SCHEMA, Problem, ProblemSink, cell_text
from spinemets.domain import ANALYTES
from spinemets.errors import DefinitionError, InputError
from spinemets.scores import Component, ScoreDefinition, Source, registry
from spinemets.scores._sources import read_source

__all__ = ["PROBLEM_SCHEMA", "STATUSES", "Kernel", "KernelOutput", "compile_kernel"]

STATUSES = ("complete", "incomplete", "error")
_STATUS_LABELS = pa.array(STATUSES, pa.string())
#: A second stand-in for an invalid cell: a reason that differs between the two depends on the
#: cell's text, so it is worked out from each distinct text instead of once for all.
_INVALID_TOO = "\x00invalid\x01"

Mask = npt.NDArray[np.uint16]
_SMALL_CARD = 256  # tabulate every code of a small domain instead of finding those present
_KEPT_TABLES = 64  # tabulated domains kept per source (a file rarely has more dictionaries)
#: answers kept per source, and rejections kept per kernel, before the cache is emptied: a file
#: of one-off junk texts would otherwise grow it without bound (it is only a memo)
_KEPT_ANSWERS = 1 << 16
_UNDECIDED = np.int16(-1024)  # points of an undecided component: any total < 0 is incomplete
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
Encoded = Codes | Numbers


def _bits(comp: Component, option_ids: Iterable[str]) -> int:
    ids = [o.id for o in comp.options]
    return sum(1 << ids.index(o) for o in option_ids)


@dataclass(frozen=True, slots=True)
class _Table:
    """A source read over a domain of codes: masks, error flags, the problems of each bad code
    (None: a reason that quotes the cell, so it is worked out from each row's text)."""

    masks: Mask
    errors: BoolArray | None
    problems: dict[int, tuple[Problem, ...] | None]


@dataclass
class _Tabulated:
    """A source or component read for a batch: a mask per code (or per row) and errors.

    A source that errs on a row has no reading there (mask 0), as in the single-case evaluator,
    which leaves a source that raised out of the comparison of the others.
    """

    code: npt.NDArray[np.int32] | None  # None: ``lut`` is already one mask per row
    lut: Mask
    error: BoolArray | None  # None: no error in this batch
    bad_labs: list[tuple[str, BoolArray]] | None = None  # lab sources: rows each lab fails
    problems: dict[int, tuple[Problem, ...] | None] | None = None  # by code (see _Table)

    def rows(self) -> Mask:
        return self.lut if self.code is None else self.lut.take(self.code)


def _problems(slug: str, exc: InputError) -> tuple[Problem, ...]:
    """The sidecar form of the reader's problems: cohort column, reason, allowed values."""
    out: list[Problem] = []
    for problem in exc.problems:
        base = problem.field.split(".", 1)[0]
        # a lab column's unit is in its name: the single-case list of units does not apply
        allowed = None if base in ANALYTES else ", ".join(problem.allowed) or None
        out.append((column_for(slug, base), problem.message, allowed))
    return tuple(out)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """``cache[key] = value``, emptying ``cache`` first when it holds :data:`_KEPT_ANSWERS`."""
    if len(cache) >= _KEPT_ANSWERS:
        cache.clear()
    cache[key] = value


def _rejection_key(slug: str, comp: Component, src: Source) -> tuple[Any, ...] | None:
    """What the reader's rejection of a cell depends on, beyond the cells themselves.

    Sources with equal keys reject the same cell values with the same problems (field, reason,
    allowed values), so a reason worked out for one is reused by the others: the histology
    reader (``primary``, read by seven components of five scores) says ``'x' is not a histology
    id`` whatever the attribute it looks up, the choice reader depends only on the input and the
    values it accepts, the level and boolean readers on the input alone; a lab value's problem
    depends only on the analyte (:meth:`_SourcePlan._lab_kind`). The input names and their
    cohort columns are part of the key, since the sidecar names the column. ``None``: the
    reasons are not shared (integer readers, whose bad text cells already share one reason).
    A conformance test checks every pair of sources with equal keys on junk values.
    """
    inputs = src.input_names()
    columns = tuple(column_for(slug, name) for name in inputs)
    if src.kind == "choice":
        return ("choice", inputs, columns, tuple(src.values or (o.id for o in comp.options)))
    if src.kind in {"histology", "level", "boolean"}:
        return (src.kind, inputs, columns)
    if src.kind == "lab_criteria":
        return ("lab_criteria",)
    return None


def _label(comp: Component, option_ids: Iterable[str]) -> str:
    return " or ".join(comp.option(o).label for o in sorted(option_ids))


def _disagreement(comp: Component, mask: int) -> str:
    """The evaluator's reason for a primary input that contradicts the others
    (``spinemets.scores._evaluator._merge_primaries``; the property tests compare them)."""
    ids = [o.id for i, o in enumerate(comp.options) if mask >> i & 1]
    return f"disagrees with the other inputs for {comp.label} ({_label(comp, ids)})"

class _Batch:
    """Encoded columns of one batch, with the combined codes of column groups cached."""

    def __init__(self, cols: Mapping[str, Encoded], n: int) -> None:
        self.cols = cols
        self.n = n
        self._codes: dict[tuple[str, ...], _Group] = {}
        #: by :func:`_rejection_key`: the codes the first source with that key rejected, with
        #: their problems (see :class:`_Table`), and the problem kinds it reported for them
        self.rejected: dict[tuple[Any, ...], dict[int, tuple[Problem, ...] | None]] = {}
        self.kinds: dict[tuple[Any, ...], list[npt.NDArray[np.int32]]] = {}

    def codes(self, columns: tuple[str, ...]) -> _Group:
        """The combined code per row of a column group, and what each code stands for."""
        hit = self._codes.get(columns)
        if hit is None:
            parts = [self.cols[c] for c in columns]
            codes_list = [e for e in parts if isinstance(e, Codes)]
            code = codes_list[0].codes
            card = codes_list[0].card
            for extra in codes_list[1:]:
                code = code * extra.card + extra.codes
                card *= extra.card
            present = None if card <= _SMALL_CARD else \
                np.flatnonzero(np.bincount(code, minlength=card)).tolist()
            hit = _Group(code, codes_list, card, present)
            self._codes[columns] = hit
        return hit


@dataclass(frozen=True, slots=True)
class _Group:
    """Combined codes of a column group in one batch."""

    code: npt.NDArray[np.int32]
    parts: list[Codes]
    card: int
    present: list[int] | None  # None: a small domain, every code is tabulated

    def values(self, k: int) -> tuple[Any, ...]:
        """The cell values that combined code ``k`` stands for."""
        values: list[Any] = []
        for part in reversed(self.parts):
            k, own = divmod(k, part.card)
            values.append(part.values[own])
        return tuple(reversed(values))


@dataclass
class _SourcePlan:
    """One source of one component, with the cohort columns it reads."""

    slug: str
    comp: Component
    src: Source
    columns: tuple[str, ...]
    inputs: tuple[str, ...]
    #: the problems of rejected cells, shared by the sources of every score of the kernel, by
    #: (:func:`_rejection_key`, cells)
    rejections: dict[tuple[Any, ...], tuple[Problem, ...]] = field(default_factory=dict)
    cache: dict[tuple[Any, ...], tuple[int, tuple[Problem, ...]]] = field(default_factory=dict)
    luts: dict[tuple[tuple[Any, ...], ...], _Table] = field(default_factory=dict)
    reject_key: tuple[Any, ...] | None = field(init=False)

    def __post_init__(self) -> None:
        self.reject_key = _rejection_key(self.slug, self.comp, self.src)

    def _answer(self, values: tuple[Any, ...]) -> tuple[int, tuple[Problem, ...]]:
        """(mask of the possible options, 0 if none; the reader's problems) for cell values.

        Cells another source with the same :func:`_rejection_key` rejected are rejected with
        its problems, without reading them again.
        """
        hit = self.cache.get(values)
        if hit is not None:
            return hit
        shared = None if self.reject_key is None else (self.reject_key, values)
        found = None if shared is None else self.rejections.get(shared)
        if found is not None:
            return 0, found
        hit = self._read(values)
        if hit[1] and shared is not None:  # kept once, for every source with this key
            _remember(self.rejections, shared, hit[1])
        else:
            _remember(self.cache, values, hit)
        return hit

    def _read(self, values: tuple[Any, ...]) -> tuple[int, tuple[Problem, ...]]:
        """:meth:`_answer` from the single-case reader itself."""
        given = {k: v for k, v in zip(self.inputs, values, strict=True) if v is not ABSENT}
        try:
            reading = read_source(self.src, self.comp, given)
        except InputError as exc:
            return 0, _problems(self.slug, exc)
        return (0 if reading is None else _bits(self.comp, reading.possible)), ()

    def _by_text(self, values: tuple[Any, ...]) -> bool:
        """Whether the reason for ``values`` (with invalid cells) depends on the cells' text."""
        if not any(v is INVALID for v in values):
            return False
        other = tuple(_INVALID_TOO if v is INVALID else v for v in values)
        return self._answer(values)[1] != self._answer(other)[1]

    def report(self, batch: _Batch, tab: _Tabulated, sink: ProblemSink | None) -> None:
        """Report the rows this source errs on, from the problems tabulated per code."""
        if sink is None or tab.error is None:
            return
        if tab.bad_labs is not None:
            self._report_labs(batch, tab.bad_labs, sink)
            return
        assert tab.code is not None
        assert tab.problems is not None
        rows = np.flatnonzero(tab.error)
        codes = tab.code.take(rows)
        by_text = [k for k, found in tab.problems.items() if found is None]
        if by_text:
            quoted = np.isin(codes, by_text)
            self._report_by_text(batch.codes(self.columns), rows[quoted], sink)
            rows, codes = rows[~quoted], codes[~quoted]
        kinds = None if self.reject_key is None else batch.kinds.get(self.reject_key)
        if kinds is None:
            kinds = self._kinds(tab.problems, len(tab.lut), sink)
            if self.reject_key is not None:
                batch.kinds[self.reject_key] = kinds
        for kind in kinds:
            at = kind.take(codes)
            ok = at >= 0
            sink.add_kinds(rows[ok], at[ok])

    @staticmethod
    def _kinds(problems: dict[int, tuple[Problem, ...] | None], card: int, sink: ProblemSink
               ) -> list[npt.NDArray[np.int32]]:
        """By code: the sink's kind of its first problem (-1: none), of its second..."""
        depth = max((len(found) for found in problems.values() if found), default=0)
        out: list[npt.NDArray[np.int32]] = []
        for j in range(depth):  # a reader raises one problem; more are reported alike
            kind = np.full(card, -1, dtype=np.int32)
            for k, found in problems.items():
                if found is not None and len(found) > j:
                    kind[k] = sink.kind(found[j])
            out.append(kind)
        return out

    def _report_by_text(self, group: _Group, rows: IntArray, sink: ProblemSink) -> None:
        """Rows whose reason names the invalid cell's text: one reason per distinct text."""
        kinds = np.empty(len(rows), dtype=np.int32)
        extra: list[tuple[int, Problem]] = []
        for i, row in enumerate(rows.tolist()):
            values = tuple(part.value_at(row) for part in group.parts)
            found = self._answer(values)[1]
            kinds[i] = sink.kind(found[0])
            extra += [(row, p) for p in found[1:]]
        sink.add_kinds(rows, kinds)
        for row, problem in extra:
            sink.add_kinds(np.array([row]), np.array([sink.kind(problem)], dtype=np.int32))

    def _report_labs(self, batch: _Batch, bad_labs: list[tuple[str, BoolArray]],
                     sink: ProblemSink) -> None:
        """The first implausible or invalid lab of each row, in the reader's order."""
        done = np.zeros(batch.n, dtype=np.bool_)
        for name, bad in bad_labs:
            first = bad & ~done
            done |= bad
            rows = np.flatnonzero(first)
            if not len(rows):
                continue
            column = column_for(self.slug, name)
            col = batch.cols[column]
            assert isinstance(col, Numbers)
            kinds = np.full(len(rows), -1, dtype=np.int32)
            invalid = col.invalid.take(rows)
            if not invalid.all():  # numbers out of range: one reason per distinct number
                at = np.flatnonzero(~invalid)
                found, which = np.unique(col.values.take(rows.take(at)), return_inverse=True)
                kinds[at] = np.array([self._lab_kind(name, column, v, sink)
                                      for v in found.tolist()], dtype=np.int32).take(which)
            if invalid.any():  # cells that are not numbers: one reason per distinct cell
                at = np.flatnonzero(invalid)
                cells = pc.dictionary_encode(col.raw.take(pa.array(rows.take(at))))
                kinds[at] = np.array([self._lab_kind(name, column, v, sink)
                                      for v in cells.dictionary.to_pylist()],
                                     dtype=np.int32).take(cells.indices.to_numpy())
            ok = kinds >= 0
            sink.add_kinds(rows[ok], kinds[ok])

    def _lab_kind(self, name: str, column: str, value: Any, sink: ProblemSink) -> int:
        """The problem kind of lab ``name`` (in ``column``) = ``value`` (the reader's reason),
        or -1; the reason is shared by every lab source (it depends on the analyte only)."""
        key = (self.reject_key, name, column, type(value), value)
        found = self.rejections.get(key)
        if found is None:
            given = {"value": value, "unit": ANALYTES[name].canonical_unit}
            try:
                read_source(self.src, self.comp, {name: given})
            except InputError as exc:
                found = _problems(self.slug, exc)
            else:  # the property tests keep this unreachable
                found = ()
            _remember(self.rejections, key, found)
        return sink.kind(found[0]) if found else -1

    def tabulate(self, batch: _Batch) -> _Tabulated:
        """Possible-category masks (0 = no reading) and error flags for the batch.

        A small domain is tabulated whole and kept for the next batch with the same values
        (the same Parquet dictionary, the same integer range), so most batches only look up.
        """
        if self.src.kind == "lab_criteria":
            return self._labs(batch)
        group = batch.codes(self.columns)
        key = None if group.present is not None else tuple(p.values for p in group.parts)
        table = None if key is None else self.luts.get(key)
        if table is None:
            table = self._table(batch, group)
            if key is not None:
                if len(self.luts) >= _KEPT_TABLES:
                    self.luts.clear()
                self.luts[key] = table
        return _Tabulated(group.code, table.masks, None if table.errors is None else
                          table.errors.take(group.code), problems=table.problems)

    def _table(self, batch: _Batch, group: _Group) -> _Table:
        """Read each code of ``group`` (those present, in a large domain) for this batch.

        The codes that the first source with the same :func:`_rejection_key` rejected in this
        batch are rejected alike without looking them up (``primary`` is read by seven
        components; most of its distinct texts in a file of one-off junk are rejected).
        """
        mask_lut: Mask = np.zeros(group.card, dtype=np.uint16)
        errs: BoolArray = np.zeros(group.card, dtype=np.bool_)
        codes: Iterable[int] = range(group.card) if group.present is None else group.present
        shared = None if self.reject_key is None else batch.rejected.get(self.reject_key)
        problems: dict[int, tuple[Problem, ...] | None] = {}
        if shared:
            problems.update(shared)
            errs[np.fromiter(shared, dtype=np.intp, count=len(shared))] = True
            codes = [k for k in codes if k not in shared]
        quoting = any(part.invalid is not None for part in group.parts)  # INVALID is a code
        single = group.parts[0].values if len(group.parts) == 1 else None
        for k in codes:
            values = (single[k],) if single is not None else group.values(k)
            mask, found = self._answer(values)
            if found:
                errs[k] = True
                problems[k] = None if quoting and self._by_text(values) else found
            else:
                mask_lut[k] = mask
        if self.reject_key is not None and shared is None:
            batch.rejected[self.reject_key] = problems
        return _Table(mask_lut, errs if problems else None, problems)

    def _labs(self, batch: _Batch) -> _Tabulated:
        nums: dict[str, Numbers] = {}
        for name, column in zip(self.inputs, self.columns, strict=True):
            col = batch.cols[column]
            assert isinstance(col, Numbers)
            nums[name] = col
        n = batch.n
        error = np.zeros(n, dtype=np.bool_)
        any_known = np.zeros(n, dtype=np.bool_)
        bad_labs: list[tuple[str, BoolArray]] = []
        for name, col in nums.items():
            bad = col.invalid.copy()
            if col.known.any():
                any_known |= col.known
                bad |= _implausible(name, col)
            if bad.any():
                error |= bad
                bad_labs.append((name, bad))
        mask = np.zeros(n, dtype=np.uint16)
        done = np.zeros(n, dtype=np.bool_)
        for level in self.src.levels:
            met = np.zeros(n, dtype=np.bool_)
            all_known = np.ones(n, dtype=np.bool_)
            for crit in level.any:
                col = nums[crit.analyte]
                threshold = float(crit.threshold)
                with np.errstate(invalid="ignore"):
                    hit = col.values >= threshold if crit.op == ">=" else col.values < threshold
                hit &= col.known
                met |= hit
                all_known &= col.known
            bit = np.uint16(_bits(self.comp, [level.option]))
            possible = ~all_known
            possible |= met
            possible &= ~done
            np.bitwise_or(mask, bit, out=mask, where=possible)
            done |= met
        assert self.src.default is not None
        np.bitwise_or(mask, np.uint16(_bits(self.comp, [self.src.default])), out=mask,
                      where=~done)
        mask[~any_known] = 0
        if not bad_labs:
            return _Tabulated(None, mask, None)
        mask[error] = 0  # a source that errs has no reading (as in the evaluator)
        return _Tabulated(None, mask, error, bad_labs)


def _implausible(name: str, col: Numbers) -> BoolArray:
    """Known cells outside the analyte's plausible range (or not finite)."""
    low, high = (float(b) for b in ANALYTES[name].plausible)
    low = max(low, 0.0)
    v = col.values
    with np.errstate(invalid="ignore"):  # NaN fails both comparisons
        plausible = (v >= low) & (v <= high)
    if not np.isfinite(high):
        plausible &= np.isfinite(v)
    implausible = ~plausible
    implausible &= col.known
    return implausible


def _popcount_table(size: int) -> npt.NDArray[np.uint8]:
    return np.array([bin(m).count("1") for m in range(size)], dtype=np.uint8)


@dataclass
class _ComponentPlan:
    comp: Component
    sources: list[_SourcePlan]
    points: npt.NDArray[np.int16]  # by mask: points when the mask is one option
    single: BoolArray  # by mask: exactly one option

    def evaluate(self, batch: _Batch, errors: list[BoolArray], sink: ProblemSink | None
                 ) -> _Tabulated:
        """The final mask of possible options (one bit set = known); collects error flags and
        reports the problems to ``sink`` (when given)."""
        read = [(plan, plan.tabulate(batch)) for plan in self.sources]
        for plan, tab in read:
            if tab.error is not None:
                errors.append(tab.error)
                plan.report(batch, tab, sink)
        # a source with no reading anywhere in the batch (absent column) changes nothing
        live = [(plan, t) for plan, t in read if t.lut.any()]
        if not live:
            return read[0][1]
        if len(live) == 1 and live[0][0].src.role == "primary":
            return live[0][1]
        n = batch.n
        full = np.uint16((1 << len(self.comp.options)) - 1)
        inter = np.full(n, full, dtype=np.uint16)
        any_primary = np.zeros(n, dtype=np.bool_)
        override = np.zeros(n, dtype=np.uint16)
        fallback = np.zeros(n, dtype=np.uint16)
        for plan, tab in live:
            mask = tab.rows()
            known = mask != 0
            if plan.src.role == "primary":
                inter &= np.where(known, mask, full)
                any_primary |= known
            elif plan.src.role == "override":
                override = np.where(override != 0, override, mask)
            else:
                fallback = np.where(fallback != 0, fallback, mask)
        conflict = any_primary & (inter == 0)
        if conflict.any():
            errors.append(conflict)
            if sink is not None:
                self._report_conflicts(batch, conflict, live, sink)
        primary = np.where(any_primary, inter, np.uint16(0))
        primary_single = self.single.take(primary)
        final = np.where(override != 0, override,
                         np.where(primary_single | (fallback == 0), primary, fallback))
        return _Tabulated(None, final, None)

    def _report_conflicts(self, batch: _Batch, conflict: BoolArray,
                          live: list[tuple[_SourcePlan, _Tabulated]], sink: ProblemSink) -> None:
        """Each primary input read on a row where the primaries leave no option possible."""
        for plan, tab in live:
            if plan.src.role != "primary":
                continue
            masks = tab.rows()
            rows = np.flatnonzero(conflict & (masks != 0))
            if not len(rows):
                continue
            found, which = np.unique(masks.take(rows), return_inverse=True)
            column = column_for(plan.slug, plan.src.input or self.comp.name)
            sink.add(rows, which, [(column, _disagreement(self.comp, int(m)), None)
                                   for m in found.tolist()])
            if column not in batch.cols:  # labs: the evaluator shows the values it read
                for row in rows.tolist():
                    read = {name: batch.cols[c].value_at(row)
                            for name, c in zip(plan.inputs, plan.columns, strict=True)}
                    sink.shown[row, column] = cell_text(
                        {k: v for k, v in read.items() if v is not ABSENT})


@dataclass
class _ScorePlan:
    defn: ScoreDefinition
    components: list[_ComponentPlan]
    columns: tuple[str, ...]
    band_ids: tuple[str, ...]
    band_labels: pa.Array
    band_of_total: npt.NDArray[np.int8]  # points scores: index by total - low + 1 (0: < low)
    low: int
    band_of_mask: npt.NDArray[np.int8]  # scales: index by mask of the one component

    def evaluate(self, batch: _Batch, sink: ProblemSink | None = None) -> tuple[
            npt.NDArray[np.int16], npt.NDArray[np.int8], npt.NDArray[np.int8],
            BoolArray | None]:
        """(total, band index or -1, status index, error flag or None) for every row.

        A component that is not decided adds :data:`_UNDECIDED` points, so the total of an
        incomplete row is below the table's lowest total (checked at compile time) and its band
        is the -1 at index 0 of ``band_of_total``.
        """
        n = batch.n
        errors: list[BoolArray] = []
        total = np.zeros(n, dtype=np.int16)
        band = np.full(n, -1, dtype=np.int8)
        for comp in self.components:
            tab = comp.evaluate(batch, errors, sink)
            if self.defn.kind == "scale":
                lut = self.band_of_mask.take(tab.lut)
                band = lut if tab.code is None else lut.take(tab.code)
                continue
            lut16 = comp.points.take(tab.lut)
            total += lut16 if tab.code is None else lut16.take(tab.code)
        if self.defn.kind == "points":
            total -= np.int16(self.low - 1)
            band = self.band_of_total.take(total, mode="clip")
            total += np.int16(self.low - 1)
        status = (band < 0).view(np.int8)  # 0 complete, 1 incomplete
        error = np.logical_or.reduce(errors) if errors else None
        if error is not None:
            np.copyto(band, np.int8(-1), where=error)
            np.copyto(status, np.int8(2), where=error)
        return total, band, status, error


def _component_plan(defn: ScoreDefinition, comp: Component) -> _ComponentPlan:
    sources: list[_SourcePlan] = []
    for src in comp.sources:
        inputs = src.input_names()
        columns = tuple(column_for(defn.slug, name) for name in inputs)
        sources.append(_SourcePlan(defn.slug, comp, src, columns, inputs))
    size = 1 << len(comp.options)
    counts = _popcount_table(size)
    single = counts == 1
    points = np.full(size, _UNDECIDED, dtype=np.int16)
    for i, option in enumerate(comp.options):
        if (option.points or 0) < 0:
            msg = f"{defn.slug}.{comp.name}: the cohort kernel needs points >= 0"
            raise DefinitionError(msg)
        points[1 << i] = option.points or 0
    return _ComponentPlan(comp, sources, points, single)


def _score_plan(defn: ScoreDefinition) -> _ScorePlan:
    comps = [_component_plan(defn, c) for c in defn.components]
    columns = tuple(dict.fromkeys(c for cp in comps for s in cp.sources for c in s.columns))
    band_ids = tuple(b.id for b in defn.bands)
    low, high = defn.total_range
    # an incomplete total (at most high + _UNDECIDED) must fall below low, and every total,
    # shifted by low - 1 for the band lookup, must fit in int16
    lowest = len(comps) * int(_UNDECIDED) - abs(low) - 1
    if high - low >= -_UNDECIDED or lowest < np.iinfo(np.int16).min or \
            high + abs(low) + 1 > np.iinfo(np.int16).max:
        msg = f"{defn.slug}: totals out of the cohort kernel's int16 range"
        raise DefinitionError(msg)
    band_of_total = np.full(max(high - low + 2, 1), -1, dtype=np.int8)
    band_of_mask = np.full(1, -1, dtype=np.int8)
    if defn.kind == "points":
        for t in range(low, high + 1):
            band_of_total[t - low + 1] = band_ids.index(defn.band_for(t).id)
    else:
        (comp,) = defn.components
        band_of_mask = np.full(1 << len(comp.options), -1, dtype=np.int8)
        for i, option in enumerate(comp.options):
            band_of_mask[1 << i] = band_ids.index(option.band or "")
    return _ScorePlan(defn, comps, columns, band_ids, pa.array(band_ids, pa.string()),
                      band_of_total, low, band_of_mask)


@dataclass(frozen=True, slots=True)
class KernelOutput:
    """Scores of one batch, the problems found in it, and its rows per score and status."""

    scores: pa.RecordBatch
    problems: pa.RecordBatch
    status_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


def _with_validity(values: npt.NDArray[Any], valid: BoolArray | None, arrow_type: pa.DataType
                   ) -> pa.Array:
    """An Arrow array over a numpy buffer, null where ``valid`` is false (no per-cell copy)."""
    n = len(values)
    bitmap = None
    nulls = 0
    if valid is not None:
        nulls = n - int(np.count_nonzero(valid))
        if nulls:
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(arrow_type, n, [bitmap, pa.py_buffer(values)], nulls)


def _dictionary(indices: npt.NDArray[np.int8], labels: pa.Array, *, nullable: bool = True
                ) -> pa.DictionaryArray:
    """Dictionary array over kernel indices (-1 = null); indices are in range by construction."""
    indices = np.ascontiguousarray(indices)
    idx = _with_validity(indices, indices >= 0 if nullable else None, pa.int8())
    return pa.DictionaryArray.from_arrays(idx, labels, safe=False)


class Kernel:
    """The compiled kernel for a set of scores; call :meth:`run` on each record batch.

    Parameters
    ----------
    slugs : sequence of str
        Scores to compute (default: every computable score in the registry).
    """

    def __init__(self, slugs: Sequence[str] | None = None) -> None:
        chosen = tuple(slugs) if slugs is not None else score_slugs()
        self.plans = [_score_plan(registry()[s]) for s in chosen]
        rejections: dict[tuple[Any, ...], tuple[Problem, ...]] = {}
        for plan in self.plans:  # one memo of rejected cells for every score
            for comp in plan.components:
                for source in comp.sources:
                    source.rejections = rejections
        self.columns = cohort_columns()

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(p.defn.slug for p in self.plans)

    def output_schema(self, *, strings: bool = False) -> pa.Schema:
        """Schema of the score columns (dictionary-encoded text unless ``strings``)."""
        text = pa.string() if strings else pa.dictionary(pa.int8(), pa.string())
        fields: list[pa.Field] = []
        for plan in self.plans:
            slug = plan.defn.slug
            fields += [pa.field(f"{slug}_total", pa.int16()), pa.field(f"{slug}_band", text),
                       pa.field(f"{slug}_status", text, nullable=False)]
        return pa.schema(fields)

    def _encode(self, batch: pa.RecordBatch, names: Iterable[str]) -> dict[str, Encoded]:
        out: dict[str, Encoded] = {}
        n = batch.num_rows
        for name in names:
            spec = self.columns[name]
            index = batch.schema.get_field_index(name)
            if index < 0:
                out[name] = encode_absent(n, spec.kind)
                continue
            arr = batch.column(index)
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            value_type = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
            if pa.types.is_nested(value_type):
                raise InputError.single(
                    name, f"holds {arr.type} values, which cannot be read as a {spec.kind} "
                    "cell; write each cell as a plain value (text or a number)",
                    value=str(arr.type))
            try:
                out[name] = encode_numbers(arr) if spec.kind == "number" else encode_codes(
                    arr, spec.kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise InputError.single(
                    name, f"holds {arr.type} values that cannot be read as text ({detail}); "
                    "write each cell as plain UTF-8 text or a number", value=str(arr.type)
                ) from exc
        return out

    def run(self, batch: pa.RecordBatch, *, first_row: int = 1,
            strings: bool = False) -> KernelOutput:
        """Score every row of ``batch``.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            Cohort rows; missing score-input columns are unknown for every row.
        first_row : int
            File row number of the batch's first row (1-based, header excluded), for the sidecar.
        strings : bool
            Plain text band/status columns instead of dictionary-encoded ones.

        Returns
        -------
        KernelOutput
            One total/band/status column triple per score, and the problems sidecar rows.
        """
        needed = dict.fromkeys(c for p in self.plans for c in p.columns)
        cols = self._encode(batch, needed)
        context = _Batch(cols, batch.num_rows)
        arrays: list[pa.Array] = []
        sink = ProblemSink(batch.num_rows)
        counts: dict[str, Mapping[str, int]] = {}
        for index, plan in enumerate(self.plans):
            sink.plan = index
            total, band, status, error = plan.evaluate(context, sink)
            not_complete = int(np.count_nonzero(status))
            errors = 0 if error is None else int(np.count_nonzero(error))
            counts[plan.defn.slug] = dict(zip(STATUSES, (
                batch.num_rows - not_complete, not_complete - errors, errors), strict=True))
            if plan.defn.kind == "points":
                arrays.append(_with_validity(total, status == 0, pa.int16()))
            else:
                arrays.append(pa.nulls(len(total), pa.int16()))
            band_arr = _dictionary(band, plan.band_labels)
            status_arr = _dictionary(status, _STATUS_LABELS, nullable=False)
            if strings:
                band_arr, status_arr = band_arr.cast(pa.string()), status_arr.cast(pa.string())
            arrays += [band_arr, status_arr]
            if error is not None:
                sink.check(error)
        return KernelOutput(pa.RecordBatch.from_arrays(arrays, schema=self.output_schema(
            strings=strings)), sink.batch(first_row, cols, self.slugs), counts)


def row_inputs(slug: str, cols: Mapping[str, Encoded], row: int) -> dict[str, Any]:
    """Single-case inputs of score ``slug`` for one row of encoded columns.

    Parameters
    ----------
    slug : str
        Score slug.
    cols : Mapping[str, Codes | Numbers]
        Encoded cohort columns.
    row : int
        Row index in the batch.

    Returns
    -------
    dict
        Input name -> value as ``spinemets score`` takes it (labs as ``{"value", "unit"}``);
        unknown cells are left out.
    """
    defn = registry()[slug]
    out: dict[str, Any] = {}
    for name in defn.input_names:
        enc = cols.get(column_for(slug, name))
        if enc is None:
            continue
        value = enc.value_at(row)
        if value is ABSENT:
            continue
        if name in ANALYTES:
            value = {"value": value, "unit": ANALYTES[name].canonical_unit}
        out[name] = value
    return out


def compile_kernel(slugs: Sequence[str] | None = None) -> Kernel:
    """Compile the kernel for ``slugs`` (default: every computable score).

    Parameters
    ----------
    slugs : sequence of str, optional
        Score slugs; each must be computable (available or provisional).

    Returns
    -------
    Kernel
        The compiled kernel.
    """
    return Kernel(slugs)
