"""Run identity versions, and keeping directories written under identity version 1 resumable.

Identity version 2 (``sweep.grid.hashing.RUN_ID_KEYS``) leaves ``record.*`` out of ``run_id``;
version 1 (every directory written before, layout 1) had them in. A version-1 directory
is resumed without rewriting a byte of it:

- which runs are done: each stored row's version-2 id is recomputed from its own config
  columns and seed (:func:`ids_from_table`), so a grid that now records more (or less)
  still finds its runs done;
- new rows appended there keep the directory's conventions: their ``run_id`` is the
  version-1 id of their config (curves re-keyed to match) and their types are schema 1
  (``results.schema.to_v1``).

Recomputing is vectorised: each distinct value of a column is hashed once, then gathered.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from results.schema import LABEL_SUFFIX, to_v1
from sweep.errors import OutputError
from sweep.grid.hashing import (IDENTITY_VERSION, MASK64, RUN_ID_KEYS, RUN_ID_KEYS_V1, seed_hashes,
                           splitmix64, value_hash)
from sweep.grid.schema import NOT_IN_IDENTITY, PARAM_BY_KEY

_LIST_KINDS = ("int_list", "matrix_list", "vector_list")


def _normal(kind: str, value):
    """A stored cell back to the normalised config value that was hashed."""
    if value is None:
        return None
    if kind in _LIST_KINDS:
        return json.loads(value) if isinstance(value, str) else list(value)
    if kind == "str_or_list":
        return json.loads(value) if value.startswith("[") else value
    return {"int": int, "float": float, "bool": bool, "str": str}[kind](value)


def _column_hashes(table: pa.Table, key: str) -> np.ndarray:
    """``h(key, value)`` per row of ``table``, hashing each distinct value once."""
    name = key + LABEL_SUFFIX if key + LABEL_SUFFIX in table.column_names else key
    col = table[name].combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    enc = pc.dictionary_encode(col)
    kind = PARAM_BY_KEY[key].kind
    distinct = [value_hash(key, _normal(kind, v)) for v in enc.dictionary.to_pylist()]
    table_h = np.array(distinct + [value_hash(key, None)], dtype=np.uint64)
    codes = enc.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)
    return table_h[codes]


def ids_from_table(table: pa.Table, version: int = IDENTITY_VERSION) -> np.ndarray:
    """Each row's run_id under identity ``version``, from its stored config columns and seed."""
    keys = RUN_ID_KEYS if version >= 2 else RUN_ID_KEYS_V1
    # keys added later (Param.neutral) hash to 0 when unset: parts written before lack them
    keys = [k for k in keys if k in table.column_names or PARAM_BY_KEY.get(k) is None
            or PARAM_BY_KEY[k].neutral is NOT_IN_IDENTITY]
    missing = [k for k in keys if k != "seed" and k not in table.column_names]
    if missing:
        raise OutputError(f"cannot recompute run ids: the parts lack the columns {', '.join(missing[:5])}")
    total = seed_hashes(table["seed"].to_numpy()).copy()
    with np.errstate(over="ignore"):  # sums wrap mod 2**64 by design
        for key in keys:
            if key != "seed":
                total += _column_hashes(table, key)
    return splitmix64(total & np.uint64(MASK64))


def identity_version(out) -> int:
    """The identity version of an output directory: 1 for layout 1 (written before), else current."""
    return 1 if out.legacy else IDENTITY_VERSION


def done_ids(out) -> np.ndarray:
    """Sorted current-version run_ids of every finished run in ``out`` (an ``OutputDir``)."""
    if identity_version(out) >= IDENTITY_VERSION:
        return out.done_run_ids()
    parts = out.part_files()
    if not parts:
        return np.zeros(0, np.uint64)
    dataset = ds.dataset([str(p) for p in parts], format="parquet")
    table = dataset.to_table(columns=[k for k in RUN_ID_KEYS if k in dataset.schema.names])
    return np.sort(ids_from_table(table, IDENTITY_VERSION))


def rows_for(out, table: pa.Table, curves: pa.Table | None):
    """``(table, curves)`` as they are stored in ``out``: unchanged for current directories;
    version-1 ids and schema 1 for a directory written before."""
    if identity_version(out) >= IDENTITY_VERSION:
        return table, curves
    new_ids = table["run_id"].to_numpy()
    old_ids = ids_from_table(table, 1)
    v1 = to_v1(table.set_column(0, table.schema.field("run_id"), pa.array(old_ids, pa.uint64())))
    if curves is not None and curves.num_rows:
        order = np.argsort(new_ids)
        pos = order[np.searchsorted(new_ids, curves["run_id"].to_numpy(), sorter=order)]
        curves = curves.set_column(0, curves.schema.field("run_id"), pa.array(old_ids[pos], pa.uint64()))
    return v1, curves


def manifest_fields(out) -> dict:
    """Version fields of ``out``'s manifest (what its files were written with)."""
    from results.layout import LAYOUT_VERSION
    from results.schema import SCHEMA_VERSION
    if out.legacy:
        return {"schema_version": 1, "identity_version": 1, "layout_version": 1}
    return {"schema_version": SCHEMA_VERSION, "identity_version": IDENTITY_VERSION,
            "layout_version": LAYOUT_VERSION}
