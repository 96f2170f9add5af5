"""Statistics of convergence times with right-censoring, on plain arrays.

A run gives a time ``T`` (the epoch of a milestone such as ``epoch_acc100``) and a flag:
``observed`` (the milestone was reached at epoch ``T``) or censored (it was not reached
within the run's ``epochs_run`` epochs, so all we know is ``T > epochs_run``; the time
passed in is then ``epochs_run``). A censored run is not missing data and not a failure to
drop: it says "not by this epoch", and every estimate here uses it that way.

- Binomial shares: Wilson score interval (Wilson 1927) for ``k`` of ``n``, and Newcombe's
  hybrid score interval (Newcombe 1998, method 10) for a difference of two shares.
- Kaplan-Meier (``km_fit``) with ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``:
  ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` (``d_i`` events at ``t_i``, ``n_i`` runs still
  at risk, events counted before censorings at the same time), and
  ``F(t) = 1 - S(t) = P(T <= t)``, the probability that a run has converged by epoch ``t``.
- Pointwise band of ``F``: while no run has been censored yet (``t <=`` the first censoring
  time) ``F(t)`` is exactly the binomial share ``events_by_t / n`` and the band is its Wilson
  interval; after that it is Greenwood's band, by default the "exponential Greenwood"
  (log-log) form, which stays inside (0, 1).
- Quantiles (Brookmeyer & Crowley 1982 style): ``t_q = min{t : F(t) >= q}``, with the
  confidence interval ``[min{t : F_hi(t) >= q}, min{t : F_lo(t) >= q}]`` from inverting the
  band. A quantile (or its upper limit) that is never reached is ``+inf``: with fewer than
  ``q`` of the runs converging, the median is "not reached".
- Log-rank test of two samples with ``scipy.stats.logrank``.
- Uncensored samples (a final metric such as the test accuracy): ``sample_quantile`` (the
  quantile with the band above, nothing censored: an order-statistic interval) and
  ``mean_interval`` (Student's t).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

# F(t) >= q is tested with this slack so that e.g. 2/4 counts as reaching q = 0.5
_EPS = 1e-12


def _z(conf: float) -> float:
    if not 0.0 < conf < 1.0:
        raise ValueError(f"conf must lie in (0, 1), got {conf}")
    return float(stats.norm.ppf(0.5 + conf / 2.0))


def wilson_interval(k, n, conf: float = 0.95):
    """Wilson score interval for a binomial share ``k / n``.

    With ``p = k/n`` and ``z`` the normal quantile, the interval is the set of ``pi`` with
    ``|p - pi| <= z sqrt(pi (1 - pi) / n)``, i.e.
    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``.
    Arrays broadcast; ``n = 0`` gives NaN. Example (Newcombe 1998): 81 of 263 -> (0.2553, 0.3662).
    """
    z = _z(conf)
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
        lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    # exact ends: k = 0 has lower limit 0 and k = n upper limit 1 (rounding aside)
    lo = np.where((k == 0) & (n > 0), 0.0, lo)
    hi = np.where((k == n) & (n > 0), 1.0, hi)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def newcombe_interval(k1, n1, k2, n2, conf: float = 0.95) -> tuple[float, float, float]:
    """Difference ``p1 - p2`` of two independent shares with Newcombe's hybrid score interval.

    From the Wilson intervals ``(l_i, u_i)`` of each share (Newcombe 1998, method 10):
    ``lo = d - sqrt((p1 - l1)² + (u2 - p2)²)``, ``hi = d + sqrt((u1 - p1)² + (p2 - l2)²)``.
    Returns ``(d, lo, hi)``; example 56/70 vs 48/80 -> (0.2, 0.0524, 0.3339).
    """
    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan, math.nan
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, conf)
    l2, u2 = wilson_interval(k2, n2, conf)
    d = p1 - p2
    return (float(d), float(d - math.hypot(p1 - l1, u2 - p2)),
            float(d + math.hypot(u1 - p1, p2 - l2)))


@dataclass(frozen=True)
class KMFit:
    """A Kaplan-Meier fit of the convergence-time distribution.

    ``time``: sorted distinct times (events and censorings), shape (m,). ``cdf``/``cdf_lo``/
    ``cdf_hi``: ``F(t)`` and its pointwise band, right-continuous steps holding on
    ``[time[i], time[i+1])``; ``F = 0`` before ``time[0]``. ``n_risk``: runs at risk at each time.
    """

    time: np.ndarray
    cdf: np.ndarray
    cdf_lo: np.ndarray
    cdf_hi: np.ndarray
    n_risk: np.ndarray
    n: int
    n_events: int
    conf: float

    def _index(self, t):
        return np.searchsorted(self.time, np.asarray(t, dtype=np.float64), side="right") - 1

    def prob_by(self, t):
        """``(F(t), lo, hi)``: KM probability of having converged by epoch ``t``, with its CI.

        NaN beyond the last observed time when runs were still unconverged there: no run was
        watched that long, so ``F(t)`` is not identified.
        """
        if self.n == 0 or (t > self.time[-1] and self.cdf[-1] < 1.0):
            return math.nan, math.nan, math.nan
        i = int(self._index(t))
        if i < 0:  # before any observed time: nothing can have happened yet
            lo, hi = wilson_interval(0, self.n, self.conf)
            return 0.0, lo, hi
        return float(self.cdf[i]), float(self.cdf_lo[i]), float(self.cdf_hi[i])

    def quantile(self, q: float) -> tuple[float, float, float]:
        """``(t_q, lo, hi)``: first epoch where ``F`` reaches ``q``; ``+inf`` where never reached.

        The CI inverts the band: ``lo`` is where the band's upper edge reaches ``q``, ``hi``
        where its lower edge does.
        """
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile level must lie in (0, 1), got {q}")
        if self.n == 0:
            return math.nan, math.nan, math.nan
        return tuple(_first_reaching(self.time, f, q) for f in (self.cdf, self.cdf_hi, self.cdf_lo))


def _first_reaching(time: np.ndarray, f: np.ndarray, q: float) -> float:
    hit = np.flatnonzero(f >= q - _EPS)
    return float(time[hit[0]]) if hit.size else math.inf


def _as_arrays(times, observed) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=np.float64).ravel()
    o = np.asarray(observed, dtype=bool).ravel()
    if t.shape != o.shape:
        raise ValueError(f"times and observed differ in length: {t.size} vs {o.size}")
    if np.isnan(t).any():
        raise ValueError("times must not be NaN: pass epochs_run as the time of censored runs")
    return t, o


def km_fit(times, observed, conf: float = 0.95, method: str = "log-log") -> KMFit:
    """Kaplan-Meier estimate of ``F(t) = P(T <= t)`` from right-censored times.

    times: (n,) epochs; observed: (n,) bool, True where the milestone was reached at that
    epoch, False where the run was censored there. ``method``: Greenwood band form passed to
    ``scipy``'s ``confidence_interval`` ("log-log" or "linear"); the Wilson interval replaces
    it up to the first censoring time, where ``F`` is a plain binomial share.
    """
    t, o = _as_arrays(times, observed)
    n = t.size
    if n == 0:
        empty = np.empty(0)
        return KMFit(empty, empty, empty, empty, np.empty(0, np.int64), 0, 0, conf)
    res = stats.ecdf(stats.CensoredData(uncensored=t[o], right=t[~o]))
    time = np.asarray(res.sf.quantiles, dtype=np.float64)
    sf = np.asarray(res.sf.probabilities, dtype=np.float64)
    with warnings.catch_warnings():  # scipy warns where the band is undefined (S = 0 or 1)
        warnings.simplefilter("ignore", RuntimeWarning)
        band = res.sf.confidence_interval(conf, method=method)
    sf_lo = np.asarray(band.low.probabilities, dtype=np.float64)
    sf_hi = np.asarray(band.high.probabilities, dtype=np.float64)
    cdf, cdf_lo, cdf_hi = 1.0 - sf, 1.0 - sf_hi, 1.0 - sf_lo

    # counts at each distinct time: at risk = runs with time >= t; events by t (inclusive)
    t_sorted = np.sort(t)
    n_risk = n - np.searchsorted(t_sorted, time, side="left")
    events_by = np.searchsorted(np.sort(t[o]), time, side="right")
    first_censor = t[~o].min() if (~o).any() else math.inf

    # where the Greenwood band is undefined: S = 1 (no event yet) -> Wilson(0, at risk);
    # S = 0 (every run left converged at once) -> upper 1, lower carried from the step before
    undef = ~np.isfinite(cdf_lo) | ~np.isfinite(cdf_hi)
    if undef.any():
        none_yet = undef & (sf >= 1.0 - _EPS)
        cdf_lo[none_yet] = 0.0
        cdf_hi[none_yet] = wilson_interval(0, n_risk[none_yet], conf)[1]
        rest = np.flatnonzero(undef & ~none_yet)
        cdf_hi[rest] = 1.0
        for i in rest:
            cdf_lo[i] = cdf_lo[i - 1] if i > 0 else 0.0
    # before (and at) the first censoring F is events_by / n exactly: use Wilson there
    exact = time <= first_censor
    cdf_lo[exact], cdf_hi[exact] = wilson_interval(events_by[exact], n, conf)
    return KMFit(time, cdf, cdf_lo, cdf_hi, n_risk.astype(np.int64), n, int(o.sum()), conf)


def km_quantile_counts(times, observed, counts, q: float = 0.5) -> float:
    """The KM ``q``-quantile (first epoch where F reaches ``q``; ``inf``: never) from counted runs:
    ``counts[i]`` runs with time ``times[i]``, converged where ``observed[i]`` (as ``km_fit`` on the
    runs expanded, without the intervals: for summaries of directories too large to load)."""
    t = np.asarray(times, dtype=np.float64)
    o = np.asarray(observed, dtype=bool)
    w = np.asarray(counts, dtype=np.int64)
    if w.sum() == 0:
        return math.nan
    grid = np.unique(t)
    d = np.bincount(np.searchsorted(grid, t[o]), weights=w[o], minlength=grid.size)
    leave = np.bincount(np.searchsorted(grid, t), weights=w, minlength=grid.size)
    at_risk = w.sum() - np.concatenate([[0], np.cumsum(leave)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = 1.0 - np.cumprod(np.where(at_risk > 0, 1.0 - d / at_risk, 1.0))
    return _first_reaching(grid, cdf, q)


def km_quantile(times, observed, q: float = 0.5, conf: float = 0.95) -> tuple[float, float, float]:
    """``(t_q, lo, hi)``: KM ``q``-quantile of the convergence time with its CI (``+inf``: not reached)."""
    return km_fit(times, observed, conf).quantile(q)


def prob_by(times, observed, k, conf: float = 0.95) -> tuple[float, float, float]:
    """``(F(k), lo, hi)``: KM estimate of ``P(T <= k)``, the share converged by epoch ``k``."""
    return km_fit(times, observed, conf).prob_by(k)


def sample_quantile(values, q: float = 0.5, conf: float = 0.95) -> tuple[float, float, float]:
    """``(x_q, lo, hi)``: the ``q``-quantile ``min{x : share of values <= x >= q}`` of an uncensored
    sample (a metric such as the test accuracy), with the distribution-free interval ``km_fit``
    gives when no value is censored (its Wilson band of the empirical CDF inverted, which lands on
    order statistics). NaN values are dropped; no value left gives NaN."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    return km_fit(v, np.ones(v.size, bool), conf).quantile(q)


