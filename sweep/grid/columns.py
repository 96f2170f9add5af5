"""The run table's config columns, bound to this package's schema (``sweep.grid.schema.PARAMS``).

``results.schema`` knows column types but not the grid vocabulary (``results/`` does not
import ``sweep/``); this module joins the two: ``CONFIG_FIELDS``, ``CONFIG_COLUMNS`` and
``run_schema(record)``, and builds the config arrays of one chunk (:func:`config_arrays`).
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from results import schema as rs
from sweep.grid.schema import PARAMS

CONFIG_FIELDS = rs.config_fields((p.key, p.kind) for p in PARAMS)
CONFIG_COLUMNS = [p.key for p in PARAMS]          # the keys themselves (labels excluded)
LIST_KEYS = tuple(p.key for p in PARAMS if p.kind == "int_list")


def run_schema(record: dict[str, bool] | None = None, version: int = rs.SCHEMA_VERSION) -> pa.Schema:
    """Schema of the run table (version 2 by default; 1 for directories written before)."""
    return rs.run_schema(CONFIG_FIELDS if version >= 2 else rs.config_fields(
        ((p.key, p.kind) for p in PARAMS), version), record, version)


def list_levels(grid, key: str) -> list[list[int]]:
    """Every value of an int-list key in ``grid``, in numeric order ([] < [2] < [2, 2] < [3] < [16])."""
    cache = grid._cache
    levels = cache.get(("levels", key))
    if levels is None:
        values = {tuple(g.config[key]) for g in grid.groups() if g.config.get(key) is not None}
        levels = [list(v) for v in sorted(values)]
        cache[("levels", key)] = levels
    return levels


def _dictionary(values: np.ndarray) -> pa.DictionaryArray:
    """Dictionary-encoded strings; a column constant over the chunk (the usual case) skips hashing."""
    n = len(values)
    if n and values.dtype == object and (values == values[0]).all():
        if values[0] is None:  # the key does not apply anywhere in the chunk
            return pa.nulls(n, pa.dictionary(pa.int32(), pa.string()))
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([values[0]], pa.string()))
    return pa.array(values, pa.string(), from_pandas=True).dictionary_encode()


def _segments_dictionary(values: np.ndarray, lengths: np.ndarray) -> pa.DictionaryArray:
    """``_dictionary(np.repeat(values, lengths))``, built from the segments' values alone."""
    if len(values) and values.dtype == object and (values == values[0]).all():
        n = int(lengths.sum())
        if values[0] is None:
            return pa.nulls(n, pa.dictionary(pa.int32(), pa.string()))
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([values[0]], pa.string()))
    enc = pa.array(values, pa.string(), from_pandas=True).dictionary_encode()
    nulls = np.repeat(np.asarray(enc.indices.is_null()), lengths)
    codes = np.repeat(enc.indices.fill_null(0).to_numpy(), lengths).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=nulls if nulls.any() else None),
                                          enc.dictionary)


def _segments_plain(values: np.ndarray, lengths: np.ndarray, type_: pa.DataType) -> pa.Array:
    """``pa.array(np.repeat(values, lengths), type_, from_pandas=True)``, without per-run objects."""
    if values.dtype == object and all(v is None for v in values):
        return pa.nulls(int(lengths.sum()), type_)
    return pa.array(np.repeat(values, lengths), type=type_, from_pandas=True)


def config_segments(grid, run_index: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Where a chunk's config changes: ``(starts, lengths)`` of its runs of equal config, or None
    when they are too short to be worth it (under 64 runs on average).

    Seeds are the innermost axis of every sub-grid, so runs ``i`` and ``j`` of one sub-grid share
    every config value when ``(i - offset) // seeds`` is the same (one cell of the other axes).
    """
    n = len(run_index)
    if n == 0:
        return None
    offsets = np.array([sub.offset for sub in grid.subgrids], np.int64)
    which = np.searchsorted(offsets, run_index, side="right") - 1
    seeds = np.array([max(1, sub.seeds.n) for sub in grid.subgrids], np.int64)
    cell = (run_index - offsets[which]) // seeds[which] + which * (1 << 40)  # < 2^40 cells per sub-grid
    starts = np.concatenate([[0], np.flatnonzero(np.diff(cell)) + 1])
    if len(starts) * 64 > n:
        return None
    return starts, np.diff(np.append(starts, n))


def config_arrays(cols: dict, grid, lengths: np.ndarray | None = None) -> dict[str, pa.Array]:
    """Arrow arrays of the config columns of one chunk (``grid.columns`` output, list values
    as JSON text) in the version-2 types. List values are parsed once per distinct value.

    With ``lengths``, ``cols`` holds one row per run of equal config (``config_segments``), to be
    repeated ``lengths[i]`` times: the same arrays, without touching a Python object per run
    (most chunks are one segment: a constant column costs a few microseconds)."""
    if lengths is None:
        dictionary = _dictionary

        def plain(values, type_):
            return pa.array(values, type=type_, from_pandas=True)
    else:
        def dictionary(values):
            return _segments_dictionary(values, lengths)

        def plain(values, type_):
            return _segments_plain(values, lengths, type_)
    out = {}
    for f in CONFIG_FIELDS:
        name = f.name
        if name.endswith(rs.LABEL_SUFFIX) or pa.types.is_list(f.type):
            key = name[: -len(rs.LABEL_SUFFIX)] if name.endswith(rs.LABEL_SUFFIX) else name
            enc = dictionary(cols[key])
            distinct = [json.loads(v) for v in enc.dictionary.to_pylist()]
            if pa.types.is_list(f.type):
                out[name] = pa.array(distinct, f.type).take(enc.indices)
            else:
                levels = list_levels(grid, key)
                where = {tuple(v): i for i, v in enumerate(levels)}
                codes = pa.array([where[tuple(v)] for v in distinct], pa.int32()).take(enc.indices)
                out[name] = pa.DictionaryArray.from_arrays(
                    codes, pa.array([rs.list_label(v) for v in levels], pa.string()), ordered=True)
        elif pa.types.is_dictionary(f.type):
            out[name] = dictionary(cols[name])
        else:
            out[name] = plain(cols[name], f.type)
    return out
