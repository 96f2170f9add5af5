"""The epoch of any network as loops, with its state in memory: the schedule every size fits.

The register schedules (``codegen_ir._Body.emit_unrolled``, ``codegen_units``) keep the
parameters, or a pattern's activations, in SSA values, so their bodies grow with the net and
the dataset. ``emit_memory(body, m, act)`` (``Plan.memory``: units per loop iteration) keeps
everything that grows in the block state ``sf`` (rows of ``codegen_emit.Layout``): the
parameters and optimizer slots (``TH``, ``SLOT``), the activations of levels 1..nl of every
pattern of a pass (``AM``: row ``AM + slot * UA + unit``; full batch keeps all patterns, the
other schedules one), the deltas of one pattern (``DL``) and the gradient sums (``GR``). Every
dimension is a loop (``_chunks``): the patterns, the units of each hidden layer (``Plan.memory``
at a time, so that many independent sums are in flight), the parameters of the update. What is
unrolled is one unit's fan-in and the output layer. The body is a few thousand instructions for
any size, so any configuration compiles in seconds.

The operations are the generic kernel's (``kernels.train``, ``kernels.dense``) in its order, the
ops traced from ``kernels.ops`` through ``_Body`` as in the other schedules:

- forward: ``z = b_j + sum_i W[j, i] a_i`` (``0.0 + ...`` without bias) in ``i`` order, then the
  shortcut's terms, ``a_j = f(z)``; the metrics of each pattern as it is evaluated;
- backward of one pattern (full batch: every pattern after the bookkeeping; otherwise each
  pattern of a batch after its forward pass): output deltas from the loss op, then from the top
  layer down, the layer's gradient terms added to ``GR`` (``G += d_j a_i``) and the deltas of the
  level below, ``f'(a_i) * (0.0 + sum_j W[j, i] d_j)``;
- the update, parameter by parameter from ``GR`` (reset to 0.0 as it is read, so the next batch
  sums from 0.0), masked by ``still`` as the generic kernel masks it.
"""
from __future__ import annotations

from llvmlite import ir

from kernels.bundles import FULL
from kernels.codegen_llvm import I64
from kernels.ops import ACC_ARGMAX

#: Parameters per iteration of the loops over every parameter (update, parameter sum).
PARAMS_PER_ITER = 8


def _c(v):
    return ir.Constant(I64, v)


def _ix(b, base, *terms):
    """``base + sum(index * stride)``: an int when every index is one, else int64 IR."""
    if all(isinstance(i, int) for i, _ in terms):
        return base + sum(i * s for i, s in terms)
    v, const = None, base
    for i, s in terms:
        if isinstance(i, int):
            const += i * s
        else:
            t = i if s == 1 else b.mul(i, _c(s))
            v = t if v is None else b.add(v, t)
    return b.add(v, _c(const)) if const else v


def _chunks(body, n, per_iter, step, state=()):
    """``state = step(idx, state)`` over ``0 .. n-1``, ``per_iter`` indices at a time: an LLVM
    loop (``idx`` int64 SSA values) while it runs at least twice, the rest unrolled (ints)."""
    g = body.g
    n_iter = n // per_iter
    state = list(state)
    first = 0
    if n_iter >= 2:
        state = g.loop(state, 0, n_iter, lambda it, cur: step([_ix(g.b, u, (it, per_iter)) for u in range(per_iter)], cur))
        first = n_iter * per_iter
    rest = list(range(first, n))
    for s in range(0, len(rest), per_iter):
        state = step(rest[s:s + per_iter], state)
    return state


