"""The epoch of any network as loops of tiles, its state in memory: the schedule every size fits.

The register schedules (``codegen_ir``, ``codegen_units``) keep parameters or activations in SSA
values, so their bodies grow with the net and the dataset. ``emit_memory(body, m, act)``
(``Plan.memory``: the tile T) keeps them in the block state ``sf`` (``codegen_emit.Layout``):
parameters and slots (``TH``, ``SLOT``), a block of T patterns' activations (``AM``), logits
(``ZO``) and deltas (``DL``), and for batches of several blocks the gradient sums (``GR``). Each
of a layer's three products is a loop of T x T tiles of SSA accumulators, each reduction in the
generic kernel's order, ``TERMS_PER_ITER`` terms per loop iteration:

- forward, patterns x units: ``z[k][j] = b_j + sum_i W[j, i] a[k][i]`` (``0.0 + ...`` without a
  bias), then each skip connection's terms into the level (the shortcut; a dense net's
  ``S_(m,k)``, by source k); ``a = f(z)`` (``_Body.grouped``);
- deltas of level l, patterns x units: ``f'(a[k][i]) * (0.0 + sum_j W[j, i] d[k][j] + the skips
  out of level l, sum_j S_(m,l)[j, i] d_m[k][j] by target m)``, through the weights of the batch's start;
- gradients, units x inputs: ``0.0 + sum_k d[k][j] a[k][i]`` over the batch's patterns in order,
  in registers for a batch of one block (then each parameter's update at once), else added to
  ``GR`` block by block and updated in one pass (kept where ``still``).

The metrics, bookkeeping and every op are ``_Body``'s, so every schedule gives the same bits.
"""
from __future__ import annotations

from kernels.bundles import FULL
from kernels.codegen_tiles import _blocks, _chunks, _ix, _pairs, _Pass, _tiles

#: Parameters per iteration of the in-order parameter sum (a diverged run's is not finite).
PARAMS_PER_ITER = 8
#: Terms of a reduction (a unit's fan-in, a delta's fan-out) per loop iteration: longer ones are
#: a loop (its accumulators in phis), so a body stays a few thousand instructions however wide.
TERMS_PER_ITER = 8


def forward(body, ps: _Pass, ss):
    """The forward pass of the block ``ss`` (its patterns' indices in the pass), layer by layer,
    units T at a time, each unit's fan-in ``TERMS_PER_ITER`` terms at a time: activations into
    ``AM``, the output logits into ``ZO``."""
    spec, g, T = body.spec, body.g, ps.tile
    for l in range(body.layout.nl):
        n_i, last = spec.sizes[l], l == body.layout.nl - 1

        def tile(js, state, l=l, n_i=n_i, last=last):
            pairs = _pairs(len(ss), len(js))

            def terms(is_, z):
                for i in is_:
                    a = [ps.a(ss, u, l, i) for u in range(len(ss))]
                    w = [ps.w(l, j, i) for j in js]
                    z = [zk + w[v] * a[u] for zk, (u, v) in zip(z, pairs)]
                return z

            def skip(is_, z, pair):
                for i in is_:
                    a = [ps.a(ss, u, pair[1], i) for u in range(len(ss))]
                    w = [body.load_f(ps.skip_row(pair, j, i)) for j in js]
                    z = [zk + w[v] * a[u] for zk, (u, v) in zip(z, pairs)]
                return z

            z = [body.load_f(ps.bias_row(l, js[v])) if spec.bias else g.c(0.0) for _, v in pairs]
            z = _chunks(body, n_i, TERMS_PER_ITER, terms, z)
            for pair in (p for p in spec.skips if p[0] == l + 1):     # then each skip's terms, by source
                z = _chunks(body, spec.sizes[pair[1]], TERMS_PER_ITER, lambda is_, z, pair=pair: skip(is_, z, pair), z)
            acts = body.grouped(body.acts[l].forward, z, body.hyper.slope)
            for (u, v), a, zk in zip(pairs, acts, z):
                body.store_f(ps.a_row(u, l + 1, js[v]), a)
                if last:
                    body.store_f(ps.zo_row(u, js[v]), zk)
            return state

        _chunks(body, spec.sizes[l + 1], T, tile)


