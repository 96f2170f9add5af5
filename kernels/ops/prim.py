"""The primitives every op is written in, with two meanings each.

An op (an activation, a loss, an optimizer, a milestone, ``exp``) is a plain Python function of
scalars written with these primitives and the arithmetic operators only. Compiled by Numba, a
primitive is its ``@overload`` below (``kernels.intrinsics`` for the LLVM ones); called from Python
with traced values (``kernels.codegen_llvm.F``/``I``/``B``, vectors of SSA values), it emits IR
through the value's generator ``g``. So one definition gives the generic kernel (Numba compiles it
per lane) and the specialised kernel (``kernels.codegen_ir`` traces it), with the same operations
in the same order, hence the same bits.

Rules for op bodies: no ``if`` on data (use ``select``), no ``min``/``max``/``and``/``or``/``not``
on data (use ``fmin``/``fmax``/``&``/``|``/``lnot``), float constants through ``like(x, v)``
(a float32 op must not promote to float64). Python ``if`` on static configuration is fine.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload
from numba.np import numpy_support

from kernels import intrinsics as _in

#: Primitives and op helpers compile as small functions that LLVM inlines; inlining them at the
#: Numba IR level instead ("always") multiplies compile time by ten.
_OPTS = dict(jit_options=dict(error_model="numpy", fastmath=False))

SHIFTER64 = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
SHIFTER32 = 12582912.0  # 1.5 * 2**23
_SHIFT64_BITS = int(np.float64(SHIFTER64).view(np.int64))
_SHIFT32_BITS = int(np.float32(SHIFTER32).view(np.int32))


def _g(*args):
    for a in args:
        g = getattr(a, "g", None)
        if g is not None:
            return g
    raise TypeError("a primitive called from Python needs a traced value")


def helper(fn):
    """Make a plain op-level function callable from jitted op bodies too (Numba compiles it
    inline; traced calls run it as it is)."""
    import inspect
    params = ", ".join(inspect.signature(fn).parameters)
    ns = {}
    exec(f"def typer({params}):\n    return fn", {"fn": fn}, ns)
    overload(fn, **_OPTS)(ns["typer"])
    return fn


def like(x, v):
    """The constant ``v`` in ``x``'s float type (``np.float32(v)`` for a float32 ``x``)."""
    return _g(x).c(v)


def select(cond, a, b):
    """``a if cond else b`` without a branch (both sides are computed)."""
    return _g(cond, a, b).sel(cond, a, b)


def fma(a, b, c):
    """``a * b + c`` with one rounding."""
    return _g(a, b, c).fma(a, b, c)


def fmin(x, lim):
    """``min(x, lim)`` as Python and Numba define it: ``lim if lim < x else x``."""
    return _g(x, lim).fmin(x, lim)


def fmax(x, lim):
    """``max(x, lim)``: ``lim if lim > x else x``."""
    return _g(x, lim).fmax(x, lim)


def sqrt(x):
    return _g(x).sqrt(x)


def sign(x):
    """-1, 0 or 1 in ``x``'s float type (0 for NaN)."""
    g = _g(x)
    return g.sel(x > 0.0, 1.0, g.sel(x < 0.0, -1.0, 0.0))


def lnot(c):
    """Logical not of a boolean."""
    return ~c


def pow2_shifted(t):
    """``2**n`` for ``t = n + 1.5 * 2**52`` (float64; ``2**23`` for float32), taking ``n`` from
    the bits of ``t``: no float-to-int conversion, which AVX2 has no packed instruction for."""
    return _g(t).pow2_shifted(t)


@overload(like, **_OPTS)
def _ol_like(x, v):
    if isinstance(x, types.Float):
        ty = numpy_support.as_dtype(x).type
        return lambda x, v: ty(v)
    return None


@overload(select, **_OPTS)
def _ol_select(cond, a, b):
    return lambda cond, a, b: _in.select(cond, a, b)


@overload(fma, **_OPTS)
def _ol_fma(a, b, c):
    return lambda a, b, c: _in.fma(a, b, c)


@overload(fmin, **_OPTS)
def _ol_fmin(x, lim):
    return lambda x, lim: min(x, lim)


@overload(fmax, **_OPTS)
def _ol_fmax(x, lim):
    return lambda x, lim: max(x, lim)


@overload(sqrt, **_OPTS)
def _ol_sqrt(x):
    return lambda x: np.sqrt(x)


@overload(sign, **_OPTS)
def _ol_sign(x):
    if isinstance(x, types.Float):
        ty = numpy_support.as_dtype(x).type

        def impl(x):
            return _in.select(x > ty(0.0), ty(1.0), _in.select(x < ty(0.0), ty(-1.0), ty(0.0)))
        return impl
    return None


@overload(lnot, **_OPTS)
def _ol_lnot(c):
    return lambda c: not c


@overload(pow2_shifted, **_OPTS)
def _ol_pow2_shifted(t):
    if t == types.float64:
        return lambda t: _in.i64_as_f64(((_in.f64_as_i64(t) - _SHIFT64_BITS) + 1023) << 52)
    if t == types.float32:
        return lambda t: _in.i32_as_f32(((_in.f32_as_i32(t) - np.int32(_SHIFT32_BITS)) + np.int32(127))
                                        << np.int32(23))
    return None
