"""Branch-free elementary functions that vectorise across lanes, written once in primitives.

``math.exp`` compiles to a scalar libm call (no SVML here), which stops LLVM from vectorising a
lane loop. These use range reduction plus a polynomial with explicit FMAs, accurate to about
1 ulp (tested against ``np.exp``/``np.log1p``). float64 and float32 each have their own
polynomial; ``exp(x)`` picks by ``x``'s type (Numba: at compile time; traced: by the dtype).

exp(x):  n = round(x / ln2) (as t = x log2e + 1.5 2^52, n = t - 1.5 2^52), r = x - n ln2
         (ln2 split in hi + lo), exp(r) by its Taylor polynomial (degree 13 for float64, 7 for
         float32), times 2^n built from the bits of t. IEEE limits, exactly: 2^n is applied as
         (p 2^(n-k)) 2^k with k = 1 for x > 0 and k = -64 (float32: -32) otherwise, so both
         factors are normal numbers for every n and the last product rounds once: to inf where
         e^x overflows (x > 709.78; float32 88.72), through the subnormals to exactly 0 where
         it underflows (x < -745.13; float32 -103.97). Where e^x is a normal number both
         products are exact, so the result is p 2^n bit for bit (numerics version 1's value).
         x is clamped to [-746, 710] ([-104, 89]) first, beyond which the result is 0 or inf
         anyway, so that n's exponent bits stay in range.
         Two cheaper forms for callers that need only one of the limits, with a fixed k folded
         into the shifter (t = x log2e + (1.5 2^52 + k), an even k, so t = (n + k) + 1.5 2^52
         exactly and round-half-even picks the same n) and the factor 2^-k folded into the
         polynomial's coefficients (a power of two: every rounding scales exactly), so the one
         product (p 2^-k) 2^(n+k) rounds once, as exp's does: exp_over (k = -2; x >= -707,
         e^-707 below: the sigmoid's 1 + e^-z, which is 1 there either way) and exp_under
         (k = 64; x <= 0: tanh, softplus). On their domains they are exp bit for bit, at the
         cost of numerics version 1's clamped exp.
log1p(u), 0 <= u <= 1:  for u > sqrt(2)-1 use log1p(u) = ln2 + log1p((u-1)/2), then
         log1p(v) = 2 atanh(s), s = v/(2+v), |s| <= 0.172, by its odd series.
softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from kernels.ops.prim import _OPTS, SHIFTER32, SHIFTER64, fma, fmax, fmin, helper, like, pow2_shifted, select

LN2_HI = 0.6931471803691238
LN2_LO = 1.9082149292705877e-10
LOG2E = 1.4426950408889634
_EXP64 = (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
          1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0)


def _core64(x, shifter, scale):
    """(q, t): e^x = (q / scale) 2^n with t = n + k + SHIFTER64, for ``shifter`` = SHIFTER64 + k (an
    even k, so t is that exactly, rounding included: round-half-even picks the same n) and a
    power of two ``scale``: the polynomial's coefficients times ``scale`` give exactly ``scale``
    times its value (no extra multiplication), and pow2_shifted(t) = 2^(n+k)."""
    t = x * LOG2E + shifter
    n = t - shifter
    r = fma(n, -LN2_HI, x)
    r = fma(n, -LN2_LO, r)
    p = fma(scale * (1.0 / 6227020800.0), r, scale * (1.0 / 479001600.0))
    p = fma(p, r, scale * (1.0 / 39916800.0))
    p = fma(p, r, scale * (1.0 / 3628800.0))
    p = fma(p, r, scale * (1.0 / 362880.0))
    p = fma(p, r, scale * (1.0 / 40320.0))
    p = fma(p, r, scale * (1.0 / 5040.0))
    p = fma(p, r, scale * (1.0 / 720.0))
    p = fma(p, r, scale * (1.0 / 120.0))
    p = fma(p, r, scale * (1.0 / 24.0))
    p = fma(p, r, scale * (1.0 / 6.0))
    p = fma(p, r, scale * 0.5)
    p = fma(p, r, scale)
    p = fma(p, r, scale)
    return p, t


def _core32(x, shifter, scale):
    """``_core64`` in float32 (degree-7 polynomial); ``scale`` a float64 power of two."""
    t = x * like(x, LOG2E) + shifter
    n = t - shifter
    r = fma(n, like(x, -0.693359375), x)
    r = fma(n, like(x, 2.12194440e-4), r)
    p = fma(like(x, scale * (1.0 / 5040.0)), r, like(x, scale * (1.0 / 720.0)))
    p = fma(p, r, like(x, scale * (1.0 / 120.0)))
    p = fma(p, r, like(x, scale * (1.0 / 24.0)))
    p = fma(p, r, like(x, scale * (1.0 / 6.0)))
    p = fma(p, r, like(x, scale * 0.5))
    p = fma(p, r, like(x, scale))
    p = fma(p, r, like(x, scale))
    return p, t


helper(_core64)
helper(_core32)


def exp64(x):
    x = fmin(fmax(x, -746.0), 710.0)
    up = x > 0.0
    p, t = _core64(x, SHIFTER64, 1.0)
    return (p * pow2_shifted(t - select(up, 1.0, -64.0))) * select(up, 2.0, 2.0 ** -64)


def exp32(x):
    x = fmin(fmax(x, like(x, -104.0)), like(x, 89.0))
    up = x > like(x, 0.0)
    p, t = _core32(x, like(x, SHIFTER32), 1.0)
    shift = select(up, like(x, 1.0), like(x, -32.0))
    return (p * pow2_shifted(t - shift)) * select(up, like(x, 2.0), like(x, 2.0 ** -32))


def exp_over64(x):
    x = fmin(fmax(x, -707.0), 710.0)
    q, t = _core64(x, SHIFTER64 - 2.0, 4.0)
    return q * pow2_shifted(t)


def exp_over32(x):
    x = fmin(fmax(x, like(x, -85.0)), like(x, 89.0))
    q, t = _core32(x, like(x, SHIFTER32 - 2.0), 4.0)
    return q * pow2_shifted(t)


def exp_under64(x):
    x = fmax(x, -746.0)
    q, t = _core64(x, SHIFTER64 + 64.0, 2.0 ** -64)
    return q * pow2_shifted(t)


def exp_under32(x):
    x = fmax(x, like(x, -104.0))
    q, t = _core32(x, like(x, SHIFTER32 + 32.0), 2.0 ** -32)
    return q * pow2_shifted(t)


def log1p64(u):
    big = u > 0.41421356237309503
    v = select(big, (u - 1.0) * 0.5, u)
    s = v / (2.0 + v)
    s2 = s * s
    p = fma(1.0 / 21.0, s2, 1.0 / 19.0)
    p = fma(p, s2, 1.0 / 17.0)
    p = fma(p, s2, 1.0 / 15.0)
    p = fma(p, s2, 1.0 / 13.0)
    p = fma(p, s2, 1.0 / 11.0)
    p = fma(p, s2, 1.0 / 9.0)
    p = fma(p, s2, 1.0 / 7.0)
    p = fma(p, s2, 1.0 / 5.0)
    p = fma(p, s2, 1.0 / 3.0)
    p = p * s2
    res = fma(2.0 * s, p, 2.0 * s)
    return res + select(big, 0.6931471805599453, 0.0)


def log1p32(u):
    one = like(u, 1.0)
    big = u > like(u, 0.41421356)
    v = select(big, (u - one) * like(u, 0.5), u)
    s = v / (like(u, 2.0) + v)
    s2 = s * s
    p = fma(like(u, 1.0 / 11.0), s2, like(u, 1.0 / 9.0))
    p = fma(p, s2, like(u, 1.0 / 7.0))
    p = fma(p, s2, like(u, 1.0 / 5.0))
    p = fma(p, s2, like(u, 1.0 / 3.0))
    p = p * s2
    two_s = like(u, 2.0) * s
    res = fma(two_s, p, two_s)
    return res + select(big, like(u, 0.6931472), like(u, 0.0))


def exp(x):
    """exp(x) for a float32 or float64 scalar (see the module docstring)."""
    return exp64(x) if x.g.is64 else exp32(x)


def exp_over(x):
    """e^x where only its overflow must be exact: e^x (inf where it overflows) for x >= -707
    (float32: -85), e^-707 (e^-85) below. For 1 + e^x (the sigmoid): there 1 + e^x = 1 either way.
    One multiplication more than a clamped exp, against three operations more for ``exp``."""
    return exp_over64(x) if x.g.is64 else exp_over32(x)


def exp_under(x):
    """e^x for x <= 0 (the caller's promise), down through the subnormals to 0, as ``exp``."""
    return exp_under64(x) if x.g.is64 else exp_under32(x)


def log1p01(u):
    """log(1 + u) for 0 <= u <= 1."""
    return log1p64(u) if u.g.is64 else log1p32(u)


@helper
def softplus(z):
    """log(1 + e^z), stable for any z."""
    zero = like(z, 0.0)
    return select(z > zero, z, zero) + log1p01(exp_under(-abs(z)))


@overload(exp, **_OPTS)
def _ol_exp(x):
    return {types.float64: exp64, types.float32: exp32}.get(x)


@overload(exp_over, **_OPTS)
def _ol_exp_over(x):
    return {types.float64: exp_over64, types.float32: exp_over32}.get(x)


@overload(exp_under, **_OPTS)
def _ol_exp_under(x):
    return {types.float64: exp_under64, types.float32: exp_under32}.get(x)


@overload(log1p01, **_OPTS)
def _ol_log1p01(u):
    return {types.float64: log1p64, types.float32: log1p32}.get(u)


__all__ = ["exp", "exp_over", "exp_under", "log1p01", "softplus", "LN2_HI", "LN2_LO", "LOG2E", "np"]
