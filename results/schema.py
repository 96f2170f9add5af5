"""The Parquet schema of a sweep's run table (schema version 2; version 1 is still read).

Layout (``results.layout``)::

    DIR/part-<chunk>.parquet        the runs table: one row per run, nothing else in DIR
    DIR.sweep/manifest.json         the grid's text and hash, versions, times, host, counts
    DIR.sweep/lock                  held while a ``sweep run`` writes
    DIR.sweep/curves/part-*.parquet optional curves, long format (run_id, epoch, loss, mse, accuracy,
                                    test_loss, test_accuracy)
    DIR.sweep/report/               ``sweep report`` output

DIR holds only the run parts, so ``pandas.read_parquet(DIR)``, ``polars.read_parquet(DIR)``,
``pyarrow.dataset.dataset(DIR)`` and DuckDB's ``'DIR/*.parquet'`` and ``'DIR/**/*.parquet'``
read exactly the runs; ``DIR.sweep/curves`` is read the same way.

Each run row holds ``run_id`` (uint64, a stable hash of what the run computes), ``run_index``
(int64, its position in the grid), ``seed`` (int64), one column per config key (named by
the dotted key) and the metric columns below. Native types, restored by every reader:

- int keys and epoch columns: int64; epoch columns are null where the milestone was not
  reached within ``epochs_run`` (right-censored). The schema's ``pandas`` metadata makes
  pandas restore them as nullable ``Int64`` (and bool keys that do not always apply as
  ``boolean``);
- string keys (and ``model.activation``, explicit ``init.*`` matrices as JSON text):
  dictionary-encoded strings, i.e. pandas ``category``, polars ``Categorical``;
- int-list keys (``model.hidden``): ``list<int64>`` (sorts numerically in DuckDB and polars),
  plus ``<key>_label``, an *ordered* dictionary of compact JSON text (``"[2]"``, ``"[2,2]"``)
  whose categories are every value of the grid in numeric order (pandas sorts and groups by it);
- ``initial_params``, ``final_params``, ``final_outputs``: ``list<double>``, always present
  (null unless ``[record]`` asks for them), so every part file has one schema.

Held-out metrics (``task.n_test``, ``task.test_path``, ``task.test_fraction``): ``test_final_loss``,
``test_final_mse``, ``test_final_accuracy`` (the held-out set evaluated with the final network, as
the training set's ``final_*``), ``test_best_accuracy`` and ``test_best_epoch`` (the first epoch
it was reached), ``test_epoch_<milestone>`` (right-censored at ``epochs_run`` like the training
set's), and the generalisation gaps ``gap_accuracy = final_accuracy - test_final_accuracy`` and
``gap_loss = test_final_loss - final_loss``; all null for a run without a held-out set (and in
parts written before they existed, which readers fill with nulls).

Version 1 (directories written before): list keys as JSON text, strings as plain strings,
no pandas metadata, optional list columns only when recorded. :func:`to_v1` converts a
version-2 table for appending to such a directory.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

SCHEMA_VERSION = 2
LABEL_SUFFIX = "_label"

#: Milestone name -> result column holding its first epoch.
MILESTONE_COLUMNS = {
    "acc75": "epoch_acc75",
    "acc100": "epoch_acc100",
    "fahlman": "epoch_fahlman",
    "tss": "epoch_tss",
    "loss": "epoch_loss",
}

ID_FIELDS = [
    pa.field("run_id", pa.uint64(), nullable=False),
    pa.field("run_index", pa.int64(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
]

METRIC_FIELDS = [
    pa.field("epochs_run", pa.int64(), nullable=False),
    pa.field("final_loss", pa.float64()),
    pa.field("final_mse", pa.float64()),
    pa.field("final_accuracy", pa.float64()),
    pa.field("min_loss", pa.float64()),
    pa.field("converged", pa.bool_(), nullable=False),
    pa.field("convergence_epoch", pa.int64()),
    pa.field("epoch_acc75", pa.int64()),
    pa.field("epoch_acc100", pa.int64()),
    pa.field("epoch_fahlman", pa.int64()),
    pa.field("epoch_tss", pa.int64()),
    pa.field("epoch_loss", pa.int64()),
    pa.field("diverged", pa.bool_(), nullable=False),
    # the held-out set's (null without one)
    pa.field("test_final_loss", pa.float64()),
    pa.field("test_final_mse", pa.float64()),
    pa.field("test_final_accuracy", pa.float64()),
    pa.field("test_best_accuracy", pa.float64()),
    pa.field("test_best_epoch", pa.int64()),
    *(pa.field(f"test_{c}", pa.int64()) for c in ("epoch_acc75", "epoch_acc100", "epoch_fahlman", "epoch_tss",
                                                  "epoch_loss")),
    pa.field("gap_accuracy", pa.float64()),
    pa.field("gap_loss", pa.float64()),
]
METRIC_COLUMNS = [f.name for f in METRIC_FIELDS]
TEST_COLUMNS = [c for c in METRIC_COLUMNS if c.startswith(("test_", "gap_"))]
NULLABLE_EPOCHS = ("convergence_epoch", "test_best_epoch") + tuple(MILESTONE_COLUMNS.values())

#: List columns filled when the grid's [record] section asks for them (null otherwise).
OPTIONAL_FIELDS = {
    "initial_params": pa.field("initial_params", pa.list_(pa.float64())),
    "final_params": pa.field("final_params", pa.list_(pa.float64())),
    "final_outputs": pa.field("final_outputs", pa.list_(pa.float64())),
}

CURVE_SCHEMA = pa.schema([
    pa.field("run_id", pa.uint64(), nullable=False),
    pa.field("epoch", pa.int64(), nullable=False),
    pa.field("loss", pa.float64()),
    pa.field("mse", pa.float64()),
    pa.field("accuracy", pa.float64()),
    pa.field("test_loss", pa.float64()),
    pa.field("test_accuracy", pa.float64()),
])

STRING = pa.dictionary(pa.int32(), pa.string())
LABEL = pa.dictionary(pa.int32(), pa.string(), ordered=True)
_KIND_TYPES = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": STRING,
               "int_list": pa.list_(pa.int64()), "str_or_list": STRING, "matrix_list": STRING,
               "vector_list": STRING}
_V1_TYPES = {**_KIND_TYPES, "str": pa.string(), "int_list": pa.string(), "str_or_list": pa.string(),
             "matrix_list": pa.string(), "vector_list": pa.string()}


def config_fields(params: Iterable[tuple[str, str]], version: int = SCHEMA_VERSION) -> list[pa.Field]:
    """Fields of the config columns from ``(key, kind)`` pairs (``sweep.grid.schema.PARAMS`` kinds).

    Version 2 adds ``<key>_label`` after each ``int_list`` key.
    """
    types = _KIND_TYPES if version >= 2 else _V1_TYPES
    fields = []
    for key, kind in params:
        fields.append(pa.field(key, types[kind]))
        if version >= 2 and kind == "int_list":
            fields.append(pa.field(key + LABEL_SUFFIX, LABEL))
    return fields


def _pandas_metadata(fields: list[pa.Field]) -> bytes:
    """The ``pandas`` schema metadata pyarrow reads to restore nullable and categorical dtypes."""
    cols = []
    for f in fields:
        t, numpy_type, pandas_type, meta = f.type, "object", "object", None
        if pa.types.is_dictionary(t):
            numpy_type, pandas_type = "int32", "categorical"
            meta = {"num_categories": None, "ordered": bool(t.ordered)}
        elif pa.types.is_integer(t):
            pandas_type = str(t)
            numpy_type = "Int64" if f.nullable and t == pa.int64() else str(t)
        elif pa.types.is_boolean(t):
            pandas_type, numpy_type = "bool", "boolean" if f.nullable else "bool"
        elif pa.types.is_floating(t):
            pandas_type = numpy_type = "float64"
        elif pa.types.is_list(t):
            pandas_type = f"list[{t.value_type}]"
        cols.append({"name": f.name, "field_name": f.name, "pandas_type": pandas_type,
                     "numpy_type": numpy_type, "metadata": meta})
    return json.dumps({"index_columns": [], "column_indexes": [], "columns": cols,
                       "creator": {"library": "mlp-sweep", "version": str(SCHEMA_VERSION)},
                       "pandas_version": "2.0.0"}).encode()


def run_schema(config: list[pa.Field], record: dict[str, bool] | None = None,
               version: int = SCHEMA_VERSION) -> pa.Schema:
    """Schema of the run table from its config fields (:func:`config_fields`).

    Version 2 always holds the optional list columns; version 1 only those ``record`` turns on.
    """
    fields = ID_FIELDS + list(config) + METRIC_FIELDS
    if version >= 2:
        fields += list(OPTIONAL_FIELDS.values())
        meta = {b"mlp_sweep_schema": b"2", b"pandas": _pandas_metadata(fields)}
    else:
        fields += [OPTIONAL_FIELDS[k] for k, on in (record or {}).items() if on]
        meta = {b"mlp_sweep_schema": b"1"}
    return pa.schema(fields, metadata=meta)


def schema_version(schema: pa.Schema) -> int:
    """The ``mlp_sweep_schema`` version a Parquet part was written with (1 when unmarked)."""
    meta = schema.metadata or {}
    return int(meta.get(b"mlp_sweep_schema", b"1"))


def list_label(values) -> str:
    """Compact JSON text of a list value, the label form: ``[2, 2] -> "[2,2]"``."""
    return json.dumps(list(values), separators=(",", ":"))


def to_v1(table: pa.Table) -> pa.Table:
    """A version-2 run table in the version-1 form (to append to a directory written before).

    Dictionary strings -> plain strings, ``list<int64>`` keys -> their JSON label, the label
    columns dropped, optional list columns dropped when entirely null, no pandas metadata.
    """
    names = table.column_names
    arrays, fields = [], []
    for name, col in zip(names, table.columns):
        if name.endswith(LABEL_SUFFIX) and name[: -len(LABEL_SUFFIX)] in names:
            continue
        if name in OPTIONAL_FIELDS and col.null_count == len(col):
            continue
        if pa.types.is_list(col.type) and pa.types.is_integer(col.type.value_type) \
                and name + LABEL_SUFFIX in names:
            col = table[name + LABEL_SUFFIX]
        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, pa.string())
        field = table.schema.field(name)
        arrays.append(col)
        fields.append(pa.field(name, col.type, nullable=field.nullable))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata={b"mlp_sweep_schema": b"1"}))