def deltas(body, ps: _Pass, ss, scale):
    """The deltas of every level of the block ``ss`` into ``DL``: the output deltas from the loss
    op, then each hidden level's from the one above through the weights of the pass's start,
    ``f'(a[u][i]) * (0.0 + sum_j W[j, i] d[u][j])``, units T at a time."""
    spec, lay, g, T = body.spec, body.layout, body.g, body.plan.memory
    for u, s in enumerate(ss):
        ys, _ = ps.outputs(u)
        for j, d in enumerate(body.out_deltas(ys, [ps.t(s, j) for j in range(lay.n_out)], scale)):
            body.store_f(ps.d_row(u, lay.nl, j), d)
    for l in range(lay.nl - 1, 0, -1):
        n_o = spec.sizes[l + 1]

        def tile(is_, state, l=l, n_o=n_o):
            pairs = _pairs(len(ss), len(is_))

            def terms(js, acc):
                for j in js:
                    d = [ps.d(u, l + 1, j) for u in range(len(ss))]
                    w = [ps.w(l, j, i) for i in is_]
                    acc = [ak + w[v] * d[u] for ak, (u, v) in zip(acc, pairs)]
                return acc

            def skip(js, acc, m):
                for j in js:
                    d = [ps.d(u, m, j) for u in range(len(ss))]
                    w = [body.load_f(ps.skip_row((m, l), j, i)) for i in is_]
                    acc = [ak + w[v] * d[u] for ak, (u, v) in zip(acc, pairs)]
                return acc

            acc = _chunks(body, n_o, TERMS_PER_ITER, terms, [g.c(0.0)] * len(pairs))
            for m in (p[0] for p in spec.skips if p[1] == l):     # then the skips out of level l, by target
                acc = _chunks(body, spec.sizes[m], TERMS_PER_ITER, lambda js, acc, m=m: skip(js, acc, m), acc)
            for (u, v), ak in zip(pairs, acc):
                body.store_f(ps.d_row(u, l, is_[v]), body.derive(l - 1, ak, ps.a(ss, u, l, is_[v])))
            return state

        _chunks(body, spec.sizes[l], T, tile)


def _gradient_tiles(body, ps: _Pass, ss, tile):
    """``tile(js, is_, term, row)`` over the tiles of every parameter: ``term(u, v, w)`` is the
    block's pattern ``u``'s dE/dw of the tile's parameter (``v``, ``w``: its unit and input
    positions in the tile), ``row(j, i)`` its row of sf."""
    spec, lay, T = body.spec, body.layout, body.plan.memory
    for l in range(lay.nl - 1, -1, -1):
        def weights(js, is_, l=l):
            d = [[ps.d(u, l + 1, j) for j in js] for u in range(len(ss))]
            a = [[ps.a(ss, u, l, i) for i in is_] for u in range(len(ss))]
            tile(js, is_, lambda u, v, w: d[u][v] * a[u][w], lambda j, i: ps.w_row(l, j, i))

        _tiles(body, spec.sizes[l + 1], spec.sizes[l], weights)
        if spec.bias:
            def biases(js, st, l=l):
                d = [[ps.d(u, l + 1, j) for j in js] for u in range(len(ss))]
                tile(js, [0], lambda u, v, w: d[u][v], lambda j, i: ps.bias_row(l, j))
                return st

            _chunks(body, spec.sizes[l + 1], T, biases)
    for pair in spec.skips:
        def skip(js, is_, pair=pair):
            d = [[ps.d(u, pair[0], j) for j in js] for u in range(len(ss))]
            a = [[ps.a(ss, u, pair[1], i) for i in is_] for u in range(len(ss))]
            tile(js, is_, lambda u, v, w: d[u][v] * a[u][w], lambda j, i: ps.skip_row(pair, j, i))

        _tiles(body, spec.sizes[pair[0]], spec.sizes[pair[1]], skip)


def _apply(body, still, h, c):
    """``apply(row, grad)``: the optimizer's update of the parameter in row ``row``, kept where ``still``."""
    lay, g = body.layout, body.g

    def apply(row, grad):
        wp = body.load_f(row)
        rows = [_ix(g.b, r - lay.TH, (row, 1)) for r in lay.SLOT]
        new, slots = body.step(wp, grad, tuple(body.load_f(r) for r in rows), h, c)
        body.store_f(row, g.sel(still, new, g.opaque(wp)))
        for r, v in zip(rows, slots):
            body.store_f(r, v)

    return apply


