"""LLVM intrinsics that Numba does not expose: fused multiply-add, bit casts and select.

Both inline into the caller's IR, so they vectorise and are cached with it.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def fma(typingctx, a, b, c):
    """``a*b + c`` with one rounding (``llvm.fma``); all three cast to ``a``'s float type."""
    sig = a(a, a, a)

    def codegen(context, builder, signature, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def i64_as_f64(typingctx, x):
    """Reinterpret the bits of an int64 as a float64."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def f64_as_i64(typingctx, x):
    """Reinterpret the bits of a float64 as an int64."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def f32_as_i32(typingctx, x):
    """Reinterpret the bits of a float32 as an int32."""
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def i32_as_f32(typingctx, x):
    """Reinterpret the bits of an int32 as a float32."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@intrinsic
def select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select`` (no branch, so no basic blocks for Numba's
    passes and nothing for LLVM to if-convert). Both values are computed; ``cond`` is a bool."""
    ty = typingctx.unify_types(types.unliteral(a), types.unliteral(b))
    if ty is None or not isinstance(types.unliteral(cond), types.Boolean):
        return None
    sig = ty(cond, a, b)

    def codegen(context, builder, signature, args):
        c = context.cast(builder, args[0], signature.args[0], types.boolean)
        x = context.cast(builder, args[1], signature.args[1], ty)
        y = context.cast(builder, args[2], signature.args[2], ty)
        return builder.select(c, x, y)

    return sig, codegen
