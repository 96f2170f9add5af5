"""The end-of-run summary: streamed counts give exactly what pandas gives on the whole frame."""
from __future__ import annotations

import numpy as np
import pandas as pd

from results.analysis import convergence
from results.reader import load
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
    # the reference: results.analysis.convergence on the whole frame (the report's Kaplan-Meier)
    t = convergence(load(out), by=keys, metric="convergence_epoch")
    want = t[keys + ["n", "converged_share", "km_median", "epochs_max"]].rename(
        columns={"n": "runs", "converged_share": "converged", "km_median": "median_epoch"})
    want["diverged"] = t["n_diverged"] / t["n"]
    want = want.reset_index(drop=True)
    got = group_summary(out, grid)
    assert want["converged"].between(0.05, 0.95).any()  # the medians are of real, varied epochs
    got = got.reset_index(drop=True)
    for k in keys:  # categorical in one, plain in the other: compare the values
        got[k], want[k] = got[k].astype(object), want[k].astype(object)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
