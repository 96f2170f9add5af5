"""Held-out ("test") set analysis (issue 27 item 4) on small frames whose answers are worked out
here by hand: the Kaplan-Meier curve of a test milestone, test accuracy and gaps per cell with
their intervals, the runs that fit the training set but not the test set, the train/test curves
figure and the report's held-out section (absent without a held-out set)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import results
from results import analysis, held_out as gen
from results.held_out_report import report_blocks
from results.layout import layout_of
from results.report import default_metric, write_report
from results.train_test_plot import train_test_figure
from results.views import survival

Z95 = 1.959963984540054      # the normal 0.975 quantile
T95_4 = 2.7764451051977987   # Student's t 0.975 quantile, 4 degrees of freedom


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval written out (not results.stats')."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows in the reader's dtypes; a row without ``test_final_loss`` has no held-out set."""
    base = {"run_id": 0, "train.lr": 0.5, "epochs_run": 10, "final_loss": 0.01, "final_mse": 0.01,
            "final_accuracy": 1.0,
            "test_final_loss": None, "test_final_accuracy": None, "epoch_acc100": 2, "test_epoch_acc100": None,
            "diverged": False}
    df = pd.DataFrame([{**base, "run_id": i + 1, **r} for i, r in enumerate(rows)])
    df["run_id"] = df["run_id"].astype(np.uint64)
    for c in ("epochs_run", "epoch_acc100", "test_epoch_acc100"):
        df[c] = df[c].astype("Int64")
    for c in ("final_loss", "final_accuracy", "test_final_loss", "test_final_accuracy"):
        df[c] = df[c].astype(np.float64)
    df["converged"] = df["epoch_acc100"].notna().to_numpy(bool)
    df["gap_accuracy"] = df["final_accuracy"] - df["test_final_accuracy"]
    df["gap_loss"] = df["test_final_loss"] - df["final_loss"]
    return df


def km_frame() -> pd.DataFrame:
    # five runs with a held-out set: test acc100 at 3, 7, 7; censored at 5 and at 10 (their epochs_run);
    # one run without a held-out set (null test columns), which has no test time at all
    rows = [dict(test_epoch_acc100=3), dict(test_epoch_acc100=None, epochs_run=5), dict(test_epoch_acc100=7),
            dict(test_epoch_acc100=7), dict(test_epoch_acc100=None), {}]
    for r in rows[:5]:
        r.update(test_final_loss=0.2, test_final_accuracy=0.75)
    return frame(rows)


def test_km_of_a_test_milestone_censors_at_epochs_run():
    df = km_frame()
    # by hand: t=3 one of 5 at risk -> S = 4/5; t=5 censored; t=7 two of 3 at risk -> S = 4/5 * 1/3
    t = gen.held_out_convergence(df, metric="acc100", at=(3, 6, 7))
    row = t.iloc[0]
    assert t.attrs["metric"] == "test_epoch_acc100"
    assert (row["n"], row["n_converged"]) == (5, 3)
    assert row["p_by_3"] == pytest.approx(0.2) and row["p_by_6"] == pytest.approx(0.2)
    assert row["p_by_7"] == pytest.approx(1 - 4 / 15)
    assert (row["km_p10"], row["km_median"]) == (3, 7)
    # the existing API takes the column as it is: the same numbers on the runs with a held-out set
    same = analysis.convergence(results.with_test_set(df), metric="test_epoch_acc100", at=(7,))
    assert same["p_by_7"].iloc[0] == pytest.approx(1 - 4 / 15)
    # on every run, the one without a held-out set would count as censored at 10: 1 - 5/6 * 2/4
    raw = analysis.convergence(df, metric="test_epoch_acc100", at=(7,))
    assert raw["n"].iloc[0] == 6 and raw["p_by_7"].iloc[0] == pytest.approx(7 / 12)
    s = survival(gen.with_test_set(df), "test_epoch_acc100")
    assert s["duration"].tolist() == [3, 5, 7, 7, 10] and s["event"].tolist() == [1, 0, 1, 1, 0]


def test_held_out_metric_names():
    df = km_frame()
    assert gen.held_out_metric(df, "acc100") == gen.held_out_metric(df, "epoch_acc100") == "test_epoch_acc100"
    assert gen.held_out_metric(df, "test_epoch_acc100") == gen.held_out_metric(df, "test_acc100") == "test_epoch_acc100"
    with pytest.raises(results.analysis.ColumnError):
        gen.held_out_metric(df, "acc75")