class _Net:
    """Rows of ``sf`` of the parameters, activations, deltas and gradient sums (indices ints or
    int64 SSA values)."""

    def __init__(self, body):
        spec, lay = body.spec, body.layout
        self.body, self.b, self.lay, self.sizes, self.nl = body, body.g.b, lay, spec.sizes, lay.nl
        self.uoff = lay.level_offsets()         # level l's units start at uoff[l] (l >= 1)
        self.UA = lay.UA

    def w(self, l, j, i):
        return self.body.load_f(_ix(self.b, self.lay.TH + self.lay.w_off[l], (j, self.sizes[l]), (i, 1)))

    def w_row(self, l, j, i):
        return _ix(self.b, self.lay.TH + self.lay.w_off[l], (j, self.sizes[l]), (i, 1))

    def bias_row(self, l, j):
        return _ix(self.b, self.lay.TH + self.lay.b_off[l], (j, 1))

    def sc_row(self, j, i):
        return _ix(self.b, self.lay.TH + self.lay.s_off, (j, self.lay.n_in), (i, 1))

    def a_row(self, slot, l, i):
        return _ix(self.b, self.lay.AM + self.uoff[l], (slot, self.UA), (i, 1))

    def d_row(self, l, i):
        return _ix(self.b, self.lay.DL + self.uoff[l], (i, 1))

    def level(self, slot, l, xs):
        """The activations of level ``l`` of the pattern in ``slot`` (level 0: its inputs ``xs``)."""
        return list(xs) if l == 0 else [self.body.load_f(self.a_row(slot, l, i)) for i in range(self.sizes[l])]

    def add_grad(self, p_row, term):
        """``GR[p] += term`` for the parameter in row ``p_row`` of sf."""
        r = _ix(self.b, self.lay.GR - self.lay.TH, (p_row, 1))
        self.body.store_f(r, self.body.load_f(r) + term)


def forward(body, net, slot, xs):
    """The forward pass of one pattern (inputs ``xs``), its activations stored in ``slot``;
    returns the output layer's ``(zo, ys)`` (logits and outputs, F values)."""
    spec, g = body.spec, body.g
    zo, ys = [], []
    for l in range(net.nl):
        n_i, last = spec.sizes[l], l == net.nl - 1

        def units(js, state, l=l, n_i=n_i, last=last):
            ins = net.level(slot, l, xs)
            zs = []
            for j in js:
                z = body.load_f(net.bias_row(l, j)) if spec.bias else g.c(0.0)
                for i in range(n_i):
                    z = z + body.load_f(net.w_row(l, j, i)) * ins[i]
                if last and spec.shortcut:
                    for i in range(net.lay.n_in):
                        z = z + body.load_f(net.sc_row(j, i)) * xs[i]
                zs.append(z)
            acts = body.grouped(body.acts[l].forward, zs, body.hyper.slope)
            for j, a in zip(js, acts):
                body.store_f(net.a_row(slot, l + 1, j), a)
            if last:
                zo.extend(zs)
                ys.extend(acts)
            return state

        if last:
            units(list(range(spec.sizes[l + 1])), [])
        else:
            _chunks(body, spec.sizes[l + 1], body.plan.memory, units)
    return zo, ys


def backward(body, net, slot, xs, d_out):
    """Add one pattern's gradient to ``GR``: ``d_out`` its output deltas, its activations in
    ``slot`` (the hidden deltas go through rows ``DL``)."""
    spec, g = body.spec, body.g
    if spec.shortcut:
        for j, d in enumerate(d_out):
            for i in range(net.lay.n_in):
                net.add_grad(net.sc_row(j, i), d * xs[i])
    for l in range(net.nl - 1, -1, -1):
        n_i, n_o, top = spec.sizes[l], spec.sizes[l + 1], l == net.nl - 1

        def deltas_of(js, l=l, top=top):
            return [d_out[j] for j in js] if top else [body.load_f(net.d_row(l + 1, j)) for j in js]

        def grads(js, state, l=l, n_i=n_i):
            ins = net.level(slot, l, xs)
            for j, d in zip(js, deltas_of(js)):
                for i in range(n_i):
                    net.add_grad(net.w_row(l, j, i), d * ins[i])
                if spec.bias:
                    net.add_grad(net.bias_row(l, j), d)
            return state

        if top:
            grads(list(range(n_o)), [])
        else:
            _chunks(body, n_o, body.plan.memory, grads)
        if l == 0:
            continue

        def hidden(is_, state, l=l, n_o=n_o):
            ds = deltas_of(list(range(n_o)))
            for i in is_:
                acc = g.c(0.0)
                for j in range(n_o):
                    acc = acc + body.load_f(net.w_row(l, j, i)) * ds[j]
                body.store_f(net.d_row(l, i), body.derive(l - 1, acc, body.load_f(net.a_row(slot, l, i))))
            return state

        _chunks(body, n_i, body.plan.memory, hidden)


