"""Read a sweep's output directory into pandas.

``load(DIR)`` scans the ``part-*.parquet`` files with ``pyarrow.dataset`` (row filters and
column selection are pushed down to the scan, so only the needed row groups and columns are
decoded) and returns one row per run with analysis-friendly dtypes:

- string config columns (``task.name``, ``model.hidden`` as JSON text ``"[2]"``, ...) ->
  ``category``, with categories in natural order (``[2] < [2, 2] < [3] < [10]``, numbers by value);
- epoch columns (``epochs_run``, ``convergence_epoch``, ``epoch_*``) and integer config
  columns -> nullable ``Int64``: null means "not reached within ``epochs_run``" (censored);
- booleans -> ``bool`` (``boolean`` where a config key does not apply to some runs);
- ``df.attrs["manifest"]``: the parsed ``_manifest.json`` (``{}`` when absent).

Columns may be named by a unique dotted suffix (``"lr"`` for ``"train.lr"``), or a milestone
by its criterion name (``"acc100"`` for ``"epoch_acc100"``): see ``resolve_column``.
"""
from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sweep.errors import OutputError, SweepError
from sweep.schema import MILESTONE_COLUMNS

MANIFEST = "_manifest.json"
CURVES = "_curves"
ID_COLUMNS = ("run_id", "run_index", "seed")


class ColumnError(SweepError, ValueError):
    """A column name that matches no column, or several (the message lists candidates)."""


def is_epoch_column(name: str) -> bool:
    return name in ("epochs_run", "convergence_epoch") or name.startswith("epoch_")


def resolve_column(df_or_columns, name: str) -> str:
    """The full column name for ``name``: exact, a unique dotted suffix, or a milestone name.

    ``"lr"`` -> ``"train.lr"``, ``"hidden"`` -> ``"model.hidden"``, ``"acc100"`` -> ``"epoch_acc100"``.
    Raises ``ColumnError`` listing the candidates when ``name`` is ambiguous or unknown.
    """
    columns = list(getattr(df_or_columns, "columns", df_or_columns))
    if name in columns:
        return name
    if name in MILESTONE_COLUMNS and MILESTONE_COLUMNS[name] in columns:
        return MILESTONE_COLUMNS[name]
    hits = [c for c in columns if isinstance(c, str) and c.endswith("." + name)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ColumnError(f"column {name!r} is ambiguous: it could be {', '.join(hits)}")
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=5, cutoff=0.5)
    if close:
        raise ColumnError(f"no column {name!r}; did you mean {', '.join(close)}?")
    raise ColumnError(f"no column {name!r} (columns: {', '.join(map(str, columns))})")


def resolve_columns(df_or_columns, names) -> list[str]:
    """``resolve_column`` over a list, or a comma-separated string; ``None`` -> ``[]``."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return [resolve_column(df_or_columns, n) for n in names]


def _parts(path) -> list[str]:
    """Parquet files under ``path``, skipping names that start with ``_`` or ``.`` (as pyarrow does)."""
    root = Path(path)
    if root.is_file():
        return [str(root)]
    if not root.is_dir():
        raise OutputError(f"{path}: no such directory")
    parts = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        parts += [os.path.join(here, f) for f in sorted(files)
                  if f.endswith(".parquet") and not f.startswith(("_", "."))]
    if not parts:
        raise OutputError(f"{path}: no Parquet parts (part-*.parquet) to read; is this a sweep output directory?")
    return parts


def read_manifest(path) -> dict:
    """The parsed ``_manifest.json`` of a sweep directory, or ``{}`` when there is none."""
    f = Path(path) / MANIFEST
    if not f.is_file():
        return {}
    try:
        value = json.loads(f.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise OutputError(f"{f}: cannot read the manifest: {exc}; 'sweep run' on this directory "
                          f"rebuilds it from the part files") from None
    return value if isinstance(value, dict) else {}


def _readable(files: list[str]) -> tuple[list[str], list[pa.Schema], list[tuple[str, str]]]:
    """The files whose Parquet footer reads, their schemas, and ``(file, reason)`` for the others."""
    ok, schemas, skipped = [], [], []
    for f in files:
        try:
            schemas.append(pq.read_schema(f))
            ok.append(f)
        except (pa.ArrowException, OSError) as exc:
            skipped.append((f, f"{type(exc).__name__}: {str(exc)[:200]}"))
    return ok, schemas, skipped


def _dataset(path, skipped: list | None = None) -> ds.Dataset:
    """A dataset of the readable parts; unreadable ones are left out and listed in ``skipped``."""
    files, schemas, bad = _readable(_parts(path))
    if skipped is not None:
        skipped.extend(bad)
    if not files:
        raise OutputError(f"{path}: none of the {len(bad)} Parquet part(s) can be read (first: {bad[0][0]}: {bad[0][1]})")
    try:
        # parts may differ in optional list columns: scan with the union of their schemas
        return ds.dataset(files, format="parquet", schema=pa.unify_schemas(schemas))
    except (pa.ArrowInvalid, OSError) as exc:
        raise OutputError(f"{path}: cannot read the Parquet parts: {exc}") from exc


def _table_skipping(dataset: ds.Dataset, columns, flt, skipped: list) -> pa.Table:
    """Read the dataset; when a part's pages are damaged, read part by part and skip those."""
    try:
        return dataset.to_table(columns=columns, filter=flt)
    except (pa.ArrowInvalid, OSError):
        pass
    tables = []
    for frag in dataset.get_fragments():
        try:
            tables.append(frag.to_table(schema=dataset.schema, columns=columns, filter=flt))
        except (pa.ArrowException, OSError) as exc:
            skipped.append((frag.path, f"{type(exc).__name__}: {str(exc)[:200]}"))
    if not tables:
        raise OutputError(f"no Parquet part could be read ({len(skipped)} skipped)")
    return pa.concat_tables(tables)


