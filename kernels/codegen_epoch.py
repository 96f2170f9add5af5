"""The epoch, written once: the passes every schedule of every configuration runs.

``emit_epoch(body, m, act)`` emits a lane body's epoch (``codegen_ir._Body``) from the passes
below, each written once against rows of the block state ``sf`` (``codegen_emit.Layout``):
parameters and slots (``TH``, ``SLOT``), a block of patterns' activations (``AM``), logits
(``ZO``) and deltas (``DL``), and for batches of several blocks the gradient sums (``GR``). Each
of a layer's three products is a grid of tiles of accumulators, each reduction in the generic
kernel's order:

- forward, patterns x units: ``z[k][j] = b_j + sum_i W[j, i] a[k][i]`` (``0.0 + ...`` without a
  bias), then each skip connection's terms into the level (the shortcut; a dense net's
  ``S_(m,k)``, by source k); ``a = f(z)`` (``_Body.grouped``);
- deltas of level l, patterns x units: ``f'(a[k][i]) * (0.0 + sum_j W[j, i] d[k][j] + the skips
  out of level l, sum_j S_(m,l)[j, i] d_m[k][j] by target m)``, through the weights of the batch's start;
- gradients, units x inputs: ``0.0 + sum_k d[k][j] a[k][i]`` over the batch's patterns in order,
  in registers for a batch of one block (then each parameter's update at once; under
  ``Dims.fuse`` a hidden level's weights updated in the deltas' pass, as each is read), else
  added to ``GR`` block by block and updated in one pass (kept where ``still``);
- the parameter sum (a diverged run's is not finite), the epoch's batches, and around them the
  metrics, bookkeeping and every op, ``_Body``'s.

Loops are the schedule (``Dims``, from the plan): every dimension (patterns of a block, units of
each level per tile, terms of a reduction, parameters, batches) is a loop of so many indices
per iteration or unrolled (``codegen_tiles._chunks``), and the rows are memory or SSA values
(``codegen_registers``):

- the register schedule (``Plan.registers``): everything unrolled but the evaluation's patterns
  (``Plan.chunk``) and the batches (``Plan.mode``), the parameters, slots and scratch rows in
  registers;
- the unit loop (``Plan.units``): a one-hidden-layer net, every pattern one block, its hidden
  units ``U`` per iteration, the parameters in memory, the output level in registers;
- the memory schedule (``Plan.memory``: the tile T): every dimension a loop of blocks of
  ``Plan.patterns`` patterns x T units, ``TERMS_PER_ITER`` terms, every row memory; it holds any size.

Same operations on the same values whatever the schedule, so every schedule gives the same bits.
"""
from __future__ import annotations

from typing import NamedTuple

from kernels.bundles import FULL
from kernels.codegen_tiles import _blocks, _chunks, _ix, _pairs, _Pass, _tiles

#: Parameters per iteration of the in-order parameter sum (a diverged run's is not finite).
PARAMS_PER_ITER = 8
#: Terms of a reduction (a unit's fan-in, a delta's fan-out) per loop iteration: longer ones are
#: a loop (its accumulators in phis), so a body stays a few thousand instructions however wide.
TERMS_PER_ITER = 8
#: A whole dimension per iteration: unrolled (``codegen_tiles._chunks``).
ALL = 1 << 30


class Dims(NamedTuple):
    """Indices per loop iteration of each dimension of the passes (``ALL``: unrolled)."""

    tile: tuple     # per level 0..nl: its units per tile
    terms: tuple    # per level: its units per iteration of a reduction over them
    params: int     # parameters of the in-order sums and updates
    batch: int      # patterns of a training batch per block
    per_pair: bool  # each tile's sums emitted one after another (registers), else interleaved
    fuse: bool      # a batch of one block updates each weight of a hidden level's deltas as it reads it


def dims(body) -> Dims:
    """The schedule's loops: the memory schedule's tiles (``plan.memory``), the hidden layer of
    a one-hidden-layer net a loop (``plan.units``), or every dimension unrolled (``plan.registers``)."""
    levels = body.layout.nl + 1
    if body.plan.registers:
        return Dims((ALL,) * levels, (ALL,) * levels, ALL, ALL, True, False)
    if body.plan.units:
        U = body.plan.units
        return Dims((ALL, U, ALL), (ALL, U, ALL), PARAMS_PER_ITER, ALL, False, True)
    T = body.plan.memory
    return Dims((T,) * levels, (TERMS_PER_ITER,) * levels, PARAMS_PER_ITER, body.layout.TILE, False, True)


