"""LLVM IR of one epoch of a block: every lane's training step, as explicit vector code.

``make_lane_loop(spec)`` returns an ``@intrinsic`` ``lane_loop(sf, si, X, T, tidx, e)`` that
emits, inline into the caller, epoch ``e`` for all the block's lanes, ``W`` lanes at a time
(``vector_width``). The body is straight-line code for one run, written once with every value
an LLVM vector of ``W`` lanes (so one run per vector lane): load the lanes' parameters from the
block state ``sf``/``si``, evaluate the network on every pattern (unrolled: each unit of each
pattern is one SSA value), the metrics and the bookkeeping, then the epoch of updates, and
store the state back (see ``kernels.codegen_emit``). It returns how many lanes go on. Large
epochs run parts of it as loops (``kernels.codegen_loops``), and one-hidden-layer nets as a loop
over their hidden units with the parameters in ``sf`` (``kernels.codegen_units``).

Why IR and not Python source: Numba's front end (typing and lowering) costs milliseconds per
statement, so an unrolled body of thousands of statements would take minutes to compile;
built here with llvmlite it takes a fraction of a second. Why explicit vectors: LLVM's loop
vectoriser gives up on a lane loop with hundreds of memory accesses ("too many memory
checks") and would depend on its cost model; explicit vectors are always vectorised, skip
the vectoriser, and compile about 15% faster. Every lane's operations mirror what Numba
emits for the generic kernel: both run the op definitions of ``kernels.ops`` (Numba compiles
them; here they are traced with ``kernels.codegen_llvm`` values), in the same order, so both
paths produce the same bits. The dataset is read as scalars (``!invariant.load``) and broadcast.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels.codegen_emit import FULL, Layout
from kernels.codegen_loops import begin_loop, end_loop, evaluate_loop, train_batches
from kernels.codegen_units import emit_units
from kernels.codegen_tuning import batch_mode, group_size, pattern_chunk, unit_chunk, vector_width
from kernels.codegen_llvm import I64, F, I, _Gen
from kernels.ops import ACC_ARGMAX, ACTIVATIONS, MILESTONES, N_MILESTONES
from kernels.ops.metrics import fahlman_ok, same_side


class _Body:
    """One lane's epoch, emitted through a ``_Gen`` by tracing the op definitions of
    ``kernels.ops`` with vector values; the structure mirrors kernels.train and kernels.dense."""

    def __init__(self, spec, lay: Layout, g: _Gen, sf, si, xp, tp, tip, ln0, e, mode=None, chunk=None,
                 units=None):
        self.s, self.lay, self.g = spec, lay, g
        # the loops of the epoch (codegen_loops): patterns per evaluation loop iteration (0: none)
        # and the shape of the batches of updates; or hidden units per iteration (codegen_units)
        self.units = unit_chunk(spec) if units is None else units
        if self.units:
            self.chunk, self.mode = 0, "loop"
        else:
            self.chunk = pattern_chunk(spec) if chunk is None else chunk
            self.mode = mode or batch_mode(spec)
        self.sf, self.si, self.xp, self.tp, self.tip, self.ln0, self.e = sf, si, xp, tp, tip, ln0, e
        self.w = {}
        self.acts = [ACTIVATIONS.by_code(c) for c in spec.acts]
        self.group = group_size(spec, g.W)

    # -- state access: lanes ln0 .. ln0 + W - 1 of a row ------------------------------------------
    def _addr(self, base, row):
        """Lane ln0 of ``row`` (an int, or an int64 SSA value in a loop over batches)."""
        b = self.g.b
        start = ir.Constant(I64, row * self.s.lanes) if isinstance(row, int) else b.mul(row, ir.Constant(
            I64, self.s.lanes))
        return b.gep(base, [b.add(start, self.ln0)], inbounds=True)

    def lf(self, row):
        return F(self.g, self.g.vload(self._addr(self.sf, row), self.g.ft, "sf"))

    def sfst(self, row, val):
        self.g.vstore(val.v, self._addr(self.sf, row), self.g.ft, "sf")

    def li(self, row):
        return I(self.g, self.g.vload(self._addr(self.si, row), self.g.it, "si"))

    def sist(self, row, val):
        self.g.vstore(val.v, self._addr(self.si, row), self.g.it, "si")

    def data(self, base, idx, ty):
        """Element ``idx`` (an int or an int64 SSA value) of a dataset array, in every lane."""
        g = self.g
        idx = ir.Constant(I64, idx) if isinstance(idx, int) else idx
        v = g.sload(g.b.gep(base, [idx], inbounds=True))
        return F(g, g.splat(v, g.ft)) if ty == "f" else I(g, g.splat(v, g.it))

    # -- network ------------------------------------------------------------------------------
    def derive(self, layer, d, a):
        """d f'(a) for the activation of ``layer`` (plus the flat-spot offset times d)."""
        out = self.acts[layer].backward(d, a, self.slope)
        return out + self.fs * d if self.s.flat else out

    def grouped(self, fn, values, *lane_args):
        """``[fn(v, *lane_args) for v in values]``, emitted for up to ``self.group`` values at once
        as one vector of their lanes side by side (``_Gen.concat``): the same operations on every
        lane, but independent chains interleaved instruction by instruction, so the CPU has
        them in flight together (emitted one after another, a long chain such as exp's
        polynomial fills the out-of-order window alone)."""
        g, out, i = self.g, [], 0
        while i < len(values):
            n = 1
            while 2 * n <= min(self.group, len(values) - i):
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
        s, lay, w, g = self.s, self.lay, self.w, self.g
        levels = [[list(xs)] for xs in xss]
        zos = [[] for _ in xss]
        for l in range(lay.nl):
            n_i, n_o = s.sizes[l], s.sizes[l + 1]
            last = l == lay.nl - 1
            zs = []
            for k, xs in enumerate(xss):
                ins = levels[k][l]
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
                        zos[k].append(z)
                    zs.append(z)
            acts = self.grouped(self.acts[l].forward, zs, self.slope)
            for k in range(len(xss)):
                levels[k].append(acts[k * n_o:(k + 1) * n_o])
        return list(zip(levels, zos))

    def deltas(self, levels, ts, scale):
        """dE/dz of every unit of one pattern, ``{level: [per unit]}`` for levels 1..nl (the
        output's from the loss op, each hidden level's from the one above through the current
        weights)."""
        s, lay, w, g = self.s, self.lay, self.w, self.g
        nl = lay.nl
        deltas = {nl: self.out_deltas(levels[nl], ts, scale)}
        for l in range(nl - 1, 0, -1):
            n_i, n_o = s.sizes[l], s.sizes[l + 1]
            dl = deltas[l + 1]
            hd = []
            for i in range(n_i):
                a = g.c(0.0)
                for j in range(n_o):
                    a = a + w[lay.w_off[l] + j * n_i + i] * dl[j]
                hd.append(self.derive(l - 1, a, levels[l][i]))
            deltas[l] = hd
        return deltas

    def out_deltas(self, ys, ts, scale):
        """dE/dz of the output units of one pattern (outputs ``ys``, targets ``ts``)."""
        out = []
        for j in range(self.lay.n_out):
            d = self.g.c(scale) * (ys[j] - ts[j])
            if not self.lay.loss.logit_delta:
                d = self.derive(self.lay.nl - 1, d, ys[j])
            out.append(d)
        return out

    def grad_terms(self):
        """``[(p, term)]`` for every parameter, unit by unit from the output layer down:
        ``term(levels, xs, deltas)`` is one pattern's dE/dw_p."""
        s, lay = self.s, self.lay
        out = []
        for l in range(lay.nl - 1, -1, -1):
            n_i = s.sizes[l]
            for j in range(s.sizes[l + 1]):
                row = lay.w_off[l] + j * n_i
                for i in range(n_i):
                    out.append((row + i, lambda lv, xs, d, l=l, j=j, i=i: d[l + 1][j] * lv[l][i]))
                if s.bias:
                    out.append((lay.b_off[l] + j, lambda lv, xs, d, l=l, j=j: d[l + 1][j]))
        if s.shortcut:
            for j in range(lay.n_out):
                for i in range(lay.n_in):
                    out.append((lay.s_off + j * lay.n_in + i, lambda lv, xs, d, j=j, i=i: d[lay.nl][j] * xs[i]))
        return out

    def evaluate(self, m, act, k, levels, zo, ts, tidx=None):
        """Pattern ``k``'s (an int or an int64 SSA value) metrics into ``m`` and, when recorded,
        its outputs; ``ts``: its targets, ``tidx``: its class (argmax accuracy)."""
        lay, g = self.lay, self.g
        self.metrics(m, levels[lay.nl], zo, ts, tidx)
        if self.s.rec_out:
            for j in range(lay.n_out):
                r = lay.OUT + k * lay.n_out + j if isinstance(k, int) else g.b.add(
                    g.b.mul(k, ir.Constant(I64, lay.n_out)), ir.Constant(I64, lay.OUT + j))
                self.sfst(r, g.sel(act, levels[lay.nl][j], self.lf(r)))

    def metrics(self, m, ys, zo, ts, tidx=None):
        """Accumulate one pattern's tss, loss terms, correct count and Fahlman flag into m."""
        s, lay, g = self.s, self.lay, self.g
        if s.acc_mode == ACC_ARGMAX:
            best, bi = ys[0], g.i(0)
            for j in range(1, lay.n_out):
                better = ys[j] > best
                best = g.sel(better, ys[j], best)
                bi = g.sel(better, j, bi)
            ok = bi.eq(tidx)
        else:
            ok = None
            for j in range(lay.n_out):
                same = same_side(ys[j], ts[j] >= 0.5)
                ok = same if ok is None else ok & same
        m["corr"] = m["corr"] + g.sel(ok, 1, 0)
        for j in range(lay.n_out):
            d = ys[j] - ts[j]
            m["tss"] = m["tss"] + d * d
            m["fahl"] = m["fahl"] & fahlman_ok(d)
            if lay.loss.uses_terms:
                m["lb"] = m["lb"] + lay.loss.term(ys[j], ts[j], zo[j])

    def update(self, pats, still, store=False, grads=None):
        """One update of every weight by the optimizer op (kernels.ops.optimizers), from the
        gradient of the patterns ``pats`` (each ``(levels, xs, deltas)``), summed in pattern
        order (or the sums ``grads[p]``, already made). Parameter by parameter: its gradient,
        its update (kept where ``still`` is false) and, with ``store``, its store, so that no
        gradient stays live across the others."""
        lay, g, w = self.lay, self.g, self.w
        h, c = self.opt_lane()
        for p, term in self.grad_terms():
            grad = grads[p] if grads is not None else self.pattern_sum(term(*pat) for pat in pats)
            new, slots = self.step(w[p], grad, tuple(sl[p] for sl in self.slots), h, c)
            for sl, v in zip(self.slots, slots):
                sl[p] = v
            w[p] = new if still is None else g.sel(still, new, g.opaque(w[p]))
            if store:
                self.sfst(lay.TH + p, w[p])
                for row, sl in zip(lay.SLOT, self.slots):
                    self.sfst(row + p, sl[p])

    def pattern_sum(self, terms):
        """A gradient: ``0.0 + t_0 + t_1 + ...`` over the patterns' terms, in order."""
        grad = None
        for t in terms:
            grad = self.g.c(0.0) + t if grad is None else grad + t
        return grad

    def opt_lane(self):
        """The optimizer's hyper-parameters and its per-run step of this update (``lstate``)."""
        op = self.lay.opt
        h = tuple(self.lf(self.lay.hyper(name)) for name in op.hyper)
        self.lstate, c = op.lane(self.lstate, h, self.loss_now)
        return h, c

    def step(self, wp, grad, slots, h, c):
        """(new weight, new slots) of one weight from its gradient (plus weight decay)."""
        gp = grad + self.wd * wp if self.s.decay else grad
        return self.lay.opt.update(wp, gp, slots, h, c)

    # -- the epoch ------------------------------------------------------------------------------
    def emit(self):
        s, lay, g = self.s, self.lay, self.g
        n_in, n_out, n_p = lay.n_in, lay.n_out, s.n_patterns
        self.slope = self.lf(lay.hyper("leaky_slope"))
        self.fs = self.lf(lay.hyper("flat_spot")) if s.flat else None
        self.wd = self.lf(lay.hyper("weight_decay")) if s.decay else None
        self.lstate = tuple(self.lf(row) for row in lay.LSLOT)
        x = [[self.data(self.xp, k * n_in + i, "f") for i in range(n_in)] for k in range(n_p)]
        self.t = [[self.data(self.tp, k * n_out + j, "f") for j in range(n_out)] for k in range(n_p)]
        self.tidx = [self.data(self.tip, k, "i") for k in range(n_p)] if s.acc_mode == ACC_ARGMAX else [None] * n_p
        act = self.li(lay.ACT).eq(1)
        m = dict(corr=g.i(0), tss=g.c(0.0), fahl=g.true(), lb=g.c(0.0))
        if self.units:      # the parameters stay in sf, the hidden layer a loop (codegen_units)
            still = emit_units(self, m, act, x)
        else:
            still = self.emit_unrolled(m, act, x)
        for row, v in zip(lay.LSLOT, self.lstate):
            self.sfst(row, v)
        return still

    def emit_unrolled(self, m, act, x):
        """The epoch with the parameters in registers; returns ``still``."""
        s, lay, g = self.s, self.lay, self.g
        P, n_p = lay.P, s.n_patterns
        w = self.w
        for p in range(P):
            w[p] = self.lf(lay.TH + p)
        ps = g.c(0.0)
        for p in range(P):
            ps = ps + w[p]
        self.slots = [[self.lf(row + p) for p in range(P)] for row in lay.SLOT]
        full = s.schedule == FULL
        evals, pats, grads = None, [], None
        if self.chunk:      # the evaluation (and full batch's gradient sums) as a loop
            grads = evaluate_loop(self, m, act, x)
        else:
            evals = self.forward_many(x)
            for k in range(n_p):
                levels, zo = evals[k]
                self.evaluate(m, act, k, levels, zo, self.t[k], self.tidx[k])
                if full:
                    pats.append((levels, x[k], self.deltas(levels, self.t[k], lay.delta_scale(n_p))))
        still = self.bookkeeping(m, ps, act)
        if full:
            self.update(pats, still, store=True, grads=grads)
        else:
            # The epoch's updates run unmasked and a stopped lane gets its parameters of the
            # epoch's start back at its end: the same parameters, without every update of the
            # epoch waiting for the evaluation pass's bookkeeping (``still``).
            w0 = dict(w)
            train_batches(self, x, evals, self.mode)
            for p in range(P):
                w[p] = g.sel(still, w[p], g.opaque(w0[p]))
            for p in range(P):
                self.sfst(lay.TH + p, w[p])
            for row, sl in zip(lay.SLOT, self.slots):
                for p in range(P):
                    self.sfst(row + p, sl[p])
        return still

    def bookkeeping(self, m, ps, act):
        """As the per-lane bookkeeping loop of kernels.train.train_block; returns ``still``."""
        s, lay, g, e = self.s, self.lay, self.g, self.e
        n_terms = g.c(s.n_patterns * lay.n_out)
        tss, corr = m["tss"], m["corr"]
        ls = lay.loss.value(tss, m["lb"], n_terms)
        self.loss_now = ls
        mse = tss / n_terms
        fin = (ls - ls).eq(0.0) & (ps - ps).eq(0.0)
        tssb, lossb = self.lf(lay.hyper("tss_below")), self.lf(lay.hyper("loss_below"))
        conds = [op.met(corr, s.n_patterns, m["fahl"], tss, ls, tssb, lossb) for op in MILESTONES.ops()]
        ms = []
        for k in range(N_MILESTONES):
            old = g.opaque(self.li(lay.MS + k))     # stored back: _Gen.opaque
            new = g.sel(act & conds[k] & (old < 0), e, old)
            self.sist(lay.MS + k, new)
            ms.append(new)
        mc = self.li(lay.MAIN)
        met = None
        for k in range(N_MILESTONES):
            t = mc.eq(k) & (ms[k] >= 0)
            met = t if met is None else met | t
        kf, ki = (lambda row: g.opaque(self.lf(row))), (lambda row: g.opaque(self.li(row)))
        self.sfst(lay.FLOSS, g.sel(act, ls, kf(lay.FLOSS)))
        self.sfst(lay.FMSE, g.sel(act, mse, kf(lay.FMSE)))
        self.sist(lay.CORR, g.sel(act, corr, ki(lay.CORR)))
        fmin = kf(lay.FMIN)
        self.sfst(lay.FMIN, g.sel(act & fin & (ls < fmin), ls, fmin))
        self.sist(lay.DIV, g.sel(act & ~fin, 1, ki(lay.DIV)))
        self.sist(lay.RUN, g.sel(act, e, ki(lay.RUN)))
        still = act & fin & (e < self.li(lay.EP)) & (self.li(lay.ESTOP).ne(1) | ~met)
        self.sist(lay.ACT, g.sel(still, 1, 0))
        return still


