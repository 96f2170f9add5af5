"""Read a sweep's output directory into pandas.

``load(DIR)`` scans the ``part-*.parquet`` files with ``pyarrow.dataset`` (row filters and
column selection are pushed down to the scan, so only the needed row groups and columns are
decoded) and returns exactly the columns and dtypes of ``pandas.read_parquet(DIR)`` (the
schema's pandas metadata: ``Int64`` epochs, null where not reached within ``epochs_run``;
``category`` strings; ``model.hidden`` as arrays with its ordered ``model.hidden_label`` twin;
``boolean`` config flags), plus ``df.attrs``:

- ``df.attrs["manifest"]``: the parsed manifest (``DIR.sweep/manifest.json``, or
  ``DIR/_manifest.json`` for a directory written before; ``{}`` when absent);
- ``df.attrs["skipped"]``: ``(file, reason)`` of parts that could not be read.

The analysis functions group by a list column through its label: :func:`analysis_view` gives
the table they work on (each list column replaced by its ordered JSON label, ``"[2]"``, the
twin dropped). ``results.views`` adds lifelines-style ``duration``/``event`` columns and a
view of the swept columns under short names.

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

from results.errors import OutputError, SweepError
from results.layout import layout_of
from results.schema import LABEL_SUFFIX, MILESTONE_COLUMNS, list_label

ID_COLUMNS = ("run_id", "run_index", "seed")
# every page's CRC-32 is checked where the part has one (``results.writer``): a flipped bit is an
# unreadable part, skipped with a warning, never a wrong number
PARQUET = ds.ParquetFileFormat(
    default_fragment_scan_options=ds.ParquetFragmentScanOptions(page_checksum_verification=True))


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
    close = _close_columns(name, [str(c) for c in columns])
    if close:
        raise ColumnError(f"no column {name!r}; did you mean {', '.join(close)}?")
    raise ColumnError(f"no column {name!r} (columns: {', '.join(map(str, columns))})")


def _close_columns(name: str, columns: list[str]) -> list[str]:
    """Columns ``name`` is probably a typo of: close to a full name, or to a short name (``lrr`` ->
    ``train.lr``), or short names it begins (``act`` -> ``model.activation``); [] when none is close
    (a cutoff of 0.5 matched ``nosuch`` with ``init.scheme``: the message then lists every column)."""
    close = difflib.get_close_matches(name, columns, n=5, cutoff=0.75)
    if close:
        return close
    last = name.rsplit(".", 1)[-1]
    short: dict[str, list[str]] = {}
    for c in columns:
        short.setdefault(c.rsplit(".", 1)[-1], []).append(c)
    hits = difflib.get_close_matches(last, list(short), n=3, cutoff=0.75)
    if not hits and len(last) >= 3:
        hits = [s for s in short if s.startswith(last)][:3]
    return [c for s in hits for c in short[s]]


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
    """The parsed manifest of a sweep directory (either layout), or ``{}`` when there is none."""
    f = layout_of(path).manifest
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
        return ds.dataset(files, format=PARQUET, schema=pa.unify_schemas(schemas))
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
    def col(c):  # a list column is filtered through its JSON label ("[2]")
        full = resolve_column(names, c)
        return full + LABEL_SUFFIX if full + LABEL_SUFFIX in names else full

    resolved = [[(col(c), op, list_label(v) if isinstance(v, list) else v) for c, op, v in conj] for conj in dnf]
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


def _lists_as_labels(table: pa.Table) -> pa.Table:
    """Integer-list columns -> their JSON label text (the ``_label`` twin when read), twin dropped."""
    for name in list(table.column_names):
        if name not in table.column_names:  # a label twin dropped below
            continue
        col = table[name]
        if not (pa.types.is_list(col.type) and pa.types.is_integer(col.type.value_type)):
            continue
        i = table.column_names.index(name)
        if name + LABEL_SUFFIX in table.column_names:
            labels = pc.cast(table[name + LABEL_SUFFIX], pa.string())
            table = table.drop_columns([name + LABEL_SUFFIX])
        else:
            labels = pa.array([None if v is None else list_label(v) for v in col.to_pylist()], pa.string())
        table = table.set_column(i, pa.field(name, pa.string()), labels)
    return table


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Label-ordered categories for text columns written without pandas metadata (layout 1)."""
    df = table.to_pandas()
    if b"pandas" in (table.schema.metadata or {}):
        return df
    table = _lists_as_labels(table)
    df = table.to_pandas(strings_to_categorical=True,
                         types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get)
    for name, col in zip(table.column_names, table.columns):
        if pa.types.is_int64(col.type) and name in ID_COLUMNS:
            df[name] = df[name].to_numpy(np.int64)  # ids are never null
        elif pa.types.is_boolean(col.type) and col.null_count == 0:
            df[name] = df[name].to_numpy(bool)
        elif isinstance(df[name].dtype, pd.CategoricalDtype):
            df[name] = _natural(df[name])
    return df


