"""A small toolkit for emitting straight-line vector LLVM IR that matches what Numba emits.

``_Gen`` wraps an llvmlite ``IRBuilder`` for vectors of W lanes of one float dtype; ``F``
(float), ``I`` (int64) and ``B`` (i1) wrap vector SSA values with Python operators that emit,
lane by lane, the same instructions Numba lowers the ops' Python to (``kernels.gradient``): ``fadd``/``fsub``/``fmul``/``fdiv`` without fast-math
flags, ordered comparisons (``!=`` unordered), negation as ``-0.0 - x``, ``abs``/``sqrt``/``fma``
as LLVM intrinsics, ``min``/``max`` and ``a if c else b`` as selects. The primitives of
``kernels.ops.prim`` dispatch to ``_Gen`` when called with these values, which is how the op
definitions are traced. So a value computed here has the same bits as Numba's.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from kernels import isa as target_isa
from kernels.ops.prim import _SHIFT32_BITS, _SHIFT64_BITS

I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)


class _RawMD(ir.values.NamedValue):
    """A metadata node printed from a template (llvmlite cannot express ``distinct`` nor
    self-references, which loop IDs need); ``{self}`` is its own name, ``{refs}`` the others."""

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


class _SplatConst(ir.Constant):
    """``<W x T> splat (T v)``: short IR text (the IR of a large body is megabytes)."""

    def __init__(self, vty, scalar):
        self.type = vty
        self.constant = f"splat ({scalar.type} {scalar.get_reference()})"

    def _to_string(self):
        return f"{self.type} {self.constant}"

    def _get_reference(self):
        return self.constant


class _Gen:
    """The builder, for vectors of ``width`` lanes of one float dtype: typed splat constants,
    vector loads and stores with alias metadata, and the elementary functions."""

    def __init__(self, builder, dtype, width, _parent=None):
        self.b = builder
        self.W = width
        self.dtype = np.dtype(dtype)
        self.is64 = self.dtype == np.float64
        self.fs = ir.DoubleType() if self.dtype == np.float64 else ir.FloatType()
        self.ft = ir.VectorType(self.fs, width)
        self.it = ir.VectorType(I64, width)
        self.bt = ir.VectorType(I1, width)
        self.sfx = f"v{width}f{self.dtype.itemsize * 8}"
        self._consts = {}
        self._wide = {}
        if _parent is not None:     # a wider view for grouped values: arithmetic only
            self.md_scope, self.md_noalias, self.md_invariant = (
                _parent.md_scope, _parent.md_noalias, _parent.md_invariant)
            self.masked_stores = _parent.masked_stores
            return
        self.masked_stores = target_isa.isa() == "avx512"      # native and fast: ``opaque``
        mod = builder.module
        dom = mod.add_metadata([ir.MetaDataString(mod, "mlpk.domain")])
        scopes = {n: mod.add_metadata([ir.MetaDataString(mod, f"mlpk.{n}"), dom]) for n in ("sf", "si", "data")}
        self.md_scope = {k: mod.add_metadata([v]) for k, v in scopes.items()}
        self.md_noalias = {k: mod.add_metadata([v for n, v in scopes.items() if n != k]) for k in scopes}
        self.md_invariant = mod.add_metadata([])

    # -- values --------------------------------------------------------------------------
    def _splat_const(self, vty, scalar):
        key = (str(vty), scalar.get_reference())
        const = self._consts.get(key)
        if const is None:
            const = self._consts[key] = _SplatConst(vty, scalar)
        return const

    def c(self, v):
        """A float constant in every lane, rounded to the dtype first (as ``dtype.type(v)``)."""
        return F(self, self._splat_const(self.ft, ir.Constant(self.fs, float(self.dtype.type(v)))))

    def i(self, v, ty=I64):
        vty = self.it if ty is I64 else ir.VectorType(ty, self.W)
        return I(self, self._splat_const(vty, ir.Constant(ty, int(v))))

    def true(self):
        return B(self, self._splat_const(self.bt, ir.Constant(I1, 1)))

    def f(self, v):
        return v if isinstance(v, F) else self.c(v)

    def splat(self, scalar, vty):
        """A scalar SSA value in every lane of a vector of type ``vty``."""
        b = self.b
        one = b.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                ir.Constant(ir.VectorType(ir.IntType(32), self.W), [0] * self.W))

    def sel(self, cond, a, b):
        if isinstance(a, B) and isinstance(b, B):
            return B(self, self.b.select(cond.v, a.v, b.v))
        if isinstance(a, I) or isinstance(b, I) or (type(a) is int and type(b) is int):
            a = a if isinstance(a, I) else self.i(a)
            b = b if isinstance(b, I) else self.i(b)
            return I(self, self.b.select(cond.v, a.v, b.v))
        a, b = self.f(a), self.f(b)
        return F(self, self.b.select(cond.v, a.v, b.v))

    def opaque(self, x):
        """``x`` through LLVM's ``freeze`` (the same bits: a loaded value is never poison). A
        value stored back where it was loaded, through a select, goes through it: x86's
        instruction selection turns ``store(select(c, a, load p), p)`` into a masked store
        (vpmaskmovq), microcoded on AMD before Zen 4: on a Zen 3, XOR 2-2-1 full batch trains
        30% faster without them (docs/specialised-kernels.md, "Masked stores"). AVX-512's
        masked stores are native: there ``x`` as it is."""
        if self.masked_stores:
            return x
        instr = ir.instructions.Instruction(self.b.block, x.v.type, "freeze", [x.v])   # not in llvmlite's IRBuilder
        self.b._insert(instr)
        return type(x)(self, instr)

    def loop(self, state, first, n_iter, step, count=None):
        """``state = step(it, state)`` for ``it`` in ``first .. n_iter - 1`` as an LLVM loop, not to
        be unrolled (its body is large): ``it`` an int64 phi, ``state`` F, I or B values in phis;
        returns the last state (it dominates the exit). ``count``: what ``codegen_size`` counts."""
        b, pre = self.b, self.b.block
        loop_bb, exit_bb = b.function.append_basic_block("loop"), b.function.append_basic_block("loop.end")
        b.branch(loop_bb)
        b.position_at_end(loop_bb)
        it = b.phi(I64, "it")
        it.add_incoming(ir.Constant(I64, first), pre)
        phis = [b.phi(v.v.type) for v in state]
        for ph, v in zip(phis, state):
            ph.add_incoming(v.v, pre)
        new = step(it, [type(v)(self, ph) for v, ph in zip(state, phis)])
        latch = b.block                 # the block the body ends in
        for ph, v in zip(phis, new):
            ph.add_incoming(v.v, latch)
        nxt = b.add(it, ir.Constant(I64, 1))
        it.add_incoming(nxt, latch)
        br = b.cbranch(b.icmp_unsigned("<", nxt, ir.Constant(I64, n_iter)), loop_bb, exit_bb)
        br.set_metadata("llvm.loop", self.no_unroll())
        b.position_at_end(exit_bb)
        return new

    def _intr(self, name, args):
        full = f"{name}.{self.sfx}"
        mod = self.b.module
        fn = mod.globals.get(full)
        if fn is None:
            fn = ir.Function(mod, ir.FunctionType(self.ft, [self.ft] * len(args)), full)
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

    def reduce_add(self, x):
        """Sum of the lanes of an int64 vector."""
        name = f"llvm.vector.reduce.add.v{self.W}i64"
        mod = self.b.module
        fn = mod.globals.get(name) or ir.Function(mod, ir.FunctionType(I64, [self.it]), name)
        return self.b.call(fn, [x])

    # -- groups: several independent values as one wider vector --------------------------------
    def wide(self, n):
        """The builder for vectors of ``n * W`` lanes (n values of this one side by side)."""
        g = self._wide.get(n)
        if g is None:
            g = self._wide[n] = _Gen(self.b, self.dtype, n * self.W, _parent=self)
        return g

    def concat(self, values):
        """F values of width W -> one F of this (wide) builder: value k in lanes kW..kW+W-1.
        len(values) * W must be this builder's width and a power-of-two multiple of W."""
        vs = [v.v for v in values]
        w = self.W // len(vs)
        while len(vs) > 1:
            mask = ir.Constant(ir.VectorType(I32, 2 * w), list(range(2 * w)))
            vs = [self.b.shuffle_vector(vs[i], vs[i + 1], mask) for i in range(0, len(vs), 2)]
            w *= 2
        assert w == self.W
        return F(self, vs[0])

    def split(self, wide, base):
        """Inverse of ``concat``: the ``W``-lane parts of ``wide`` as F values of ``base``."""
        b, n = self.b, self.W // base.W
        undef = ir.Constant(self.ft, ir.Undefined)
        return [F(base, b.shuffle_vector(wide.v, undef, ir.Constant(
            ir.VectorType(I32, base.W), list(range(k * base.W, (k + 1) * base.W))))) for k in range(n)]

    # -- memory ----------------------------------------------------------------------------
    def _tag(self, instr, scope):
        instr.set_metadata("alias.scope", self.md_scope[scope])
        instr.set_metadata("noalias", self.md_noalias[scope])
        return instr

    def vload(self, ptr, vty, scope):
        """W consecutive elements from the element pointer ``ptr``."""
        vptr = self.b.bitcast(ptr, vty.as_pointer())
        return self._tag(self.b.load(vptr, align=8), scope)   # element-aligned only

    def vstore(self, value, ptr, vty, scope):
        vptr = self.b.bitcast(ptr, vty.as_pointer())
        self._tag(self.b.store(value, vptr, align=8), scope)

    def sload(self, ptr, scope="data"):
        """A scalar that no store in the kernel changes (the dataset)."""
        instr = self._tag(self.b.load(ptr), scope)
        instr.set_metadata("invariant.load", self.md_invariant)
        return instr

    def no_unroll(self):
        """Loop ID that keeps LLVM from unrolling a loop (its body is already large)."""
        mod = self.b.module
        off = mod.add_metadata([ir.MetaDataString(mod, "llvm.loop.unroll.disable")])
        return _RawMD(mod, "distinct !{{{self}, {refs}}}", off)

    # -- bit tricks ------------------------------------------------------------------------
    def pow2_shifted(self, t):
        """``2**n`` for ``t = n + shifter`` (``kernels.ops.prim.pow2_shifted``): bitcast, integer
        subtract and add, shift, bitcast back."""
        b = self.b
        if self.is64:
            ity, shift_bits, bias, mant = I64, _SHIFT64_BITS, 1023, 52
        else:
            ity, shift_bits, bias, mant = I32, _SHIFT32_BITS, 127, 23
        vty = ir.VectorType(ity, self.W)
        n = b.sub(b.bitcast(t.v, vty), self.i(shift_bits, ity).v)
        bits = b.shl(b.add(n, self.i(bias, ity).v), self.i(mant, ity).v)
        return F(self, b.bitcast(bits, self.ft))


