"""Streaming cohort readers and writers: CSV, Parquet and JSON Lines in; Parquet or CSV out.

Readers yield record batches of bounded size, so memory does not grow with the file. Score-input
columns of text files are read as text and parsed by the kernel (a bad cell is reported, never
dropped); other columns keep the types the reader infers (from the first block for CSV). A file
the reader cannot read (damaged, empty, not UTF-8), when it is opened or at any batch, raises one
:class:`InputError` naming the file, the row reached and what to do (``_files.read_failure``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spinemets.cohort._columns import cohort_columns
from spinemets.cohort._files import located, read_failure
from spinemets.errors import InputError

__all__ = ["BatchSource", "BatchWriter", "file_format", "open_source"]

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
            ".ndjson": "jsonl"}


def file_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from the file name.

    Parameters
    ----------
    path : Path
        A file name ending in ``.csv``, ``.parquet``/``.pq`` or ``.jsonl``/``.ndjson``.

    Returns
    -------
    str
        The format name.

    Raises
    ------
    InputError
        The extension is not one of those.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError.single("path", f"cannot tell the format of {path.name}",
                                value=str(path), allowed=tuple(_FORMATS))
    return fmt


@dataclass
class BatchSource:
    """An open input file: its batches and, when known, its row count."""

    batches: Iterator[pa.RecordBatch]
    rows: int | None
    size_bytes: int
    names: list[str] | None = None
    metadata: dict[bytes, bytes] | None = None
    schema: pa.Schema | None = None  # of every batch, when known before reading (Parquet)


def _parquet(path: Path, batch_size: int) -> BatchSource:
    schema = pq.read_schema(path)
    text_columns = [n for n, c in cohort_columns().items()
                    if c.kind == "string" and schema.get_field_index(n) >= 0
                    and pa.types.is_string(schema.field(n).type)]
    handle = pq.ParquetFile(path, read_dictionary=text_columns, buffer_size=1 << 22,
                            pre_buffer=False)
    batches = handle.iter_batches(batch_size=batch_size, use_threads=False)
    return BatchSource(batches, handle.metadata.num_rows, path.stat().st_size, schema.names,
                       schema.metadata, handle.schema_arrow)


#: CSV cells read as empty (unknown): pyarrow's default null markers, pinned here so that what
#: counts as missing is documented (docs/cohort.md) and does not change with pyarrow. Other
#: formats carry typed nulls; their text cells follow the one text rule in ``_encode``.
CSV_MISSING: tuple[str, ...] = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")


def _csv(path: Path, batch_size: int) -> BatchSource:
    header = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
    names = header.schema.names
    header.close()
    types = {n: pa.string() for n in names if n in cohort_columns()}
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=max(1 << 20, batch_size * 64)),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                             null_values=list(CSV_MISSING)))
    return BatchSource(iter(reader), None, path.stat().st_size, names)


def _jsonl_batch(records: list[dict[str, Any]], names: list[str]) -> pa.RecordBatch:
    arrays: list[pa.Array] = []
    for name in names:
        cells = [r.get(name) for r in records]
        if name in cohort_columns():
            arrays.append(pa.array([None if c is None else
                                    (json.dumps(c) if isinstance(c, bool | dict | list)
                                     else str(c)) for c in cells], pa.string()))
            continue
        try:
            arrays.append(pa.array(cells))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if c is None else str(c) for c in cells], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _jsonl(path: Path, batch_size: int) -> BatchSource:
    def batches() -> Iterator[pa.RecordBatch]:
        records: list[dict[str, Any]] = []
        names: dict[str, None] = {}
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError.single("line", f"not valid JSON: {exc.msg}",
                                            value=number) from exc
                if not isinstance(record, dict):
                    raise InputError.single("line", "each line must be a JSON object",
                                            value=number)
                names.update(dict.fromkeys(record))
                records.append(record)
                if len(records) == batch_size:
                    yield _jsonl_batch(records, list(names))
                    records = []
        if records:
            yield _jsonl_batch(records, list(names))

    return BatchSource(batches(), None, path.stat().st_size)


def _guarded(path: Path, fmt: str, batches: Iterator[pa.RecordBatch]
             ) -> Iterator[pa.RecordBatch]:
    """The batches, with a read failure at any of them turned into one clean error."""
    rows = 0
    try:
        for batch in batches:
            yield batch
            rows += batch.num_rows
    except InputError as exc:
        raise located(exc, path) from exc
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as exc:
        raise read_failure(path, fmt, exc, rows_read=rows) from exc


def open_source(path: Path, *, batch_size: int = 1 << 16) -> BatchSource:
    """Open a cohort file for streaming.

    Parameters
    ----------
    path : Path
        CSV, Parquet or JSON Lines file.
    batch_size : int
        Rows per batch (upper bound for Parquet and JSON Lines; CSV batches follow blocks).

    Returns
    -------
    BatchSource
        The batches and what is known of the size.

    Raises
    ------
    InputError
        The file cannot be read (now, or later at one of its batches), naming the file.
    """
    try:
        fmt = file_format(path)
    except InputError as exc:
        raise located(exc, path) from exc
    opener = {"parquet": _parquet, "csv": _csv, "jsonl": _jsonl}[fmt]
    try:
        source = opener(path, batch_size)
    except InputError as exc:
        raise located(exc, path) from exc
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as exc:
        raise read_failure(path, fmt, exc) from exc
    source.batches = _guarded(path, fmt, source.batches)
    return source


class BatchWriter:
    """Write record batches to Parquet or CSV (dictionary columns become text in CSV).

    Parameters
    ----------
    path : Path
        Output file (``.parquet`` or ``.csv``).
    schema : pyarrow.Schema
        Schema of every batch.
    dictionary : sequence of str, optional
        Columns to dictionary-encode in Parquet besides text and dictionary columns (the score
        columns, which take few values). Other numbers (identifiers, survival times) are mostly
        distinct, so hashing them for a dictionary would be wasted work. Default: every column.
    uncompressed : sequence of str
        Columns written without LZ4 (the dictionary-encoded score columns, already a few bits
        per row, for which compression costs more time than it saves space).
    fmt : {"parquet", "csv"}, optional
        Format, when ``path`` is a temporary file whose name does not tell it.
    """

    def __init__(self, path: Path, schema: pa.Schema, *,
                 dictionary: Sequence[str] | None = None, uncompressed: Sequence[str] = (),
                 fmt: str | None = None) -> None:
        fmt = fmt or file_format(path)
        if fmt == "jsonl":
            raise InputError.single("out", "output must be Parquet or CSV", value=str(path),
                                    allowed=(".parquet", ".csv"))
        self.format = fmt
        if fmt == "parquet":
            self.schema = schema
            encode: bool | list[str] = True
            if dictionary is not None:
                chosen = set(dictionary)
                encode = [f.name for f in schema
                          if f.name in chosen or pa.types.is_dictionary(f.type)
                          or pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
            plain = set(uncompressed)
            codec = {f.name: "none" if f.name in plain else "lz4" for f in schema}
            self._parquet: pq.ParquetWriter | None = pq.ParquetWriter(
                path, schema, compression=codec, write_statistics=False, use_dictionary=encode,
                write_batch_size=1 << 16)
            self._csv: pacsv.CSVWriter | None = None
        else:
            self.schema = pa.schema([f.with_type(f.type.value_type)
                                     if pa.types.is_dictionary(f.type) else f for f in schema])
            self._parquet = None
            self._csv = pacsv.CSVWriter(path, self.schema)

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one batch."""
        if self._parquet is not None:
            self._parquet.write_batch(batch)
            return
        assert self._csv is not None
        self._csv.write_batch(batch.cast(self.schema))

    def write_many(self, batches: Sequence[pa.RecordBatch]) -> None:
        """Append consecutive batches; in Parquet they make one row group."""
        if self._parquet is not None:
            self._parquet.write_table(pa.Table.from_batches(batches, schema=self.schema),
                                      row_group_size=sum(b.num_rows for b in batches) or None)
            return
        for batch in batches:
            self.write(batch)

    def close(self) -> None:
        """Finish the file."""
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
