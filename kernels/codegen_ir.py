"""LLVM IR of one lane's epoch: the straight-line body of a specialised kernel's lane loop.

``make_lane_step(spec)`` returns an ``@intrinsic`` ``lane_step(sf, si, X, T, tidx, ln, e)``
that emits, inline into the caller's lane loop, one run's whole epoch ``e`` (see
``kernels.codegen_emit``): load the lane's parameters from the block state ``sf``/``si``,
evaluate the network on every pattern (unrolled, every unit a scalar SSA value), the
metrics and the bookkeeping, then the epoch of updates, and store the state back. It
returns 1 when the lane goes on, else 0.

Why IR and not Python source: Numba's front end (typing and lowering) costs milliseconds per
statement, so an unrolled body of thousands of statements would take minutes to compile; built
here with llvmlite it takes milliseconds, and LLVM's optimiser sees the same code.

Every operation mirrors what Numba emits for the generic kernel's Python, in the same order,
so both paths produce the same bits: ``fadd``/``fmul``/... without fast-math flags, ordered
comparisons (``!=`` unordered), negation as ``-0.0 - x``, ``abs``/``sqrt``/``fma`` as LLVM
intrinsics, ``min``/``max`` and ``a if c else b`` as selects, and ``exp``/``log1p01`` as in
``kernels.elementary`` step by step. Loads and stores carry alias-scope metadata (the block
state, the dataset and the target indices never overlap), so the vectoriser needs no
runtime alias checks and the dataset loads are hoisted out of the lane loop.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels import codes
from kernels.codegen_emit import (ADAM, BCE, FULL, LEAKY, MOMENTUM, MSE, RELU, SGD, SIGMOID, SSE, TANH,
                                  Layout)
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


class _Body:
    """One lane's epoch, emitted through a ``_Gen``; mirrors kernels.train/dense/losses."""

    def __init__(self, spec, lay: Layout, g: _Gen, sf, si, xp, tp, tip, ln, e):
        self.s, self.lay, self.g = spec, lay, g
        self.sf, self.si, self.xp, self.tp, self.tip, self.ln, self.e = sf, si, xp, tp, tip, ln, e
        self.L = ir.Constant(I64, spec.lanes)
        self.w = {}

    # -- state access ---------------------------------------------------------------------------
    def _addr(self, base, row):
        b = self.g.b
        idx = b.add(ir.Constant(I64, row * self.s.lanes), self.ln)
        return b.gep(base, [idx], inbounds=True)

    def lf(self, row):
        return F(self.g, self.g.load(self._addr(self.sf, row), "sf"))

    def sfst(self, row, val):
        self.g.store(val.v, self._addr(self.sf, row), "sf")

    def li(self, row):
        return I(self.g, self.g.load(self._addr(self.si, row), "si"))

    def sist(self, row, val):
        self.g.store(val.v, self._addr(self.si, row), "si")

    def data(self, base, idx, ty):
        ptr = self.g.b.gep(base, [ir.Constant(I64, idx)], inbounds=True)
        v = self.g.load(ptr, "data", invariant=True)
        return F(self.g, v) if ty == "f" else I(self.g, v)

    # -- network ------------------------------------------------------------------------------
    def activate(self, code, z):
        g = self.g
        if code == SIGMOID:
            return 1.0 / (1.0 + g.exp(-z))
        if code == TANH:  # sign(z) (1 - e) / (1 + e), e = exp(-2|z|)
            e = g.exp(g.c(-2.0) * g.fabs(z))
            t = (1.0 - e) / (1.0 + e)
            return g.sel(z >= 0.0, t, -t)
        if code == RELU:
            return g.sel(z > 0.0, z, 0.0)
        if code == LEAKY:
            return g.sel(z > 0.0, z, self.slope * z)
        return z

    def derive(self, code, d, a):
        g = self.g
        if code == SIGMOID:
            return d * (a * (1.0 - a))
        if code == TANH:
            return d * (1.0 - a * a)
        if code == RELU:
            return g.sel(a > 0.0, d, 0.0)
        if code == LEAKY:
            return g.sel(a > 0.0, d, d * self.slope)
        return d

    def forward(self, xs):
        """Activations of every level (level 0 = xs) and the output logits."""
        s, lay, w, g = self.s, self.lay, self.w, self.g
        levels = [list(xs)]
        zo = []
        for l in range(lay.nl):
            n_i, n_o = s.sizes[l], s.sizes[l + 1]
            last = l == lay.nl - 1
            ins = levels[l]
            outs = []
            for j in range(n_o):
                row = lay.w_off[l] + j * n_i
                z = w[lay.b_off[l] + j] if s.bias else g.c(0.0)
                for i in range(n_i):
                    z = z + w[row + i] * ins[i]
                if last and s.shortcut:
                    srow = lay.s_off + j * lay.n_in
                    for i in range(lay.n_in):
                        z = z + w[srow + i] * xs[i]
                if last:
                    zo.append(z)
                outs.append(self.activate(s.acts[l], z))
            levels.append(outs)
        return levels, zo

    def backward(self, levels, xs, ts, scale, grad):
        """Add one pattern's gradient into ``grad`` (dict p -> value; absent = not started)."""
        s, lay, w, g = self.s, self.lay, self.w, self.g
        nl = lay.nl

        def acc(p, term):
            grad[p] = grad[p] + term if p in grad else g.c(0.0) + term

        deltas = {}
        ys = levels[nl]
        out = []
        for j in range(lay.n_out):
            d = g.c(scale) * (ys[j] - ts[j])
            if s.loss != BCE:
                d = self.derive(s.acts[nl - 1], d, ys[j])
            out.append(d)
        deltas[nl] = out
        if s.shortcut:
            for j in range(lay.n_out):
                for i in range(lay.n_in):
                    acc(lay.s_off + j * lay.n_in + i, deltas[nl][j] * xs[i])
        for l in range(nl - 1, -1, -1):
            n_i, n_o = s.sizes[l], s.sizes[l + 1]
            ins = levels[l]
            dl = deltas[l + 1]
            for j in range(n_o):
                row = lay.w_off[l] + j * n_i
                for i in range(n_i):
                    acc(row + i, dl[j] * ins[i])
                if s.bias:
                    acc(lay.b_off[l] + j, dl[j])
            if l > 0:
                hd = []
                for i in range(n_i):
                    a = g.c(0.0)
                    for j in range(n_o):
                        a = a + w[lay.w_off[l] + j * n_i + i] * dl[j]
                    hd.append(self.derive(s.acts[l - 1], a, ins[i]))
                deltas[l] = hd

    def metrics(self, m, k, ys, zo):
        """Accumulate pattern k's tss, loss terms, correct count and Fahlman flag into m."""
        s, lay, g = self.s, self.lay, self.g
        if s.acc_mode == codes.ACC_ARGMAX:
            best, bi = ys[0], g.i(0)
            for j in range(1, lay.n_out):
                better = ys[j] > best
                best = g.sel(better, ys[j], best)
                bi = g.sel(better, j, bi)
            ok = bi.eq(self.tidx[k])
        else:
            ok = None
            for j in range(lay.n_out):
                same = (ys[j] >= 0.5).eq(self.tbig[k][j])
                ok = same if ok is None else ok & same
        m["corr"] = m["corr"] + g.sel(ok, 1, 0)
        for j in range(lay.n_out):
            d = ys[j] - self.t[k][j]
            m["tss"] = m["tss"] + d * d
            m["fahl"] = m["fahl"] & (g.fabs(d) < 0.4)
            if s.loss == BCE:
                z = zo[j]
                sp = g.sel(z > 0.0, z, 0.0) + g.log1p01(g.exp(-g.fabs(z)))
                m["lb"] = m["lb"] + (sp - self.t[k][j] * z)

    def update(self, grad, still):
        s, lay, g, w = self.s, self.lay, self.g, self.w
        if s.opt == ADAM:
            self.pw1 = self.pw1 * self.b1
            self.pw2 = self.pw2 * self.b2
            lrc = self.lr / (1.0 - self.pw1)
            sq2 = g.sqrt(1.0 - self.pw2)
        for p in range(lay.P):
            gp = grad[p]
            if s.opt == SGD:
                w[p] = g.sel(still, w[p] - self.lr * gp, w[p])
            elif s.opt == MOMENTUM:
                self.m1[p] = self.mom * self.m1[p] + gp
                w[p] = g.sel(still, w[p] - self.lr * self.m1[p], w[p])
            else:
                self.m1[p] = self.b1 * self.m1[p] + (1.0 - self.b1) * gp
                self.m2[p] = self.b2 * self.m2[p] + (1.0 - self.b2) * (gp * gp)
                den = g.sqrt(self.m2[p]) / sq2 + self.eps
                w[p] = g.sel(still, w[p] - lrc * (self.m1[p] / den), w[p])

    # -- the epoch ------------------------------------------------------------------------------
    def emit(self):
        s, lay, g = self.s, self.lay, self.g
        P, n_in, n_out, n_p = lay.P, lay.n_in, lay.n_out, s.n_patterns
        w = self.w
        for p in range(P):
            w[p] = self.lf(lay.TH + p)
        ps = g.c(0.0)
        for p in range(P):
            ps = ps + w[p]
        self.lr = self.lf(lay.LR)
        self.slope = self.lf(lay.SLOPE) if LEAKY in s.acts else None
        if s.opt == MOMENTUM:
            self.mom = self.lf(lay.MOM)
        if s.opt == ADAM:
            self.b1, self.b2, self.eps = self.lf(lay.B1), self.lf(lay.B2), self.lf(lay.EPS)
            self.pw1, self.pw2 = self.lf(lay.PW1), self.lf(lay.PW2)
        self.m1 = [self.lf(lay.M1 + p) for p in range(P)] if s.opt in (MOMENTUM, ADAM) else None
        self.m2 = [self.lf(lay.M2 + p) for p in range(P)] if s.opt == ADAM else None
        x = [[self.data(self.xp, k * n_in + i, "f") for i in range(n_in)] for k in range(n_p)]
        self.t = [[self.data(self.tp, k * n_out + j, "f") for j in range(n_out)] for k in range(n_p)]
        self.tbig = [[tv >= 0.5 for tv in row] for row in self.t]
        if s.acc_mode == codes.ACC_ARGMAX:
            self.tidx = [self.data(self.tip, k, "i") for k in range(n_p)]
        act = self.li(lay.ACT).eq(1)
        m = dict(corr=g.i(0), tss=g.c(0.0), fahl=B(g, ir.Constant(I1, 1)), lb=g.c(0.0))
        full = s.schedule == FULL
        grad = {}
        scale_full = lay.delta_scale(n_p)
        for k in range(n_p):
            levels, zo = self.forward(x[k])
            self.metrics(m, k, levels[lay.nl], zo)
            if s.rec_out:
                for j in range(n_out):
                    r = lay.OUT + k * n_out + j
                    self.sfst(r, g.sel(act, levels[lay.nl][j], self.lf(r)))
            if full:
                self.backward(levels, x[k], self.t[k], scale_full, grad)
        still = self.bookkeeping(m, ps, act)
        if full:
            self.update(grad, still)
        else:
            for start in range(0, n_p, s.batch_size):
                stop = min(start + s.batch_size, n_p)
                scale = lay.delta_scale(stop - start)
                grad = {}
                for k in range(start, stop):
                    if s.shuffle:
                        xs = [self.lf(lay.XS + k * n_in + i) for i in range(n_in)]
                        ts = [self.lf(lay.TS + k * n_out + j) for j in range(n_out)]
                    else:
                        xs, ts = x[k], self.t[k]
                    levels, _ = self.forward(xs)
                    self.backward(levels, xs, ts, scale, grad)
                self.update(grad, still)
        for p in range(P):
            self.sfst(lay.TH + p, w[p])
        if s.opt in (MOMENTUM, ADAM):
            for p in range(P):
                self.sfst(lay.M1 + p, self.m1[p])
        if s.opt == ADAM:
            for p in range(P):
                self.sfst(lay.M2 + p, self.m2[p])
            self.sfst(lay.PW1, self.pw1)
            self.sfst(lay.PW2, self.pw2)
        return g.b.zext(still.v, I64)

    def bookkeeping(self, m, ps, act):
        """As the per-lane bookkeeping loop of kernels.train.train_block; returns ``still``."""
        s, lay, g, e = self.s, self.lay, self.g, self.e
        n_terms = s.n_patterns * lay.n_out
        tss, corr = m["tss"], m["corr"]
        if s.loss == SSE:
            ls = g.c(0.5) * tss
        elif s.loss == MSE:
            ls = tss / g.c(n_terms)
        else:
            ls = m["lb"] / g.c(n_terms)
        mse = tss / g.c(n_terms)
        fin = (ls - ls).eq(0.0) & (ps - ps).eq(0.0)
        conds = [(corr * 4) >= 3 * s.n_patterns, corr.eq(s.n_patterns), m["fahl"],
                 tss < self.lf(lay.TSSB), ls < self.lf(lay.LOSSB)]
        ms = []
        for k in range(5):
            old = self.li(lay.MS + k)
            new = g.sel(act & conds[k] & (old < 0), e, old)
            self.sist(lay.MS + k, new)
            ms.append(new)
        mc = self.li(lay.MAIN)
        met = None
        for k in range(5):
            t = mc.eq(k) & (ms[k] >= 0)
            met = t if met is None else met | t
        self.sfst(lay.FLOSS, g.sel(act, ls, self.lf(lay.FLOSS)))
        self.sfst(lay.FMSE, g.sel(act, mse, self.lf(lay.FMSE)))
        self.sist(lay.CORR, g.sel(act, corr, self.li(lay.CORR)))
        fmin = self.lf(lay.FMIN)
        self.sfst(lay.FMIN, g.sel(act & fin & (ls < fmin), ls, fmin))
        self.sist(lay.DIV, g.sel(act & ~fin, 1, self.li(lay.DIV)))
        self.sist(lay.RUN, g.sel(act, e, self.li(lay.RUN)))
        still = act & fin & (e < self.li(lay.EP)) & (self.li(lay.ESTOP).ne(1) | ~met)
        self.sist(lay.ACT, g.sel(still, 1, 0))
        return still


