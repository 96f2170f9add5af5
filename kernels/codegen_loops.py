"""The loops of a specialised kernel's epoch: over the evaluation's patterns, over the batches.

An unrolled epoch compiles in a time that grows faster than its size (instruction selection,
register allocation and scheduling of one basic block of tens of thousands of instructions),
so large epochs run parts of it as LLVM loops, their bodies the same traced op definitions.

``evaluate_loop(body, m, act)`` emits the evaluation pass (and, for full batch, the sums of
the gradient over the patterns) as a loop over chunks of ``body.plan.chunk`` patterns
(``codegen_tuning.pattern_chunk``), the metric accumulators and gradient sums in phis, the
remaining patterns unrolled after it: the same operations in the same order as unrolled.

``train_batches(body, evals)`` emits, through a ``codegen_ir._Body``, the epoch's
updates of the online and minibatch schedules batch after batch (batch ``b``: patterns
``b*bs .. b*bs+bs-1``, or their shuffled copies in ``sf``), in one of three shapes (``Plan.mode``, which ``codegen_tuning.batch_mode`` chooses):

- ``"unroll"``: every batch unrolled, the patterns compile-time constants; the first batch
  (not shuffled) reuses the evaluation pass's forward pass. Fastest for small bodies.
- ``"loop"``: the batches as an LLVM loop whose body is one batch, the parameters and the
  optimizer state carried in phis, the patterns loaded at run time. It compiles several times
  faster than the unrolled epoch; with many patterns it also runs faster (its code fits the
  caches).
- ``"peel"``: the first batch unrolled (reusing the evaluation forward pass), the others a loop.

The three compute the same operations on the same values in the same order, hence the same
bits (a multiplication by a loaded 1.0 is the multiplication by a constant 1.0 LLVM folds).

Each loop is ``_Gen.loop``: ``codegen_size``'s counting builder counts one iteration of it,
with constant pattern indices (``pattern_data``).
"""
from __future__ import annotations

from llvmlite import ir

from llvmlite import ir

from kernels.bundles import FULL
from kernels.codegen_llvm import I64


def _c(v):
    return ir.Constant(I64, v)


def index(b, it, stride, j):
    """``it * stride + j``: an int for an int ``it`` (``codegen_size``'s iteration), else int64 IR."""
    return it * stride + j if isinstance(it, int) else b.add(b.mul(it, _c(stride)), _c(j))


def evaluate_loop(body, m, act):
    """The evaluation of every pattern into the metrics ``m`` (and the recorded outputs) as a
    loop over chunks of ``body.plan.chunk`` patterns; for full batch, returns the gradient sums
    ``{p: sum over patterns of dE/dw_p}`` (summed in pattern order, from 0.0), else None."""
    spec, layout, g = body.spec, body.layout, body.g
    chunk, n_p, pats = body.plan.chunk, spec.n_patterns, body.patterns
    terms = body.grad_terms() if spec.schedule == FULL else []
    grads = {p: g.c(0.0) for p, _ in terms}
    scale = layout.delta_scale(n_p)

    def patterns(ks, xss, tss, tidx):
        for k, (levels, zo), xs, ts, ti in zip(ks, body.forward_many(xss), xss, tss, tidx):
            body.evaluate(m, act, k, levels, zo, ts, ti)
            if terms:
                d = body.deltas(levels, ts, scale)
                for p, term in terms:
                    grads[p] = grads[p] + term(levels, xs, d)

    keys = ("corr", "tss", "fahl", "lb")

    def step(it, state):
        m.update(zip(keys, state[:4]))
        grads.update((p, v) for (p, _), v in zip(terms, state[4:]))
        ks = [index(g.b, it, chunk, j) for j in range(chunk)]
        patterns(ks, *pattern_data(body, ks, classes=True))
        return [m[k] for k in keys] + [grads[p] for p, _ in terms]

    n_loop = n_p // chunk
    g.loop([m[k] for k in keys] + [grads[p] for p, _ in terms], 0, n_loop, step)
    rest = range(n_loop * chunk, n_p)
    patterns(list(rest), [pats.x[k] for k in rest], [pats.t[k] for k in rest], [pats.tidx[k] for k in rest])
    return grads if terms else None


