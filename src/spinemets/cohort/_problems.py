"""The problems sidecar of one batch, gathered from the kernel's vectorised pass.

Each source of each score reports its bad rows as arrays: the rows, and for each row which
problem (field, reason, allowed values) it has. The reason is worked out once per distinct value
(by the single-case reader, so it is the text ``spinemets score`` gives), never once per row.
:class:`ProblemSink` then merges the reports of every score into one sidecar line per row, field
and problem (the scores that share it listed together), in row order, and reads the cell as it
is in the file from the batch (``value``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["PROBLEM_SCHEMA", "Problem", "ProblemSink"]

PROBLEM_SCHEMA = pa.schema([
    pa.field("row", pa.int64(), nullable=False),
    pa.field("field", pa.string(), nullable=False),
    pa.field("value", pa.string()),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("allowed", pa.string()),
    pa.field("scores", pa.string(), nullable=False),
])

#: One kind of sidecar line: (field: the cohort column, reason, allowed values or None).
Problem = tuple[str, str, str | None]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_INTERNAL = ("*", "internal: the vectorised path flagged an error that the single-case path "
             "does not reproduce", None)


class _HasRaw(Protocol):
    @property
    def raw(self) -> pa.Array: ...


def cell_text(value: Any) -> str | None:
    """A cell as the sidecar shows it (booleans ``true``/``false``, the rest ``str``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _texts(raw: pa.Array, rows: IntArray) -> pa.Array:
    """The cells ``rows`` of ``raw`` as the sidecar shows them (:func:`cell_text`)."""
    cells = raw.take(pa.array(rows))
    kind = cells.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return cells.cast(pa.string())
        cells = cells.cast(kind)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
        return cells.cast(pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(cells, "true", "false")
    return pa.array([cell_text(v) for v in cells.to_pylist()], pa.string())


class ProblemSink:
    """Collects the problems of one batch; :meth:`batch` gives the sidecar rows.

    Parameters
    ----------
    n : int
        Rows in the batch.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.plan = 0  # the score now reporting (index into the kernel's plans)
        self._kinds: dict[Problem, int] = {}
        self._rows: list[IntArray] = []
        self._which: list[npt.NDArray[np.int32]] = []
        self._plans: list[int] = []
        #: value shown for (row, field) when the field is not a column of the batch
        self.shown: dict[tuple[int, str], str | None] = {}

    def kind(self, problem: Problem) -> int:
        """The number of a kind of problem in this batch (for :meth:`add_kinds`)."""
        return self._kinds.setdefault(problem, len(self._kinds))

    def add_kinds(self, rows: IntArray, kinds: npt.NDArray[np.int32]) -> None:
        """Report problem kind ``kinds[i]`` (from :meth:`kind`) at batch row ``rows[i]``."""
        if not len(rows):
            return
        self._rows.append(np.asarray(rows, dtype=np.int64))
        self._which.append(np.asarray(kinds, dtype=np.int32))
        self._plans.append(self.plan)

    def add(self, rows: IntArray, which: npt.NDArray[np.intp] | None,
            problems: Sequence[Problem]) -> None:
        """Report ``problems[which[i]]`` at batch row ``rows[i]`` (``which`` None: all 0)."""
        if not len(rows):
            return
        ids = np.array([self.kind(p) for p in problems], dtype=np.int32)
        self.add_kinds(rows, np.full(len(rows), ids[0], np.int32) if which is None
                       else ids.take(which))

    def check(self, error: BoolArray) -> None:
        """Report an internal error on rows flagged ``error`` by the current score but not
        explained by any problem (the property tests keep this from happening)."""
        covered = np.zeros(self.n, dtype=np.bool_)
        for rows, plan in zip(self._rows, self._plans, strict=True):
            if plan == self.plan:
                covered[rows] = True
        unexplained = np.flatnonzero(error & ~covered)
        self.add(unexplained, None, [_INTERNAL])

    def batch(self, first_row: int, cols: Mapping[str, _HasRaw], slugs: Sequence[str]
              ) -> pa.RecordBatch:
        """The sidecar rows: one per row and problem, in row, field and reason order.

        Parameters
        ----------
        first_row : int
            File row number of the batch's first row.
        cols : Mapping
            The batch's encoded columns (``raw`` is the column as read).
        slugs : sequence of str
            Score slugs by plan index.
        """
        if not self._rows:
            return pa.RecordBatch.from_pylist([], schema=PROBLEM_SCHEMA)
        kinds = list(self._kinds)
        rank = np.empty(len(kinds), dtype=np.int64)
        rank[sorted(range(len(kinds)), key=lambda k: (
            kinds[k][0], kinds[k][1], kinds[k][2] is not None, kinds[k][2] or ""))] = \
            np.arange(len(kinds))
        rows = np.concatenate(self._rows)
        which = np.concatenate(self._which)
        bits = np.left_shift(1, np.repeat(np.array(self._plans, dtype=np.int64),
                                          [len(r) for r in self._rows]))
        # one sort key, row then kind rank (a line's scores are OR-ed, so ties may go any way)
        key = rows * len(kinds) + rank.take(which)
        order = np.argsort(key)
        key, rows, which, bits = key[order], rows[order], which[order], bits[order]
        start = np.ones(len(rows), dtype=np.bool_)
        np.not_equal(key[1:], key[:-1], out=start[1:])
        starts = np.flatnonzero(start)
        rows, which = rows[starts], which[starts]
        bits = np.bitwise_or.reduceat(bits, starts)
        masks, mask_index = np.unique(bits, return_inverse=True)
        scores = pa.array([",".join(s for i, s in enumerate(slugs) if int(m) >> i & 1)
                           for m in masks.tolist()], pa.string()).take(pa.array(mask_index))
        fields = pa.array([k[0] for k in kinds], pa.string())
        return pa.RecordBatch.from_arrays([
            pa.array(rows + first_row, pa.int64()),
            fields.take(pa.array(which)),
            self._values(rows, which, kinds, cols),
            pa.array([k[1] for k in kinds], pa.string()).take(pa.array(which)),
            pa.array([k[2] for k in kinds], pa.string()).take(pa.array(which)),
            scores,
        ], schema=PROBLEM_SCHEMA)

    def _values(self, rows: IntArray, which: npt.NDArray[np.int32], kinds: list[Problem],
                cols: Mapping[str, _HasRaw]) -> pa.Array:
        """The cell of each line as in the file (its field's column at its row)."""
        names = list(dict.fromkeys(k[0] for k in kinds))
        number = {name: i for i, name in enumerate(names)}
        field_of = np.array([number[k[0]] for k in kinds], dtype=np.int32).take(which)
        by_field = np.argsort(field_of, kind="stable")
        chunks: list[pa.Array] = []
        sorted_fields = field_of[by_field]
        bounds = np.flatnonzero(np.r_[True, sorted_fields[1:] != sorted_fields[:-1], True])
        for lo, hi in itertools.pairwise(bounds.tolist()):
            name = names[int(sorted_fields[lo])]
            at = rows[by_field[lo:hi]]
            enc = cols.get(name)
            if enc is not None:
                chunks.append(_texts(enc.raw, at))
            else:
                chunks.append(pa.array([self.shown.get((int(r), name)) for r in at.tolist()],
                                       pa.string()))
        inverse = np.empty(len(rows), dtype=np.int64)
        inverse[by_field] = np.arange(len(rows))
        return pa.concat_arrays(chunks).take(pa.array(inverse))