def _filter_expression(filters, names: list[str]):
    """DNF filters (``[(col, op, value), ...]`` or a list of such lists) -> pyarrow Expression."""
    if filters is None or isinstance(filters, ds.Expression):
        return filters
    dnf = [filters] if filters and isinstance(filters[0], tuple) else filters
    resolved = [[(resolve_column(names, c), op, v) for c, op, v in conj] for conj in dnf]
    try:
        return pq.filters_to_expression(resolved)
    except (TypeError, ValueError) as exc:
        raise ColumnError(f"bad filter {filters!r}: {exc}") from exc


def _natural_key(text: str):
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return (2, str(text))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, value) if _numeric_nested(value) else (2, str(text))


def _numeric_nested(v) -> bool:
    if isinstance(v, list):
        return all(_numeric_nested(x) for x in v) and len({type(x) is list for x in v}) <= 1
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def natural_order(values: Iterable[str]) -> list[str]:
    """Strings sorted with JSON numbers and lists compared by value (``"[2]" < "[10]"``)."""
    values = list(values)
    try:
        return sorted(values, key=_natural_key)
    except TypeError:  # lists of different nesting: fall back to text order
        return sorted(values, key=str)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas(strings_to_categorical=True,
                         types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get)
    for name, col in zip(table.column_names, table.columns):
        if pa.types.is_int64(col.type) and name in ID_COLUMNS:
            df[name] = df[name].to_numpy(np.int64)  # ids are never null
        elif pa.types.is_boolean(col.type) and col.null_count == 0:
            df[name] = df[name].to_numpy(bool)
        elif isinstance(df[name].dtype, pd.CategoricalDtype):
            cats = df[name].cat.categories
            order = natural_order(cats)
            if list(cats) != order:
                df[name] = df[name].cat.reorder_categories(order)
    return df


def load(path, filters=None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run from a sweep directory (or one Parquet file).

    filters: DNF list like ``[("train.lr", "==", 0.5)]`` (or a list of such lists, OR-ed), or a
    ``pyarrow.dataset.Expression``; columns: the columns to read (short names allowed).
    Raises ``OutputError`` when ``path`` holds no Parquet parts. Parts that cannot be read
    are left out and listed in ``df.attrs["skipped"]`` as ``(file, reason)``.
    """
    skipped: list[tuple[str, str]] = []
    dataset = _dataset(path, skipped)
    names = dataset.schema.names
    cols = resolve_columns(names, columns) if columns is not None else None
    try:
        table = _table_skipping(dataset, cols, _filter_expression(filters, names), skipped)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise OutputError(f"{path}: cannot read the Parquet parts: {exc}") from exc
    df = _to_pandas(table)
    df.attrs["skipped"] = skipped  # (file, reason) of parts that could not be read
    try:
        df.attrs["manifest"] = read_manifest(path) if Path(path).is_dir() else {}
    except OutputError as exc:
        df.attrs["manifest"] = {}
        skipped.append((str(Path(path) / MANIFEST), str(exc)))
    df.attrs["source"] = str(path)
    return df


def warn_skipped(df: pd.DataFrame, stream=None) -> int:
    """Print one ``warning:`` line per file ``load`` could not read; returns how many."""
    import sys
    skipped = df.attrs.get("skipped", [])
    for f, why in skipped:
        print(f"warning: skipped {f}: {why}", file=stream or sys.stderr)
    if skipped:
        print(f"warning: {len(skipped)} file(s) skipped; 'sweep run' on the directory moves damaged parts "
              f"to _quarantine/ and trains their runs again", file=stream or sys.stderr)
    return len(skipped)


def load_curves(path, run_ids=None) -> pd.DataFrame:
    """The loss curves under ``DIR/_curves`` (long format: run_id, epoch, loss, mse).

    run_ids: keep only these runs (pushed down to the scan). Sorted by run_id then epoch.
    """
    root = Path(path) / CURVES
    if not root.is_dir():
        raise OutputError(f"{path}: no loss curves ({CURVES}/ is missing; set record.curve_points in the grid)")
    dataset = _dataset(root)
    flt = None
    if run_ids is not None:
        flt = pc.field("run_id").isin(pa.array(np.asarray(list(run_ids), dtype=np.uint64)))
    df = dataset.to_table(filter=flt).to_pandas()
    return df.sort_values(["run_id", "epoch"], ignore_index=True)