def test_report_default_metric_of_a_test_criterion():
    df = km_frame()
    df.attrs["manifest"] = {"main_criterion": "test_acc100"}
    assert default_metric(df) == "test_epoch_acc100"
    df.attrs["manifest"] = {"main_criterion": "acc100"}
    assert default_metric(df) == "epoch_acc100"
    df.attrs["manifest"] = {"main_criterion": "test_acc75"}  # not in the table: the default
    assert default_metric(df) == "epoch_acc100"


def accuracy_frame() -> pd.DataFrame:
    # lr 0.5: test accuracies 0.5, 0.75, 1, 1, 0.25 and one run without a held-out set;
    # lr 2.0: two runs, training accuracy 0.75 and 1, test 0.5 each
    accs = (0.5, 0.75, 1.0, 1.0, 0.25)
    rows = [dict(test_final_accuracy=a, test_final_loss=0.01 + (1 - a)) for a in accs] + [{}]
    rows += [dict(**{"train.lr": 2.0}, final_accuracy=f, test_final_accuracy=0.5, test_final_loss=0.5)
             for f in (0.75, 1.0)]
    return frame(rows)


def test_value_summary_median_order_statistics_and_mean_t_interval():
    t = results.value_summary(accuracy_frame(), "test_final_accuracy", by=["lr"])
    a = t.iloc[0]
    assert (a["n"], a["n_values"]) == (6, 5)
    # sorted 0.25 0.5 0.75 1 1: F(0.75) = 3/5 is the first share >= 1/2; p25 = 0.5, p75 = 1
    assert (a["median"], a["p25"], a["p75"]) == (0.75, 0.5, 1.0)
    # Wilson(1 of 5) reaches 1/2 already (upper 0.62), Wilson's lower end first does at 5 of 5 (0.57)
    assert wilson(1, 5)[1] > 0.5 > wilson(4, 5)[0] and wilson(5, 5)[0] > 0.5
    assert (a["median_lo"], a["median_hi"]) == (0.25, 1.0)
    half = T95_4 * math.sqrt(0.425 / 4) / math.sqrt(5)  # squared deviations from 0.7 sum to 0.425
    assert (a["mean"], a["mean_lo"], a["mean_hi"]) == pytest.approx((0.7, 0.7 - half, 0.7 + half))
    b = t.iloc[1]
    assert (b["mean"], b["mean_lo"], b["mean_hi"], b["median"]) == (0.5, 0.5, 0.5, 0.5)


def test_generalisation_gaps_by_cell():
    t = results.generalisation(accuracy_frame(), by="lr")
    assert t["train.lr"].tolist() == [0.5, 2.0] and t["n_test"].tolist() == [5, 2]
    a, b = t.iloc[0], t.iloc[1]
    # lr 0.5: accuracy gaps 1 - acc = 0.5 0.25 0 0 0.75 -> median 0.25; loss gaps = 1 - acc as well
    assert a["gap_accuracy_median"] == 0.25 and a["gap_accuracy_mean"] == pytest.approx(0.3)
    assert a["gap_loss_median"] == pytest.approx(0.25)
    assert a["test_final_accuracy_median"] == 0.75
    # lr 2.0: gaps 0.25 and 0.5: lower median 0.25, mean 0.375
    assert (b["gap_accuracy_median"], b["gap_accuracy_mean"]) == (0.25, 0.375)
    assert b["gap_loss_median"] == pytest.approx(0.49)


def test_fits_train_not_test_share_with_wilson_interval():
    # 10 runs with a held-out set: 7 fit the training set, 3 of them below 100% on the test set;
    # an 11th run (fits the training set) has no held-out set and is left out
    rows = ([dict(test_final_accuracy=0.9, test_final_loss=1.0)] * 2
            + [dict(test_final_accuracy=0.6, test_final_loss=1.0)]
            + [dict(test_final_accuracy=1.0, test_final_loss=0.1)] * 4
            + [dict(final_accuracy=0.75, test_final_accuracy=0.5, epoch_acc100=None, test_final_loss=1.0)] * 3
            + [dict(final_accuracy=1.0)])
    df = frame(rows)
    t = results.fits_train_not_test(df)
    r = t.iloc[0]
    assert (r["n"], r["n_fit"], r["n_fit_not_test"]) == (10, 7, 3)
    assert r["share"] == pytest.approx(0.3) and r["share_of_fit"] == pytest.approx(3 / 7)
    assert (r["share_lo"], r["share_hi"]) == pytest.approx(wilson(3, 10), abs=1e-12)
    assert (r["share_of_fit_lo"], r["share_of_fit_hi"]) == pytest.approx(wilson(3, 7), abs=1e-12)
    # a lower threshold: only the 0.6 run is below 0.8; "converged" (epoch_acc100 reached) gives the same 7
    r8 = results.fits_train_not_test(df, threshold=0.8, train="converged").iloc[0]
    assert (r8["n_fit"], r8["n_fit_not_test"]) == (7, 1)
    assert (r8["share_lo"], r8["share_hi"]) == pytest.approx(wilson(1, 10), abs=1e-12)
    with pytest.raises(analysis.AnalysisError):
        results.fits_train_not_test(df.drop(columns=["test_final_accuracy"]))


