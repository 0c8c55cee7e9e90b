"""Reading one Arrow column of a cohort batch into integer codes (or numbers) for the kernel.

Every cell becomes one of: a known value, *unknown* (null, blank, ``"unknown"``) or *invalid*
(a cell that cannot be of the column's kind, e.g. ``"abc"`` in an integer column). Invalid is
never turned into unknown or zero: the kernel marks the scores that read it as ``error`` and
reports the cell in the sidecar.

The rules match the single-case readers: integers must be whole numbers (``80.0`` is invalid,
as it is for ``spinemets score``), booleans must be ``true``/``false`` (any case in text files).
Text cells of every kind are read the same way first: surrounding whitespace is removed, and a
blank cell is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from spinemets.cohort._columns import Kind

__all__ = [
    "ABSENT",
    "INVALID",
    "Codes",
    "Numbers",
    "encode_absent",
    "encode_codes",
    "encode_numbers",
]

#: Placeholder for an unknown cell (the key is left out of the single-case inputs).
ABSENT: Final = object()
#: Representative of an invalid cell when tabulating a source (fails like any invalid value).
INVALID: Final = "\x00invalid"

_INT_PATTERN = r"^[+-]?[0-9]{1,18}$"
_NUM_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_MAX_INT_RANGE = 1 << 16

IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Codes:
    """A column as codes ``0 <= code < card`` and the value each code stands for."""

    codes: IntArray
    values: tuple[Any, ...]
    raw: pa.Array
    invalid: BoolArray | None

    @property
    def card(self) -> int:
        return len(self.values)

    def value_at(self, row: int) -> Any:
        """The single-case input value of one cell (the raw cell when it is invalid)."""
        if self.invalid is not None and self.invalid[row]:
            return self.raw[row].as_py()
        return self.values[int(self.codes[row])]


@dataclass(frozen=True, slots=True)
class Numbers:
    """A numeric column: values, which are known, which are invalid.

    ``values`` may be the file's own buffer (zero-copy): where a cell is not ``known`` its value
    is unspecified and must be masked, never read.
    """

    values: FloatArray
    known: BoolArray
    invalid: BoolArray
    raw: pa.Array

    def value_at(self, row: int) -> Any:
        if self.invalid[row]:
            return self.raw[row].as_py()
        return float(self.values[row]) if self.known[row] else ABSENT


def _as_bool_array(arr: pa.Array) -> BoolArray:
    if arr.null_count:
        arr = arr.fill_null(False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _unpack(buffer: pa.Buffer, offset: int, n: int) -> npt.NDArray[np.uint8]:
    """Bits ``offset .. offset + n`` of an Arrow bitmap as 0/1 bytes."""
    return np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=offset + n,
                         bitorder="little")[offset:]


def _data(arr: pa.Array) -> npt.NDArray[Any]:
    """The value buffer of a fixed-width array, zero-copy; null cells hold unspecified values."""
    dtype = np.dtype(arr.type.to_pandas_dtype())
    buffer = arr.buffers()[1]
    if buffer is None:
        return np.zeros(len(arr), dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype, count=arr.offset + len(arr))[arr.offset:]


def _bool_values(arr: pa.Array) -> npt.NDArray[np.uint8]:
    """The value bitmap of a boolean array as 0/1 bytes; null cells hold unspecified values."""
    buffer = arr.buffers()[1]
    if buffer is None:
        return np.zeros(len(arr), dtype=np.uint8)
    return _unpack(buffer, arr.offset, len(arr))


def _valid(arr: pa.Array) -> BoolArray:
    """True where the cell is not null, read from the validity bitmap (no compute call)."""
    n = len(arr)
    if arr.null_count == 0:
        return np.ones(n, dtype=np.bool_)
    if arr.null_count == n:
        return np.zeros(n, dtype=np.bool_)
    if pa.types.is_dictionary(arr.type):
        arr = arr.indices
    bitmap = arr.buffers()[0]
    if bitmap is None:  # a type without a validity bitmap (unions...): ask Arrow
        return _as_bool_array(pc.is_valid(arr))
    return _unpack(bitmap, arr.offset, n).view(np.bool_)


def _filled(arr: pa.Array, fill: Any) -> npt.NDArray[Any]:
    """The column as numpy with nulls replaced by ``fill`` (zero-copy when there are none)."""
    if arr.null_count == 0:
        return np.asarray(arr.to_numpy(zero_copy_only=False))
    if arr.null_count == len(arr) and not pa.types.is_dictionary(arr.type):
        return np.full(len(arr), fill)
    if (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)) and \
            arr.null_count < len(arr):
        data = _data(arr)
        return np.where(_valid(arr), data, np.asarray(fill, dtype=data.dtype))
    return np.asarray(arr.fill_null(fill).to_numpy(zero_copy_only=False))


def _text_state(arr: pa.Array) -> tuple[pa.Array, BoolArray]:
    """Trimmed text and a mask of unknown cells (null, empty, ``unknown`` in any case)."""
    text = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    unknown = pc.or_kleene(pc.is_null(text), pc.is_in(pc.utf8_lower(text),
                                                      pa.array(["", "unknown"])))
    return text, _as_bool_array(unknown)


def _codes_string(arr: pa.Array) -> Codes:
    """Codes of a category column: each distinct text trimmed, blank or null unknown.

    The trimmed text goes to the single-case reader as it is (so ``"d"`` is not ``"D"`` and
    ``"unknown"`` in any case is unknown there), exactly as the other text columns are read.
    """
    if pa.types.is_dictionary(arr.type):
        dictionary = arr.dictionary.cast(pa.string())
        indices = arr.indices
    else:
        encoded = pc.dictionary_encode(arr if pa.types.is_string(arr.type)
                                       else arr.cast(pa.string()))
        dictionary, indices = encoded.dictionary, encoded.indices
    n_values = len(dictionary)
    codes = np.asarray(_filled(indices, n_values), dtype=np.int32)
    values = (*(text or ABSENT
                for text in pc.utf8_trim_whitespace(dictionary).to_pylist()), ABSENT)
    return Codes(codes, values, arr, None)


def _int_values(arr: pa.Array) -> tuple[npt.NDArray[np.int64], BoolArray, BoolArray]:
    """(values, known, invalid) of an integer column of a non-integer Arrow type (text...)."""
    n = len(arr)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or \
            pa.types.is_dictionary(arr.type):
        text, unknown = _text_state(arr)
        ok = _as_bool_array(pc.match_substring_regex(text, _INT_PATTERN))
        parsed = pc.cast(pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string())), pa.int64())
        values = parsed.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return values, ok, ~ok & ~unknown
    known = np.zeros(n, dtype=np.bool_)
    invalid = _valid(arr)  # floats, booleans...: not whole numbers
    return np.zeros(n, dtype=np.int64), known, invalid


def _all_unknown(raw: pa.Array) -> Codes:
    """Codes of a column with no known cell: one code, ``ABSENT``."""
    return Codes(np.zeros(len(raw), dtype=np.int32), (ABSENT,), raw, None)


def _with_special(raw: pa.Array, codes: IntArray, domain: tuple[Any, ...],
                  known: BoolArray | None, invalid: BoolArray | None) -> Codes:
    """Codes for ``domain`` plus ``ABSENT`` where not ``known`` and ``INVALID`` where invalid.

    ``INVALID`` is a code only when some cell is invalid, so a batch without bad cells never
    tabulates an error.
    """
    values: tuple[Any, ...] = (*domain, ABSENT)
    if known is not None:
        np.copyto(codes, len(domain), where=~known)
    if invalid is not None and invalid.any():
        np.copyto(codes, len(values), where=invalid)
        return Codes(codes, (*values, INVALID), raw, invalid)
    return Codes(codes, values, raw, None)


def _integer_typed(arr: pa.Array) -> Codes:
    """Codes of an Arrow integer column (no cell can be invalid)."""
    n = len(arr)
    if arr.null_count == n:
        return _all_unknown(arr)
    bounds = pc.min_max(arr)
    low, high = int(bounds["min"].as_py()), int(bounds["max"].as_py())
    known = _valid(arr) if arr.null_count else None
    if high - low + 1 <= _MAX_INT_RANGE:
        codes = np.empty(n, dtype=np.int32)
        with np.errstate(over="ignore"):  # null cells may hold anything; overwritten below
            np.subtract(_data(arr), low, out=codes, casting="unsafe")
        return _with_special(arr, codes, tuple(range(low, high + 1)), known, None)
    return _integer_unique(arr, _filled(arr, low).astype(np.int64), known, None)


def _integer_unique(raw: pa.Array, values: npt.NDArray[np.int64], known: BoolArray | None,
                    invalid: BoolArray | None) -> Codes:
    """Codes of integers spread too wide for a dense domain: one code per distinct value."""
    chosen = values if known is None else values[known]
    uniq, inverse = np.unique(chosen, return_inverse=True)
    codes = np.zeros(len(values), dtype=np.int32)
    if known is None:
        codes[:] = inverse
    else:
        codes[known] = inverse
    return _with_special(raw, codes, tuple(int(v) for v in uniq), known, invalid)


def _codes_integer(arr: pa.Array) -> Codes:
    if pa.types.is_integer(arr.type):
        return _integer_typed(arr)
    values, known, invalid = _int_values(arr)
    if not known.any():
        return _with_special(arr, np.zeros(len(values), dtype=np.int32), (), known, invalid)
    low, high = int(values[known].min()), int(values[known].max())
    if high - low + 1 > _MAX_INT_RANGE:
        return _integer_unique(arr, values, known, invalid)
    codes = (values - low).astype(np.int32)
    return _with_special(arr, codes, tuple(range(low, high + 1)), known, invalid)


def _codes_boolean(arr: pa.Array) -> Codes:
    n = len(arr)
    if pa.types.is_boolean(arr.type):
        if arr.null_count == n:
            return _all_unknown(arr)
        codes = _bool_values(arr).astype(np.int32)
        return _with_special(arr, codes, (False, True),
                             _valid(arr) if arr.null_count else None, None)
    codes = np.zeros(n, dtype=np.int32)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or \
            pa.types.is_dictionary(arr.type):
        text, unknown = _text_state(arr)
        lower = pc.utf8_lower(text)
        is_true = _as_bool_array(pc.equal(lower, "true"))
        is_false = _as_bool_array(pc.equal(lower, "false"))
        codes[is_true] = 1
        known = is_true | is_false
        invalid = ~(known | unknown)
    else:  # numbers and other types are never booleans
        known = np.zeros(n, dtype=np.bool_)
        invalid = _valid(arr)
    return _with_special(arr, codes, (False, True), known, invalid)


def encode_codes(arr: pa.Array, kind: Kind) -> Codes:
    """Codes of a ``string``, ``integer`` or ``boolean`` cohort column.

    Parameters
    ----------
    arr : pyarrow.Array
        The column as read (any Arrow type; text is parsed, other types must match the kind).
    kind : {"string", "integer", "boolean"}
        The column's kind in the cohort schema.

    Returns
    -------
    Codes
        Codes and the value of each code (``ABSENT`` for unknown, ``INVALID`` for invalid).
    """
    if kind == "string":
        return _codes_string(arr)
    if kind == "integer":
        return _codes_integer(arr)
    return _codes_boolean(arr)


def encode_numbers(arr: pa.Array) -> Numbers:
    """Values of a numeric (laboratory) column; text is parsed, booleans are invalid.

    Parameters
    ----------
    arr : pyarrow.Array
        The column as read.

    Returns
    -------
    Numbers
        Values with known and invalid masks (NaN counts as known: the single-case reader
        rejects it as not finite, and so does the kernel).
    """
    n = len(arr)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or \
            pa.types.is_decimal(arr.type):
        floats = arr if pa.types.is_float64(arr.type) else arr.cast(pa.float64())
        return Numbers(_data(floats), _valid(arr), np.zeros(n, np.bool_), arr)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or \
            pa.types.is_dictionary(arr.type):
        text, unknown = _text_state(arr)
        ok = _as_bool_array(pc.match_substring_regex(text, _NUM_PATTERN))
        parsed = pc.cast(pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string())),
                         pa.float64())
        values = parsed.fill_null(0.0).to_numpy(zero_copy_only=False)
        return Numbers(np.asarray(values, dtype=np.float64), ok, ~ok & ~unknown, arr)
    return Numbers(np.zeros(n), np.zeros(n, np.bool_), _valid(arr), arr)


def encode_absent(n: int, kind: Kind) -> Codes | Numbers:
    """A column missing from the file: every one of its ``n`` cells is unknown.

    Parameters
    ----------
    n : int
        Rows in the batch.
    kind : {"string", "integer", "boolean", "number"}
        The column's kind in the cohort schema.

    Returns
    -------
    Codes or Numbers
        Numbers with nothing known for a numeric column, otherwise one code (``ABSENT``).
    """
    raw = pa.nulls(n, pa.string())
    if kind == "number":
        return Numbers(np.zeros(n), np.zeros(n, np.bool_), np.zeros(n, np.bool_), raw)
    return _all_unknown(raw)
