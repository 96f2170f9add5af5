"""A small toolkit for emitting straight-line LLVM IR that matches what Numba emits.

``_Gen`` wraps an llvmlite ``IRBuilder`` for one float dtype; ``F`` (float), ``I`` (int64) and
``B`` (i1) wrap SSA values with Python operators that emit the same instructions Numba
lowers the generic kernels' Python to: ``fadd``/``fsub``/``fmul``/``fdiv`` without fast-math
flags, ordered comparisons (``!=`` unordered), negation as ``-0.0 - x``, ``abs``/``sqrt``/``fma``
as LLVM intrinsics, ``min``/``max`` and ``a if c else b`` as selects, and ``exp``/``log1p01``
step for step as ``kernels.elementary``. So a value computed here has the same bits as the
generic kernel's.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from kernels.elementary import _LN2_HI, _LN2_LO, _LOG2E, _SHIFTER32, _SHIFTER64

I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)


class _RawMD(ir.values.NamedValue):
    """A metadata node printed from a template (llvmlite cannot express ``distinct`` nor
    self-references, which loop IDs and access groups need); ``{self}`` is its own name."""

    name_prefix = "!"

    def __init__(self, module, template, *refs):
        super().__init__(module, ir.types.MetaDataType(), name=str(len(module.metadata)))
        self.template, self.refs = template, refs
        module.metadata.append(self)

    def descr(self, buf):
        buf += (self.template.format(self=self.get_reference(), refs=", ".join(r.get_reference() for r in self.refs)),
                "\n")

    def _get_reference(self):
        return self.name_prefix + str(self.name)


class _Gen:
    """The builder plus typed constants, alias scopes and the elementary functions."""

    def __init__(self, builder, dtype):
        self.b = builder
        self.dtype = np.dtype(dtype)
        self.ft = ir.DoubleType() if self.dtype == np.float64 else ir.FloatType()
        mod = builder.module
        dom = mod.add_metadata([ir.MetaDataString(mod, "mlpk.domain")])
        self.scopes = {}
        for name in ("sf", "si", "data"):
            self.scopes[name] = mod.add_metadata([ir.MetaDataString(mod, f"mlpk.{name}"), dom])
        self.md_scope = {k: mod.add_metadata([v]) for k, v in self.scopes.items()}
        self.md_noalias = {k: mod.add_metadata([v for n, v in self.scopes.items() if n != k]) for k in self.scopes}
        self.md_invariant = mod.add_metadata([])
        self.group = _RawMD(mod, "distinct !{{}}")

    # -- values --------------------------------------------------------------------------
    def c(self, v):
        """A float constant, rounded to the dtype first (as ``dtype.type(v)`` does)."""
        return F(self, ir.Constant(self.ft, float(self.dtype.type(v))))

    def i(self, v):
        return I(self, ir.Constant(I64, int(v)))

    def f(self, v):
        return v if isinstance(v, F) else self.c(v)

    def sel(self, cond, a, b):
        if isinstance(a, I) or isinstance(b, I) or (type(a) is int and type(b) is int):
            a = a if isinstance(a, I) else self.i(a)
            b = b if isinstance(b, I) else self.i(b)
            return I(self, self.b.select(cond.v, a.v, b.v))
        a, b = self.f(a), self.f(b)
        return F(self, self.b.select(cond.v, a.v, b.v))

    def _intr(self, name, args, ty=None):
        ty = ty or self.ft
        fn = self.b.module.declare_intrinsic(name, [ty], ir.FunctionType(ty, [ty] * len(args)))
        return self.b.call(fn, args)

    def fabs(self, x):
        return F(self, self._intr("llvm.fabs", [x.v]))

    def sqrt(self, x):
        return F(self, self._intr("llvm.sqrt", [x.v]))

    def fma(self, a, b, c):
        a, b, c = self.f(a), self.f(b), self.f(c)
        return F(self, self._intr("llvm.fma", [a.v, b.v, c.v]))

    def fmin(self, x, lim):  # Numba's min(x, lim): select(lim < x, lim, x)
        lim = self.f(lim)
        return self.sel(lim < x, lim, x)

    def fmax(self, x, lim):  # Numba's max(x, lim): select(lim > x, lim, x)
        lim = self.f(lim)
        return self.sel(lim > x, lim, x)

    # -- memory ----------------------------------------------------------------------------
    def _tag(self, instr, scope):
        instr.set_metadata("alias.scope", self.md_scope[scope])
        instr.set_metadata("noalias", self.md_noalias[scope])
        instr.set_metadata("llvm.access.group", self.group)
        return instr

    def loop_md(self, width):
        """Loop ID: iterations are independent (every access is in ``group``), vectorise by width."""
        mod = self.b.module
        par = mod.add_metadata([ir.MetaDataString(mod, "llvm.loop.parallel_accesses"), self.group])
        ena = mod.add_metadata([ir.MetaDataString(mod, "llvm.loop.vectorize.enable"), ir.Constant(I1, 1)])
        wid = mod.add_metadata([ir.MetaDataString(mod, "llvm.loop.vectorize.width"), ir.Constant(I32, width)])
        return _RawMD(mod, "distinct !{{{self}, {refs}}}", par, ena, wid)

    def load(self, ptr, scope, invariant=False):
        instr = self.b.load(ptr)
        self._tag(instr, scope)
        if invariant:
            instr.set_metadata("invariant.load", self.md_invariant)
        return instr

    def store(self, value, ptr, scope):
        self._tag(self.b.store(value, ptr), scope)

    # -- elementary functions, step for step as kernels.elementary ---------------------------
    def exp(self, x):
        b = self.b
        if self.dtype == np.float64:
            x = self.fmin(self.fmax(x, -708.0), 709.0)
            t = x * _LOG2E + _SHIFTER64
            n = t - _SHIFTER64
            r = self.fma(n, -_LN2_HI, x)
            r = self.fma(n, -_LN2_LO, r)
            p = self.c(1.0 / 6227020800.0)
            for k in (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
                      1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
                p = self.fma(p, r, k)
            ni = b.fptosi(n.v, I64)
            bits = b.shl(b.add(ni, ir.Constant(I64, 1023)), ir.Constant(I64, 52))
            return p * F(self, b.bitcast(bits, self.ft))
        x = self.fmin(self.fmax(x, -87.0), 88.0)
        t = x * _LOG2E + _SHIFTER32
        n = t - _SHIFTER32
        r = self.fma(n, -0.693359375, x)
        r = self.fma(n, 2.12194440e-4, r)
        p = self.c(1.0 / 5040.0)
        for k in (1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
            p = self.fma(p, r, k)
        ni = b.fptosi(n.v, I32)
        bits = b.shl(b.add(ni, ir.Constant(I32, 127)), ir.Constant(I32, 23))
        return p * F(self, b.bitcast(bits, self.ft))

    def log1p01(self, u):
        if self.dtype == np.float64:
            big = u > 0.41421356237309503
            coefs = (1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0,
                     1.0 / 5.0, 1.0 / 3.0)
            p = self.c(1.0 / 21.0)
            ln2 = 0.6931471805599453
        else:
            big = u > 0.41421356
            coefs = (1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0)
            p = self.c(1.0 / 11.0)
            ln2 = 0.6931472
        v = self.sel(big, (u - 1.0) * 0.5, u)
        s = v / (2.0 + v)
        s2 = s * s
        for k in coefs:
            p = self.fma(p, s2, k)
        p = p * s2
        res = self.fma(2.0 * s, p, 2.0 * s)
        return res + self.sel(big, ln2, 0.0)


class F:
    """A float SSA value with Python operators that emit the matching IR."""

    __slots__ = ("g", "v")
    __hash__ = None

    def __init__(self, g, v):
        self.g, self.v = g, v

    def _o(self, o):
        return self.g.f(o).v

    def __add__(self, o):
        return F(self.g, self.g.b.fadd(self.v, self._o(o)))

    def __radd__(self, o):
        return F(self.g, self.g.b.fadd(self._o(o), self.v))

    def __sub__(self, o):
        return F(self.g, self.g.b.fsub(self.v, self._o(o)))

    def __rsub__(self, o):
        return F(self.g, self.g.b.fsub(self._o(o), self.v))

    def __mul__(self, o):
        return F(self.g, self.g.b.fmul(self.v, self._o(o)))

    def __rmul__(self, o):
        return F(self.g, self.g.b.fmul(self._o(o), self.v))

    def __truediv__(self, o):
        return F(self.g, self.g.b.fdiv(self.v, self._o(o)))

    def __rtruediv__(self, o):
        return F(self.g, self.g.b.fdiv(self._o(o), self.v))

    def __neg__(self):
        return F(self.g, self.g.b.fsub(ir.Constant(self.g.ft, -0.0), self.v))

    def _cmp(self, op, o, ordered=True):
        fn = self.g.b.fcmp_ordered if ordered else self.g.b.fcmp_unordered
        return B(self.g, fn(op, self.v, self._o(o)))

    def __lt__(self, o):
        return self._cmp("<", o)

    def __le__(self, o):
        return self._cmp("<=", o)

    def __gt__(self, o):
        return self._cmp(">", o)

    def __ge__(self, o):
        return self._cmp(">=", o)

    def eq(self, o):
        return self._cmp("==", o)

    def ne(self, o):
        return self._cmp("!=", o, ordered=False)


class I:
    """An int64 SSA value."""

    __slots__ = ("g", "v")
    __hash__ = None

    def __init__(self, g, v):
        self.g, self.v = g, v

    def _o(self, o):
        return o.v if isinstance(o, I) else ir.Constant(I64, int(o))

    def __add__(self, o):
        return I(self.g, self.g.b.add(self.v, self._o(o)))

    def __mul__(self, o):
        return I(self.g, self.g.b.mul(self.v, self._o(o)))

    def _cmp(self, op, o):
        return B(self.g, self.g.b.icmp_signed(op, self.v, self._o(o)))

    def __lt__(self, o):
        return self._cmp("<", o)

    def __ge__(self, o):
        return self._cmp(">=", o)

    def eq(self, o):
        return self._cmp("==", o)

    def ne(self, o):
        return self._cmp("!=", o)


class B:
    """An i1 SSA value."""

    __slots__ = ("g", "v")
    __hash__ = None

    def __init__(self, g, v):
        self.g, self.v = g, v

    def __and__(self, o):
        return B(self.g, self.g.b.and_(self.v, o.v))

    def __or__(self, o):
        return B(self.g, self.g.b.or_(self.v, o.v))

    def __invert__(self):
        return B(self.g, self.g.b.not_(self.v))

    def eq(self, o):
        return B(self.g, self.g.b.icmp_unsigned("==", self.v, o.v))