def _reduce(d: Dims, acc, pairs, n, w, x, after=None):
    """``acc[q] + sum_i w(v, i) * x(u, i)`` over the ``n`` terms for each pair ``(u, v)`` of a
    tile, each sum in term order (``w``, ``x``: loads): per pair, or term by term over the pairs
    (interleaved), each term's values loaded just before its products, then ``after(i, ws, xs)``
    given them (interleaved only)."""
    n_u, n_v = 1 + max(u for u, _ in pairs), 1 + max(v for _, v in pairs)
    if d.per_pair:
        xs = [[x(u, i) for i in range(n)] for u in range(n_u)]
        ws = [[w(v, i) for i in range(n)] for v in range(n_v)]
        return [_chain(ak, [ws[v][i] * xs[u][i] for i in range(n)]) for ak, (u, v) in zip(acc, pairs)]
    for i in range(n):
        xs = [x(u, i) for u in range(n_u)]
        ws = [w(v, i) for v in range(n_v)]
        acc = [ak + ws[v] * xs[u] for ak, (u, v) in zip(acc, pairs)]
        if after is not None:
            after(i, ws, xs)
    return acc


def _chain(acc, terms):
    for t in terms:
        acc = acc + t
    return acc


def forward(body, ps: _Pass, ss):
    """The forward pass of the block ``ss`` (its patterns' indices in the pass), layer by layer,
    units ``Dims.units`` at a time, each unit's fan-in ``Dims.terms`` terms at a time: activations into
    ``AM``, the output logits into ``ZO``."""
    spec, g, d = body.spec, body.g, dims(body)
    for l in range(body.layout.nl):
        n_i, last = spec.sizes[l], l == body.layout.nl - 1

        def tile(js, state, l=l, n_i=n_i, last=last):
            pairs = _pairs(len(ss), len(js))

            def terms(is_, z, src=l, row=None):
                return _reduce(d, z, pairs, len(is_),
                               lambda v, q: ps.w(l, js[v], is_[q]) if row is None else body.load_f(row(js[v], is_[q])),
                               lambda u, q: ps.a(ss, u, src, is_[q]))

            z = [body.load_f(ps.bias_row(l, js[v])) if spec.bias else g.c(0.0) for _, v in pairs]
            z = _chunks(body, n_i, d.terms[l], terms, z)
            for pair in (p for p in spec.skips if p[0] == l + 1):     # then each skip's terms, by source
                z = _chunks(body, spec.sizes[pair[1]], d.terms[pair[1]], lambda is_, z, pair=pair: terms(
                    is_, z, pair[1], lambda j, i, pair=pair: ps.skip_row(pair, j, i)), z)
            acts = body.grouped(body.acts[l].forward, z, body.hyper.slope)
            for (u, v), a, zk in zip(pairs, acts, z):
                body.store_f(ps.a_row(u, l + 1, js[v]), a)
                if last:
                    body.store_f(ps.zo_row(u, js[v]), zk)
            return state

        _chunks(body, spec.sizes[l + 1], d.tile[l + 1], tile)


def deltas(body, ps: _Pass, ss, scale, apply=None):
    """The deltas of every level of the block ``ss`` into ``DL``: the output deltas from the loss
    op, then each hidden level's from the one above through the weights of the pass's start,
    ``f'(a[u][i]) * (0.0 + sum_j W[j, i] d[u][j])``, units ``Dims.units`` at a time. With
    ``apply`` (``Dims.fuse``, a batch of one block): each weight ``W[j, i]`` of those sums is
    updated by ``apply`` right after its products, from ``0.0 + sum_u d[u][j] a[u][i]`` (one pass
    over the weights where there were two; the same operations, so the same bits)."""
    spec, lay, g, d = body.spec, body.layout, body.g, dims(body)
    for u, s in enumerate(ss):
        ys, _ = ps.outputs(u)
        for j, dj in enumerate(body.out_deltas(ys, [ps.t(s, j) for j in range(lay.n_out)], scale)):
            body.store_f(ps.d_row(u, lay.nl, j), dj)
    for l in range(lay.nl - 1, 0, -1):
        n_o = spec.sizes[l + 1]

        def tile(is_, state, l=l, n_o=n_o):
            pairs = _pairs(len(ss), len(is_))
            a = [[ps.a(ss, u, l, i) for i in is_] for u in range(len(ss))]

            def update(js):         # W[j, i]'s update from the values its products loaded
                def after(q, ws, ds):
                    for v, i in enumerate(is_):
                        grad = g.c(0.0)
                        for u in range(len(ss)):
                            grad = grad + ds[u] * a[u][v]
                        apply(ps.w_row(l, js[q], i), grad, ws[v])
                return after

            def terms(js, acc, m=l + 1, row=None):
                return _reduce(d, acc, pairs, len(js),
                               lambda v, q: ps.w(l, js[q], is_[v]) if row is None else body.load_f(row(js[q], is_[v])),
                               lambda u, q: ps.d(u, m, js[q]), update(js) if apply and row is None else None)

            acc = _chunks(body, n_o, d.terms[l + 1], terms, [g.c(0.0)] * len(pairs))
            for m in (p[0] for p in spec.skips if p[1] == l):     # then the skips out of level l, by target
                acc = _chunks(body, spec.sizes[m], d.terms[m], lambda js, acc, m=m: terms(
                    js, acc, m, lambda j, i, m=m: ps.skip_row((m, l), j, i)), acc)
            for (u, v), ak in zip(pairs, acc):
                body.store_f(ps.d_row(u, l, is_[v]), body.derive(l - 1, ak, a[u][v]))
            return state

        _chunks(body, spec.sizes[l], d.tile[l], tile)


