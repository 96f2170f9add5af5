"""Arrow arrays from the grid's per-run columns without touching each run in Python.

``Grid.columns`` gives object arrays for string keys and for keys that do not apply (all
``None``). Their entries are references to a handful of Python objects: one constant, or one
per axis value gathered by position. Reading the array's raw pointers (``ctypes``, read-only,
while the array is alive) finds those distinct objects in vectorised numpy; the Arrow array
is then built from them (a constant: ``pa.repeat``/``pa.nulls``; several: a dictionary
``take``). Equal pointers mean the same object, hence the same value, so the result is the
value-for-value equal of ``pa.array(values)``, at about 1 ns per run instead of 50-100.
"""
from __future__ import annotations

import ctypes

import numpy as np
import pyarrow as pa


def object_pointers(values: np.ndarray) -> np.ndarray:
    """The addresses of the objects a 1-d object array refers to (uint64 view, no copy)."""
    values = np.ascontiguousarray(values)
    if values.size == 0:
        return np.zeros(0, np.uint64)
    buf = (ctypes.c_uint64 * values.size).from_address(values.ctypes.data)
    return np.frombuffer(buf, dtype=np.uint64)


def arrow_column(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    """``pa.array(values, type_, from_pandas=True)``, fast for object arrays of few distinct objects."""
    if values.dtype != object or values.ndim != 1 or values.size == 0:
        if values.dtype.kind in "iub" or (values.dtype.kind == "f" and not np.isnan(values).any()):
            return pa.array(values, type=type_)  # numbers: zero-copy, no NaN-to-null scan
        return pa.array(values, type=type_, from_pandas=True)
    ptrs = object_pointers(values)
    if (ptrs == ptrs[0]).all():
        first = values[0]
        if first is None:
            return pa.nulls(values.size, type_)
        if pa.types.is_string(type_) and isinstance(first, str):
            return _repeat_string(first, values.size)
        return pa.repeat(pa.scalar(first, type_), values.size)
    uniq, first_pos, inverse = np.unique(ptrs, return_index=True, return_inverse=True)
    if uniq.size > 64:  # many distinct objects: the plain conversion is as fast
        return pa.array(values, type=type_, from_pandas=True)
    dictionary = pa.array(list(values[first_pos]), type=type_, from_pandas=True)
    return dictionary.take(pa.array(inverse.astype(np.int32)))


def all_none(values: np.ndarray) -> bool:
    """Whether every entry of a 1-d object array is ``None`` (one vectorised comparison)."""
    return values.size > 0 and bool((object_pointers(values) == np.uint64(id(None))).all())


def _repeat_string(text: str, n: int) -> pa.Array:
    """``n`` copies of ``text`` as an Arrow string array, built from its two buffers."""
    data = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def codes_of(values: np.ndarray, table: dict) -> np.ndarray:
    """int64 codes of a column of names (``table``: name -> code), one lookup per distinct object."""
    if values.dtype != object:
        return np.asarray([table[str(v)] for v in values], np.int64)
    ptrs = object_pointers(values)
    if values.size and (ptrs == ptrs[0]).all():
        return np.full(values.size, table[values[0]], np.int64)
    uniq, first_pos, inverse = np.unique(ptrs, return_index=True, return_inverse=True)
    lut = np.array([table[values[i]] for i in first_pos], np.int64)
    return lut[inverse.reshape(-1)]