def make_lane_loop(spec, width=None):
    """The intrinsic ``lane_loop(sf, si, X, T, tidx, e) -> n_active`` for ``spec``: epoch ``e``
    of every lane of the block, ``width`` lanes at a time as LLVM vectors; returns how many
    lanes go on."""
    lay = Layout(spec)
    W = width or vector_width(spec)
    assert spec.lanes % W == 0

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
            g = _Gen(builder, spec.dtype, W)
            e_vec = I(g, g.splat(e_v, g.it))
            n_groups = spec.lanes // W
            if n_groups == 1:
                still = _Body(spec, lay, g, *ptrs, ir.Constant(I64, 0), e_vec).emit()
                return g.reduce_add(builder.zext(still.v, g.it))
            # the groups of W lanes as a loop (LLVM must not unroll it: its body is large)
            grp, phis, exit_bb = begin_loop(builder, [g.i(0)], 0)
            ln0 = builder.mul(grp, ir.Constant(I64, W))
            still = _Body(spec, lay, g, *ptrs, ln0, e_vec).emit()
            active = I(g, builder.add(phis[0], builder.zext(still.v, g.it)))
            end_loop(builder, g, grp, phis, [active], n_groups, exit_bb)
            return g.reduce_add(active.v)

        return sig, codegen

    return lane_loop