def _gradient_tiles(body, ps: _Pass, ss, tile, fused=False):
    """``tile(js, is_, term, row)`` over the tiles of every parameter: ``term(u, v, w)`` is the
    block's pattern ``u``'s dE/dw of the tile's parameter (``v``, ``w``: its unit and input
    positions in the tile), ``row(j, i)`` its row of sf. ``fused``: the weights of layers 1..nl-1
    were updated with the deltas (``deltas``' ``apply``): their biases only."""
    spec, lay, T = body.spec, body.layout, dims(body).tile
    for l in range(lay.nl - 1, -1, -1):
        def weights(js, is_, l=l):
            d = [[ps.d(u, l + 1, j) for j in js] for u in range(len(ss))]
            a = [[ps.a(ss, u, l, i) for i in is_] for u in range(len(ss))]
            tile(js, is_, lambda u, v, w: d[u][v] * a[u][w], lambda j, i: ps.w_row(l, j, i))

        def units(js, st, l=l, weights=weights):    # a tile's rows of weights, then their biases
            if not (fused and l):
                _chunks(body, spec.sizes[l], T[l], lambda is_, s: weights(js, is_) or s)
            if spec.bias:
                d = [[ps.d(u, l + 1, j) for j in js] for u in range(len(ss))]
                tile(js, [0], lambda u, v, w: d[u][v], lambda j, i: ps.bias_row(l, j))
            return st

        _chunks(body, spec.sizes[l + 1], T[l + 1], units)
    for pair in spec.skips:
        def skip(js, is_, pair=pair):
            d = [[ps.d(u, pair[0], j) for j in js] for u in range(len(ss))]
            a = [[ps.a(ss, u, pair[1], i) for i in is_] for u in range(len(ss))]
            tile(js, is_, lambda u, v, w: d[u][v] * a[u][w], lambda j, i: ps.skip_row(pair, j, i))

        _tiles(body, spec.sizes[pair[0]], spec.sizes[pair[1]], T[pair[0]], T[pair[1]], skip)


def _apply(body, still, h, c):
    """``apply(row, grad)``: the optimizer's update of the parameter in row ``row``, kept where
    ``still`` (None: every lane's, ``emit_epoch`` puts a stopped lane's back)."""
    lay, g = body.layout, body.g

    def apply(row, grad, wp=None):
        wp = body.load_f(row) if wp is None else wp
        rows = [_ix(g.b, r - lay.TH, (row, 1)) for r in lay.SLOT]
        new, slots = body.step(wp, grad, tuple(body.load_f(r) for r in rows), h, c)
        body.store_f(row, new if still is None else g.sel(still, new, g.opaque(wp)))
        for r, v in zip(rows, slots):
            body.store_f(r, v)

    return apply


def backward_direct(body, ps: _Pass, ss, scale, still):
    """A batch of one block: its deltas, then each parameter's gradient ``0.0 + sum_u term_u`` in
    registers and its update (those of the deltas' weights with the deltas under ``Dims.fuse``)."""
    g, fused = body.g, dims(body).fuse
    h, c = body.opt_lane()
    apply = _apply(body, still, h, c)
    deltas(body, ps, ss, scale, apply if fused else None)

    def tile(js, is_, term, row):
        for v in range(len(js)):
            for w in range(len(is_)):
                grad = g.c(0.0)
                for u in range(len(ss)):
                    grad = grad + term(u, v, w)
                apply(row(js[v], is_[w]), grad)

    _gradient_tiles(body, ps, ss, tile, fused)


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

    _chunks(body, lay.P, dims(body).params, step)