def pattern_data(body, ks, classes=False):
    """Inputs and targets of the patterns ``ks`` (with ``classes``, also their class indices:
    argmax accuracy, else None): int64 SSA values load elements k*n_in + i of X, k*n_out + j of T
    and k of tidx; ints (``codegen_size``'s iteration) take the evaluation's values."""
    pats = body.patterns
    if all(isinstance(k, int) for k in ks):
        xss, tss, tidx = [pats.x[k] for k in ks], [pats.t[k] for k in ks], [pats.tidx[k] for k in ks]
        return (xss, tss, tidx) if classes else (xss, tss)
    b, n_in, n_out, args = body.g.b, body.layout.n_in, body.layout.n_out, body.args
    xss = [[body.load_data(args.x, b.add(b.mul(k, _c(n_in)), _c(i)), "f") for i in range(n_in)] for k in ks]
    tss = [[body.load_data(args.t, b.add(b.mul(k, _c(n_out)), _c(j)), "f") for j in range(n_out)] for k in ks]
    if not classes:
        return xss, tss
    tidx = [body.load_data(args.tidx, k, "i") for k in ks] if pats.tidx[0] is not None else [None] * len(ks)
    return xss, tss, tidx


def train_batches(body, evals) -> None:
    """The epoch's updates of ``body`` (its ``params``, ``slots`` and ``lane_state`` are
    updated), its batches in ``body.plan.mode``. ``evals``: the evaluation pass's forward pass."""
    spec, layout, pats = body.spec, body.layout, body.patterns
    n_p, bs, n_in, n_out = spec.n_patterns, spec.batch_size, layout.n_in, layout.n_out
    mode = body.plan.mode
    n_batches = n_p // bs
    first = 0
    if mode != "unroll" and n_batches >= 2:
        if mode == "peel" and not spec.shuffle and evals is not None:
            _batch(body, pats.x[:bs], pats.t[:bs], evals[:bs])
            first = 1
        if n_batches - first >= 2:
            first = _loop(body, first, n_batches)
    for start in range(first * bs, n_p, bs):
        stop = min(start + bs, n_p)
        if spec.shuffle:
            xss = [[body.load_f(layout.XS + k * n_in + i) for i in range(n_in)] for k in range(start, stop)]
            tss = [[body.load_f(layout.TS + k * n_out + j) for j in range(n_out)] for k in range(start, stop)]
        else:
            xss, tss = pats.x[start:stop], pats.t[start:stop]
        # the first batch sees the epoch's starting weights: its forward pass is the evaluation
        # pass's (not shuffled), so it is not emitted twice
        _batch(body, xss, tss, evals[start:stop] if start == 0 and not spec.shuffle and evals is not None else None)


def _batch(body, xss, tss, fwd=None) -> None:
    """One update from the patterns ``xss`` (inputs) and ``tss`` (targets); ``fwd``: their
    forward pass when it is already emitted."""
    scale = body.layout.delta_scale(len(xss))
    fwd = fwd or body.forward_many(xss)
    body.update([(lv, xs, body.deltas(lv, ts, scale)) for (lv, _), xs, ts in zip(fwd, xss, tss)], None)


def _state(body) -> list:
    P = body.layout.P
    return [body.params[p] for p in range(P)] + [v for sl in body.slots for v in sl] + list(body.lane_state)


def _set_state(body, vals) -> None:
    P = body.layout.P
    for p in range(P):
        body.params[p] = vals[p]
    for r, sl in enumerate(body.slots):
        sl[:] = vals[(r + 1) * P:(r + 2) * P]
    body.lane_state = tuple(vals[(len(body.slots) + 1) * P:])


def _loop(body, first: int, n_batches: int) -> int:
    """Batches ``first .. n_batches-1`` as a loop; returns the batch after it."""
    spec, layout, g = body.spec, body.layout, body.g
    b, bs, n_in, n_out = g.b, spec.batch_size, layout.n_in, layout.n_out

    def step(it, state):
        _set_state(body, state)
        ks = [index(b, it, bs, j) for j in range(bs)]
        if spec.shuffle:   # rows XS + k*n_in + i and TS + k*n_out + j of sf
            xss = [[body.load_f(b.add(_c(layout.XS + i), b.mul(k, _c(n_in)))) for i in range(n_in)] for k in ks]
            tss = [[body.load_f(b.add(_c(layout.TS + j), b.mul(k, _c(n_out)))) for j in range(n_out)] for k in ks]
        else:
            xss, tss = pattern_data(body, ks)
        _batch(body, xss, tss)
        return _state(body)

    def count(state):      # one batch of the size tables' measurements (docs/specialised-kernels.md)
        _batch(body, [[body.load_f(0)] * n_in] * bs, [[body.load_f(0)] * n_out] * bs)
        return state

    g.loop(_state(body), first, n_batches, step, count)
    return n_batches
