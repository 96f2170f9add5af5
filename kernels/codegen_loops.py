"""The loops of a specialised kernel's epoch: over the evaluation's patterns, over the batches.

An unrolled epoch compiles in a time that grows faster than its size (instruction selection,
register allocation and scheduling of one basic block of tens of thousands of instructions),
so large epochs run parts of it as LLVM loops, their bodies the same traced op definitions.

``evaluate_loop(body, m, act, x)`` emits the evaluation pass (and, for full batch, the sums of
the gradient over the patterns) as a loop over chunks of ``body.chunk`` patterns
(``codegen_tuning.pattern_chunk``), the metric accumulators and gradient sums in phis, the
remaining patterns unrolled after it: the same operations in the same order as unrolled.

``train_batches(body, x, evals, mode)`` emits, through a ``codegen_ir._Body``, the epoch's
updates of the online and minibatch schedules batch after batch (batch ``b``: patterns
``b*bs .. b*bs+bs-1``, or their shuffled copies in ``sf``), in one of three shapes (``codegen_tuning.batch_mode`` chooses):

- ``"unroll"``: every batch unrolled, the patterns compile-time constants; the first batch
  (not shuffled) reuses the evaluation pass's forward pass. Fastest for small bodies.
- ``"loop"``: the batches as an LLVM loop whose body is one batch, the parameters and the
  optimizer state carried in phis, the patterns loaded at run time. It compiles several times
  faster than the unrolled epoch; with many patterns it also runs faster (its code fits the
  caches).
- ``"peel"``: the first batch unrolled (reusing the evaluation forward pass), the others a loop.

The three compute the same operations on the same values in the same order, hence the same
bits (a multiplication by a loaded 1.0 is the multiplication by a constant 1.0 LLVM folds).
"""
from __future__ import annotations

from llvmlite import ir

from kernels.bundles import FULL
from kernels.codegen_llvm import I64, F

MODES = ("unroll", "peel", "loop")


def evaluate_loop(body, m, act, x):
    """The evaluation of every pattern into the metrics ``m`` (and the recorded outputs) as a
    loop over chunks of ``body.chunk`` patterns; for full batch, returns the gradient sums
    ``{p: sum over patterns of dE/dw_p}`` (summed in pattern order, from 0.0), else None."""
    s, lay, g = body.s, body.lay, body.g
    b, chunk, n_p = g.b, body.chunk, s.n_patterns
    terms = body.grad_terms() if s.schedule == FULL else []
    grads = {p: g.c(0.0) for p, _ in terms}
    scale = lay.delta_scale(n_p)

    def patterns(ks, xss, tss, tidx):
        for k, (levels, zo), xs, ts, ti in zip(ks, body.forward_many(xss), xss, tss, tidx):
            body.evaluate(m, act, k, levels, zo, ts, ti)
            if terms:
                d = body.deltas(levels, ts, scale)
                for p, term in terms:
                    grads[p] = grads[p] + term(levels, xs, d)

    n_loop = n_p // chunk
    if not isinstance(b, ir.IRBuilder):     # ``codegen_size.body_size``: count one chunk
        patterns(range(chunk), x[:chunk], body.t[:chunk], body.tidx[:chunk])
    else:
        c = lambda v: ir.Constant(I64, v)  # noqa: E731
        keys = ("corr", "tss", "fahl", "lb")
        state = [m[k] for k in keys] + [grads[p] for p, _ in terms]
        it, phis, exit_bb = begin_loop(b, state, 0)
        new = [type(v)(g, ph) for v, ph in zip(state, phis)]
        m.update(zip(keys, new[:4]))
        grads.update((p, v) for (p, _), v in zip(terms, new[4:]))
        ks = [b.add(b.mul(it, c(chunk)), c(j)) for j in range(chunk)]
        xss, tss = dataset_patterns(body, ks)
        tidx = [body.data(body.tip, k, "i") for k in ks] if body.tidx[0] is not None else [None] * chunk
        patterns(ks, xss, tss, tidx)
        end_loop(b, g, it, phis, [m[k] for k in keys] + [grads[p] for p, _ in terms], n_loop, exit_bb)
    rest = range(n_loop * chunk, n_p)
    patterns(list(rest), [x[k] for k in rest], [body.t[k] for k in rest], [body.tidx[k] for k in rest])
    return grads if terms else None


def dataset_patterns(body, ks):
    """Inputs and targets of the patterns ``ks`` (int64 SSA values): elements k*n_in + i of X
    and k*n_out + j of T."""
    b, n_in, n_out = body.g.b, body.lay.n_in, body.lay.n_out
    c = lambda v: ir.Constant(I64, v)  # noqa: E731
    xss = [[body.data(body.xp, b.add(b.mul(k, c(n_in)), c(i)), "f") for i in range(n_in)] for k in ks]
    tss = [[body.data(body.tp, b.add(b.mul(k, c(n_out)), c(j)), "f") for j in range(n_out)] for k in ks]
    return xss, tss


