"""The local engine: stream a cohort file through the kernel on every core; write scores, sidecar.

Batches are read in order, scored in a thread pool (numpy and Arrow release the GIL in their
loops, so the threads run in parallel), and written in order; at most ``2 * workers`` batches
are in flight, so memory is bounded by the batch size, not the file size.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from spinemets.cohort._columns import cohort_columns, present_scores
from spinemets.cohort._io import BatchWriter, open_source
from spinemets.cohort._kernel import PROBLEM_SCHEMA, STATUSES, Kernel, KernelOutput

__all__ = ["Keep", "ScoreSummary", "score_file", "sidecar_path"]

Keep = Literal["extra", "all", "none"]


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

    def add_statuses(self, scores: pa.RecordBatch, slugs: Sequence[str]) -> None:
        """Add the status counts of one scored batch."""
        for slug in slugs:
            column = scores.column(scores.schema.get_field_index(f"{slug}_status"))
            counts = self.status_counts.setdefault(slug, dict.fromkeys(STATUSES, 0))
            if isinstance(column, pa.DictionaryArray):
                labels = column.dictionary.to_pylist()
                tally = np.bincount(column.indices.to_numpy(zero_copy_only=False),
                                    minlength=len(labels))
                for label, n in zip(labels, tally.tolist(), strict=True):
                    counts[label] += n
            else:
                for item in column.value_counts().to_pylist():
                    counts[item["values"]] += item["counts"]

    def add_problems(self, problems: pa.RecordBatch) -> None:
        """Add the problems of one batch (rows never span batches)."""
        self.problems += problems.num_rows
        self.rows_with_problems += len(set(problems.column(0).to_pylist()))


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


def _prefetch(source: Iterator[pa.RecordBatch], depth: int) -> Iterator[pa.RecordBatch]:
    """Read batches in a background thread (Arrow decodes without the GIL)."""
    buffer: queue.Queue[pa.RecordBatch | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def pump() -> None:
        try:
            for batch in source:
                if stop.is_set():
                    return
                buffer.put(batch)
        except BaseException as exc:  # handed to the consumer, re-raised there
            buffer.put(exc)
            return
        buffer.put(None)

    thread = threading.Thread(target=pump, name="cohort-reader", daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def _scored(source: Iterator[pa.RecordBatch], kernel: Kernel, workers: int
            ) -> Iterator[tuple[pa.RecordBatch, KernelOutput]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[tuple[pa.RecordBatch, Future[KernelOutput]]] = deque()
        first_row = 1
        for batch in _prefetch(source, workers):
            pending.append((batch, pool.submit(kernel.run, batch, first_row=first_row)))
            first_row += batch.num_rows
            if len(pending) > workers:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()


def score_file(
    source_path: Path,
    out: Path,
    *,
    problems_path: Path | None = None,
    slugs: Sequence[str] | None = None,
    keep: Keep = "extra",
    workers: int | None = None,
    batch_size: int = 1 << 18,
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
        Sidecar CSV of bad cells (row, field, value, reason, scores); default
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
    """
    started = time.perf_counter()
    src = open_source(source_path, batch_size=batch_size)
    if slugs is None and src.names is not None:
        slugs = present_scores(src.names)
    kernel = Kernel(slugs)
    problems_path = problems_path or sidecar_path(out)
    summary = ScoreSummary("local", str(source_path), str(out), str(problems_path))
    advance, stop = _progress(src.rows, progress)
    out_schema = kernel.output_schema()
    writer: BatchWriter | None = None
    kept: list[str] = []
    sidecar = pacsv.CSVWriter(problems_path, PROBLEM_SCHEMA)
    try:
        for batch, result in _scored(src.batches, kernel, workers or os.cpu_count() or 1):
            if writer is None:
                kept = _keep_columns(batch.schema, keep, set(out_schema.names))
                schema = pa.schema([batch.schema.field(n) for n in kept] + list(out_schema),
                                   metadata=src.metadata)
                writer = BatchWriter(out, schema)
            columns = [batch.column(batch.schema.get_field_index(n)) for n in kept]
            writer.write(pa.RecordBatch.from_arrays(columns + result.scores.columns,
                                                    schema=schema))
            sidecar.write_batch(result.problems)
            summary.rows += batch.num_rows
            summary.add_statuses(result.scores, kernel.slugs)
            summary.add_problems(result.problems)
            advance(batch.num_rows)
    finally:
        stop()
        sidecar.close()
        if writer is not None:
            writer.close()
    if writer is None:  # empty input: still write an empty, well-formed output
        BatchWriter(out, out_schema).close()
    summary.seconds = time.perf_counter() - started
    return summary

