"""LLVM IR of one epoch of a block: every lane's training step, as explicit vector code.

``make_lane_loop(spec, plan)`` returns an ``@intrinsic`` ``lane_loop(sf, si, X, T, tidx, Xte,
Tte, tidxte, e)`` that emits, inline into the caller, epoch ``e`` for all the block's lanes,
``plan.width`` lanes at a time, every value an LLVM vector of W lanes (one run per lane): the
lanes' state from the block state ``sf``/``si``, the evaluation, metrics and bookkeeping, the
epoch of updates, the state stored back (``kernels.codegen_emit``); it returns how many lanes go
on. The plan picks the schedule: parameters in registers and everything unrolled, parts as loops
(``codegen_loops``), the hidden units of one layer as a loop (``codegen_units``), or every
dimension a loop with the state in memory (``codegen_memory``); a held-out set is evaluated first
(``codegen_heldout``).

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

from kernels.codegen_emit import FULL, Layout
from kernels.codegen_llvm import I64, F, I, _Gen
from kernels.codegen_loops import evaluate_loop, train_batches
from kernels.codegen_heldout import evaluate_test
from kernels.codegen_memory import emit_memory
from kernels.codegen_plan import Plan
from kernels.codegen_state import Args, Hyper, Patterns
from kernels.codegen_units import emit_units
from kernels.ops import ACC_ARGMAX, ACTIVATIONS, MILESTONES, N_MILESTONES
from kernels.ops.metrics import fahlman_ok, same_side


class _Body:
    """One lane's epoch, emitted through a ``_Gen`` by tracing the op definitions of
    ``kernels.ops`` with vector values; the order of every sum is the generic kernel's it replaced.

    Fixed for the body: ``spec``, ``plan`` (``kernels.codegen_plan.Plan``), ``layout`` (rows of
    the block state), ``g`` (the builder), ``args`` (``Args``), ``acts`` (one activation op per
    layer). Set by ``emit``: ``hyper`` (``Hyper``), ``patterns`` (``Patterns``). The training
    state as the emission goes on: ``params`` (p -> F), ``slots`` (per optimizer slot, a list
    over p), ``lane_state`` (the optimizer's per-run state), ``loss_now`` (the epoch's loss)."""

    def __init__(self, spec, plan: Plan, g: _Gen, args: Args):
        self.spec, self.plan, self.g, self.args = spec, plan, g, args
        self.layout = Layout(spec, plan)
        self.params = {}
        self.acts = [ACTIVATIONS.by_code(c) for c in spec.acts]

    # -- state access: lanes ln0 .. ln0 + W - 1 of a row ------------------------------------------
    def _addr(self, base, row):
        """Lane ln0 of ``row`` (an int, or an int64 SSA value in a loop over batches)."""
        b, lanes = self.g.b, self.spec.lanes
        start = ir.Constant(I64, row * lanes) if isinstance(row, int) else b.mul(row, ir.Constant(I64, lanes))
        return b.gep(base, [b.add(start, self.args.ln0)], inbounds=True)

    def load_f(self, row):
        return F(self.g, self.g.vload(self._addr(self.args.sf, row), self.g.ft, "sf"))

    def store_f(self, row, val):
        self.g.vstore(val.v, self._addr(self.args.sf, row), self.g.ft, "sf")

    def load_i(self, row):
        return I(self.g, self.g.vload(self._addr(self.args.si, row), self.g.it, "si"))

    def store_i(self, row, val):
        self.g.vstore(val.v, self._addr(self.args.si, row), self.g.it, "si")

    def load_data(self, base, idx, ty):
        """Element ``idx`` (an int or an int64 SSA value) of a dataset array, in every lane."""
        g = self.g
        idx = ir.Constant(I64, idx) if isinstance(idx, int) else idx
        v = g.sload(g.b.gep(base, [idx], inbounds=True))
        return F(g, g.splat(v, g.ft)) if ty == "f" else I(g, g.splat(v, g.it))

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

    def forward_many(self, xss):
        """Activations of every level (level 0 = the inputs) and the output logits of several
        patterns, ``[(levels, zo)]``, layer by layer, each layer's activations grouped."""
        spec, layout, w, g = self.spec, self.layout, self.params, self.g
        levels = [[list(xs)] for xs in xss]
        zos = [[] for _ in xss]
        for l in range(layout.nl):
            n_i, n_o = spec.sizes[l], spec.sizes[l + 1]
            last = l == layout.nl - 1
            zs = []
            for k, xs in enumerate(xss):
                ins = levels[k][l]
                for j in range(n_o):
                    row = layout.w_off[l] + j * n_i
                    z = w[layout.b_off[l] + j] if spec.bias else g.c(0.0)
                    for i in range(n_i):
                        z = z + w[row + i] * ins[i]
                    if last and spec.shortcut:
                        srow = layout.s_off + j * layout.n_in
                        for i in range(layout.n_in):
                            z = z + w[srow + i] * xs[i]
                    if last:
                        zos[k].append(z)
                    zs.append(z)
            acts = self.grouped(self.acts[l].forward, zs, self.hyper.slope)
            for k in range(len(xss)):
                levels[k].append(acts[k * n_o:(k + 1) * n_o])
        return list(zip(levels, zos))

    def deltas(self, levels, ts, scale):
        """dE/dz of every unit of one pattern, ``{level: [per unit]}`` for levels 1..nl (the
        output's from the loss op, each hidden level's from the one above through the current
        weights)."""
        spec, layout, w, g = self.spec, self.layout, self.params, self.g
        nl = layout.nl
        deltas = {nl: self.out_deltas(levels[nl], ts, scale)}
        for l in range(nl - 1, 0, -1):
            n_i, n_o = spec.sizes[l], spec.sizes[l + 1]
            dl = deltas[l + 1]
            hd = []
            for i in range(n_i):
                a = g.c(0.0)
                for j in range(n_o):
                    a = a + w[layout.w_off[l] + j * n_i + i] * dl[j]
                hd.append(self.derive(l - 1, a, levels[l][i]))
            deltas[l] = hd
        return deltas

    def out_deltas(self, ys, ts, scale):
        """dE/dz of the output units of one pattern (outputs ``ys``, targets ``ts``)."""
        out = []
        for j in range(self.layout.n_out):
            d = self.g.c(scale) * (ys[j] - ts[j])
            if not self.layout.loss.logit_delta:
                d = self.derive(self.layout.nl - 1, d, ys[j])
            out.append(d)
        return out

    def grad_terms(self):
        """``[(p, term)]`` for every parameter, unit by unit from the output layer down:
        ``term(levels, xs, deltas)`` is one pattern's dE/dw_p."""
        spec, layout = self.spec, self.layout
        out = []
        for l in range(layout.nl - 1, -1, -1):
            n_i = spec.sizes[l]
            for j in range(spec.sizes[l + 1]):
                row = layout.w_off[l] + j * n_i
                for i in range(n_i):
                    out.append((row + i, lambda lv, xs, d, l=l, j=j, i=i: d[l + 1][j] * lv[l][i]))
                if spec.bias:
                    out.append((layout.b_off[l] + j, lambda lv, xs, d, l=l, j=j: d[l + 1][j]))
        if spec.shortcut:
            for j in range(layout.n_out):
                for i in range(layout.n_in):
                    out.append((layout.s_off + j * layout.n_in + i, lambda lv, xs, d, j=j, i=i: d[layout.nl][j] * xs[i]))
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

    def update(self, pats, still, store=False, grads=None):
        """One update of every weight by the optimizer op (kernels.ops.optimizers), from the
        gradient of the patterns ``pats`` (each ``(levels, xs, deltas)``), summed in pattern
        order (or the sums ``grads[p]``, already made). Parameter by parameter: its gradient,
        its update (kept where ``still`` is false) and, with ``store``, its store, so that no
        gradient stays live across the others."""
        layout, g, w = self.layout, self.g, self.params
        h, c = self.opt_lane()
        for p, term in self.grad_terms():
            grad = grads[p] if grads is not None else self.pattern_sum(term(*pat) for pat in pats)
            new, slots = self.step(w[p], grad, tuple(sl[p] for sl in self.slots), h, c)
            for sl, v in zip(self.slots, slots):
                sl[p] = v
            w[p] = new if still is None else g.sel(still, new, g.opaque(w[p]))
            if store:
                self.store_f(layout.TH + p, w[p])
                for row, sl in zip(layout.SLOT, self.slots):
                    self.store_f(row + p, sl[p])

    def pattern_sum(self, terms):
        """A gradient: ``0.0 + t_0 + t_1 + ...`` over the patterns' terms, in order."""
        grad = None
        for t in terms:
            grad = self.g.c(0.0) + t if grad is None else grad + t
        return grad

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
        if self.plan.memory:     # every state that grows in sf, every dimension a loop (codegen_memory)
            still = emit_memory(self, dict(corr=g.i(0), tss=g.c(0.0), fahl=g.true(), lb=g.c(0.0)), self.start())
        else:
            still = self.emit_registers()
        for row, v in zip(layout.LSLOT, self.lane_state):
            self.store_f(row, v)
        return still

    def start(self):
        """``act`` (the lanes still training); first, the held-out set's pass (``codegen_heldout``)."""
        act = self.load_i(self.layout.ACT).eq(1)
        if self.spec.n_test:
            evaluate_test(self, act)
        return act

    def emit_registers(self):
        """The register schedules' epoch; returns ``still``."""
        spec, layout, g, args = self.spec, self.layout, self.g, self.args
        n_in, n_out, n_p = layout.n_in, layout.n_out, spec.n_patterns
        x = [[self.load_data(args.x, k * n_in + i, "f") for i in range(n_in)] for k in range(n_p)]
        t = [[self.load_data(args.t, k * n_out + j, "f") for j in range(n_out)] for k in range(n_p)]
        tidx = [self.load_data(args.tidx, k, "i") for k in range(n_p)] if spec.acc_mode == ACC_ARGMAX else [None] * n_p
        self.patterns = Patterns(x, t, tidx)
        act = self.start()      # after the dataset's loads: the order these schedules were tuned in
        m = dict(corr=g.i(0), tss=g.c(0.0), fahl=g.true(), lb=g.c(0.0))
        if self.plan.units:      # the parameters stay in sf, the hidden layer a loop (codegen_units)
            return emit_units(self, m, act)
        return self.emit_unrolled(m, act)

    def emit_unrolled(self, m, act):
        """The epoch with the parameters in registers; returns ``still``."""
        spec, layout, g = self.spec, self.layout, self.g
        P, n_p, (x, t, tidx) = layout.P, spec.n_patterns, self.patterns
        w = self.params
        for p in range(P):
            w[p] = self.load_f(layout.TH + p)
        ps = g.c(0.0)
        for p in range(P):
            ps = ps + w[p]
        self.slots = [[self.load_f(row + p) for p in range(P)] for row in layout.SLOT]
        full = spec.schedule == FULL
        evals, pats, grads = None, [], None
        if self.plan.chunk:      # the evaluation (and full batch's gradient sums) as a loop
            grads = evaluate_loop(self, m, act)
        else:
            evals = self.forward_many(x)
            for k in range(n_p):
                levels, zo = evals[k]
                self.evaluate(m, act, k, levels, zo, t[k], tidx[k])
                if full:
                    pats.append((levels, x[k], self.deltas(levels, t[k], layout.delta_scale(n_p))))
        still = self.bookkeeping(m, ps, act)
        if full:
            self.update(pats, still, store=True, grads=grads)
        else:
            # The epoch's updates run unmasked and a stopped lane gets its parameters of the
            # epoch's start back at its end: the same parameters, without every update of the
            # epoch waiting for the evaluation pass's bookkeeping (``still``).
            w0 = dict(w)
            train_batches(self, evals)
            for p in range(P):
                w[p] = g.sel(still, w[p], g.opaque(w0[p]))
            for p in range(P):
                self.store_f(layout.TH + p, w[p])
            for row, sl in zip(layout.SLOT, self.slots):
                for p in range(P):
                    self.store_f(row + p, sl[p])
        return still

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
