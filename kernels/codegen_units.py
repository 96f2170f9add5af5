"""The epoch of a wide one-hidden-layer net as loops over its hidden units.

Unrolled, the lane body grows with the number of parameters (XOR 2-128-1: 21k instructions,
12 s to compile; 2-256-1 is over ``config.MAX_BODY``). ``emit_units(body, m, act)`` emits the epoch of a ``codegen_ir._Body`` whose net is
``n_in - H - n_out`` with the parameters, the optimizer's slots and the hidden activations in
memory (the block state ``sf``: rows ``Layout.HA``, ``n_patterns * H`` of them), and the hidden layer as a loop
over chunks of ``body.plan.units`` units (``Plan.units``; ``codegen_tuning.unit_chunk``), every pattern of a chunk
unrolled in its body (the chunk's activations grouped: ``_Body.grouped``):

- forward pass: iteration ``it`` computes ``a[k][j] = f(b_j + sum_i W0[j,i] x[k][i])`` for its
  units ``j`` and every pattern ``k``, and adds ``W1[o,j] a[k][j]`` to the output sums
  ``z[k][o]`` (started from ``b1[o]``, carried in phis): over ``j`` in order, as unrolled. The
  shortcut's terms and the output activation follow the loop.
- backward pass and update (full batch; online and minibatch: per batch, the batches a loop):
  iteration ``it`` computes, for its units, the hidden deltas from the output deltas through
  the weights ``W1[:, j]`` of the epoch's (batch's) start, every gradient of the unit's
  parameters (``W0[j, :]``, ``b_j``, ``W1[:, j]``; summed over the patterns in order from 0.0)
  and their updates by the optimizer op, stored at once. The output biases and the shortcut
  follow the loop.

Each value is the same operations on the same values as in the unrolled epoch, so the results
are the same bits, with two differences nothing observes:

- ``ps``, the sum of the parameters whose finiteness says whether a run diverged, is summed in
  the same order in slices of ``ceil(P / iterations)`` rows alongside the forward loop; the
  last iterations' slices add 0.0 for the rows past the last parameter, which keeps a sum
  finite or not exactly as it was.
- online and minibatch store each batch's weights masked by ``still`` (the unrolled epoch
  updates unmasked and puts a stopped lane's starting weights back at the end), so a stopped
  lane's optimizer slots, which are never copied out, follow other values.
"""
from __future__ import annotations

from llvmlite import ir

from kernels.bundles import FULL
from kernels.codegen_llvm import I64, F
from kernels.codegen_loops import index, pattern_data


def _c(v):
    return ir.Constant(I64, v)


class _Net:
    """Rows of sf of the parameters of ``n_in - H - n_out`` and of the hidden activations (ints,
    or int64 SSA values for a unit ``j`` of the loop)."""

    def __init__(self, body):
        spec, lay, b = body.spec, body.layout, body.g.b
        self.body, self.b = body, b
        self.H = spec.sizes[1]
        self.n_in, self.n_out = lay.n_in, lay.n_out
        self.w0, self.w1 = lay.TH + lay.w_off[0], lay.TH + lay.w_off[1]
        self.b0, self.b1 = lay.TH + lay.b_off[0], lay.TH + lay.b_off[1]
        self.sc = lay.TH + lay.s_off

    def at(self, base, j, stride=1, plus=0):
        """Row ``base + j * stride + plus``."""
        if isinstance(j, int):
            return base + j * stride + plus
        b = self.b
        jj = b.mul(j, _c(stride)) if stride != 1 else j
        return b.add(jj, _c(base + plus))

    def store_a(self, k, j, val):
        """Hidden activation ``j`` of the batch's pattern ``k`` into its row of sf."""
        self.body.store_f(self.at(self.body.layout.HA + k * self.H, j), val)

    def load_a(self, k, j):
        return self.body.load_f(self.at(self.body.layout.HA + k * self.H, j))


def _unit_loop(body, state, step):
    """``state = step(js, state, it)`` over the hidden units in chunks of ``body.plan.units``: a
    loop (``_Gen.loop``: ``js`` int64 SSA values, ``it`` the iteration), then the remaining
    units unrolled (``js`` ints, ``it`` None). ``state``: F values carried in phis."""
    g, U, H = body.g, body.plan.units, body.spec.sizes[1]
    n_iter = H // U
    state = g.loop(state, 0, n_iter, lambda it, cur: step([index(g.b, it, U, u) for u in range(U)], cur, it))
    rest = list(range(n_iter * U, H))
    return step(rest, state, None) if rest else state


