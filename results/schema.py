"""The Parquet schema of a sweep's output directory (schema version 1).

Layout of ``DIR/``::

    part-<group>-<hash>.parquet   one file per chunk of runs, one row per run
    _manifest.json                the grid's text and hash, versions, times, host, counts
    _lock                         held while a ``sweep run`` writes here
    _curves/part-*.parquet        optional loss curves, long format (run_id, epoch, loss, mse)

Names starting with ``_`` or ``.`` are skipped by pyarrow's dataset discovery, so
``pandas.read_parquet(DIR)`` reads exactly the run rows.

Each run row holds ``run_id`` (uint64, a stable hash of the run's canonical config),
``run_index`` (int64, its position in the grid), ``seed`` (int64), one column per key of
``sweep.schema.PARAMS`` (named by the dotted key), and the metric columns below.
Epoch columns are nullable: null means the milestone was not reached within
``epochs_run`` epochs (right-censored).
"""
from __future__ import annotations

import pyarrow as pa

from sweep.schema import PARAMS

SCHEMA_VERSION = 1

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
]

#: Optional list columns, present when the grid's [record] section asks for them.
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
])

_KIND_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    # list-valued parameters are stored as canonical JSON text, so they group and compare
    "int_list": pa.string(),
    "str_or_list": pa.string(),
    "matrix_list": pa.string(),
    "vector_list": pa.string(),
}

CONFIG_FIELDS = [pa.field(p.key, _KIND_TYPES[p.kind]) for p in PARAMS]
METRIC_COLUMNS = [f.name for f in METRIC_FIELDS]
CONFIG_COLUMNS = [f.name for f in CONFIG_FIELDS]


def run_schema(record: dict[str, bool] | None = None) -> pa.Schema:
    """Schema of the run table; ``record`` selects optional list columns."""
    fields = ID_FIELDS + CONFIG_FIELDS + METRIC_FIELDS
    for name, on in (record or {}).items():
        if on:
            fields.append(OPTIONAL_FIELDS[name])
    return pa.schema(fields, metadata={b"mlp_sweep_schema": str(SCHEMA_VERSION).encode()})
