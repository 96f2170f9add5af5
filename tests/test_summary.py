"""The end-of-run summary: streamed counts give exactly what pandas gives on the whole frame."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from sweep.cli import main
from sweep.grid.load import load_grid
from sweep.run.summary import group_summary, summary_keys

GRID = """
name = "summary"
[task]
name = "xor"
[train]
loss = "bce"
epochs = 400
[sweep]
seeds = 60
"train.lr" = [0.5, 2.0, 4.0]
"train.optimizer" = ["sgd", "momentum"]
"""


def test_streamed_summary_equals_pandas_on_the_whole_frame(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-progress", "--chunk-size", "16"]) == 0
    grid = load_grid(path)
    keys = summary_keys(grid)
    df = ds.dataset(out, format="parquet").to_table(columns=keys + ["converged", "convergence_epoch", "diverged"]).to_pandas()
    want = df.groupby(keys, dropna=False, observed=True, sort=True).agg(
        runs=("converged", "size"), converged=("converged", "mean"),
        median_epoch=("convergence_epoch", "median"), diverged=("diverged", "mean")).reset_index()
    got = group_summary(out, grid)
    assert want["converged"].between(0.05, 0.95).any()  # the medians are of real, varied epochs
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