def param_sum(body):
    """``0.0 + w_0 + w_1 + ...`` over every parameter in order (a diverged run's is not finite)."""
    lay, g = body.layout, body.g

    def step(ps, state):
        s = state[0]
        for p in ps:
            s = s + body.load_f(_ix(g.b, lay.TH, (p, 1)))
        return [s]

    return _chunks(body, lay.P, dims(body).params, step, [g.c(0.0)])[0]


def emit_epoch(body, m, act):
    """The epoch of ``body`` (module docstring) into the metrics ``m``; returns ``still``."""
    spec, lay, g, d = body.spec, body.layout, body.g, dims(body)
    n_p, full, regs = spec.n_patterns, spec.schedule == FULL, body.plan.registers
    if regs:        # the parameters and slots into the register file before any loop
        for row in range(lay.TH, lay.TH + lay.P * (1 + len(lay.SLOT))):
            body.load_f(row)
    ev = _Pass(body, n_p)
    if body.plan.units:         # the dataset into registers before the loops (``_Body.load_data``)
        for s in range(n_p):
            for i in range(lay.n_in):
                ev.x(s, i)
            for j in range(lay.n_out):
                ev.t(s, j)
            ev.cls(s)
    ps_sum = param_sum(body)
    keys = ("corr", "tss", "fahl", "lb")
    scale = lay.delta_scale(n_p)
    one_block = n_p <= ev.tile
    if regs and full and not one_block:     # the evaluation loop's gradient sums, in phis
        for p in range(lay.P):
            body.store_f(lay.GR + p, g.c(0.0))

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
        backward_direct(body, ev, ss, scale, still)
    elif full:
        update_sums(body, still)
    else:
        _batches(body, d, still, reuse=one_block and not spec.shuffle)
    if regs:
        body.regs.flush(lambda row, v: g.vstore(v.v, body._addr(body.args.sf, row), g.ft, "sf"))
    return still


def _batches(body, d: Dims, still, reuse):
    """The epoch's batches of updates (online, minibatch), in ``plan.mode`` under the register
    schedule: unrolled, the first unrolled and the rest a loop ("peel"), or a loop; each batch a
    block of ``Dims.batch`` patterns. ``reuse``: the evaluation's activations of the first
    patterns are still in ``AM`` (one block, not shuffled), and the first batch's forward pass
    is that one (the unit loop and the memory schedule peel the first batch for it). Under the register schedule the updates run unmasked and a stopped lane gets its
    epoch's starting parameters back at the end: the same parameters, without every update
    waiting for the evaluation's bookkeeping (``still``)."""
    spec, lay, g = body.spec, body.layout, body.g
    n_p, bs, regs = spec.n_patterns, spec.batch_size, body.plan.registers
    mask = None if regs else still
    w0 = [body.load_f(lay.TH + p) for p in range(lay.P)] if regs else None

    def batch(first, size):
        tp = _Pass(body, size, first, spec.shuffle)
        scale = lay.delta_scale(size)
        if size <= d.batch:     # one block: the gradients in registers
            ss = list(range(size))
            if not (reuse and isinstance(first, int) and first == 0):
                forward(body, tp, ss)
            backward_direct(body, tp, ss, scale, mask)
            return

        def block(ss, st):
            forward(body, tp, ss)
            deltas(body, tp, ss, scale)
            accumulate(body, tp, ss)
            return st

        _blocks(body, tp, block)
        update_sums(body, mask)

    n_b, mode = n_p // bs, body.plan.mode if regs else "peel" if reuse else "loop"
    start = 1 if mode == "peel" and n_b >= 2 else 0
    if start:
        batch(0, bs)

    def batches(its, state):
        body.lane_state = tuple(state)
        for it in its:
            batch(_ix(g.b, start * bs, (it, bs)), bs)
        return list(body.lane_state)

    per_iter = ALL if mode == "unroll" else 1
    body.lane_state = tuple(_chunks(body, n_b - start, per_iter, batches, list(body.lane_state)))
    if n_p % bs:
        batch(n_p - n_p % bs, n_p % bs)
    if regs:
        for p in range(lay.P):
            body.store_f(lay.TH + p, g.sel(still, body.load_f(lay.TH + p), g.opaque(w0[p])))