def _forward(body, net, xss, store, ps=None):
    """``(zo, ys, ps)`` of the patterns ``xss``: output logits and outputs per pattern, and
    ``ps`` plus the sum of every parameter in order (when ``ps`` is given: the epoch's
    evaluation). ``store``: keep the hidden activations (rows ``Layout.HA`` of sf)."""
    spec, lay, g = body.spec, body.layout, body.g
    n_o, n_k = net.n_out, len(xss)
    n_iter = net.H // body.plan.units
    per_iter = -(-lay.P // n_iter)      # parameters summed into ps per iteration
    zo0 = [body.load_f(net.b1 + o) if spec.bias else g.c(0.0) for _ in xss for o in range(n_o)]
    state = zo0 + ([ps] if ps is not None else [])

    def step(js, state, it):
        zo = state[:n_k * n_o]
        w0 = [[body.load_f(net.at(net.w0, j, net.n_in, i)) for i in range(net.n_in)] for j in js]
        b0 = [body.load_f(net.at(net.b0, j)) if spec.bias else None for j in js]
        zs = []
        for xs in xss:
            for u in range(len(js)):
                z = b0[u] if spec.bias else g.c(0.0)
                for i in range(net.n_in):
                    z = z + w0[u][i] * xs[i]
                zs.append(z)
        a = body.grouped(body.acts[0].forward, zs, body.hyper.slope)
        w1 = [[body.load_f(net.at(net.w1 + o * net.H, j)) for j in js] for o in range(n_o)]
        for k in range(n_k):
            for u, j in enumerate(js):
                if store:
                    net.store_a(k, j, a[k * len(js) + u])
            for o in range(n_o):
                z = zo[k * n_o + o]
                for u in range(len(js)):
                    z = z + w1[o][u] * a[k * len(js) + u]
                zo[k * n_o + o] = z
        if ps is None or it is None:
            return zo + state[n_k * n_o:]
        return zo + [_sum_slice(body, state[-1], it, per_iter)]

    state = _unit_loop(body, state, step)
    zo = [state[k * n_o:(k + 1) * n_o] for k in range(n_k)]
    if spec.shortcut:
        for k, xs in enumerate(xss):
            for o in range(n_o):
                z = zo[k][o]
                for i in range(net.n_in):
                    z = z + body.load_f(net.sc + o * net.n_in + i) * xs[i]
                zo[k][o] = z
    flat = body.grouped(body.acts[1].forward, [z for zk in zo for z in zk], body.hyper.slope)
    ys = [flat[k * n_o:(k + 1) * n_o] for k in range(n_k)]
    return zo, ys, (state[-1] if ps is not None else None)


def _sum_slice(body, ps, it, n):
    """``ps`` plus parameters ``it*n .. it*n+n-1``, each 0.0 past the last one (``it``: the
    loop's int64 counter, or an int: ``codegen_size``'s iteration)."""
    g, P, TH = body.g, body.layout.P, body.layout.TH
    b = g.b
    zero = g.c(0.0)
    if isinstance(it, int):
        for q in range(n):
            p = it * n + q
            v = body.load_f(min(p, P - 1) + TH)
            ps = ps + (v if p < P else zero)
        return ps
    for q in range(n):
        p = b.add(b.mul(it, _c(n)), _c(q))
        inside = b.icmp_unsigned("<", p, _c(P))
        v = body.load_f(b.add(b.select(inside, p, _c(P - 1)), _c(TH)))
        ps = ps + F(g, b.select(inside, v.v, zero.v))
    return ps


def _update(body, net, xss, ds, still):
    """One update of every parameter from the patterns ``xss`` (their hidden activations in
    rows ``Layout.HA``, output deltas ``ds[k][o]``), stored masked by ``still``."""
    spec, lay, g = body.spec, body.layout, body.g
    h, c = body.opt_lane()
    n_o = net.n_out

    def apply(p, grad, wp=None):
        """Update the parameter in row ``p`` of sf (its slots in rows ``p + SLOT - TH``)."""
        wp = body.load_f(p) if wp is None else wp
        rows = [_shift(net, p, row - lay.TH) for row in lay.SLOT]
        new, slots = body.step(wp, grad, tuple(body.load_f(r) for r in rows), h, c)
        body.store_f(p, g.sel(still, new, g.opaque(wp)))
        for r, v in zip(rows, slots):
            body.store_f(r, v)

    def step(js, state, it):
        for j in js:
            w1 = [body.load_f(net.at(net.w1 + o * net.H, j)) for o in range(n_o)]
            a = [net.load_a(k, j) for k in range(len(xss))]
            dh = []
            for k in range(len(xss)):
                hs = g.c(0.0)
                for o in range(n_o):
                    hs = hs + w1[o] * ds[k][o]
                dh.append(body.derive(0, hs, a[k]))
            for i in range(net.n_in):
                apply(net.at(net.w0, j, net.n_in, i), body.pattern_sum(d * xs[i] for d, xs in zip(dh, xss)))
            if spec.bias:
                apply(net.at(net.b0, j), body.pattern_sum(dh))
            for o in range(n_o):
                apply(net.at(net.w1 + o * net.H, j), body.pattern_sum(dk[o] * ak for dk, ak in zip(ds, a)), w1[o])
        return state

    _unit_loop(body, [], step)
    for o in range(n_o):
        if spec.bias:
            apply(net.b1 + o, body.pattern_sum(dk[o] for dk in ds))
        if spec.shortcut:
            for i in range(net.n_in):
                apply(net.sc + o * net.n_in + i, body.pattern_sum(dk[o] * xs[i] for dk, xs in zip(ds, xss)))


def _shift(net, row, by):
    """Row ``row + by`` (an int or an int64 SSA value)."""
    return row + by if isinstance(row, int) else net.b.add(row, _c(by))


def emit_units(body, m, act):
    """The epoch of ``body`` (module docstring) into the metrics ``m``; returns ``still``."""
    spec, lay, g = body.spec, body.layout, body.g
    n_p, pats = spec.n_patterns, body.patterns
    x = pats.x
    full = spec.schedule == FULL
    net = _Net(body)
    zo, ys, ps = _forward(body, net, x, store=full, ps=g.c(0.0))
    for k in range(n_p):
        body.evaluate(m, act, k, {lay.nl: ys[k]}, zo[k], pats.t[k], pats.tidx[k])
    still = body.bookkeeping(m, ps, act)
    if full:
        scale = lay.delta_scale(n_p)
        _update(body, net, x, [body.out_deltas(y, t, scale) for y, t in zip(ys, pats.t)], still)
    else:
        _batches(body, net, still)
    return still


def _batches(body, net, still):
    """The epoch's batches of updates, a loop over the whole batches, then the last part."""
    spec, lay, g = body.spec, body.layout, body.g
    b, bs, n_p, n_in, n_out = g.b, spec.batch_size, spec.n_patterns, lay.n_in, lay.n_out
    pats = body.patterns

    def batch(xss, tss):
        _, ys, _ = _forward(body, net, xss, store=True)
        scale = lay.delta_scale(len(xss))
        _update(body, net, xss, [body.out_deltas(y, t, scale) for y, t in zip(ys, tss)], still)

    def shuffled(ks):       # rows XS + k*n_in + i and TS + k*n_out + j of sf
        xss = [[body.load_f(net.at(lay.XS + i, k, n_in)) for i in range(n_in)] for k in ks]
        return xss, [[body.load_f(net.at(lay.TS + j, k, n_out)) for j in range(n_out)] for k in ks]

    n_batches = n_p // bs
    first = 0
    if n_batches >= 2:
        def step(it, state):
            body.lane_state = tuple(state)
            ks = [index(b, it, bs, j) for j in range(bs)]
            batch(*(shuffled(ks) if spec.shuffle else pattern_data(body, ks)))
            return list(body.lane_state)

        def count(state):   # one batch of the size tables' measurements (docs/specialised-kernels.md)
            batch(pats.x[:bs], pats.t[:bs])
            return state

        g.loop(list(body.lane_state), 0, n_batches, step, count)
        first = n_batches
    for start in range(first * bs, n_p, bs):
        ks = list(range(start, min(start + bs, n_p)))
        batch(*(shuffled(ks) if spec.shuffle else ([pats.x[k] for k in ks], [pats.t[k] for k in ks])))
