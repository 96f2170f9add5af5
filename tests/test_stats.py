"""results.stats against textbook values, hand computations, a naive twin and known distributions."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy.stats import binomtest

from results import stats


# --- Wilson and Newcombe ------------------------------------------------------------------

def test_wilson_textbook_value():
    # Newcombe (1998) "Two-sided confidence intervals for the single proportion", 81/263
    lo, hi = stats.wilson_interval(81, 263)
    assert lo == pytest.approx(0.2553, abs=5e-5)
    assert hi == pytest.approx(0.3662, abs=5e-5)


@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (5, 10), (10, 10), (3, 1000), (81, 263), (999, 1000)])
def test_wilson_matches_definition_and_scipy(k, n):
    z = 1.959963984540054
    lo, hi = stats.wilson_interval(k, n)
    ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)
    # the interval's ends solve |p - pi| = z sqrt(pi (1 - pi) / n)
    p = k / n
    f = lambda q: abs(p - q) - z * math.sqrt(q * (1 - q) / n)  # noqa: E731
    if k > 0:
        assert lo == pytest.approx(optimize.brentq(f, 1e-15, p - 1e-9), abs=1e-9)
    if k < n:
        assert hi == pytest.approx(optimize.brentq(f, p + 1e-9, 1 - 1e-15), abs=1e-9)


def test_wilson_vectorised_and_empty():
    lo, hi = stats.wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert lo.shape == (2,) and lo[0] == 0.0 and hi[1] < 1.0
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))


def test_newcombe_textbook_value():
    # Newcombe (1998) "Interval estimation for the difference between independent proportions",
    # example (a): 56/70 - 48/80, method 10 (hybrid score): 0.0524 to 0.3339
    d, lo, hi = stats.newcombe_interval(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (lo, hi) == pytest.approx((0.0524, 0.3339), abs=5e-5)


# --- Kaplan-Meier ---------------------------------------------------------------------------

def naive_km(times, observed):
    """Product-limit estimate written out: F at each distinct time (events before censorings)."""
    out = {}
    s = 1.0
    for t in sorted(set(times)):
        at_risk = sum(1 for u in times if u >= t)
        d = sum(1 for u, o in zip(times, observed) if u == t and o)
        s *= 1 - d / at_risk
        out[t] = 1 - s
    return out


def test_km_hand_computed():
    # times 1, 2, 2+, 3, 4+ ("+" = censored):
    #   t=1: 5 at risk, 1 event  -> S = 4/5 = 0.8
    #   t=2: 4 at risk, 1 event  -> S = 0.8 * 3/4 = 0.6   (the censored 2 still counts at risk)
    #   t=3: 2 at risk, 1 event  -> S = 0.6 * 1/2 = 0.3
    #   t=4: censored            -> S = 0.3
    fit = stats.km_fit([1, 2, 2, 3, 4], [True, True, False, True, False])
    assert fit.time.tolist() == [1, 2, 3, 4]
    assert fit.cdf == pytest.approx([0.2, 0.4, 0.7, 0.7])
    assert fit.n_risk.tolist() == [5, 4, 2, 1]
    assert fit.prob_by(2.5)[0] == pytest.approx(0.4)
    assert fit.prob_by(0.5)[0] == 0.0
    # quantiles: F first reaches 0.25 at t=2, 0.5 at t=3, never 0.9
    assert fit.quantile(0.25)[0] == 2.0
    assert fit.quantile(0.5)[0] == 3.0
    assert fit.quantile(0.9)[0] == math.inf
    # up to the first censoring (t=2) F is the binomial share 2/5: Wilson interval
    assert fit.prob_by(2)[1:] == pytest.approx(stats.wilson_interval(2, 5))
    # after it, the exponential-Greenwood band around F(3) = 0.7
    p, lo, hi = fit.prob_by(3)
    assert lo < p < hi and 0 < lo and hi < 1


def test_km_matches_naive_twin_with_ties():
    rng = np.random.default_rng(7)
    times = rng.integers(0, 30, 300)
    observed = rng.random(300) < 0.6
    fit = stats.km_fit(times, observed)
    ref = naive_km(times.tolist(), observed.tolist())
    assert fit.time.tolist() == sorted(ref)
    assert fit.cdf == pytest.approx([ref[t] for t in sorted(ref)], abs=1e-12)
    assert np.all(fit.cdf_lo <= fit.cdf + 1e-12) and np.all(fit.cdf <= fit.cdf_hi + 1e-12)


def test_uncensored_km_is_the_empirical_cdf():
    t = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    fit = stats.km_fit(t, np.ones(t.size, bool))
    for k in range(11):
        assert fit.prob_by(k)[0] == pytest.approx((t <= k).mean())
        assert fit.prob_by(k)[1:] == pytest.approx(stats.wilson_interval((t <= k).sum(), t.size))


def _exponential_sample(rng, n, lam):
    """Exponential times, random censoring at rate lam/3 and administrative censoring at 300."""
    t = rng.exponential(1 / lam, n)
    c = np.minimum(rng.exponential(3 / lam, n), 300.0)
    return np.minimum(t, c), t <= c


def test_km_median_ci_covers_exponential_median_and_is_narrow():
    lam = 0.01
    true_median = math.log(2) / lam  # 69.3
    times, observed = _exponential_sample(np.random.default_rng(12345), 4000, lam)
    assert 0.15 < 1 - observed.mean() < 0.4  # a real share is censored
    med, lo, hi = stats.km_quantile(times, observed, 0.5)
    assert lo <= true_median <= hi
    assert abs(med - true_median) < 0.05 * true_median
    assert hi - lo < 0.15 * true_median


def test_km_intervals_have_nominal_coverage():
    lam, k = 0.01, 50.0
    rng = np.random.default_rng(2024)
    cover_med = cover_p = 0
    reps = 300
    for _ in range(reps):
        times, observed = _exponential_sample(rng, 200, lam)
        fit = stats.km_fit(times, observed)
        _, lo, hi = fit.quantile(0.5)
        cover_med += lo <= math.log(2) / lam <= hi
        _, plo, phi = fit.prob_by(k)
        cover_p += plo <= 1 - math.exp(-lam * k) <= phi
    assert 0.90 <= cover_med / reps <= 0.995
    assert 0.90 <= cover_p / reps <= 0.99


def test_median_not_reached_when_under_half_converge():
    times = np.r_[np.arange(1, 31), np.full(70, 1000)]
    observed = np.r_[np.ones(30, bool), np.zeros(70, bool)]
    med, lo, hi = stats.km_quantile(times, observed, 0.5)
    assert med == math.inf and hi == math.inf and lo == math.inf
    p10 = stats.km_quantile(times, observed, 0.10)
    assert p10[0] == 10.0 and p10[1] <= 10 <= p10[2] < math.inf


def test_prob_by_and_empty_input():
    p, lo, hi = stats.prob_by([1, 2, 3, 10], [1, 1, 1, 0], 2)
    assert p == pytest.approx(0.5)
    # beyond the last observed time F is not identified while a run was still unconverged...
    assert math.isnan(stats.prob_by([1, 2, 3, 10], [1, 1, 1, 0], 11)[0])
    # ...but it is once every run has converged
    assert stats.prob_by([1, 2, 3], [1, 1, 1], 50)[0] == 1.0
    assert all(math.isnan(v) for v in stats.km_fit([], []).quantile(0.5))
    with pytest.raises(ValueError):
        stats.km_fit([1.0, np.nan], [True, False])


# --- log-rank -----------------------------------------------------------------------------

def test_logrank_detects_different_rates_only():
    rng = np.random.default_rng(99)
    a = _exponential_sample(rng, 400, 0.01)
    b = _exponential_sample(rng, 400, 0.02)
    c = _exponential_sample(rng, 400, 0.01)
    diff = stats.logrank(*a, *b)
    same = stats.logrank(*a, *c)
    assert diff.pvalue < 1e-6
    assert diff.statistic < 0  # sample 1 (rate 0.01) converges later than sample 2
    assert same.pvalue > 0.05
