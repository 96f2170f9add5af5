"""The held-out set's pass: one more use of the memory schedule's forward pass.

``evaluate_test(body, act)`` runs, at the start of every epoch's lane body and whatever the
schedule of the training pass (``codegen_ir._Body.emit``), the forward pass of
``kernels.codegen_epoch`` over the held-out patterns in blocks, with the parameters in rows
``TH`` of ``sf`` (the epoch's starting network, the one the training set's evaluation sees),
and its metrics with the training set's ops (``_Body.metrics``, the loss op's value, the
milestone ops).
"""
from __future__ import annotations

from kernels.codegen_epoch import forward
from kernels.codegen_tiles import _blocks, _Pass
from kernels.ops import MILESTONES


def evaluate_test(body, act):
    """The held-out set's pass (``spec.n_test`` patterns, blocks of ``Layout.TILE``) with the
    epoch's starting parameters (rows ``TH``, whatever the schedule of the training pass): its
    loss, mse and correct count where ``act`` (so at the last epoch run), its best correct count
    and the first epoch of it, and the first epoch of each milestone on it (``Layout.TLOSS``...)."""
    spec, lay, g = body.spec, body.layout, body.g
    tp = _Pass(body, spec.n_test, held_out=True)
    keys = ("corr", "tss", "fahl", "lb")
    m = dict(corr=g.i(0), tss=g.c(0.0), fahl=g.true(), lb=g.c(0.0))

    def block(ss, state):
        m.update(zip(keys, state))
        forward(body, tp, ss)
        for u, s in enumerate(ss):
            ys, zo = tp.outputs(u)
            body.metrics(m, ys, zo, [tp.t(s, j) for j in range(lay.n_out)], tp.cls(s))
        return [m[key] for key in keys]

    m.update(zip(keys, _blocks(body, tp, block, [m[key] for key in keys])))
    n_terms = g.c(spec.n_test * lay.n_out)
    ls = lay.loss.value(m["tss"], m["lb"], n_terms)
    kf, ki = (lambda row: g.opaque(body.load_f(row))), (lambda row: g.opaque(body.load_i(row)))
    body.store_f(lay.TLOSS, g.sel(act, ls, kf(lay.TLOSS)))
    body.store_f(lay.TMSE, g.sel(act, m["tss"] / n_terms, kf(lay.TMSE)))
    body.store_i(lay.TCORR, g.sel(act, m["corr"], ki(lay.TCORR)))
    best = ki(lay.TBEST)
    better = act & (best < m["corr"])
    body.store_i(lay.TBEST, g.sel(better, m["corr"], best))
    body.store_i(lay.TBESTE, g.sel(better, body.args.epoch, ki(lay.TBESTE)))
    tssb, lossb = body.load_f(lay.hyper("tss_below")), body.load_f(lay.hyper("loss_below"))
    for k, op in enumerate(MILESTONES.ops()):
        old = ki(lay.TMS + k)
        met = op.met(m["corr"], spec.n_test, m["fahl"], m["tss"], ls, tssb, lossb)
        body.store_i(lay.TMS + k, g.sel(act & met & (old < 0), body.args.epoch, old))
