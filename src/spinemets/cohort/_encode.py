"""Reading one Arrow column of a cohort batch into integer codes (or numbers) for the kernel.

Every cell becomes one of: a known value, *unknown* (null, empty, ``"unknown"``) or *invalid*
(a cell that cannot be of the column's kind, e.g. ``"abc"`` in an integer column). Invalid is
never turned into unknown or zero: the kernel marks the scores that read it as ``error`` and
reports the cell in the sidecar.

The rules match the single-case readers: integers must be whole numbers (``80.0`` is invalid,
as it is for ``spinemets score``), booleans must be ``true``/``false`` (any case in text files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from spinemets.cohort._columns import Kind

__all__ = ["ABSENT", "INVALID", "Codes", "Numbers", "encode_codes", "encode_numbers"]

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
    """A numeric column: values, which are known, which are invalid."""

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
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), count=arr.offset + n,
                         bitorder="little")
    return bits[arr.offset:].view(np.bool_)


def _filled(arr: pa.Array, fill: Any) -> npt.NDArray[Any]:
    """The column as numpy with nulls replaced by ``fill`` (zero-copy when there are none)."""
    if arr.null_count == 0:
        return np.asarray(arr.to_numpy(zero_copy_only=False))
    if arr.null_count == len(arr) and not pa.types.is_dictionary(arr.type):
        return np.full(len(arr), fill)
    if (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)) and \
            arr.null_count < len(arr):
        dtype = np.dtype(arr.type.to_pandas_dtype())
        data = np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))
        return np.where(_valid(arr), data[arr.offset:], np.asarray(fill, dtype=dtype))
    return np.asarray(arr.fill_null(fill).to_numpy(zero_copy_only=False))


def _text_state(arr: pa.Array) -> tuple[pa.Array, BoolArray]:
    """Trimmed text and a mask of unknown cells (null, empty, ``unknown`` in any case)."""
    text = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    unknown = pc.or_kleene(pc.is_null(text), pc.is_in(pc.utf8_lower(text),
                                                      pa.array(["", "unknown"])))
    return text, _as_bool_array(unknown)


def _codes_string(arr: pa.Array) -> Codes:
    if pa.types.is_dictionary(arr.type):
        dictionary = arr.dictionary.cast(pa.string())
        indices = arr.indices
    else:
        encoded = pc.dictionary_encode(arr if pa.types.is_string(arr.type)
                                       else arr.cast(pa.string()))
        dictionary, indices = encoded.dictionary, encoded.indices
    n_values = len(dictionary)
    codes = np.asarray(_filled(indices, n_values), dtype=np.int32)
    values = (*dictionary.to_pylist(), ABSENT)
    return Codes(codes, values, arr, None)


def _int_values(arr: pa.Array) -> tuple[npt.NDArray[np.int64], BoolArray, BoolArray]:
    """(values, known, invalid) of an integer column of any Arrow type."""
    n = len(arr)
    if pa.types.is_integer(arr.type):
        known = _valid(arr)
        values = _filled(arr, 0).astype(np.int64, copy=False)
        return values, known, np.zeros(n, dtype=np.bool_)
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


def _codes_integer(arr: pa.Array) -> Codes:
    values, known, invalid = _int_values(arr)
    if known.any():
        low, high = int(values[known].min()), int(values[known].max())
    else:
        low, high = 0, -1
    if high - low + 1 <= _MAX_INT_RANGE:
        domain: tuple[Any, ...] = tuple(range(low, high + 1))
        codes = (values - low).astype(np.int32)
    else:
        uniq, inverse = np.unique(values[known], return_inverse=True)
        domain = tuple(int(v) for v in uniq)
        codes = np.zeros(len(values), dtype=np.int32)
        codes[known] = inverse.astype(np.int32)
    n_domain = len(domain)
    codes[~known] = n_domain + 1  # unknown
    codes[invalid] = n_domain
    return Codes(codes, (*domain, INVALID, ABSENT), arr, invalid if invalid.any() else None)


def _codes_boolean(arr: pa.Array) -> Codes:
    n = len(arr)
    codes = np.full(n, 2, dtype=np.int32)  # 0 false, 1 true, 2 unknown, 3 invalid
    if pa.types.is_boolean(arr.type):
        codes = np.asarray(_filled(arr, False), dtype=np.int32)
        if arr.null_count:
            codes[~_valid(arr)] = 2
        return Codes(codes, (False, True, ABSENT, INVALID), arr, None)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or \
            pa.types.is_dictionary(arr.type):
        text, unknown = _text_state(arr)
        lower = pc.utf8_lower(text)
        is_true = _as_bool_array(pc.equal(lower, "true"))
        is_false = _as_bool_array(pc.equal(lower, "false"))
        codes[is_true] = 1
        codes[is_false] = 0
        invalid = ~(is_true | is_false | unknown)
    else:
        invalid = _valid(arr)
    codes[invalid] = 3
    return Codes(codes, (False, True, ABSENT, INVALID), arr, invalid if invalid.any() else None)


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
        known = _valid(arr)
        values = _filled(arr.cast(pa.float64()), 0.0)
        return Numbers(np.asarray(values, dtype=np.float64), known, np.zeros(n, np.bool_), arr)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or \
            pa.types.is_dictionary(arr.type):
        text, unknown = _text_state(arr)
        ok = _as_bool_array(pc.match_substring_regex(text, _NUM_PATTERN))
        parsed = pc.cast(pc.if_else(pa.array(ok), text, pa.scalar(None, pa.string())),
                         pa.float64())
        values = parsed.fill_null(0.0).to_numpy(zero_copy_only=False)
        return Numbers(np.asarray(values, dtype=np.float64), ok, ~ok & ~unknown, arr)
    return Numbers(np.zeros(n), np.zeros(n, np.bool_), _valid(arr), arr)
