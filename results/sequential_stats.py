"""The statistics of sequential seeds: when is a cell's answer resolved, and how honest is it?

A cell is evaluated only at the block boundaries ``n_j = min, min+step, ..., max``
(:func:`boundaries`), on its first ``n_j`` seeds, and stops at the first boundary where the
rule holds (or at ``max``). Everything here is vectorised over a leading axis of
replications, so the tool (one cell, shape ``(1, J)``) and the coverage simulation
(``(R, J)``, tests/test_sequential_stats.py) run the very same code.

Share rule (``P(metric <= at)`` or the converged share), ``k_j`` successes of ``n_j``:

- interval: Clopper-Pearson ("exact") at level ``conf``: ``lo = Beta_{a/2}(k, n-k+1)``,
  ``hi = Beta_{1-a/2}(k+1, n-k)`` (``lo = 0`` at ``k = 0``, ``hi = 1`` at ``k = n``);
- stop when ``(hi - lo)/2 <= h`` **and** ``z sqrt(p*(1-p)/n_j) <= h`` where ``p*`` is the
  point of ``[lo, hi]`` nearest 1/2 (the half-width the cell would have if its share were the
  least favourable value the data still allow).

Why not Wilson with its own half-width (the plain rule, :func:`share_plain_stop`)? Stopping
on a narrow interval is a sequential design: a cell whose first block happens to show few
successes gets a narrow interval and stops there, so the reported interval misses more often
than its nominal level. The coverage simulation (docs/sequential.md) measures the plain
Wilson rule at 92-93% minimum coverage for shares near 0 (h = 0.01, blocks of 200); the two
corrections above (an exact interval, and the least-favourable half-width in the stopping
criterion) bring the minimum over shares to nominal within simulation error (mean ~97%).

Median rule: the Kaplan-Meier median with its interval (``results.stats.km_fit``: the Wilson
band of the empirical CDF before the first censoring, Greenwood after); stop when the
interval is finite and ``(hi - lo)/2 <= h`` epochs. :func:`km_median_interval_uncensored`
is the same interval, vectorised, for samples censored only beyond the interval (the
simulation checks it equals ``km_fit``).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from results.stats import _z, km_fit, wilson_interval


def boundaries(min_n: int, max_n: int, step: int) -> np.ndarray:
    """Seed counts at which a cell is evaluated: ``min, min+step, ...`` below ``max``, then ``max`` (int64)."""
    if not 1 <= min_n <= max_n or step < 1:
        raise ValueError(f"need 1 <= min <= max and step >= 1, got {min_n}, {max_n}, {step}")
    n_inner = (max_n - min_n + step - 1) // step
    return np.append(min_n + step * np.arange(n_inner, dtype=np.int64), np.int64(max_n))


def exact_interval(k, n, conf: float = 0.95):
    """Clopper-Pearson interval of ``k`` successes in ``n`` (arrays broadcast) -> ``(lo, hi)``."""
    a = 1.0 - conf
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k <= 0, 0.0, sps.beta.ppf(a / 2, np.maximum(k, 1), n - k + 1))
        hi = np.where(k >= n, 1.0, sps.beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1)))
    return lo, hi


def share_resolved(k, n, halfwidth: float, conf: float = 0.95):
    """The share rule at each boundary: ``(resolved bool, lo, hi)``, shapes of ``k`` (``n`` broadcasts)."""
    lo, hi = exact_interval(k, n, conf)
    worst = np.clip(0.5, lo, hi)  # the least favourable share the interval allows
    least = _z(conf) * np.sqrt(worst * (1.0 - worst) / np.asarray(n, dtype=np.float64))
    tol = 1e-12  # a half-width equal to the target counts as reaching it
    return ((hi - lo) / 2 <= halfwidth + tol) & (least <= halfwidth + tol), lo, hi


def share_plain_stop(k, n, halfwidth: float, conf: float = 0.95):
    """The uncorrected rule, for the simulation: Wilson interval, stop when its half-width <= h."""
    lo, hi = wilson_interval(k, n, conf)
    return (hi - lo) / 2 <= halfwidth + 1e-12, lo, hi


def first_stop(resolved: np.ndarray) -> np.ndarray:
    """Index of the first True along the last axis, the last boundary (``max``) where none is.

    resolved: (..., J) bool over the boundaries -> (...) int64.
    """
    r = np.array(resolved, dtype=bool, copy=True)
    r[..., -1] = True
    return r.argmax(axis=-1).astype(np.int64)


def share_stop(successes: np.ndarray, bounds: np.ndarray, halfwidth: float, conf: float = 0.95, rule=share_resolved):
    """Apply the share rule to outcome sequences.

    successes: (R, N) bool, N >= the boundaries reached (a cell's first N seeds in order);
    bounds: (J,) boundaries; only those <= N are evaluated, and a row that is not resolved
    by the last evaluable one is "running" (index -1 when that is not ``bounds[-1]``).
    Returns ``(index (R,), n (R,), k (R,), lo (R,), hi (R,))`` at the stop (or the last
    evaluated boundary for running rows).
    """
    successes = np.atleast_2d(successes)
    usable = bounds[bounds <= successes.shape[1]]
    if usable.size == 0:
        rows, nan = successes.shape[0], np.full(successes.shape[0], np.nan)
        return np.full(rows, -1), np.zeros(rows, np.int64), np.zeros(rows, np.int64), nan, nan
    k = np.cumsum(successes, axis=1, dtype=np.int64)[:, usable - 1]
    ok, lo, hi = rule(k, usable[None, :], halfwidth, conf)
    rows = np.arange(k.shape[0])
    if usable.size < bounds.size:  # the last evaluable boundary is not max: unresolved rows run on
        hit = ok.any(axis=1)
        j = np.where(hit, ok.argmax(axis=1), usable.size - 1)
        index = np.where(hit, j, -1)
    else:
        j = index = first_stop(ok)
    return index, usable[j], k[rows, j], lo[rows, j], hi[rows, j]


def km_median(times, observed, conf: float = 0.95) -> tuple[float, float, float]:
    """``(median, lo, hi)`` of a cell's censored times (``results.stats.km_fit``; inf: not reached)."""
    return km_fit(times, observed, conf).quantile(0.5)


def median_resolved(lo: float, hi: float, halfwidth: float) -> bool:
    return bool(math.isfinite(lo) and math.isfinite(hi) and (hi - lo) / 2 <= halfwidth + 1e-12)


def km_median_interval_uncensored(times: np.ndarray, conf: float = 0.95):
    """``km_fit``'s median interval for rows with no censoring inside it, vectorised.

    times: (R, n) event times. With no censoring before ``t``, ``F(t) = #{T <= t}/n`` and its
    band is Wilson; the interval is ``[min t: hi(t) >= 1/2, min t: lo(t) >= 1/2]``, found at
    the order statistics. Returns ``(median, lo, hi)``, each (R,).
    """
    t = np.sort(np.asarray(times, dtype=np.float64), axis=1)
    n = t.shape[1]
    counts = np.arange(1, n + 1)
    f = counts / n
    w_lo, w_hi = wilson_interval(counts, np.full(n, n), conf)
    last = np.ones(t.shape, bool)  # the last index of each run of tied times
    last[:, :-1] = t[:, 1:] != t[:, :-1]
    # at a tie, F jumps by the whole tie: the value at the tie's last index holds at that time

    def first(level: np.ndarray) -> np.ndarray:
        hit = last & (level[None, :] >= 0.5 - 1e-12)
        idx = hit.argmax(axis=1)
        return np.where(hit.any(axis=1), t[np.arange(t.shape[0]), idx], np.inf)

    return first(f), first(w_hi), first(w_lo)