def _natural(series: pd.Series) -> pd.Series:
    cats = series.cat.categories
    order = natural_order(cats)
    return series if list(cats) == order else series.cat.reorder_categories(order)


def analysis_view(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as the analysis functions group it: each list column (``model.hidden``) replaced by
    its label twin (``"[2]"``, an ordered category in numeric order) and the twin dropped, and
    text categories in natural order (``"[2]" < "[10]"``, numbers by value, else alphabetical)
    instead of the files' dictionary order. Returns ``df`` itself when nothing changes; ``attrs``
    are kept."""
    twins = [c for c in df.columns if isinstance(c, str) and c + LABEL_SUFFIX in df.columns]
    lists = [c for c in df.columns if c not in twins and df[c].dtype == object and df[c].notna().any()
             and isinstance(df[c].dropna().iloc[0], (list, np.ndarray))]
    unsorted = [c for c in df.columns if c not in twins and isinstance(df[c].dtype, pd.CategoricalDtype)
                and not df[c].cat.ordered and list(df[c].cat.categories) != natural_order(df[c].cat.categories)]
    if not twins and not lists and not unsorted:
        return df
    out = df.copy()
    for c in twins:
        out[c] = out[c + LABEL_SUFFIX]
    out = out.drop(columns=[c + LABEL_SUFFIX for c in twins])
    for c in lists:  # no twin (a selection without it): label the lists here
        text = out[c].map(lambda v: None if v is None else list_label([int(x) for x in v]))
        out[c] = _natural(text.astype("category"))
    for c in unsorted:
        out[c] = _natural(out[c])
    out.attrs = dict(df.attrs)
    return out


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
    if cols is not None:  # a list column comes with its label
        cols += [c + LABEL_SUFFIX for c in cols if c + LABEL_SUFFIX in names and c + LABEL_SUFFIX not in cols]
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
        skipped.append((str(layout_of(Path(path)).manifest), str(exc)))
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
              f"to DIR.sweep/quarantine/ and trains their runs again", file=stream or sys.stderr)
    return len(skipped)


def load_curves(path, run_ids=None) -> pd.DataFrame:
    """The loss curves of a sweep (long format: run_id, epoch, loss, mse), read from
    ``DIR.sweep/curves`` (``DIR/_curves`` for a directory written before).

    run_ids: keep only these runs (pushed down to the scan). Sorted by run_id then epoch.
    """
    root = layout_of(path).curves
    if not root.is_dir():
        raise OutputError(f"{path}: no loss curves ({root} is missing; set record.curve_points in the grid)")
    dataset = _dataset(root)
    flt = None
    if run_ids is not None:
        flt = pc.field("run_id").isin(pa.array(np.asarray(list(run_ids), dtype=np.uint64)))
    df = dataset.to_table(filter=flt).to_pandas()
    return df.sort_values(["run_id", "epoch"], ignore_index=True)
