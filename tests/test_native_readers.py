"""Every data tool reads a sweep directory natively: exactly the runs, with native types.

A real two-axis sweep with loss curves is written once; pandas, polars (read and scan),
pyarrow.dataset and DuckDB (plain and recursive globs) then read DIR with no glue, and the
curves table the same way from its own path (``DIR.sweep/curves``).
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from kernels import log_spaced_epochs
from results.layout import layout_of
from sweep.cli import main

GRID = """
name = "native"
[task]
name = "xor"
[train]
loss = "bce"
epochs = 200
[record]
curve_points = 6
[sweep]
seeds = 8
"train.lr" = [0.5, 2.0]
"model.hidden" = [[16], [2], [2, 2]]
"""
N_RUNS = 48
WIDTHS_SORTED = [[2], [2, 2], [16]]  # numeric list order, not text order ("[16]" < "[2]")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    (root / "g.toml").write_text(GRID)
    out = root / "runs" / "native"
    assert main(["run", str(root / "g.toml"), "--out", str(out), "--no-progress"]) == 0
    return out


def test_dir_holds_only_run_parts(sweep_dir):
    assert sorted({p.suffix for p in sweep_dir.rglob("*")}) == [".parquet"]
    assert all(p.name.startswith("part-") for p in sweep_dir.iterdir())
    assert layout_of(sweep_dir).manifest.is_file()


def test_pandas(sweep_dir):
    df = pd.read_parquet(sweep_dir)
    assert len(df) == N_RUNS and df["run_id"].is_unique
    for col in ("convergence_epoch", "epoch_acc100", "epoch_acc75", "task.bits"):
        assert str(df[col].dtype) == "Int64", col
    assert df["epoch_acc100"].isna().sum() == (~df["converged"]).sum()
    assert str(df["train.shuffle"].dtype) == "boolean" and df["train.shuffle"].isna().all()
    assert isinstance(df["task.name"].dtype, pd.CategoricalDtype)
    assert df["converged"].dtype == bool and df["train.lr"].dtype == np.float64
    label = df["model.hidden_label"].dtype
    assert isinstance(label, pd.CategoricalDtype) and label.ordered
    assert list(label.categories) == ["[2]", "[2,2]", "[16]"]
    in_order = [v.tolist() for v in df.sort_values("model.hidden_label")["model.hidden"]]
    assert [w for i, w in enumerate(in_order) if w not in in_order[:i]] == WIDTHS_SORTED
    assert df.groupby("model.hidden_label", observed=True).size().tolist() == [16, 16, 16]
    assert "loss" not in df.columns and "epoch" not in df.columns


def test_polars_read_and_scan(sweep_dir):
    for df in (pl.read_parquet(sweep_dir), pl.scan_parquet(sweep_dir).collect()):
        assert df.height == N_RUNS
        assert df.schema["epoch_acc100"] == pl.Int64 and df.schema["model.hidden"] == pl.List(pl.Int64)
        assert df.schema["task.name"] == pl.Categorical
        assert df["epoch_acc100"].null_count() == (~df["converged"]).sum()
        widths = df.sort("model.hidden")["model.hidden"].unique(maintain_order=True).to_list()
        assert widths == WIDTHS_SORTED


def test_pyarrow_dataset(sweep_dir):
    table = ds.dataset(sweep_dir, format="parquet").to_table()
    assert table.num_rows == N_RUNS
    assert table.schema.field("model.hidden").type == pa.list_(pa.int64())
    assert table.schema.field("epoch_acc100").type == pa.int64()
    assert pa.types.is_dictionary(table.schema.field("task.name").type)


@pytest.mark.parametrize("pattern", ["*.parquet", "**/*.parquet"], ids=["plain", "recursive"])
def test_duckdb(sweep_dir, pattern):
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM '{sweep_dir}/{pattern}'")
    assert rel.shape[0] == N_RUNS and "loss" not in rel.columns
    types = dict(zip(rel.columns, map(str, rel.types)))
    assert types["model.hidden"] == "BIGINT[]" and types["epoch_acc100"] == "BIGINT"
    widths = con.sql(f"""SELECT DISTINCT "model.hidden" AS h FROM '{sweep_dir}/{pattern}' ORDER BY h""").fetchall()
    assert [list(w[0]) for w in widths] == WIDTHS_SORTED
    n_null = con.sql(f"SELECT count(*) FROM '{sweep_dir}/{pattern}' WHERE epoch_acc100 IS NULL").fetchall()[0][0]
    assert n_null == con.sql(f"SELECT count(*) FROM '{sweep_dir}/{pattern}' WHERE NOT converged").fetchall()[0][0]


def test_curves_table_read_natively_from_its_own_path(sweep_dir):
    curves = layout_of(sweep_dir).curves
    runs = pd.read_parquet(sweep_dir)
    c = pd.read_parquet(curves)
    assert list(c.columns) == ["run_id", "epoch", "loss", "mse", "accuracy", "test_loss", "test_accuracy"]
    assert c["accuracy"].between(0, 1).all() and c["test_loss"].isna().all()   # no held-out set here
    assert set(c["run_id"]) == set(runs["run_id"])
    assert c.groupby("run_id").size().eq(len(log_spaced_epochs(200, 6))).all()
    assert pl.read_parquet(curves).height == len(c) == pl.scan_parquet(curves).collect().height
    for pattern in ("*.parquet", "**/*.parquet"):
        assert duckdb.sql(f"SELECT count(*) FROM '{curves}/{pattern}'").fetchall()[0][0] == len(c)


def test_results_load_is_read_parquet(sweep_dir):
    import results
    df = results.load(sweep_dir)
    pd.testing.assert_frame_equal(df, pd.read_parquet(sweep_dir))  # same columns, dtypes, values
    assert df.attrs["manifest"]["name"] == "native"
    # the analysis groups a list column through its ordered label: widths in numeric order
    table = results.convergence(df, by=["hidden"])
    assert table["model.hidden"].tolist() == ["[2]", "[2,2]", "[16]"]
    assert table["n"].tolist() == [16, 16, 16]
    sub = results.load(sweep_dir, filters=[("model.hidden", "==", [2, 2])], columns=["hidden", "acc100"])
    assert set(sub.columns) == {"model.hidden", "model.hidden_label", "epoch_acc100"} and len(sub) == 16
    assert all(list(v) == [2, 2] for v in sub["model.hidden"])


def test_survival_columns_and_swept_view(sweep_dir):
    import results
    from results import stats
    df = pd.read_parquet(sweep_dir)
    d = results.survival(df, "acc100")
    # lifelines' convention, from the raw columns: the epoch reached, else epochs_run; event 1/0
    reached = df["epoch_acc100"].notna().to_numpy()
    assert (d["event"].to_numpy() == reached.astype(int)).all()
    expect = np.where(reached, df["epoch_acc100"].to_numpy(float, na_value=np.nan), df["epochs_run"].to_numpy(float))
    assert np.array_equal(d["duration"].to_numpy(), expect)
    # a Kaplan-Meier by hand over (duration, event) gives the report's median
    t, e = d["duration"].to_numpy(), d["event"].to_numpy()
    s, med = 1.0, np.inf
    for u in np.unique(t[e == 1]):
        s *= 1 - ((t == u) & (e == 1)).sum() / (t >= u).sum()
        if s <= 0.5 + 1e-12:
            med = u
            break
    assert stats.km_fit(t, e.astype(bool)).quantile(0.5)[0] == med
    v = results.swept(df)
    assert {"lr", "hidden", "seed", "epoch_acc100"} <= set(v.columns) and "loss" not in v.columns
    assert len(v.query("lr == 0.5 and hidden == '[2,2]'")) == 8
