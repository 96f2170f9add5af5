"""The sequential rule's statistics, and the coverage of its reported 95% intervals by simulation.

The simulation draws each replication's outcomes from a known distribution, applies the
tool's own rule functions (``share_resolved`` + ``first_stop``, the code ``sweep.run.sequential``
runs on every cell) at the same block boundaries, and counts how often the interval at the
stop holds the truth. Results are quoted in docs/sequential.md.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from results import sequential_stats as ss
from results.stats import km_fit


def test_boundaries():
    assert ss.boundaries(200, 1000, 200).tolist() == [200, 400, 600, 800, 1000]
    assert ss.boundaries(100, 1050, 200).tolist() == [100, 300, 500, 700, 900, 1050]
    assert ss.boundaries(5, 5, 100).tolist() == [5]


def test_exact_interval_matches_scipy_binomtest():
    for k, n in [(0, 10), (3, 10), (10, 10), (81, 263), (1, 200)]:
        ref = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        lo, hi = ss.exact_interval(k, n, 0.95)
        assert lo == pytest.approx(ref.low, abs=1e-10) and hi == pytest.approx(ref.high, abs=1e-10)


def test_share_stop_on_sequences_matches_a_loop():
    rng = np.random.default_rng(3)
    seq = rng.random((6, 3000)) < np.array([0.01, 0.1, 0.3, 0.5, 0.9, 0.99])[:, None]
    bounds = ss.boundaries(100, 3000, 100)
    idx, n, k, lo, hi = ss.share_stop(seq, bounds, 0.03)
    for r in range(6):  # independent loop: first boundary where both criteria hold
        for j, b in enumerate(bounds):
            kk = int(seq[r, :b].sum())
            ci = stats.binomtest(kk, int(b)).proportion_ci(0.95, method="exact")
            worst = min(max(0.5, ci.low), ci.high)
            if (ci.high - ci.low) / 2 <= 0.03 and 1.959964 * np.sqrt(worst * (1 - worst) / b) <= 0.03 or b == 3000:
                break
        assert (idx[r], n[r], k[r]) == (j, b, kk)
        assert lo[r] == pytest.approx(ci.low, abs=1e-9) and hi[r] == pytest.approx(ci.high, abs=1e-9)
    # with only part of the data, an unresolved row says so (-1) at the last evaluable boundary
    idx2, n2, *_ = ss.share_stop(seq[:, :250], bounds, 0.03)
    early = idx <= 1  # stopped at 100 or 200 with all the data: the same with 250 seeds
    assert (idx2[early] == idx[early]).all() and (idx2[~early] == -1).all() and (n2[~early] == 200).all()
    assert early.any() and not early.all()


def _share_coverage(p, halfwidth, mn, step, reps, rng, rule):
    """Coverage of the interval at the stop, and mean runs, for a cell with true share p."""
    n_worst = int(np.ceil(ss._z(0.95) ** 2 / (4 * halfwidth ** 2)))  # every replication stops by then
    bounds = ss.boundaries(mn, mn + step * int(np.ceil((n_worst - mn) / step + 1)), step)
    k = np.cumsum(rng.binomial(np.diff(np.r_[0, bounds]), p, size=(reps, bounds.size)), axis=1)
    ok, lo, hi = rule(k, bounds[None, :], halfwidth, 0.95)
    j = ss.first_stop(ok)
    rows = np.arange(reps)
    return float(((lo[rows, j] <= p) & (p <= hi[rows, j])).mean()), float(bounds[j].mean())


PS = np.r_[np.geomspace(0.0005, 0.1, 18), np.linspace(0.15, 0.5, 6)]


def test_coverage_share_rule_h005():
    """Blocks of 50, half-width 0.05: the tool's rule covers at >= 95% (within 3 simulation SE)
    at every share; the plain Wilson rule falls clearly short near 0 (why the tool corrects it)."""
    reps = 3000
    se3 = 3 * np.sqrt(0.95 * 0.05 / reps)
    rng = np.random.default_rng(2026)
    tool = np.array([_share_coverage(p, 0.05, 50, 50, reps, rng, ss.share_resolved)[0] for p in PS])
    plain = np.array([_share_coverage(p, 0.05, 50, 50, reps, rng, ss.share_plain_stop)[0] for p in PS])
    assert tool.min() >= 0.95 - se3, dict(zip(PS.round(4), tool))
    assert plain.min() < 0.95 - se3  # the shortfall the correction removes
    assert tool.mean() > 0.95


@pytest.mark.slow
def test_coverage_share_rule_h001():
    """The xor-169 setting: blocks of 200 from 200, half-width 0.01."""
    reps = 2000
    se3 = 3 * np.sqrt(0.95 * 0.05 / reps)
    rng = np.random.default_rng(169)
    tool = np.array([_share_coverage(p, 0.01, 200, 200, reps, rng, ss.share_resolved)[0] for p in PS])
    assert tool.min() >= 0.95 - se3, dict(zip(PS.round(4), tool))


def test_vectorised_median_interval_equals_km_fit():
    rng = np.random.default_rng(5)
    t = np.ceil(rng.gamma(2.0, 50.0, size=(8, 301)))  # integer epochs: many ties
    med, lo, hi = ss.km_median_interval_uncensored(t)
    for r in range(8):
        ref = km_fit(t[r], np.ones(t.shape[1], bool)).quantile(0.5)
        assert (med[r], lo[r], hi[r]) == ref
    # administrative censoring far beyond the median changes nothing
    c = t.copy()
    c[c > 400] = 400
    obs = t <= 400
    for r in range(3):
        assert km_fit(c[r], obs[r]).quantile(0.5) == (med[r], lo[r], hi[r])


def test_coverage_median_rule():
    """Median rule, blocks of 50 up to 2000, half-width 5 epochs, integer gamma(2, 50) epochs
    (true median: the smallest t with P(T <= t) >= 1/2): coverage of the KM median interval."""
    reps, halfwidth = 2000, 5.0
    rng = np.random.default_rng(7)
    bounds = ss.boundaries(50, 2000, 50)
    t = np.ceil(rng.gamma(2.0, 50.0, size=(reps, 2000)))
    true = np.ceil(stats.gamma(2.0, scale=50.0).ppf(0.5))
    stop = np.full(reps, bounds.size - 1)
    lo_s, hi_s = np.full(reps, np.nan), np.full(reps, np.nan)
    open_ = np.ones(reps, bool)
    for j, b in enumerate(bounds):
        _, lo, hi = ss.km_median_interval_uncensored(t[open_, :b])
        ok = np.array([ss.median_resolved(a, c, halfwidth) for a, c in zip(lo, hi)]) | (j == bounds.size - 1)
        rows = np.flatnonzero(open_)[ok]
        stop[rows], lo_s[rows], hi_s[rows] = j, lo[ok], hi[ok]
        open_[rows] = False
        if not open_.any():
            break
    cover = float(((lo_s <= true) & (true <= hi_s)).mean())
    assert cover >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / reps), cover
