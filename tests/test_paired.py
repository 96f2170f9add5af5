"""Paired tests (McNemar, censoring-aware sign test) against hand counts and scipy references."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from results import analysis, paired
from sweep.grid.hashing import INIT_KEY_KEYS


def test_init_columns_match_the_init_key():
    from sweep.grid.schema import PARAMS
    assert {p.key for p in PARAMS if paired.is_init_column(p.key)} == set(INIT_KEY_KEYS) - {"seed"}


def test_mcnemar_exact_and_mid_p():
    # 7 pairs only A converged, 2 only B, 11 concordant
    a = np.array([1] * 7 + [0] * 2 + [1] * 6 + [0] * 5, bool)
    b = np.array([0] * 7 + [1] * 2 + [1] * 6 + [0] * 5, bool)
    t = paired.mcnemar(a, b)
    assert (t.a_only, t.b_only, t.concordant) == (7, 2, 11)
    exact = sps.binomtest(2, 9, 0.5).pvalue  # two-sided exact binomial on the discordant pairs
    assert t.exact == pytest.approx(exact)
    assert t.pvalue == pytest.approx(exact - sps.binom.pmf(2, 9, 0.5))
    assert paired.mcnemar([True, False], [True, False]).pvalue == 1.0  # no discordant pair


def test_sign_test_orders_pairs_through_censoring():
    # (ta, oa, tb, ob): A earlier; B earlier; tie; A reached, B censored later -> A earlier;
    # A reached at 50, B censored at 30 -> order unknown; both censored -> no order
    ta = [5, 20, 10, 40, 50, 100]
    oa = [1, 1, 1, 1, 1, 0]
    tb = [9, 10, 10, 100, 30, 100]
    ob = [1, 1, 1, 0, 0, 0]
    a_first, b_first = paired.pair_order(ta, oa, tb, ob)
    assert a_first.tolist() == [True, False, False, True, False, False]
    assert b_first.tolist() == [False, True, False, False, False, False]
    t = paired.paired_sign_test(ta, oa, tb, ob)
    assert (t.a_only, t.b_only, t.concordant) == (2, 1, 3)
    assert t.exact == pytest.approx(sps.binomtest(1, 3, 0.5).pvalue)


def runs(lr_effect: int, n: int = 30) -> pd.DataFrame:
    """Two lrs over the same seeds: the seed sets a base epoch, lr=2 converges lr_effect earlier."""
    rng = np.random.default_rng(1)
    base = rng.integers(20, 80, n)
    rows = []
    for lr, shift in ((0.5, 0), (2.0, lr_effect)):
        for s in range(n):
            e = int(base[s] - shift)
            rows.append({"seed": s, "train.lr": lr, "model.hidden": "[2]", "train.loss": "mse",
                         "epochs_run": 100, "epoch_acc100": e if e < 90 else None})
    df = pd.DataFrame(rows)
    df["epoch_acc100"] = df["epoch_acc100"].astype("Int64")
    df["epochs_run"] = df["epochs_run"].astype("Int64")
    df["diverged"] = False
    return df


def test_compare_uses_paired_tests_when_seeds_pair_runs():
    df = runs(lr_effect=3)
    r = analysis.compare(df, {"lr": 2.0}, {"lr": 0.5})
    assert r["paired"] and r["n_pairs"] == 30 and "McNemar" in r["share_test"] and "sign" in r["time_test"]
    # every pair: lr=2 three epochs earlier -> 30 of 30 signs; exact p = 2 / 2**30
    assert (r["a_first"], r["b_first"]) == (30, 0)
    assert r["time_pvalue"] == pytest.approx(2 * 0.5 ** 30 - 0.5 ** 30)
    # the unpaired log-rank cannot see a 3-epoch shift against the 20..80 seed spread
    assert r["logrank_pvalue"] > 0.05


def test_compare_is_unpaired_when_init_changes_or_seeds_differ():
    df = runs(lr_effect=3)
    wide = df[df["train.lr"] == 0.5].assign(**{"model.hidden": "[4]"})
    both = pd.concat([df[df["train.lr"] == 0.5], wide], ignore_index=True)
    r = analysis.compare(both, {"hidden": "[4]"}, {"hidden": "[2]"})
    assert not r["paired"] and "initial weights differ" in r["pairing"]
    assert r["share_test"] == "Fisher exact (unpaired)" and r["time_test"] == "log-rank (unpaired)"
    assert r["time_pvalue"] == r["logrank_pvalue"]
    shifted = df.assign(seed=np.where(df["train.lr"] == 2.0, df["seed"] + 100, df["seed"]))
    r = analysis.compare(shifted, {"lr": 2.0}, {"lr": 0.5})
    assert not r["paired"] and "partner" in r["pairing"]


def test_cells_that_share_their_first_seeds_pair_on_the_common_seeds():
    """Issue 28 item 7: neighbouring cells of a sequential sweep (seeds 0..29 and 0..19) pair on
    seeds 0..19, and every figure of the row is of those runs; a seed both have but whose setting
    does not match still refuses the pairing."""
    df = runs(lr_effect=3)
    short = df[(df["train.lr"] == 0.5) | (df["seed"] < 20)]
    r = analysis.compare(short, {"lr": 2.0}, {"lr": 0.5})
    assert r["paired"] and r["n_pairs"] == 20 and r["pairing_short"] == "paired on common seeds"
    assert "20 seeds both have" in r["pairing"] and "0 runs of A and 10 of B" in r["pairing"]
    assert r["n_a"] == r["n_b"] == 20 and (r["a_first"], r["b_first"]) == (20, 0)
    same = analysis.compare(df[df["seed"] < 20], {"lr": 2.0}, {"lr": 0.5})
    cols = ["share_a", "share_b", "share_diff", "share_diff_lo", "share_pvalue", "time_pvalue", "km_median_b"]
    assert r[cols].tolist() == same[cols].tolist()
    clash = short.assign(**{"train.epochs": 100})   # seed 3 of A and of B differ in a setting
    clash.loc[((clash["train.lr"] == 2.0) & (clash["seed"] == 3)) | ((clash["train.lr"] == 0.5) & (clash["seed"] == 4)),
              "train.epochs"] = 200
    r = analysis.compare(clash, {"lr": 2.0}, {"lr": 0.5})
    assert not r["paired"] and r["pairing_short"] == "seeds do not match"
