"""Paired intervals: published values, their defining equations, and a seeded simulation showing
that each covers at about its stated rate and excludes 0 (or 1/2) when the paired test rejects."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from results import analysis, paired, paired_intervals as pi

Z95 = sps.norm.ppf(0.975)


def tango_z_by_hand(d0, n12, n21, n):
    """Tango (1998) eq. for the score statistic, written out from the paper (not from the code)."""
    a, b, c = 2 * n, -n12 - n21 + (2 * n - n12 + n21) * d0, -n21 * d0 * (1 - d0)
    p21 = (math.sqrt(b * b - 4 * a * c) - b) / (2 * a)
    return (n12 - n21 - n * d0) / math.sqrt(n * (2 * p21 + d0 * (1 - d0)))


def test_newcombe_paired_matches_the_published_example():
    # Cavo et al. 2012 as in Fagerland, Lydersen & Laake, Statistical Analysis of Contingency
    # Tables (2017), ch. 8: Newcombe square-and-add, -0.0621 (95% CI -0.1186 to -0.0046)
    d, lo, hi = pi.newcombe_paired_interval(59, 6, 16, 80)
    assert (d, lo, hi) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


@pytest.mark.parametrize("n12, n21, n", [(6, 16, 161), (1, 7, 21), (11, 1, 500), (3, 0, 40), (40, 20, 160)])
def test_tango_limits_solve_the_score_equation(n12, n21, n):
    d, lo, hi = pi.tango_interval(n12, n21, n)
    assert d == (n12 - n21) / n and lo < d < hi
    assert tango_z_by_hand(lo, n12, n21, n) == pytest.approx(Z95, abs=1e-6)
    assert tango_z_by_hand(hi, n12, n21, n) == pytest.approx(-Z95, abs=1e-6)
    # at a difference of 0 the score statistic is McNemar's (n12 - n21) / sqrt(n12 + n21)
    assert tango_z_by_hand(0.0, n12, n21, n) == pytest.approx((n12 - n21) / math.sqrt(n12 + n21))


def test_tango_edges():
    assert pi.tango_interval(0, 0, 10)[0] == 0 and pi.tango_interval(0, 0, 10)[1] < 0 < pi.tango_interval(0, 0, 10)[2]
    assert pi.tango_interval(10, 0, 10)[2] == 1.0 and pi.tango_interval(0, 10, 10)[1] == -1.0
    assert all(math.isnan(v) for v in pi.tango_interval(0, 0, 0))


@pytest.mark.parametrize("k, m", [(0, 5), (3, 10), (10, 10), (17, 40)])
def test_midp_interval_solves_its_tail_equations_inside_clopper_pearson(k, m):
    _, lo, hi = pi.midp_binomial_interval(k, m)
    if k > 0:
        assert sps.binom.sf(k, m, lo) + sps.binom.pmf(k, m, lo) / 2 == pytest.approx(0.025, abs=1e-9)
    if k < m:
        assert sps.binom.cdf(k - 1, m, hi) + sps.binom.pmf(k, m, hi) / 2 == pytest.approx(0.025, abs=1e-9)
    cp = sps.binomtest(k, m).proportion_ci(0.95, method="exact")
    assert cp.low <= lo + 1e-12 and hi <= cp.high + 1e-12  # mid-p is the less conservative one


def _mcnemar_asymptotic_p(n12, n21):
    return 1.0 if n12 + n21 == 0 else 2 * sps.norm.sf(abs(n12 - n21) / math.sqrt(n12 + n21))


@pytest.mark.parametrize("p12, p21", [(0.10, 0.05), (0.04, 0.04), (0.02, 0.10)])
def test_simulated_paired_shares_cover_and_agree_with_mcnemar(p12, p21):
    rng = np.random.default_rng(28)
    n, reps, delta = 200, 1500, p12 - p21
    cells = rng.multinomial(n, [0.6, p12, p21, 0.4 - p12 - p21], size=reps)
    cover = agree_asym = agree_mid = 0
    for n11, n12, n21, n22 in cells:
        _, lo, hi = pi.tango_interval(n12, n21, n)
        cover += lo <= delta <= hi
        excludes0 = lo > 0 or hi < 0
        agree_asym += excludes0 == (_mcnemar_asymptotic_p(n12, n21) < 0.05)
        a = np.r_[np.ones(n11 + n12, bool), np.zeros(n21 + n22, bool)]
        b = np.r_[np.ones(n11, bool), np.zeros(n12, bool), np.ones(n21, bool), np.zeros(n22, bool)]
        agree_mid += excludes0 == (paired.mcnemar(a, b).pvalue < 0.05)
    # 1500 replicates: the standard error of a 95% coverage is 0.56 points
    assert 0.93 <= cover / reps <= 0.97
    assert agree_asym == reps              # the interval inverts the asymptotic McNemar test
    assert agree_mid / reps >= 0.97        # and the reported mid-p agrees but near the boundary


@pytest.mark.parametrize("theta", [0.5, 0.7])
def test_simulated_censored_pairs_cover_and_agree_with_the_sign_test(theta):
    rng = np.random.default_rng(8)
    n, reps, budget = 60, 1500, 150.0
    cover = agree = 0
    for _ in range(reps):
        base = rng.exponential(100.0, n)                 # the earlier of the pair
        later = base * np.exp(rng.uniform(0.05, 1.0, n))
        a_first = rng.random(n) < theta
        ta, tb = np.where(a_first, base, later), np.where(a_first, later, base)
        oa, ob = ta <= budget, tb <= budget              # both stop at the shared budget
        ta, tb = np.minimum(ta, budget), np.minimum(tb, budget)
        test = paired.paired_sign_test(ta, oa, tb, ob)
        net, lo, hi = pi.net_first_interval(test.a_only, test.b_only)
        cover += lo <= 2 * theta - 1 <= hi
        agree += (lo > 0 or hi < 0) == (test.pvalue < 0.05)
    assert 0.93 <= cover / reps <= 0.985   # mid-p: close to nominal, slightly above on average
    assert agree == reps                   # excludes 0 exactly when the sign test's mid-p rejects


def test_the_issue_row_gets_a_paired_interval_that_agrees_with_its_p_value():
    # 500 seeds, lr 0.5 -> 1: 86.6% -> 88.6%, 1 pair only lr 0.5 converged, 11 only lr 1
    n = 500
    lo_conv = np.r_[np.ones(432, bool), np.ones(1, bool), np.zeros(11, bool), np.zeros(56, bool)]
    hi_conv = np.r_[np.ones(432, bool), np.zeros(1, bool), np.ones(11, bool), np.zeros(56, bool)]
    rows = [{"seed": s, "run_id": 2 * s + (lr == 1.0), "train.lr": lr, "model.hidden": "[2]", "epochs_run": 1000,
             "epoch_acc100": 100 + s % 50 if conv[s] else None, "diverged": False}
            for lr, conv in ((0.5, lo_conv), (1.0, hi_conv)) for s in range(n)]
    df = pd.DataFrame(rows).astype({"epoch_acc100": "Int64", "epochs_run": "Int64"})
    r = analysis.compare(df, {"lr": 1.0}, {"lr": 0.5})
    assert r["paired"] and (r["only_a_converged"], r["only_b_converged"]) == (11, 1)
    assert r["share_a"] == pytest.approx(0.886) and r["share_b"] == pytest.approx(0.866)
    assert r["share_interval"] == "Tango score (paired)" and r["share_pvalue"] < 0.05
    assert 0 < r["share_diff_lo"] < 0.02 < r["share_diff_hi"]
    assert tango_z_by_hand(r["share_diff_lo"], 11, 1, n) == pytest.approx(Z95, abs=1e-6)
    # the unpaired Newcombe interval the report used to print crosses 0 despite p 0.003
    assert analysis.stats.newcombe_interval(443, n, 433, n)[1] < 0


def test_shared_runs_are_refused():
    df = pd.DataFrame({"seed": [0, 1], "run_id": [7, 8], "train.lr": [0.5, 0.5], "epochs_run": [10, 10],
                       "epoch_acc100": pd.array([3, None], "Int64"), "diverged": [False, False]})
    with pytest.raises(analysis.AnalysisError, match="2 runs are in both"):
        analysis.compare(df, {"lr": 0.5}, {"lr": 0.5})
