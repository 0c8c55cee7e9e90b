"""The local engine: stream a cohort file through the kernel on every core; write scores, sidecar.

Batches are read in order by a reader thread, which hands each to a pool of scoring threads
(numpy and Arrow release the GIL in their loops, so the threads run in parallel); the calling
thread writes the results in order. At most about ``2 * workers`` batches are in flight, so
memory is bounded by the batch size, not the file size.

On two cores the Parquet writer (one thread inside Arrow) is the critical path, so the reader
and scoring threads run at a lower priority (Linux) and fill the cores around it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from spinemets.cohort._columns import cohort_columns, present_scores
from spinemets.cohort._files import (
    check_source,
    check_targets,
    located,
    replacing,
    write_failure,
)
from spinemets.cohort._io import _FORMATS, BatchSource, BatchWriter, open_source
from spinemets.cohort._kernel import PROBLEM_SCHEMA, STATUSES, Kernel, KernelOutput
from spinemets.errors import InputError, ProblemDetail

__all__ = ["Keep", "ScoreSummary", "add_statuses", "score_file", "sidecar_path"]

Keep = Literal["extra", "all", "none"]
T = TypeVar("T")


def add_statuses(into: dict[str, dict[str, int]], counts: Mapping[str, Mapping[str, int]]
                 ) -> None:
    """Add rows per score and status (a scored batch's, a partition's) to ``into``."""
    for slug, by_status in counts.items():
        total = into.setdefault(slug, dict.fromkeys(STATUSES, 0))
        for status, n in by_status.items():
            total[status] += n


@dataclass
class ScoreSummary:
    """What a scoring run did: counts per score and status, problems, speed."""

    engine: str
    input: str
    output: str
    problems_file: str
    rows: int = 0
    rows_with_problems: int = 0
    problems: int = 0
    status_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "engine": self.engine, "input": self.input, "output": self.output,
            "problems_file": self.problems_file, "rows": self.rows,
            "rows_with_problems": self.rows_with_problems, "problems": self.problems,
            "status_counts": self.status_counts, "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
        }

    def add_statuses(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Add the rows per score and status of one scored batch."""
        add_statuses(self.status_counts, counts)

    def add_problems(self, problems: pa.RecordBatch) -> None:
        """Add the problems of one batch (rows never span batches)."""
        self.problems += problems.num_rows
        if problems.num_rows:
            rows = problems.column(0).to_numpy()  # in row order (ProblemSink.batch)
            self.rows_with_problems += 1 + int(np.count_nonzero(rows[1:] != rows[:-1]))


def sidecar_path(out: Path) -> Path:
    """Default problems file next to the output: ``scores.parquet`` -> ``scores.problems.csv``."""
    return out.with_name(out.stem + ".problems.csv")


def _keep_columns(schema: pa.Schema, keep: Keep, out_names: set[str]) -> list[str]:
    if keep == "none":
        return []
    inputs = cohort_columns()
    return [n for n in schema.names if n not in out_names and (keep == "all" or n not in inputs)]


