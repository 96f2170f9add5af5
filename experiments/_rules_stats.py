"""Statistics the training-rule study (fahlman1988_study.py) quotes beyond ``results.rules``.

- ``mean_ci``: the mean of the converged runs' epochs with its normal 95% interval
  ``mean ± z s / sqrt(k)`` (k converged runs; the papers' averages are over successful trials).
- ``best_restart``: the restart average at the best restart budget. With ``F`` the KM estimate of
  ``P(T <= t)``, a protocol that restarts a run with a fresh seed after ``c`` epochs costs
  ``R(c) = E[min(T, c)] / F(c) = (∫_0^c S(t) dt) / F(c)`` epochs per success on average
  (``results.rules.restart_mean``); ``min_c R(c)`` over the observed convergence epochs
  ``c <= budget`` is the smallest average any fixed restart limit can reach on the tool's runs,
  so a published restart average below it is out of reach of the tool's distribution.
- ``ratio_range``: a ratio of two KM medians with the range spanned by their intervals
  (``lo_a / hi_b`` to ``hi_a / lo_b``: conservative, not a confidence interval of the ratio; an
  upper limit of ``b`` that is not reached gives 0, one of ``a`` gives inf).
"""
from __future__ import annotations

import math

import numpy as np

from results import stats


def mean_ci(epochs, conf: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite ``epochs`` (converged runs) and its normal interval; NaNs when none."""
    x = np.asarray(epochs, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size == 1:
        return m, math.nan, math.nan
    half = stats._z(conf) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def best_restart(fit: stats.KMFit, budget: float) -> tuple[float, float]:
    """``(min_c R(c), argmin c)`` over the fit's event epochs ``c <= budget``; ``(inf, nan)`` if none."""
    if fit.n == 0 or fit.n_events == 0:
        return math.inf, math.nan
    cands = np.unique(fit.time[fit.time <= budget])
    if cands.size == 0:
        return math.inf, math.nan
    # R(c) for every candidate at once: area under S up to c over F(c) (S a right-continuous step)
    edges = np.concatenate([[0.0], fit.time])
    surv = np.concatenate([[1.0], 1.0 - fit.cdf])
    area_to = np.concatenate([[0.0], np.cumsum(np.diff(edges) * surv[:-1])])  # ∫_0^{time[i]} S
    idx = np.searchsorted(fit.time, cands, side="right") - 1
    r = area_to[idx + 1] / fit.cdf[idx]
    r = np.where(fit.cdf[idx] > 0, r, np.inf)
    i = int(np.argmin(r))
    return float(r[i]), float(cands[i])


def ratio_range(a, a_lo, a_hi, b, b_lo, b_hi) -> tuple[float, float, float]:
    """``a / b`` and the range ``a_lo / b_hi`` to ``a_hi / b_lo`` (NaN where a median is not reached)."""
    if any(not np.isfinite(v) for v in (a, b)):
        return math.nan, math.nan, math.nan
    lo = 0.0 if not np.isfinite(b_hi) else (a_lo / b_hi if np.isfinite(a_lo) and b_hi > 0 else math.inf)
    hi = a_hi / b_lo if np.isfinite(a_hi) and np.isfinite(b_lo) and b_lo > 0 else math.inf
    return a / b, lo, hi