def update(body, still):
    """Every parameter's update from its gradient sum (``GR``, reset to 0.0), kept where
    ``still``; the optimizer's per-run state steps once (``_Body.opt_lane``)."""
    lay, g = body.layout, body.g
    h, c = body.opt_lane()

    def step(ps, state):
        for p in ps:
            wp = body.load_f(_ix(g.b, lay.TH, (p, 1)))
            gr_row = _ix(g.b, lay.GR, (p, 1))
            grad = body.load_f(gr_row)
            body.store_f(gr_row, g.c(0.0))
            rows = [_ix(g.b, row, (p, 1)) for row in lay.SLOT]
            new, slots = body.step(wp, grad, tuple(body.load_f(r) for r in rows), h, c)
            body.store_f(_ix(g.b, lay.TH, (p, 1)), g.sel(still, new, g.opaque(wp)))
            for r, v in zip(rows, slots):
                body.store_f(r, v)
        return state

    _chunks(body, lay.P, PARAMS_PER_ITER, step)


def param_sum(body):
    """``0.0 + w_0 + w_1 + ...`` over every parameter in order (a diverged run's is not finite)."""
    lay, g = body.layout, body.g

    def step(ps, state):
        s = state[0]
        for p in ps:
            s = s + body.load_f(_ix(g.b, lay.TH, (p, 1)))
        return [s]

    return _chunks(body, lay.P, PARAMS_PER_ITER, step, [g.c(0.0)])[0]


def _pattern(body, k, shuffled=False, classes=False):
    """Inputs, targets (and class) of pattern ``k`` (int or int64 SSA): the dataset's, or with
    ``shuffled`` the epoch's shuffled copy in rows ``XS``/``TS`` of sf."""
    lay, b, args = body.layout, body.g.b, body.args
    n_in, n_out = lay.n_in, lay.n_out
    if shuffled:
        xs = [body.load_f(_ix(b, lay.XS + i, (k, n_in))) for i in range(n_in)]
        ts = [body.load_f(_ix(b, lay.TS + j, (k, n_out))) for j in range(n_out)]
    else:
        xs = [body.load_data(args.x, _ix(b, i, (k, n_in)), "f") for i in range(n_in)]
        ts = [body.load_data(args.t, _ix(b, j, (k, n_out)), "f") for j in range(n_out)]
    tidx = body.load_data(args.tidx, k, "i") if classes else None
    return xs, ts, tidx


def emit_memory(body, m, act):
    """The epoch of ``body`` (module docstring) into the metrics ``m``; returns ``still``."""
    spec, lay, g = body.spec, body.layout, body.g
    net, n_p, full = _Net(body), spec.n_patterns, spec.schedule == FULL
    ps = param_sum(body)
    keys = ("corr", "tss", "fahl", "lb")

    def evaluate(ks, state):
        m.update(zip(keys, state))
        for k in ks:
            xs, ts, tidx = _pattern(body, k, classes=spec.acc_mode == ACC_ARGMAX)
            zo, ys = forward(body, net, k if full else 0, xs)
            body.evaluate(m, act, k, {lay.nl: ys}, zo, ts, tidx)
        return [m[key] for key in keys]

    m.update(zip(keys, _chunks(body, n_p, 1, evaluate, [m[key] for key in keys])))
    still = body.bookkeeping(m, ps, act)
    if full:
        scale = lay.delta_scale(n_p)

        def train(ks, state):
            for k in ks:
                xs, ts, _ = _pattern(body, k)
                ys = [body.load_f(net.a_row(k, lay.nl, j)) for j in range(lay.n_out)]
                backward(body, net, k, xs, body.out_deltas(ys, ts, scale))
            return state

        _chunks(body, n_p, 1, train)
        update(body, still)
        return still
    bs = spec.batch_size

    def batch(first, size):
        """One update from patterns ``first .. first + size - 1`` (``first``: int or SSA)."""
        scale = lay.delta_scale(size)

        def one(ks, state):
            for k in ks:
                xs, ts, _ = _pattern(body, _ix(g.b, 0, (first, 1), (k, 1)), shuffled=spec.shuffle)
                _, ys = forward(body, net, 0, xs)
                backward(body, net, 0, xs, body.out_deltas(ys, ts, scale))
            return state

        _chunks(body, size, 1, one)
        update(body, still)

    def batches(its, state):
        body.lane_state = tuple(state)
        for it in its:
            batch(_ix(g.b, 0, (it, bs)), bs)
        return list(body.lane_state)

    body.lane_state = tuple(_chunks(body, n_p // bs, 1, batches, list(body.lane_state)))
    if n_p % bs:
        batch(n_p - n_p % bs, n_p % bs)
    return still
