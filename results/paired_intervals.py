"""Confidence intervals for paired comparisons, each the inverse of the paired test beside it.

Paired runs (same seed and setting, so the same initial weights; see ``results.paired``) give a
2x2 table: ``n11`` pairs where both converged, ``n12`` only A, ``n21`` only B, ``n22`` neither;
``n = n11 + n12 + n21 + n22``. The difference of converged shares is
``delta = p1+ - p+1 = (n12 - n21) / n``.

- :func:`tango_interval`: Tango's asymptotic score interval (Tango 1998, Stat Med 17:891) for
  ``delta``: the set of ``delta0`` with ``|Z(delta0)| <= z``, where
  ``Z(delta0) = (n12 - n21 - n delta0) / sqrt(n (2 q + delta0 (1 - delta0)))`` and ``q`` is the
  maximum-likelihood estimate of ``p21`` under ``delta = delta0``:
  ``q = (sqrt(B^2 - 4 A C) - B) / (2 A)``, ``A = 2n``, ``B = -n12 - n21 + (2n - n12 + n21) delta0``,
  ``C = -n21 delta0 (1 - delta0)``. At ``delta0 = 0``, ``q = (n12 + n21) / 2n`` and
  ``Z(0) = (n12 - n21) / sqrt(n12 + n21)``, McNemar's statistic: the interval excludes 0 exactly
  when the asymptotic McNemar test rejects at ``1 - conf``. The reported p-value is McNemar's
  mid-p (exact binomial on the discordant pairs), which agrees with the asymptotic test except
  near the boundary with few discordant pairs (``docs/statistics.md``).
- :func:`newcombe_paired_interval`: Newcombe's square-and-add interval for paired data
  (Newcombe 1998, Stat Med 17:2635, method 10), from the Wilson intervals ``(l1, u1)``,
  ``(l2, u2)`` of the two marginal shares and a continuity-corrected correlation ``phi``:
  ``lo = delta - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)``,
  ``hi = delta + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)``, with
  ``phi = (A - n/2) / sqrt(n1+ n2+ n+1 n+2)`` when ``A = n11 n22 - n12 n21 > n/2``, 0 when
  ``0 <= A <= n/2``, ``A / sqrt(...)`` when ``A < 0``. Kept as a cross-check.
- :func:`midp_binomial_interval`: for the censoring-aware paired sign test. Of the ``m`` pairs
  whose order is known, ``k`` have A first; ``theta = P(A first | ordered)``. The interval inverts
  the mid-p binomial test: ``lo`` solves ``P(X > k) + P(X = k)/2 = alpha/2`` and ``hi`` solves
  ``P(X < k) + P(X = k)/2 = alpha/2`` for ``X ~ Binomial(m, theta)``. Since the sign test's
  two-sided mid-p is twice the smaller one-sided mid-p at ``theta = 1/2``, the interval excludes
  1/2 exactly when that test's mid-p is below ``1 - conf``.
"""
from __future__ import annotations

import math
from functools import lru_cache

from scipy import optimize, stats

from results.stats import _z, wilson_interval


def _tango_z(delta0: float, n12: int, n21: int, n: int) -> float:
    a = 2.0 * n
    b = -n12 - n21 + (2.0 * n - n12 + n21) * delta0
    c = -n21 * delta0 * (1.0 - delta0)
    q = (math.sqrt(max(b * b - 4.0 * a * c, 0.0)) - b) / (2.0 * a)
    var = n * (2.0 * q + delta0 * (1.0 - delta0))
    num = n12 - n21 - n * delta0
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def tango_z(delta0: float, n12: int, n21: int, n: int) -> float:
    """Tango's score statistic ``Z(delta0)`` (see the module docstring); decreasing in ``delta0``."""
    return _tango_z(float(delta0), int(n12), int(n21), int(n))


def tango_interval(n12: int, n21: int, n: int, conf: float = 0.95) -> tuple[float, float, float]:
    """``(delta, lo, hi)``: Tango's score interval for ``(n12 - n21) / n`` of ``n`` pairs."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    z = _z(conf)
    d = (n12 - n21) / n
    tol, eps = 1e-12, 1e-12
    f = lambda x, target: _tango_z(x, n12, n21, n) - target  # noqa: E731
    lo = -1.0 if d <= -1.0 + eps or f(-1.0 + eps, z) <= 0 else \
        optimize.brentq(f, -1.0 + eps, d, args=(z,), xtol=tol)
    hi = 1.0 if d >= 1.0 - eps or f(1.0 - eps, -z) >= 0 else \
        optimize.brentq(f, d, 1.0 - eps, args=(-z,), xtol=tol)
    return float(d), float(lo), float(hi)


def newcombe_paired_interval(n11: int, n12: int, n21: int, n22: int,
                             conf: float = 0.95) -> tuple[float, float, float]:
    """``(delta, lo, hi)``: Newcombe's method 10 for ``p1+ - p+1`` of a paired 2x2 table."""
    n = n11 + n12 + n21 + n22
    if n <= 0:
        return math.nan, math.nan, math.nan
    r1, r2, c1, c2 = n11 + n12, n21 + n22, n11 + n21, n12 + n22
    p1, p2 = r1 / n, c1 / n
    l1, u1 = wilson_interval(r1, n, conf)
    l2, u2 = wilson_interval(c1, n, conf)
    prod = float(r1) * r2 * c1 * c2
    a = n11 * n22 - n12 * n21
    if prod == 0 or 0 <= a <= n / 2:
        phi = 0.0
    else:
        phi = (a - n / 2 if a > n / 2 else a) / math.sqrt(prod)
    d = p1 - p2
    below = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    above = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return float(d), float(d - math.sqrt(max(below, 0.0))), float(d + math.sqrt(max(above, 0.0)))


@lru_cache(maxsize=4096)  # a pure function of small ints: report tables repeat them
def midp_binomial_interval(k: int, m: int, conf: float = 0.95) -> tuple[float, float, float]:
    """``(k/m, lo, hi)``: the mid-p interval of a binomial share (the inverse of the mid-p test)."""
    if m <= 0:
        return math.nan, math.nan, math.nan
    alpha = 1.0 - conf
    _z(conf)  # checks conf
    upper_tail = lambda p: stats.binom.sf(k, m, p) + 0.5 * stats.binom.pmf(k, m, p) - alpha / 2  # noqa: E731
    lower_tail = lambda p: stats.binom.cdf(k - 1, m, p) + 0.5 * stats.binom.pmf(k, m, p) - alpha / 2  # noqa: E731
    lo = 0.0 if k == 0 else optimize.brentq(upper_tail, 0.0, 1.0, xtol=1e-12)
    hi = 1.0 if k == m else optimize.brentq(lower_tail, 0.0, 1.0, xtol=1e-12)
    return k / m, float(lo), float(hi)


def net_first_interval(a_first: int, b_first: int, conf: float = 0.95) -> tuple[float, float, float]:
    """``(net, lo, hi)`` with ``net = (a_first - b_first) / (a_first + b_first) = 2 theta - 1``:
    how many more of the ordered pairs A reached the milestone first in, with the mid-p interval
    of ``theta`` mapped through ``2 theta - 1`` (it excludes 0 exactly when the sign test's mid-p
    is below ``1 - conf``)."""
    t, lo, hi = midp_binomial_interval(a_first, a_first + b_first, conf)
    return 2 * t - 1, 2 * lo - 1, 2 * hi - 1


__all__ = ["midp_binomial_interval", "net_first_interval", "newcombe_paired_interval", "tango_interval", "tango_z"]
