"""results.analysis on small frames with the real column names and the reader's dtypes."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from results import analysis, stats
from results.reader import ColumnError, resolve_column


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows with defaults, in the dtypes ``results.reader.load`` gives."""
    base = {"train.lr": 0.5, "model.hidden": "[2]", "train.epochs": 100, "epochs_run": 100,
            "epoch_acc75": None, "epoch_acc100": None, "diverged": False}
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in ("train.epochs", "epochs_run", "epoch_acc75", "epoch_acc100"):
        df[c] = df[c].astype("Int64")
    df["model.hidden"] = df["model.hidden"].astype("category")
    df["diverged"] = df["diverged"].astype(bool)
    df["converged"] = df["epoch_acc100"].notna().to_numpy(bool)
    return df


@pytest.fixture
def two_groups() -> pd.DataFrame:
    # lr=0.5: 10 runs, 4 reach acc100 at 5, 10, 15, 20; 6 never within 100 epochs (censored)
    # lr=2.0: 10 runs, all reach acc100, at 1..10
    rows = [{"epoch_acc100": e} for e in (5, 10, 15, 20)] + [{} for _ in range(6)]
    rows += [{"train.lr": 2.0, "epoch_acc100": e, "epoch_acc75": max(0, e - 1)} for e in range(1, 11)]
    return frame(rows)


def test_censored_runs_count_in_n(two_groups):
    t = analysis.convergence(two_groups, by=["lr"], at=(10, 15))
    assert t["train.lr"].tolist() == [0.5, 2.0]
    slow = t.iloc[0]
    assert (slow["n"], slow["n_converged"]) == (10, 4)
    assert slow["converged_share"] == pytest.approx(0.4)
    assert (slow["share_lo"], slow["share_hi"]) == pytest.approx(stats.wilson_interval(4, 10))
    # all censoring is at epoch 100, after every k: P(by k) is the plain share of all 10 runs
    assert slow["p_by_10"] == pytest.approx(0.2)
    assert slow["p_by_15"] == pytest.approx(0.3)
    assert (slow["p_by_10_lo"], slow["p_by_10_hi"]) == pytest.approx(stats.wilson_interval(2, 10))
    # F = 0.1, 0.2, 0.3, 0.4 at 5, 10, 15, 20: p10 = 5, p25 = 15, median not reached
    assert (slow["km_p10"], slow["km_p25"]) == (5, 15)
    assert slow["km_median"] == math.inf and slow["km_median_hi"] == math.inf
    # the converged-only summaries ignore the censored runs (and say so by their name)
    assert slow["mean_converged"] == pytest.approx(12.5)
    assert slow["median_converged"] == pytest.approx(12.5)
    fast = t.iloc[1]
    assert fast["converged_share"] == 1.0 and fast["km_median"] == 5 and fast["p_by_10"] == 1.0


def test_convergence_ungrouped_and_by_short_names(two_groups):
    t = analysis.convergence(two_groups)
    assert len(t) == 1 and t["n"].iloc[0] == 20 and t["n_converged"].iloc[0] == 14
    t2 = analysis.convergence(two_groups, by=["lr", "hidden"], metric="acc100")
    assert list(t2.columns[:2]) == ["train.lr", "model.hidden"]
    assert t2.attrs["metric"] == "epoch_acc100"


def test_diverged_runs_censored_or_never():
    # runs: acc100 at 2; at 4; diverged at epoch 1 without reaching it; still training at 10
    df = frame([{"epoch_acc100": 2, "epochs_run": 10}, {"epoch_acc100": 4, "epochs_run": 10},
                {"diverged": True, "epochs_run": 1}, {"epochs_run": 10}])
    df["train.epochs"] = pd.array([10] * 4, dtype="Int64")
    # censor: t=1 censored (4 -> 3 at risk); t=2: S = 2/3; t=4: S = 2/3 * 1/2 = 1/3 -> F(4) = 2/3
    censor = analysis.convergence(df, at=(4,))
    assert censor["p_by_4"].iloc[0] == pytest.approx(2 / 3)
    # never: the diverged run is censored at its budget (10): F(4) = 2/4
    never = analysis.convergence(df, at=(4,), diverged="never")
    assert never["p_by_4"].iloc[0] == pytest.approx(0.5)
    assert censor["n_diverged"].iloc[0] == 1 and censor["n"].iloc[0] == 4