def curves_for(df: pd.DataFrame) -> pd.DataFrame:
    """Three epochs per run: training loss = run_id, test loss = 2 run_id, accuracies a fifth of those."""
    rows = []
    for rid in df["run_id"].astype(int):
        for e in (0, 10, 20):
            rows.append(dict(run_id=rid, epoch=e, loss=float(rid), mse=float(rid), accuracy=rid / 20,
                             test_loss=2.0 * rid, test_accuracy=rid / 40))
    c = pd.DataFrame(rows)
    c["run_id"] = c["run_id"].astype(np.uint64)
    return c


def test_train_test_figure_medians_and_quartiles():
    df = accuracy_frame()  # runs 1-5 (lr 0.5, run 6 has no held-out set) and 7-8 (lr 2.0)
    fig = train_test_figure(df, curves_for(df), by=["lr"])
    loss_ax, acc_ax = fig.axes[:2]
    lines = loss_ax.get_lines()
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    # lr 0.5 over runs 1..5 (run 6 left out): median 3, test median 6; lr 2.0: 7.5 and 15
    assert np.allclose(lines[0].get_ydata(), 3) and np.allclose(lines[1].get_ydata(), 6)
    assert np.allclose(lines[2].get_ydata(), 7.5) and np.allclose(lines[3].get_ydata(), 15)
    assert lines[0].get_color() != lines[2].get_color() and lines[0].get_color() == lines[1].get_color()
    assert np.allclose(acc_ax.get_lines()[0].get_ydata(), 3 / 20)
    band = loss_ax.collections[0].get_paths()[0].vertices[:, 1]  # interquartile of 1..5: 2 to 4
    assert band.min() == pytest.approx(2) and band.max() == pytest.approx(4)
    assert loss_ax.get_yscale() == "log"
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["lr=0.5  (n=5)", "lr=2  (n=2)", "training set", "test set"]


def test_report_blocks_only_with_a_held_out_set():
    df = accuracy_frame()
    assert report_blocks(df.drop(columns=[c for c in df if c.startswith(("test_", "gap_"))]), None,
                         ["train.lr"], "epoch_acc100") == []
    none = df.assign(test_final_loss=np.nan, test_final_accuracy=np.nan)
    assert report_blocks(none, None, ["train.lr"], "epoch_acc100") == []
    blocks = report_blocks(df, curves_for(df), ["train.lr"], "epoch_acc100")
    heads = [b[1] for b in blocks if b[0] == "h2"]
    assert heads == ["Held-out (test) set by setting", "Convergence on the test set (test_epoch_acc100)",
                     "Training and test curves"]
    table = blocks[2][1]
    assert table["runs with a test set"].tolist() == ["5", "2"]
    lo, hi = wilson(1, 2)  # lr 2.0: the run with training accuracy 1 is at 50% on the test set
    assert table.iloc[1, -1] == f"50.0% (1) [{100 * lo:.1f}%–{100 * hi:.1f}%]"


def test_report_of_a_directory_with_and_without_a_held_out_set(tmp_path):
    df = accuracy_frame()
    plain = df.drop(columns=[c for c in df if c.startswith(("test_", "gap_"))])
    old_curves = curves_for(df)[["run_id", "epoch", "loss", "mse"]]  # as written before held-out sets
    for name, table, curves in (("held", df, curves_for(df)), ("plain", plain, old_curves)):
        d = tmp_path / name
        d.mkdir()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), d / "part-0.parquet")
        layout_of(d).curves.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(curves, preserve_index=False), layout_of(d).curves / "part-0.parquet")
    held = write_report(tmp_path / "held", by=["lr"])[1].read_text()
    plain_md = write_report(tmp_path / "plain", by=["lr"])[1].read_text()
    assert "## Held-out (test) set by setting" in held and "train_test_curves.png" in held
    assert "Held-out" not in plain_md and "test_km" not in plain_md