def begin_loop(b, state, first):
    """Open a loop at the builder ``b``: returns the counter's phi (from ``first``), a phi per
    value of ``state`` (F, I or B values) and the exit block."""
    pre = b.block
    loop_bb = b.function.append_basic_block("loop")
    exit_bb = b.function.append_basic_block("loop.end")
    b.branch(loop_bb)
    b.position_at_end(loop_bb)
    it = b.phi(I64, "it")
    it.add_incoming(ir.Constant(I64, first), pre)
    phis = [b.phi(v.v.type) for v in state]
    for ph, v in zip(phis, state):
        ph.add_incoming(v.v, pre)
    return it, phis, exit_bb


def end_loop(b, g, it, phis, new, n_iter, exit_bb):
    """Close the loop of ``begin_loop``: ``new``, the state's next values (from the latch: the
    block the body ends in), ``n_iter`` iterations in all, LLVM told not to unroll it."""
    latch = b.block
    for ph, v in zip(phis, new):
        ph.add_incoming(v.v, latch)
    nxt = b.add(it, ir.Constant(I64, 1))
    it.add_incoming(nxt, latch)
    br = b.cbranch(b.icmp_unsigned("<", nxt, ir.Constant(I64, n_iter)), it.parent, exit_bb)
    br.set_metadata("llvm.loop", g.no_unroll())
    b.position_at_end(exit_bb)     # the loop's last values dominate its exit


def train_batches(body, x, evals, mode: str) -> None:
    """The epoch's updates of ``body`` (its ``w``, ``slots`` and ``lstate`` are updated).
    ``x``: the patterns' inputs (constants), ``evals``: the evaluation pass's forward pass."""
    s, lay = body.s, body.lay
    n_p, bs, n_in, n_out = s.n_patterns, s.batch_size, lay.n_in, lay.n_out
    n_batches = n_p // bs
    first = 0
    if mode != "unroll" and n_batches >= 2:
        if mode == "peel" and not s.shuffle and evals is not None:
            _batch(body, x[:bs], body.t[:bs], evals[:bs])
            first = 1
        if n_batches - first >= 2:
            first = _loop(body, first, n_batches)
    for start in range(first * bs, n_p, bs):
        stop = min(start + bs, n_p)
        if s.shuffle:
            xss = [[body.lf(lay.XS + k * n_in + i) for i in range(n_in)] for k in range(start, stop)]
            tss = [[body.lf(lay.TS + k * n_out + j) for j in range(n_out)] for k in range(start, stop)]
        else:
            xss, tss = x[start:stop], body.t[start:stop]
        # the first batch sees the epoch's starting weights: its forward pass is the evaluation
        # pass's (not shuffled), so it is not emitted twice
        _batch(body, xss, tss, evals[start:stop] if start == 0 and not s.shuffle and evals is not None else None)


def _batch(body, xss, tss, fwd=None) -> None:
    """One update from the patterns ``xss`` (inputs) and ``tss`` (targets); ``fwd``: their
    forward pass when it is already emitted."""
    scale = body.lay.delta_scale(len(xss))
    fwd = fwd or body.forward_many(xss)
    body.update([(lv, xs, body.deltas(lv, ts, scale)) for (lv, _), xs, ts in zip(fwd, xss, tss)], None)


def _state(body) -> list:
    P = body.lay.P
    return [body.w[p] for p in range(P)] + [v for sl in body.slots for v in sl] + list(body.lstate)


def _set_state(body, vals) -> None:
    P = body.lay.P
    for p in range(P):
        body.w[p] = vals[p]
    for r, sl in enumerate(body.slots):
        sl[:] = vals[(r + 1) * P:(r + 2) * P]
    body.lstate = tuple(vals[(len(body.slots) + 1) * P:])


def _loop(body, first: int, n_batches: int) -> int:
    """Batches ``first .. n_batches-1`` as a loop; returns the batch after it."""
    s, lay, g = body.s, body.lay, body.g
    b, bs, n_in, n_out = g.b, s.batch_size, lay.n_in, lay.n_out
    if not isinstance(b, ir.IRBuilder):     # ``codegen_size.body_size``: count one batch
        _batch(body, [[body.lf(0)] * n_in] * bs, [[body.lf(0)] * n_out] * bs)
        return n_batches
    c = lambda v: ir.Constant(I64, v)  # noqa: E731
    it, phis, exit_bb = begin_loop(b, _state(body), first)
    _set_state(body, [F(g, ph) for ph in phis])
    ks = [b.add(b.mul(it, c(bs)), c(j)) for j in range(bs)]
    if s.shuffle:   # rows XS + k*n_in + i and TS + k*n_out + j of sf
        xss = [[body.lf(b.add(c(lay.XS + i), b.mul(k, c(n_in)))) for i in range(n_in)] for k in ks]
        tss = [[body.lf(b.add(c(lay.TS + j), b.mul(k, c(n_out)))) for j in range(n_out)] for k in ks]
    else:
        xss, tss = dataset_patterns(body, ks)
    _batch(body, xss, tss)
    end_loop(b, g, it, phis, _state(body), n_batches, exit_bb)
    return n_batches
