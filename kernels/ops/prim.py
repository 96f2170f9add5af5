"""The primitives every op is written in, with two meanings each.

An op (an activation, a loss, an optimizer, a milestone, ``exp``) is a plain Python function of
scalars written with these primitives and the arithmetic operators only. Compiled by Numba, a
primitive is typed and lowered as a builtin below (a few LLVM instructions); called from Python
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
from llvmlite import ir
from numba import types
from numba.extending import lower_builtin, overload, type_callable

#: Composite ops and op helpers (exp, softplus, ...) inline into their callers at the Numba IR
#: level, so that a lane loop calling them vectorises.
_OPTS = dict(inline="always", jit_options=dict(error_model="numpy", fastmath=False))

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


# -- Numba: each primitive is typed and lowered as a builtin, so it becomes a few LLVM instructions
# inside its caller (no call, no Numba-IR inlining, which would multiply compile time) ------------
def _typer(fn):
    def register(rule):
        type_callable(fn)(lambda context: rule)
        return rule
    return register


def _float_of(*tys):
    fl = [types.unliteral(t) for t in tys if isinstance(types.unliteral(t), types.Float)]
    return max(fl, key=lambda t: t.bitwidth) if fl else None


@_typer(like)
def _type_like(x, v):
    return types.unliteral(x) if isinstance(types.unliteral(x), types.Float) else None


@lower_builtin(like, types.Any, types.Any)
def _lower_like(context, builder, sig, args):
    return context.cast(builder, args[1], sig.args[1], sig.return_type)


def _unify(*tys):
    tys = [types.unliteral(t) for t in tys]
    if all(isinstance(t, types.Boolean) for t in tys):
        return types.boolean
    if all(isinstance(t, types.Integer) for t in tys):
        return types.int64
    return _float_of(*tys)


@_typer(select)
def _type_select(cond, a, b):
    return _unify(a, b) if isinstance(types.unliteral(cond), types.Boolean) else None


@lower_builtin(select, types.Any, types.Any, types.Any)
def _lower_select(context, builder, sig, args):
    c = context.cast(builder, args[0], sig.args[0], types.boolean)
    x = context.cast(builder, args[1], sig.args[1], sig.return_type)
    y = context.cast(builder, args[2], sig.args[2], sig.return_type)
    return builder.select(c, x, y)


def _intrinsic_call(builder, name, ty, values):
    fn = builder.module.declare_intrinsic(name, [ty], ir.FunctionType(ty, [ty] * len(values)))
    return builder.call(fn, values)


@_typer(fma)
def _type_fma(a, b, c):
    return _float_of(a) or _float_of(a, b, c)


@lower_builtin(fma, types.Any, types.Any, types.Any)
def _lower_fma(context, builder, sig, args):
    ty = sig.return_type
    vals = [context.cast(builder, v, t, ty) for v, t in zip(args, sig.args)]
    return _intrinsic_call(builder, "llvm.fma", context.get_value_type(ty), vals)


@_typer(fmin)
def _type_fmin(x, lim):
    return _float_of(x, lim)


@_typer(fmax)
def _type_fmax(x, lim):
    return _float_of(x, lim)


def _lower_minmax(op):
    def lower(context, builder, sig, args):
        ty = sig.return_type
        x, lim = (context.cast(builder, v, t, ty) for v, t in zip(args, sig.args))
        return builder.select(builder.fcmp_ordered(op, lim, x), lim, x)
    return lower


lower_builtin(fmin, types.Any, types.Any)(_lower_minmax("<"))
lower_builtin(fmax, types.Any, types.Any)(_lower_minmax(">"))


@_typer(sqrt)
def _type_sqrt(x):
    return _float_of(x)


@lower_builtin(sqrt, types.Any)
def _lower_sqrt(context, builder, sig, args):
    ty = sig.return_type
    return _intrinsic_call(builder, "llvm.sqrt", context.get_value_type(ty),
                           [context.cast(builder, args[0], sig.args[0], ty)])


@_typer(sign)
def _type_sign(x):
    return _float_of(x)


@lower_builtin(sign, types.Any)
def _lower_sign(context, builder, sig, args):
    lty = context.get_value_type(sig.return_type)
    x = args[0]
    zero, one, minus = (ir.Constant(lty, v) for v in (0.0, 1.0, -1.0))
    inner = builder.select(builder.fcmp_ordered("<", x, zero), minus, zero)
    return builder.select(builder.fcmp_ordered(">", x, zero), one, inner)


@_typer(lnot)
def _type_lnot(c):
    return types.boolean if isinstance(types.unliteral(c), types.Boolean) else None


@lower_builtin(lnot, types.Any)
def _lower_lnot(context, builder, sig, args):
    c = context.cast(builder, args[0], sig.args[0], types.boolean)
    return builder.xor(c, ir.Constant(c.type, 1))


@_typer(pow2_shifted)
def _type_pow2(t):
    return _float_of(t)


@lower_builtin(pow2_shifted, types.Any)
def _lower_pow2(context, builder, sig, args):
    if sig.return_type == types.float64:
        ity, shift_bits, bias, mant, fty = ir.IntType(64), _SHIFT64_BITS, 1023, 52, ir.DoubleType()
    else:
        ity, shift_bits, bias, mant, fty = ir.IntType(32), _SHIFT32_BITS, 127, 23, ir.FloatType()
    n = builder.sub(builder.bitcast(args[0], ity), ir.Constant(ity, shift_bits))
    return builder.bitcast(builder.shl(builder.add(n, ir.Constant(ity, bias)), ir.Constant(ity, mant)), fty)
