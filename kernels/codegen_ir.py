"""LLVM IR of one epoch of a block: every lane's training step, as explicit vector code.

``make_lane_loop(spec, plan)`` returns an ``@intrinsic`` ``lane_loop(sf, si, X, T, tidx, Xte,
Tte, tidxte, e)`` that emits, inline into the caller, epoch ``e`` for all the block's lanes,
``plan.width`` lanes at a time, every value an LLVM vector of W lanes (one run per lane): the
lanes' state from the block state ``sf``/``si``, the evaluation, metrics and bookkeeping, the
epoch of updates, the state stored back (``kernels.codegen_emit``); it returns how many lanes go
on. The passes are written once (``codegen_epoch``: forward, deltas, gradients, updates, batches),
and the plan schedules them: every dimension unrolled with the state in registers
(``codegen_registers``) but the evaluation's patterns or the batches as loops, the hidden units
of one layer as a loop, or every dimension a loop with the state in memory; a held-out set is
evaluated first (``codegen_heldout``).

Why IR: Numba's front end costs milliseconds per statement. Why explicit vectors: LLVM's loop
vectoriser gives up on lane loops with hundreds of memory accesses. Each lane's operations are
Numba's for the ops of ``kernels.ops`` (traced with ``kernels.codegen_llvm`` values), in the
generic kernel's order, so every schedule gives its bits. Data: scalars, ``!invariant.load``.
"""
from __future__ import annotations

import functools

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels.codegen_emit import Layout
from kernels.codegen_llvm import I64, F, I, _Gen
from kernels.codegen_heldout import evaluate_test
from kernels.codegen_epoch import emit_epoch
from kernels.codegen_plan import Plan
from kernels.codegen_registers import RegisterFile
from kernels.codegen_state import Args, Hyper
from kernels.ops import ACC_ARGMAX, ACTIVATIONS, MILESTONES, N_MILESTONES
from kernels.ops.metrics import fahlman_ok, same_side