class F:
    """A float SSA value with Python operators that emit the matching IR."""

    __slots__ = ("g", "v")
    __hash__ = None
    __array_ufunc__ = None  # ``np.float32(c) * F`` defers to ``F.__rmul__``

    def __abs__(self):
        return self.g.fabs(self)

    def __eq__(self, o):
        return self.eq(o)

    def __ne__(self, o):
        return self.ne(o)

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
        return F(self.g, self.g.b.fsub(self.g.c(-0.0).v, self.v))

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
    __array_ufunc__ = None

    def __eq__(self, o):
        return self.eq(o)

    def __sub__(self, o):
        return I(self.g, self.g.b.sub(self.v, self._o(o)))

    def __init__(self, g, v):
        self.g, self.v = g, v

    def _o(self, o):
        return o.v if isinstance(o, I) else self.g.i(o).v

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

    def __eq__(self, o):
        return self.eq(o)

    def __init__(self, g, v):
        self.g, self.v = g, v

    def __and__(self, o):
        return B(self.g, self.g.b.and_(self.v, o.v))

    def __or__(self, o):
        return B(self.g, self.g.b.or_(self.v, o.v))

    def __invert__(self):
        return B(self.g, self.g.b.xor(self.v, self.g.true().v))

    def eq(self, o):
        return B(self.g, self.g.b.icmp_unsigned("==", self.v, o.v))