def update_direct(body, ps: _Pass, ss, still):
    """A batch of one block: each parameter's gradient ``0.0 + sum_u term_u`` in registers, then its update."""
    g = body.g
    h, c = body.opt_lane()
    apply = _apply(body, still, h, c)

    def tile(js, is_, term, row):
        for v in range(len(js)):
            for w in range(len(is_)):
                grad = g.c(0.0)
                for u in range(len(ss)):
                    grad = grad + term(u, v, w)
                apply(row(js[v], is_[w]), grad)

    _gradient_tiles(body, ps, ss, tile)


def accumulate(body, ps: _Pass, ss):
    """Add the block's gradient terms to the sums in rows ``GR`` (pattern by pattern, in order)."""
    lay = body.layout

    def tile(js, is_, term, row):
        for v in range(len(js)):
            for w in range(len(is_)):
                r = _ix(body.g.b, lay.GR - lay.TH, (row(js[v], is_[w]), 1))
                grad = body.load_f(r)
                for u in range(len(ss)):
                    grad = grad + term(u, v, w)
                body.store_f(r, grad)

    _gradient_tiles(body, ps, ss, tile)


def update_sums(body, still):
    """Every parameter's update from its sum in ``GR`` (then 0.0 again for the next batch)."""
    lay, g = body.layout, body.g
    h, c = body.opt_lane()
    apply = _apply(body, still, h, c)

    def step(ps, state):
        for p in ps:
            r = _ix(g.b, lay.GR, (p, 1))
            grad = body.load_f(r)
            body.store_f(r, g.c(0.0))
            apply(_ix(g.b, lay.TH, (p, 1)), grad)
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


def emit_memory(body, m, act):
    """The epoch of ``body`` (module docstring) into the metrics ``m``; returns ``still``."""
    spec, lay, g = body.spec, body.layout, body.g
    n_p, full = spec.n_patterns, spec.schedule == FULL
    ps_sum = param_sum(body)
    ev = _Pass(body, n_p)
    keys = ("corr", "tss", "fahl", "lb")
    scale = lay.delta_scale(n_p)

    one_block = n_p <= body.plan.memory

    def evaluate(ss, state):    # full batch: also its deltas and gradient sums
        m.update(zip(keys, state))
        forward(body, ev, ss)
        for u, s in enumerate(ss):
            ys, zo = ev.outputs(u)
            body.evaluate(m, act, s, {lay.nl: ys}, zo, [ev.t(s, j) for j in range(lay.n_out)], ev.cls(s))
        if full and not one_block:
            deltas(body, ev, ss, scale)
            accumulate(body, ev, ss)
        return [m[key] for key in keys]

    m.update(zip(keys, _blocks(body, ev, evaluate, [m[key] for key in keys])))
    still = body.bookkeeping(m, ps_sum, act)
    if full and one_block:      # the block's activations are still in AM: gradients in registers
        ss = list(range(n_p))
        deltas(body, ev, ss, scale)
        update_direct(body, ev, ss, still)
        return still
    if full:
        update_sums(body, still)
        return still
    bs = spec.batch_size

    def batch(first, size):
        tp = _Pass(body, size, first, spec.shuffle)
        scale = lay.delta_scale(size)
        if size <= body.plan.memory:     # one block: the gradients in registers
            ss = list(range(size))
            forward(body, tp, ss)
            deltas(body, tp, ss, scale)
            update_direct(body, tp, ss, still)
            return

        def block(ss, st):
            forward(body, tp, ss)
            deltas(body, tp, ss, scale)
            accumulate(body, tp, ss)
            return st

        _blocks(body, tp, block)
        update_sums(body, still)

    def batches(its, state):
        body.lane_state = tuple(state)
        for it in its:
            batch(_ix(g.b, 0, (it, bs)), bs)
        return list(body.lane_state)

    body.lane_state = tuple(_chunks(body, n_p // bs, 1, batches, list(body.lane_state)))
    if n_p % bs:
        batch(n_p - n_p % bs, n_p % bs)
    return still