def test_null_group_values_form_their_own_group():
    df = frame([{"epoch_acc100": 3}, {"epoch_acc100": 4}])
    df["train.momentum"] = [np.nan, 0.9]
    t = analysis.convergence(df, by=["train.momentum"])
    assert len(t) == 2 and t["n"].tolist() == [1, 1]


def test_claim_sentence_and_percentile(two_groups):
    c = analysis.claim(two_groups, "epoch_acc100", 10, by=["lr"])
    row = c.iloc[0]
    assert row["p_by"] == pytest.approx(0.2) and row["percentile"] == pytest.approx(20)
    assert row["share_of_converged"] == pytest.approx(0.5)  # 2 of the 4 converged runs by 10
    assert row["never_share"] == pytest.approx(0.6)
    s = row["sentence"]
    assert s.startswith("With train.lr=0.5: 20.0% (95% CI")
    assert "of 10 runs reach epoch_acc100 by epoch 10" in s
    assert "20th percentile" in s and "60.0% never converge within 100 epochs" in s
    assert len(analysis.claim(two_groups, "acc100", [10, 15])) == 2
    beyond = analysis.claim(two_groups, "acc100", 500, by=["lr"])  # every run stops at epoch 100
    assert math.isnan(beyond["p_by"].iloc[0]) and "cannot be estimated" in beyond["sentence"].iloc[0]
    assert beyond["p_by"].iloc[1] == 1.0  # all lr=2 runs converged: F stays 1


def test_compare(two_groups):
    r = analysis.compare(two_groups, {"lr": 2.0}, {"lr": 0.5})
    assert (r["n_a"], r["n_b"], r["converged_a"], r["converged_b"]) == (10, 10, 10, 4)
    d, lo, hi = stats.newcombe_interval(10, 10, 4, 10)
    assert (r["share_diff"], r["share_diff_lo"], r["share_diff_hi"]) == pytest.approx((d, lo, hi))
    assert r["logrank_pvalue"] < 0.01
    with pytest.raises(analysis.AnalysisError, match="matches no runs"):
        analysis.compare(two_groups, {"lr": 7.0}, {"lr": 0.5})


def test_select_json_and_any_of(two_groups):
    df = two_groups.copy()
    df["model.hidden"] = pd.Categorical(["[2]"] * 15 + ["[2, 2]"] * 5)
    assert len(analysis.select(df, {"hidden": [2]})) == 15
    assert len(analysis.select(df, {"hidden": [2, 2]})) == 5
    assert len(analysis.select(df, {"lr": (0.5, 2.0)})) == 20


def test_milestone_conditional(two_groups):
    c = analysis.milestone_conditional(two_groups, "epoch_acc75", "epoch_acc100", bins=[0, 5, 10], at=(5,))
    assert c["n"].tolist() == [5, 5]  # acc75 at 0..4 and 5..9; the 10 runs without acc75 are left out
    assert c.attrs["n_given_censored"] == 10
    assert c["km_median"].tolist() == [3, 8]
    assert c["lag_median"].tolist() == [1, 1]
    assert c["p_by_5"].tolist() == pytest.approx([1.0, 0.0])
    assert len(analysis.milestone_conditional(two_groups, bins=3)) >= 2


def test_resolve_column():
    cols = ["train.lr", "model.hidden", "epoch_acc100", "a.x", "b.x"]
    assert resolve_column(cols, "lr") == "train.lr"
    assert resolve_column(cols, "acc100") == "epoch_acc100"
    with pytest.raises(ColumnError, match="ambiguous.*a.x, b.x"):
        resolve_column(cols, "x")
    with pytest.raises(ColumnError, match="did you mean train.lr"):
        resolve_column(cols, "train.lrr")


def test_varying_columns_skip_dependent_ones():
    df = frame([{"train.lr": lr, "model.hidden": h} for lr in (0.1, 0.5, 1.0) for h in ("[2]", "[3]")])
    df["train.optimizer"] = pd.Categorical(["sgd", "momentum"] * 3)
    df["train.momentum"] = [np.nan, 0.9] * 3  # determined by the optimizer
    df["model.hidden"] = pd.Categorical(["[2]", "[3]"] * 3)  # same split as the optimizer
    chosen = analysis.varying_columns(df)
    assert chosen[0] == "train.lr" and len(chosen) == 2