class _Body:
    """One lane's epoch, emitted through a ``_Gen`` by tracing the op definitions of
    ``kernels.ops`` with vector values; the order of every sum is the generic kernel's it replaced.

    Fixed for the body: ``spec``, ``plan`` (``kernels.codegen_plan.Plan``), ``layout`` (rows of
    the block state), ``g`` (the builder), ``args`` (``Args``), ``acts`` (one activation op per
    layer), ``regs`` (the register file: which rows of ``sf`` are SSA values). Set by ``emit``:
    ``hyper`` (``Hyper``). As the emission goes on: ``lane_state`` (the optimizer's per-run
    state), ``loss_now`` (the epoch's loss)."""

    def __init__(self, spec, plan: Plan, g: _Gen, args: Args):
        self.spec, self.plan, self.g, self.args = spec, plan, g, args
        self.layout = Layout(spec, plan)
        self.acts = [ACTIVATIONS.by_code(c) for c in spec.acts]
        lay = self.layout
        if plan.registers:
            self.regs = RegisterFile(g, [(lay.TH, lay.TH + lay.P * (1 + len(lay.SLOT)))], virtual=lay.NF)
        elif plan.units:
            self.regs = RegisterFile(g, scratch=lay.output_rows())
        else:
            self.regs = RegisterFile(g)

    # -- state access: lanes ln0 .. ln0 + W - 1 of a row ------------------------------------------
    def _addr(self, base, row):
        """Lane ln0 of ``row`` (an int, or an int64 SSA value in a loop over batches)."""
        b, lanes = self.g.b, self.spec.lanes
        start = ir.Constant(I64, row * lanes) if isinstance(row, int) else b.mul(row, ir.Constant(I64, lanes))
        return b.gep(base, [b.add(start, self.args.ln0)], inbounds=True)

    def load_f(self, row):
        regs = self.regs
        if regs.holds(row):
            return regs.load(row, lambda: F(self.g, self.g.vload(self._addr(self.args.sf, row), self.g.ft, "sf")))
        return F(self.g, self.g.vload(self._addr(self.args.sf, row), self.g.ft, "sf"))

    def store_f(self, row, val):
        if self.regs.holds(row):
            return self.regs.store(row, val)
        self.g.vstore(val.v, self._addr(self.args.sf, row), self.g.ft, "sf")

    def load_i(self, row):
        return I(self.g, self.g.vload(self._addr(self.args.si, row), self.g.it, "si"))

    def store_i(self, row, val):
        self.g.vstore(val.v, self._addr(self.args.si, row), self.g.it, "si")

    def load_data(self, base, idx, ty):
        """Element ``idx`` (an int or an int64 SSA value) of a dataset array, in every lane."""
        g = self.g
        if isinstance(idx, int) and not self.plan.memory:
            return self.regs.memo((id(base), idx, ty), lambda: self.load_data(base, ir.Constant(I64, idx), ty))
        idx = ir.Constant(I64, idx) if isinstance(idx, int) else idx
        v = g.sload(g.b.gep(base, [idx], inbounds=True))
        return F(g, g.splat(v, g.ft)) if ty == "f" else I(g, g.splat(v, g.it))

    def loop(self, state, first, n_iter, step, count=None):
        """``_Gen.loop`` with the register file carried in phis (``RegisterFile.loop``)."""
        return self.regs.loop(state, first, n_iter, step, count)

    # -- network ------------------------------------------------------------------------------
    def derive(self, layer, d, a):
        """d f'(a) for the activation of ``layer`` (plus the flat-spot offset times d)."""
        out = self.acts[layer].backward(d, a, self.hyper.slope)
        return out + self.hyper.flat_spot * d if self.spec.flat else out

    def grouped(self, fn, values, *lane_args):
        """``[fn(v, *lane_args) for v in values]``, emitted for up to ``self.plan.group`` values at once
        as one vector of their lanes side by side (``_Gen.concat``): the same operations on every
        lane, but independent chains interleaved instruction by instruction, so the CPU has
        them in flight together (emitted one after another, a long chain such as exp's
        polynomial fills the out-of-order window alone)."""
        g, out, i = self.g, [], 0
        while i < len(values):
            n = 1
            while 2 * n <= min(self.plan.group, len(values) - i):
                n *= 2
            if n == 1:
                out.append(fn(values[i], *lane_args))
            else:
                wg = g.wide(n)
                res = fn(wg.concat(values[i:i + n]), *(wg.concat([a] * n) for a in lane_args))
                out.extend(wg.split(res, g))
            i += n
        return out

    def out_deltas(self, ys, ts, scale):
        """dE/dz of the output units of one pattern (outputs ``ys``, targets ``ts``)."""
        out = []
        for j in range(self.layout.n_out):
            d = self.g.c(scale) * (ys[j] - ts[j])
            if not self.layout.loss.logit_delta:
                d = self.derive(self.layout.nl - 1, d, ys[j])
            out.append(d)
        return out

    def evaluate(self, m, act, k, levels, zo, ts, tidx=None):
        """Pattern ``k``'s (an int or an int64 SSA value) metrics into ``m`` and, when recorded,
        its outputs; ``ts``: its targets, ``tidx``: its class (argmax accuracy)."""
        layout, g = self.layout, self.g
        self.metrics(m, levels[layout.nl], zo, ts, tidx)
        if self.spec.rec_out:
            for j in range(layout.n_out):
                r = layout.OUT + k * layout.n_out + j if isinstance(k, int) else g.b.add(
                    g.b.mul(k, ir.Constant(I64, layout.n_out)), ir.Constant(I64, layout.OUT + j))
                self.store_f(r, g.sel(act, levels[layout.nl][j], self.load_f(r)))

    def metrics(self, m, ys, zo, ts, tidx=None):
        """Accumulate one pattern's tss, loss terms, correct count and Fahlman flag into m."""
        spec, layout, g = self.spec, self.layout, self.g
        if spec.acc_mode == ACC_ARGMAX:
            best, bi = ys[0], g.i(0)
            for j in range(1, layout.n_out):
                better = ys[j] > best
                best = g.sel(better, ys[j], best)
                bi = g.sel(better, j, bi)
            ok = bi.eq(tidx)
        else:
            ok = None
            for j in range(layout.n_out):
                same = same_side(ys[j], ts[j] >= 0.5)
                ok = same if ok is None else ok & same
        m["corr"] = m["corr"] + g.sel(ok, 1, 0)
        for j in range(layout.n_out):
            d = ys[j] - ts[j]
            m["tss"] = m["tss"] + d * d
            m["fahl"] = m["fahl"] & fahlman_ok(d)
            if layout.loss.uses_terms:
                m["lb"] = m["lb"] + layout.loss.term(ys[j], ts[j], zo[j])

    def opt_lane(self):
        """The optimizer's hyper-parameters and its per-run step of this update (``lane_state``)."""
        op = self.layout.opt
        h = tuple(self.load_f(self.layout.hyper(name)) for name in op.hyper)
        self.lane_state, c = op.lane(self.lane_state, h, self.loss_now)
        return h, c

    def step(self, wp, grad, slots, h, c):
        """(new weight, new slots) of one weight from its gradient (plus weight decay)."""
        gp = grad + self.hyper.weight_decay * wp if self.spec.decay else grad
        return self.layout.opt.update(wp, gp, slots, h, c)

    # -- the epoch ------------------------------------------------------------------------------
    def emit(self):
        spec, layout, g = self.spec, self.layout, self.g
        row = layout.hyper
        self.hyper = Hyper(self.load_f(row("leaky_slope")), self.load_f(row("flat_spot")) if spec.flat else None,
                           self.load_f(row("weight_decay")) if spec.decay else None)
        self.lane_state = tuple(self.load_f(row) for row in layout.LSLOT)
        still = emit_epoch(self, dict(corr=g.i(0), tss=g.c(0.0), fahl=g.true(), lb=g.c(0.0)), self.start())
        for row, v in zip(layout.LSLOT, self.lane_state):
            self.store_f(row, v)
        return still

    def start(self):
        """``act`` (the lanes still training); first, the held-out set's pass (``codegen_heldout``)."""
        act = self.load_i(self.layout.ACT).eq(1)
        if self.spec.n_test:
            evaluate_test(self, act)
        return act

    def bookkeeping(self, m, ps, act):
        """The per-run bookkeeping of the epoch (milestones, final metrics, divergence, early stop); returns ``still``."""
        spec, layout, g, e = self.spec, self.layout, self.g, self.args.epoch
        n_terms = g.c(spec.n_patterns * layout.n_out)
        tss, corr = m["tss"], m["corr"]
        ls = layout.loss.value(tss, m["lb"], n_terms)
        self.loss_now = ls
        mse = tss / n_terms
        fin = (ls - ls).eq(0.0) & (ps - ps).eq(0.0)
        tssb, lossb = self.load_f(layout.hyper("tss_below")), self.load_f(layout.hyper("loss_below"))
        conds = [op.met(corr, spec.n_patterns, m["fahl"], tss, ls, tssb, lossb) for op in MILESTONES.ops()]
        ms = []
        for k in range(N_MILESTONES):
            old = g.opaque(self.load_i(layout.MS + k))     # stored back: _Gen.opaque
            new = g.sel(act & conds[k] & (old < 0), e, old)
            self.store_i(layout.MS + k, new)
            ms.append(new)
        mc = self.load_i(layout.MAIN)
        # code N_MILESTONES + k: milestone k on the held-out set (its rows TMS, stored by start())
        firsts = ms + ([self.load_i(layout.TMS + k) for k in range(N_MILESTONES)] if spec.n_test else [])
        met = functools.reduce(lambda a, b: a | b, [mc.eq(k) & (f >= 0) for k, f in enumerate(firsts)])
        kf, ki = (lambda row: g.opaque(self.load_f(row))), (lambda row: g.opaque(self.load_i(row)))
        self.store_f(layout.FLOSS, g.sel(act, ls, kf(layout.FLOSS)))
        self.store_f(layout.FMSE, g.sel(act, mse, kf(layout.FMSE)))
        self.store_i(layout.CORR, g.sel(act, corr, ki(layout.CORR)))
        fmin = kf(layout.FMIN)
        self.store_f(layout.FMIN, g.sel(act & fin & (ls < fmin), ls, fmin))
        self.store_i(layout.DIV, g.sel(act & ~fin, 1, ki(layout.DIV)))
        self.store_i(layout.RUN, g.sel(act, e, ki(layout.RUN)))
        still = act & fin & (e < self.load_i(layout.EP)) & (self.load_i(layout.ESTOP).ne(1) | ~met)
        self.store_i(layout.ACT, g.sel(still, 1, 0))
        return still


