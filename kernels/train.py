"""The generic training kernel: many runs of one architecture, lane-last, in parallel over blocks.

Every per-run array is laid out ``[block, ..., lane]`` with ``LANES`` runs per block, so the
innermost loop of every operation runs over runs and vectorises (``kernels.bundles`` gives the
arguments' shapes). Ranges of blocks run on threads; a block writes only its own output slots.
A lane that stops (epoch limit, early stop, divergence) keeps its parameters and gets no more
metric updates: the other lanes run the same instructions as before, so no run's arithmetic
depends on its neighbours. The block ends when all its lanes have stopped. Ranges of blocks run on threads
(``train_blocks``, the same driver as the specialised kernels use).

Epoch ``e`` is the network after ``e`` epochs of updates. Each epoch starts with a forward pass
over the dataset in its natural order that evaluates network ``e`` (for the full-batch schedule
this pass is also the training forward pass, so evaluation is free). Every op (activation, loss,
optimizer, milestone) is its definition in ``kernels.ops``, reached through ``kernels.lanes``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.bundles import FIN_ACC, FIN_LOSS, FIN_MIN, FIN_MSE, FULL
from kernels.config import LANES, NJIT, NJIT_INLINE
from kernels.driver import block_driver
from kernels.dense import backward_pattern, forward_pattern
from kernels.lanes import (MAX_CONSTS, MAX_LANE_SLOTS, MAX_SLOTS, add_decay, derive, init_state, logit_delta,
                           loss_scale, loss_terms, loss_values, milestones_met, update)
from kernels.ops.hyper import IROW, ROW
from kernels.ops.metrics import ACC_ARGMAX, N_MILESTONES, fahlman_ok, same_side
from kernels.rng import shuffle_into

_fahlman_ok = njit(**NJIT_INLINE)(fahlman_ok)
_same_side = njit(**NJIT_INLINE)(same_side)
_LR, _SLOPE, _TSS, _LOSSB, _FS, _WD = (ROW[k] for k in ("lr", "leaky_slope", "tss_below", "loss_below",
                                                        "flat_spot", "weight_decay"))
_EPOCHS, _MAIN, _ESTOP = IROW["epochs"], IROW["main"], IROW["early_stop"]


@njit(**NJIT)
def dataset_metrics(A, Zo, Tt, tidx, out0, n_out, loss, acc_mode, m_loss, m_tss, m_correct,
                    m_fahl, best, besti, ok):
    """Per-lane loss, tss, count of correct patterns and the Fahlman flag over all patterns."""
    n_p = A.shape[0]
    zero = A.dtype.type(0.0)
    for ln in range(LANES):
        m_loss[ln] = zero
        m_tss[ln] = zero
        m_correct[ln] = 0
        m_fahl[ln] = 1
    for k in range(n_p):
        if acc_mode == ACC_ARGMAX:  # argmax against the one-hot target's index
            for ln in range(LANES):
                best[ln] = A[k, out0, ln]
                besti[ln] = 0
            for o in range(1, n_out):
                for ln in range(LANES):
                    y = A[k, out0 + o, ln]
                    better = y > best[ln]
                    best[ln] = y if better else best[ln]
                    besti[ln] = o if better else besti[ln]
            for ln in range(LANES):
                m_correct[ln] += 1 if besti[ln] == tidx[k] else 0
        else:
            for ln in range(LANES):
                ok[ln] = 1
            for o in range(n_out):
                for ln in range(LANES):
                    same = _same_side(A[k, out0 + o, ln], Tt[k, o, ln] >= A.dtype.type(0.5))
                    ok[ln] = ok[ln] if same else 0
            for ln in range(LANES):
                m_correct[ln] += ok[ln]
        for o in range(n_out):
            for ln in range(LANES):
                d = A[k, out0 + o, ln] - Tt[k, o, ln]
                m_tss[ln] += d * d
                m_fahl[ln] = m_fahl[ln] if _fahlman_ok(d) else 0
            loss_terms(loss, A, Zo, Tt, k, out0, o, m_loss)
    loss_values(loss, m_tss, m_loss, A.dtype.type(n_p * n_out))


@njit(**NJIT)
def fill_lanes(X, T, A, Tt):
    """Broadcast the dataset to every lane: A[k, :n_in, :] = X[k], Tt[k, :, :] = T[k]."""
    for k in range(X.shape[0]):
        for i in range(X.shape[1]):
            for ln in range(LANES):
                A[k, i, ln] = X[k, i]
        for o in range(T.shape[1]):
            for ln in range(LANES):
                Tt[k, o, ln] = T[k, o]


@njit(**NJIT_INLINE)
def output_deltas(st, out_act, A, Tt, k, D, out0, n_out, scale, slope, fs):
    """D[out0 + j, :] = dE/dz_j for pattern position ``k`` (targets Tt[k])."""
    for j in range(n_out):
        for ln in range(LANES):
            D[out0 + j, ln] = scale * (A[k, out0 + j, ln] - Tt[k, j, ln])
        if not logit_delta(st.loss):
            derive(out_act, A, k, out0 + j, D, slope, st.flat, fs)


@njit(**NJIT)
def train_block(b, data, net, st, runs, curve_epochs, out):
    """Train block ``b`` in place (``runs.theta[b]`` ends as the final parameters)."""
    X, T, tidx = data.X, data.T, data.tidx
    sizes, acts, w_off, b_off, unit_off = net.sizes, net.acts, net.w_off, net.b_off, net.unit_off
    s_off = st.s_off
    theta = runs.theta[b]
    H = runs.hyper[b]
    slope, fs, wd = H[_SLOPE], H[_FS], H[_WD]
    epochs, main, estop = runs.lane_int[b, _EPOCHS], runs.lane_int[b, _MAIN], runs.lane_int[b, _ESTOP]
    skey = runs.skey[b]
    tss_below, loss_below = H[_TSS], H[_LOSSB]
    dt = theta.dtype
    zero = dt.type(0.0)
    one = dt.type(1.0)
    n_p = X.shape[0]
    n_in = sizes[0]
    n_layers = acts.shape[0]
    n_out = sizes[n_layers]
    out0 = unit_off[n_layers]
    n_units = out0 + n_out
    n_params = theta.shape[0]
    out_act = acts[n_layers - 1]
    n_curve = curve_epochs.shape[0]

    A = np.empty((n_p, n_units, LANES), dt)
    Zo = np.empty((n_p, n_out, LANES), dt)
    Tt = np.empty((n_p, n_out, LANES), dt)
    fill_lanes(X, T, A, Tt)
    if st.shuffle:  # training positions follow a per-lane permutation
        At = np.empty((n_p, n_units, LANES), dt)
        Zt = np.empty((n_p, n_out, LANES), dt)
        Ttr = np.empty((n_p, n_out, LANES), dt)
    else:
        At, Zt, Ttr = A, Zo, Tt
    D = np.empty((n_units, LANES), dt)
    G = np.zeros((n_params, LANES), dt)
    S = np.zeros((MAX_SLOTS, n_params, LANES), dt)
    LS = np.zeros((MAX_LANE_SLOTS, LANES), dt)
    C = np.zeros((MAX_CONSTS, LANES), dt)
    init_state(st.opt, S, LS, H)
    z = np.empty(LANES, dt)
    acc = np.empty(LANES, dt)
    psum = np.zeros(LANES, dt)
    m_loss = np.empty(LANES, dt)
    m_tss = np.empty(LANES, dt)
    best = np.empty(LANES, dt)
    m_correct = np.empty(LANES, np.int64)
    m_fahl = np.empty(LANES, np.int64)
    besti = np.empty(LANES, np.int64)
    ok = np.empty(LANES, np.int64)
    active = np.ones(LANES, np.int64)
    perm = np.empty(n_p, np.int64)
    o_ms, o_fin, o_run, o_div = out.ms, out.fin, out.run, out.div
    for p in range(n_params):
        for ln in range(LANES):
            psum[ln] += theta[p, ln]
    max_epochs = 0
    for ln in range(LANES):
        o_fin[b, FIN_MIN, ln] = np.inf
        o_div[b, ln] = 0
        o_run[b, ln] = 0
        max_epochs = max(max_epochs, epochs[ln])
    for m in range(N_MILESTONES):
        for ln in range(LANES):
            o_ms[b, m, ln] = -1
    ci = 0
    bs = n_p if st.schedule == FULL else st.batch_size
    for e in range(max_epochs + 1):
        for k in range(n_p):
            forward_pattern(theta, A, Zo, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, z)
        dataset_metrics(A, Zo, Tt, tidx, out0, n_out, st.loss, st.acc_mode, m_loss, m_tss, m_correct,
                        m_fahl, best, besti, ok)
        # --- per-lane bookkeeping, branch-free so it vectorises ---------------------
        n_active = 0
        for ln in range(LANES):
            act = active[ln] == 1
            ls = m_loss[ln]
            finite = (ls - ls == zero) and (psum[ln] - psum[ln] == zero)
            conds = milestones_met(m_correct[ln], n_p, m_fahl[ln] == 1, m_tss[ln], ls, tss_below[ln],
                                   loss_below[ln])
            met = False
            for m in range(N_MILESTONES):
                old = o_ms[b, m, ln]
                new = e if (act and conds[m] and old < 0) else old
                o_ms[b, m, ln] = new
                met = met or (main[ln] == m and new >= 0)
            o_fin[b, FIN_LOSS, ln] = np.float64(ls) if act else o_fin[b, FIN_LOSS, ln]
            o_fin[b, FIN_MSE, ln] = np.float64(m_tss[ln] / dt.type(n_p * n_out)) if act else o_fin[b, FIN_MSE, ln]
            o_fin[b, FIN_ACC, ln] = m_correct[ln] / n_p if act else o_fin[b, FIN_ACC, ln]
            lower = act and finite and (np.float64(ls) < o_fin[b, FIN_MIN, ln])
            o_fin[b, FIN_MIN, ln] = np.float64(ls) if lower else o_fin[b, FIN_MIN, ln]
            o_div[b, ln] = 1 if (act and not finite) else o_div[b, ln]
            o_run[b, ln] = e if act else o_run[b, ln]
            stop = (not finite) or (e >= epochs[ln]) or (estop[ln] == 1 and met)
            still = act and not stop
            active[ln] = 1 if still else 0
            n_active += 1 if still else 0
        if ci < n_curve and curve_epochs[ci] == e:
            for ln in range(LANES):
                if o_run[b, ln] == e:  # the lane evaluated this epoch
                    out.curve[b, ci, 0, ln] = m_loss[ln]
                    out.curve[b, ci, 1, ln] = m_tss[ln] / dt.type(n_p * n_out)
            ci += 1
        if st.rec_out:
            for k in range(n_p):
                for o in range(n_out):
                    for ln in range(LANES):
                        out.out[b, k, o, ln] = A[k, out0 + o, ln] if o_run[b, ln] == e else out.out[b, k, o, ln]
        if n_active == 0:
            break
        # --- one epoch of updates ----------------------------------------------------
        if st.schedule == FULL:  # full batch: reuse the evaluation forward pass
            G[:, :] = zero
            scale = loss_scale(st.loss, dt.type(n_p * n_out), one)
            for k in range(n_p):
                output_deltas(st, out_act, A, Tt, k, D, out0, n_out, scale, slope, fs)
                backward_pattern(theta, A, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc,
                                 st.flat, fs)
            if st.decay:
                add_decay(G, theta, wd)
            update(st.opt, theta, G, S, LS, H, C, m_loss, psum, active)
            continue
        if st.shuffle:
            for ln in range(LANES):
                shuffle_into(perm, skey[ln], e + 1)
                for k in range(n_p):
                    for i in range(n_in):
                        At[k, i, ln] = X[perm[k], i]
                    for o in range(n_out):
                        Ttr[k, o, ln] = T[perm[k], o]
        for start in range(0, n_p, bs):
            stop_k = min(start + bs, n_p)
            G[:, :] = zero
            scale = loss_scale(st.loss, dt.type((stop_k - start) * n_out), one)
            for k in range(start, stop_k):
                forward_pattern(theta, At, Zt, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, z)
                output_deltas(st, out_act, At, Ttr, k, D, out0, n_out, scale, slope, fs)
                backward_pattern(theta, At, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc,
                                 st.flat, fs)
            if st.decay:
                add_decay(G, theta, wd)
            update(st.opt, theta, G, S, LS, H, C, m_loss, psum, active)


@njit(**NJIT)
def train_range(b0, b1, data, net, st, runs, curve_epochs, out):
    """Train blocks ``b0..b1-1`` (``kernels.bundles`` gives the shapes); releases the GIL, so
    ``kernels.driver.block_driver`` runs ranges on threads, as for the specialised kernels."""
    for b in range(b0, b1):
        train_block(b, data, net, st, runs, curve_epochs, out)


#: ``train_blocks(data, net, st, runs, curve_epochs, out)``: every block, on threads.
train_blocks = block_driver(train_range)


@njit(**NJIT)
def loss_grad_blocks(data, net, st, theta_all, hyper_all, o_loss, o_grad, o_out):
    """Full-dataset loss (o_loss (n_blocks, L)), its gradient (o_grad (n_blocks, P, L)) and
    the outputs (o_out (n_blocks, n_p, n_out, L)) for every lane, without training."""
    X, T, tidx = data.X, data.T, data.tidx
    for b in range(theta_all.shape[0]):
        theta = theta_all[b]
        slope = hyper_all[b, _SLOPE]
        fs = hyper_all[b, _FS]
        dt = theta.dtype
        n_p = X.shape[0]
        n_layers = net.acts.shape[0]
        n_out = net.sizes[n_layers]
        out0 = net.unit_off[n_layers]
        n_units = out0 + n_out
        A = np.empty((n_p, n_units, LANES), dt)
        Zo = np.empty((n_p, n_out, LANES), dt)
        Tt = np.empty((n_p, n_out, LANES), dt)
        fill_lanes(X, T, A, Tt)
        D = np.empty((n_units, LANES), dt)
        z = np.empty(LANES, dt)
        acc = np.empty(LANES, dt)
        m_loss = np.empty(LANES, dt)
        m_tss = np.empty(LANES, dt)
        best = np.empty(LANES, dt)
        ints = np.empty((4, LANES), np.int64)
        G = o_grad[b]
        G[:, :] = 0.0
        for k in range(n_p):
            forward_pattern(theta, A, Zo, k, net.sizes, net.acts, net.w_off, net.b_off, st.s_off, net.unit_off,
                            slope, z)
        dataset_metrics(A, Zo, Tt, tidx, out0, n_out, st.loss, st.acc_mode, m_loss, m_tss, ints[0],
                        ints[1], best, ints[2], ints[3])
        scale = loss_scale(st.loss, dt.type(n_p * n_out), dt.type(1.0))
        for k in range(n_p):
            output_deltas(st, net.acts[n_layers - 1], A, Tt, k, D, out0, n_out, scale, slope, fs)
            backward_pattern(theta, A, D, G, k, net.sizes, net.acts, net.w_off, net.b_off, st.s_off, net.unit_off,
                             slope, acc, st.flat, fs)
            for o in range(n_out):
                for ln in range(LANES):
                    o_out[b, k, o, ln] = A[k, out0 + o, ln]
        for ln in range(LANES):
            o_loss[b, ln] = m_loss[ln]