def mean_interval(values, conf: float = 0.95) -> tuple[float, float, float]:
    """``(mean, lo, hi)`` of a sample with Student's t interval ``mean ± t s / sqrt(n)``; NaN values
    are dropped; the interval is NaN with fewer than two values (the mean too with none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    _z(conf)  # checks conf
    half = float(stats.t.ppf(0.5 + conf / 2.0, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half


@dataclass(frozen=True)
class LogRank:
    statistic: float  # scipy's signed z = (O1 - E1)/sqrt(V): positive when sample 1 converges sooner
    pvalue: float


def logrank(t1, o1, t2, o2) -> LogRank:
    """Two-sided log-rank test that two samples share one convergence-time distribution."""
    a, b = _as_arrays(t1, o1), _as_arrays(t2, o2)
    if a[0].size == 0 or b[0].size == 0:
        raise ValueError("logrank needs at least one run in each sample")
    if not (a[1].any() or b[1].any()):  # no event at all: nothing to compare
        return LogRank(0.0, 1.0)
    res = stats.logrank(stats.CensoredData(uncensored=a[0][a[1]], right=a[0][~a[1]]),
                        stats.CensoredData(uncensored=b[0][b[1]], right=b[0][~b[1]]))
    return LogRank(float(res.statistic), float(res.pvalue))