def make_lane_loop(spec, plan: Plan):
    """The intrinsic ``lane_loop(sf, si, X, T, tidx, Xte, Tte, tidxte, e) -> n_active`` for ``spec``: epoch ``e``
    of every lane of the block, ``plan.width`` lanes at a time as LLVM vectors, laid out as
    ``plan`` says; returns how many lanes go on."""
    W = plan.width
    assert spec.lanes % W == 0

    @intrinsic
    def lane_loop(typingctx, sf, si, X, T, tidx, Xte, Tte, tidxte, e):
        for a in (sf, si, X, T, tidx, Xte, Tte, tidxte):
            if not isinstance(a, types.Array) or a.layout != "C":
                return None
        sig = types.int64(sf, si, X, T, tidx, Xte, Tte, tidxte, e)

        def codegen(context, builder, signature, args):
            ptrs = [cgutils.create_struct_proxy(ty)(context, builder, value=v).data
                    for ty, v in zip(signature.args[:8], args[:8])]
            e_v = context.cast(builder, args[8], signature.args[8], types.int64)
            g = _Gen(builder, spec.dtype, W)
            e_vec = I(g, g.splat(e_v, g.it))
            n_groups = spec.lanes // W
            if n_groups == 1:
                still = _Body(spec, plan, g, Args(*ptrs, ir.Constant(I64, 0), e_vec)).emit()
                return g.reduce_add(builder.zext(still.v, g.it))

            def group(grp, active):     # the groups of W lanes as a loop (_Gen.loop: not unrolled)
                ln0 = builder.mul(grp, ir.Constant(I64, W))
                still = _Body(spec, plan, g, Args(*ptrs, ln0, e_vec)).emit()
                return [I(g, builder.add(active[0].v, builder.zext(still.v, g.it)))]

            return g.reduce_add(g.loop([g.i(0)], 0, n_groups, group)[0].v)

        return sig, codegen

    return lane_loop