def _progress(total: int | None, enabled: bool) -> tuple[Callable[[int], None],
                                                         Callable[[], None]]:
    if not enabled or not sys.stderr.isatty():
        return (lambda _n: None), (lambda: None)
    from rich.progress import Progress  # noqa: PLC0415  (terminal only)

    bar = Progress(transient=True)
    task = bar.add_task("scoring", total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


#: Niceness added to the reader and scoring threads (Linux): the writer, which encodes the output
#: file on one thread, is the critical path; the others fill the cores around it. +3 (CFS weight
#: about half the writer's), not more: at +10 the reader starves while the writer waits for it at
#: the start, or when another process takes the second core (1M rows, 50 interleaved runs each:
#: median 0.37 s at +3, 0.39-0.40 s at 0, +1 and +10; 10M rows: no difference).
_HELPER_NICENESS = 3


def _lower_priority() -> None:
    """Run the calling thread at a lower priority than the writer (Linux; no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid)
                                                 + _HELPER_NICENESS))
    except OSError:  # not permitted in some sandboxes: run at normal priority
        return


_END = object()  # the reader has no more items


class _Prefetch(Generic[T]):
    """Run ``source`` in a background thread, at most ``depth`` items ahead of the consumer.

    Use as a context manager; :meth:`get` blocks for the next item, :meth:`peek_ready` returns it
    only if it is already there. Both return ``_END`` after the last item and re-raise an
    exception of the source.
    """

    def __init__(self, source: Iterator[T], depth: int) -> None:
        self._buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._source = source
        self._held: Any = None
        self._thread = threading.Thread(target=self._pump, name="cohort-reader", daemon=True)

    def _pump(self) -> None:
        _lower_priority()
        try:
            for item in self._source:
                if self._stop.is_set():
                    return
                self._buffer.put(item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._buffer.put(exc)
            return
        self._buffer.put(_END)

    def __enter__(self) -> _Prefetch[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a reader waiting on a full buffer
            try:
                self._buffer.get_nowait()
            except queue.Empty:
                self._thread.join(0.01)

    def _checked(self, item: Any) -> Any:
        if isinstance(item, BaseException):
            raise item
        return item

    def get(self) -> Any:
        """The next item (blocking), or ``_END``."""
        if self._held is not None:
            item, self._held = self._held, None
            return self._checked(item)
        return self._checked(self._buffer.get())

    def peek_ready(self) -> Any:
        """The next item if it is already read, else None (it stays next)."""
        if self._held is None:
            try:
                self._held = self._buffer.get_nowait()
            except queue.Empty:
                return None
        return self._checked(self._held)


#: Rows written as one Parquet row group at most, when scored batches are waiting.
_GROUP_ROWS = 1 << 18


@contextlib.contextmanager
def _scored(source: Iterator[pa.RecordBatch], kernel: Kernel, workers: int, path: Path
            ) -> Iterator[Iterator[list[tuple[pa.RecordBatch, KernelOutput]]]]:
    """Start reading and scoring on ``workers`` threads; give runs of scored batches in order.

    The reader thread submits each batch to the pool as soon as it is read, so scoring never
    waits on the writer; at most ``2 * workers`` scored batches wait to be written. Each run
    holds the next scored batch and those after it that are already scored (up to
    :data:`_GROUP_ROWS` rows), so the writer makes one row group of what piled up while it was
    busy. The first batch is scored in growing slices, so that writing starts early. A column
    the kernel cannot read is reported as a problem of ``path``.
    """
    def run(batch: pa.RecordBatch, first_row: int) -> KernelOutput:
        try:
            return kernel.run(batch, first_row=first_row)
        except InputError as exc:
            raise located(exc, path) from exc

    with ThreadPoolExecutor(max_workers=workers, initializer=_lower_priority) as pool:
        first_row = 1

        def submit(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, Future[KernelOutput]]:
            nonlocal first_row
            future = pool.submit(run, batch, first_row)
            if first_row == 1:  # the first slice fills the kernel's tables: let it run alone
                wait([future])
            first_row += batch.num_rows
            return batch, future

        with _Prefetch(map(submit, _ramp(source)), 2 * workers) as scored:
            yield _runs(scored)


def _runs(scored: _Prefetch[tuple[pa.RecordBatch, Future[KernelOutput]]]
          ) -> Iterator[list[tuple[pa.RecordBatch, KernelOutput]]]:
    """Runs of scored batches: the next one (waiting for it) and those already scored after it."""
    item = scored.get()
    while item is not _END:
        run: list[tuple[pa.RecordBatch, KernelOutput]] = []
        rows = 0
        while item is not _END:
            batch, future = item
            run.append((batch, future.result()))
            rows += batch.num_rows
            item = scored.peek_ready()
            if item is None or item is _END or rows >= _GROUP_ROWS or not item[1].done():
                break
            item = scored.get()
        yield run
        if item is not _END:
            item = scored.get()


def _ramp(source: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches of ``source``, the first one cut into slices of 1/8, 1/4 and 5/8."""
    first = next(source, None)
    if first is None:
        return
    n = first.num_rows
    cuts = sorted({0, n // 8, n // 8 + n // 4, n})
    for start, stop in itertools.pairwise(cuts):
        yield first.slice(start, stop - start)
    yield from source


def score_file(
    source_path: Path,
    out: Path,
    *,
    problems_path: Path | None = None,
    slugs: Sequence[str] | None = None,
    keep: Keep = "extra",
    workers: int | None = None,
    batch_size: int = 1 << 16,
    progress: bool = True,
) -> ScoreSummary:
    """Score every row of a cohort file with the local engine.

    Parameters
    ----------
    source_path : Path
        CSV, Parquet or JSON Lines cohort file.
    out : Path
        Parquet or CSV output: kept input columns then ``<slug>_total``, ``<slug>_band``,
        ``<slug>_status`` for each score.
    problems_path : Path, optional
        Sidecar CSV of bad cells (row, field, value, reason, allowed, scores); default
        :func:`sidecar_path`.
    slugs : sequence of str, optional
        Scores to compute; default every computable score.
    keep : {"extra", "all", "none"}
        Input columns copied to the output: those that are not score inputs (identifiers,
        survival), all of them, or none.
    workers : int, optional
        Scoring threads; default the number of cores.
    batch_size : int
        Rows per batch.
    progress : bool
        Show a progress bar when standard error is a terminal.

    Returns
    -------
    ScoreSummary
        Counts and timing.

    Raises
    ------
    InputError
        One line naming the file (and the column or row where known) and what to do: the input
        is missing, a directory, damaged, empty or not UTF-8; a column cannot be read as text;
        an output is the input or the other output, a directory, in a missing or read-only
        directory, or cannot be written. Checked before reading where possible; the outputs are
        written to temporary files renamed into place only when the run succeeds, so a failed
        run leaves no output and never touches an existing file of the same name.
    """
    started = time.perf_counter()
    problems_path = problems_path or sidecar_path(out)
    out_format = prepare_outputs(source_path, out, problems_path)
    src = open_source(source_path, batch_size=batch_size)
    if slugs is None and src.names is not None:
        slugs = present_scores(src.names)
    kernel = Kernel(slugs)
    summary = ScoreSummary("local", str(source_path), str(out), str(problems_path))
    with replacing(out) as partial_out, replacing(problems_path) as partial_problems:
        _score_into(src, kernel, summary, _Targets(out, partial_out, out_format,
                                                   partial_problems),
                    keep=keep, workers=workers or os.cpu_count() or 1, progress=progress)
    summary.seconds = time.perf_counter() - started
    return summary


def prepare_outputs(source_path: Path, out: Path, problems_path: Path) -> str:
    """Check the input and both outputs before anything is read; the output's format.

    Raises
    ------
    InputError
        The input is missing or a directory; an output is not ``.parquet``/``.csv``, is the
        input or the other output, is a directory, or its directory is missing or read-only.
    """
    check_source(source_path)
    check_targets([source_path], [("--out", out), ("--problems", problems_path)])
    out_format = _FORMATS.get(out.suffix.lower())
    if out_format not in {"parquet", "csv"}:
        raise InputError([ProblemDetail("--out", f"{out}: the scored output is written as "
                                        "Parquet or CSV; name it .parquet or .csv")])
    return out_format


@dataclass(frozen=True)
class _Targets:
    """Where a run writes: the output (its temporary file until the end) and the sidecar."""

    out: Path
    partial_out: Path
    out_format: str
    partial_problems: Path


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failure to write ``path`` (disk full, a type the format lacks) into one line."""
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        raise write_failure(path, exc) from exc


def _nested(schema: pa.Schema, names: Sequence[str]) -> str | None:
    for name in names:
        kind = schema.field(name).type
        if pa.types.is_nested(kind.value_type if pa.types.is_dictionary(kind) else kind):
            return f"column {name} holds {kind} values, which CSV cannot store"
    return None


def _score_into(src: BatchSource, kernel: Kernel, summary: ScoreSummary, targets: _Targets, *,
                keep: Keep, workers: int, progress: bool) -> None:
    """Stream ``src`` through ``kernel`` into the (temporary) output and sidecar files."""
    advance, stop = _progress(src.rows, progress)
    out_schema = kernel.output_schema()
    writer: BatchWriter | None = None
    kept: list[str] = []

    def open_writer(batches: pa.Schema) -> tuple[BatchWriter, pa.Schema]:
        nonlocal kept
        kept = _keep_columns(batches, keep, set(out_schema.names))
        nested = _nested(batches, kept) if targets.out_format == "csv" else None
        if nested:
            raise InputError([ProblemDetail("--out", f"{targets.out}: {nested}; write "
                                            "Parquet (--out <name>.parquet) or leave it out "
                                            "with --keep none")])
        schema = pa.schema([batches.field(n) for n in kept] + list(out_schema),
                           metadata=src.metadata)
        with _writing(targets.out):
            return BatchWriter(targets.partial_out, schema, dictionary=out_schema.names,
                               uncompressed=out_schema.names, fmt=targets.out_format), schema

    sidecar = pacsv.CSVWriter(targets.partial_problems, PROBLEM_SCHEMA)
    try:
        with _scored(src.batches, kernel, workers, Path(summary.input)) as runs:
            if src.schema is not None:  # open the output while the first batch is read
                writer, schema = open_writer(src.schema)
            for run in runs:
                if writer is None:
                    writer, schema = open_writer(run[0][0].schema)
                with _writing(targets.out):
                    writer.write_many([
                        pa.RecordBatch.from_arrays(
                            [batch.column(batch.schema.get_field_index(n)) for n in kept]
                            + result.scores.columns, schema=schema)
                        for batch, result in run])
                for batch, result in run:
                    with _writing(Path(summary.problems_file)):
                        sidecar.write_batch(result.problems)
                    summary.rows += batch.num_rows
                    summary.add_statuses(result.status_counts)
                    summary.add_problems(result.problems)
                    advance(batch.num_rows)
    finally:
        stop()
        sidecar.close()
        if writer is not None:
            writer.close()
    if writer is None:  # empty input: still write an empty, well-formed output
        with _writing(targets.out):
            BatchWriter(targets.partial_out, out_schema, fmt=targets.out_format).close()