def make_lane_loop(spec, width=None):
    """The intrinsic ``lane_loop(sf, si, X, T, tidx, e) -> n_active`` for ``spec``: the loop
    over the block's lanes whose body is one lane's epoch ``e``; returns how many lanes go on.
    ``width``: vector width (default: one 512-bit register, 8 doubles or 16 floats)."""
    lay = Layout(spec)
    if width is None:
        import os
        width = int(os.environ.get("MLPK_W", 8 if spec.dtype == "float64" else 16))
    width = min(width, spec.lanes)

    @intrinsic
    def lane_loop(typingctx, sf, si, X, T, tidx, e):
        for a in (sf, si, X, T, tidx):
            if not isinstance(a, types.Array) or a.layout != "C":
                return None
        sig = types.int64(sf, si, X, T, tidx, e)

        def codegen(context, builder, signature, args):
            ptrs = [cgutils.create_struct_proxy(ty)(context, builder, value=v).data
                    for ty, v in zip(signature.args[:5], args[:5])]
            e_v = context.cast(builder, args[5], signature.args[5], types.int64)
            fn = builder.function
            pre = builder.block
            body_bb = fn.append_basic_block("lanes")
            exit_bb = fn.append_basic_block("lanes.end")
            builder.branch(body_bb)
            builder.position_at_end(body_bb)
            ln = builder.phi(I64, "ln")
            n_active = builder.phi(I64, "n_active")
            ln.add_incoming(ir.Constant(I64, 0), pre)
            n_active.add_incoming(ir.Constant(I64, 0), pre)
            g = _Gen(builder, spec.dtype)
            still = _Body(spec, lay, g, *ptrs, ln, I(g, e_v)).emit()
            n_next = builder.add(n_active, still)
            ln_next = builder.add(ln, ir.Constant(I64, 1))
            more = builder.icmp_unsigned("<", ln_next, ir.Constant(I64, spec.lanes))
            br = builder.cbranch(more, body_bb, exit_bb)
            br.set_metadata("llvm.loop", g.loop_md(width))
            ln.add_incoming(ln_next, builder.block)
            n_active.add_incoming(n_next, builder.block)
            builder.position_at_end(exit_bb)
            return n_next

        return sig, codegen

    return lane_loop
