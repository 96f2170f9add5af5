"""Branch-free elementary functions that vectorise across lanes.

``math.exp`` compiles to a scalar libm call (no SVML here), which stops LLVM from
vectorising a lane loop. These versions use range reduction plus a polynomial with
explicit FMAs, accurate to about 1 ulp (tested against ``np.exp``/``np.log1p``).
Each has a float64 and a float32 variant, chosen at compile time by the argument type.

exp(x):  n = round(x / ln2),  r = x - n ln2  (|r| <= ln2/2, ln2 split in hi + lo),
         exp(r) by its Taylor polynomial (degree 13 for float64, 7 for float32), times 2^n
         built from the exponent bits. x is clamped to the normal range first, so the
         result never overflows to inf nor becomes subnormal.
log1p(u), 0 <= u <= 1:  for u > sqrt(2)-1 use log1p(u) = ln2 + log1p((u-1)/2), then
         log1p(v) = 2 atanh(s), s = v/(2+v), |s| <= 0.172, by its odd series.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from kernels.intrinsics import fma, i32_as_f32, i64_as_f64

_OPTS = dict(inline="always", jit_options=dict(error_model="numpy", fastmath=False))

_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_LOG2E = 1.4426950408889634
_SHIFTER64 = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_SHIFTER32 = 12582912.0  # 1.5 * 2**23


def exp(x):
    """exp(x) for a float32 or float64 scalar (vectorisable; see module docstring)."""
    raise NotImplementedError  # pragma: no cover - replaced by the overload in jitted code


def log1p01(u):
    """log(1 + u) for 0 <= u <= 1 (vectorisable)."""
    raise NotImplementedError  # pragma: no cover


def _exp64(x):
    x = min(max(x, -708.0), 709.0)
    t = x * _LOG2E + _SHIFTER64
    n = t - _SHIFTER64
    r = fma(n, -_LN2_HI, x)
    r = fma(n, -_LN2_LO, r)
    p = 1.0 / 6227020800.0
    p = fma(p, r, 1.0 / 479001600.0)
    p = fma(p, r, 1.0 / 39916800.0)
    p = fma(p, r, 1.0 / 3628800.0)
    p = fma(p, r, 1.0 / 362880.0)
    p = fma(p, r, 1.0 / 40320.0)
    p = fma(p, r, 1.0 / 5040.0)
    p = fma(p, r, 1.0 / 720.0)
    p = fma(p, r, 1.0 / 120.0)
    p = fma(p, r, 1.0 / 24.0)
    p = fma(p, r, 1.0 / 6.0)
    p = fma(p, r, 0.5)
    p = fma(p, r, 1.0)
    p = fma(p, r, 1.0)
    return p * i64_as_f64((np.int64(n) + 1023) << 52)


def _exp32(x):
    x = min(max(x, np.float32(-87.0)), np.float32(88.0))
    t = x * np.float32(_LOG2E) + np.float32(_SHIFTER32)
    n = t - np.float32(_SHIFTER32)
    r = fma(n, np.float32(-0.693359375), x)
    r = fma(n, np.float32(2.12194440e-4), r)
    p = np.float32(1.0 / 5040.0)
    p = fma(p, r, np.float32(1.0 / 720.0))
    p = fma(p, r, np.float32(1.0 / 120.0))
    p = fma(p, r, np.float32(1.0 / 24.0))
    p = fma(p, r, np.float32(1.0 / 6.0))
    p = fma(p, r, np.float32(0.5))
    p = fma(p, r, np.float32(1.0))
    p = fma(p, r, np.float32(1.0))
    return p * i32_as_f32((np.int32(n) + np.int32(127)) << np.int32(23))


def _log1p64(u):
    big = u > 0.41421356237309503
    v = (u - 1.0) * 0.5 if big else u
    s = v / (2.0 + v)
    s2 = s * s
    p = 1.0 / 21.0
    p = fma(p, s2, 1.0 / 19.0)
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
    return res + (0.6931471805599453 if big else 0.0)


def _log1p32(u):
    big = u > np.float32(0.41421356)
    v = (u - np.float32(1.0)) * np.float32(0.5) if big else u
    s = v / (np.float32(2.0) + v)
    s2 = s * s
    p = np.float32(1.0 / 11.0)
    p = fma(p, s2, np.float32(1.0 / 9.0))
    p = fma(p, s2, np.float32(1.0 / 7.0))
    p = fma(p, s2, np.float32(1.0 / 5.0))
    p = fma(p, s2, np.float32(1.0 / 3.0))
    p = p * s2
    res = fma(np.float32(2.0) * s, p, np.float32(2.0) * s)
    return res + (np.float32(0.6931472) if big else np.float32(0.0))


@overload(exp, **_OPTS)
def _ol_exp(x):
    if x == types.float64:
        return _exp64
    if x == types.float32:
        return _exp32
    return None


@overload(log1p01, **_OPTS)
def _ol_log1p(u):
    if u == types.float64:
        return _log1p64
    if u == types.float32:
        return _log1p32
    return None
