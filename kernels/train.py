"""The training kernel: many runs of one architecture, lane-last, in parallel over blocks.

Every per-run array is laid out ``[block, ..., lane]`` with ``LANES`` runs per block, so
the innermost loop of every operation runs over runs and vectorises. ``prange`` runs
blocks on threads; a block writes only its own output slots. A lane that stops (epoch
limit, early stop, divergence) gets ``lr = 0`` and no more metric updates: the other lanes
run the same instructions as before, so no run's arithmetic depends on its neighbours.
The block ends when all its lanes have stopped.

Epoch ``e`` is the network after ``e`` epochs of updates. Each epoch starts with a forward
pass over the dataset in its natural order that evaluates network ``e`` (for the full-batch
schedule this pass is also the training forward pass, so evaluation is free).

Milestone axis of ``o_ms (n_blocks, 5, L)``: acc75, acc100, fahlman, tss, loss (-1: not met).
``o_fin (n_blocks, 4, L)``: final loss, final mse, final accuracy, min loss.
``o_curve (n_blocks, n_curve, 2, L)``: loss and mse at ``curve_epochs`` (NaN elsewhere).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels.config import LANES, NJIT, NJIT_PARALLEL
from kernels.dense import backward_pattern, forward_pattern
from kernels.losses import delta_scale, output_deltas, softplus
from kernels.optimizers import update
from kernels.rng import shuffle_into


@njit(**NJIT)
def dataset_metrics(A, Zo, Tt, tidx, out0, n_out, loss, acc_mode, m_loss, m_tss, m_correct,
                    m_fahl, best, besti, ok):
    """Per-lane loss, tss, count of correct patterns and the Fahlman flag over all patterns."""
    n_p = A.shape[0]
    zero = A.dtype.type(0.0)
    half = A.dtype.type(0.5)
    fahl_tol = A.dtype.type(0.4)
    for ln in range(LANES):
        m_loss[ln] = zero
        m_tss[ln] = zero
        m_correct[ln] = 0
        m_fahl[ln] = 1
    for k in range(n_p):
        if acc_mode == 1:  # argmax against the one-hot target's index
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
                    same = (A[k, out0 + o, ln] >= half) == (Tt[k, o, ln] >= half)
                    ok[ln] = ok[ln] if same else 0
            for ln in range(LANES):
                m_correct[ln] += ok[ln]
        for o in range(n_out):
            for ln in range(LANES):
                d = A[k, out0 + o, ln] - Tt[k, o, ln]
                m_tss[ln] += d * d
                m_fahl[ln] = m_fahl[ln] if abs(d) < fahl_tol else 0
            if loss == 2:
                for ln in range(LANES):
                    zz = Zo[k, o, ln]
                    m_loss[ln] += softplus(zz, zero) - Tt[k, o, ln] * zz
    n_terms = A.dtype.type(n_p * n_out)
    for ln in range(LANES):
        if loss == 0:
            m_loss[ln] = half * m_tss[ln]
        elif loss == 1:
            m_loss[ln] = m_tss[ln] / n_terms
        else:
            m_loss[ln] = m_loss[ln] / n_terms


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


@njit(**NJIT)
def train_block(b, X, T, tidx, sizes, acts, w_off, b_off, s_off, unit_off,
                loss, opt, schedule, batch_size, shuffle, acc_mode,
                theta_all, lr_all, mom_all, b1_all, b2_all, eps_all, slope_all,
                epochs_all, main_all, estop_all, tss_all, lossb_all, skey_all,
                curve_epochs, rec_out,
                o_run, o_ms, o_fin, o_div, o_curve, o_out):
    """Train block ``b`` in place (theta_all[b] ends as the final parameters)."""
    theta = theta_all[b]
    lr, mom, b1, b2, eps, slope = lr_all[b], mom_all[b], b1_all[b], b2_all[b], eps_all[b], slope_all[b]
    epochs, main, estop, skey = epochs_all[b], main_all[b], estop_all[b], skey_all[b]
    tss_below, loss_below = tss_all[b], lossb_all[b]
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
    if shuffle:  # training positions follow a per-lane permutation
        At = np.empty((n_p, n_units, LANES), dt)
        Zt = np.empty((n_p, n_out, LANES), dt)
        Ttr = np.empty((n_p, n_out, LANES), dt)
    else:
        At, Zt, Ttr = A, Zo, Tt
    D = np.empty((n_units, LANES), dt)
    G = np.zeros((n_params, LANES), dt)
    M1 = np.zeros((n_params, LANES), dt)
    M2 = np.zeros((n_params, LANES), dt)
    z = np.empty(LANES, dt)
    acc = np.empty(LANES, dt)
    psum = np.zeros(LANES, dt)
    lr_eff = np.empty(LANES, dt)
    pw1 = np.ones(LANES, dt)
    pw2 = np.ones(LANES, dt)
    m_loss = np.empty(LANES, dt)
    m_tss = np.empty(LANES, dt)
    best = np.empty(LANES, dt)
    m_correct = np.empty(LANES, np.int64)
    m_fahl = np.empty(LANES, np.int64)
    besti = np.empty(LANES, np.int64)
    ok = np.empty(LANES, np.int64)
    active = np.ones(LANES, np.int64)
    perm = np.empty(n_p, np.int64)
    for p in range(n_params):
        for ln in range(LANES):
            psum[ln] += theta[p, ln]
    max_epochs = 0
    for ln in range(LANES):
        o_fin[b, 3, ln] = np.inf
        o_div[b, ln] = 0
        o_run[b, ln] = 0
        max_epochs = max(max_epochs, epochs[ln])
    for m in range(5):
        for ln in range(LANES):
            o_ms[b, m, ln] = -1
    ci = 0
    bs = n_p if schedule == 0 else batch_size
    acc_full = n_p
    for e in range(max_epochs + 1):
        for k in range(n_p):
            forward_pattern(theta, A, Zo, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, z)
        dataset_metrics(A, Zo, Tt, tidx, out0, n_out, loss, acc_mode, m_loss, m_tss, m_correct,
                        m_fahl, best, besti, ok)
        # --- per-lane bookkeeping, branch-free so it vectorises ---------------------
        n_active = 0
        for ln in range(LANES):
            act = active[ln] == 1
            ls = m_loss[ln]
            finite = (ls - ls == zero) and (psum[ln] - psum[ln] == zero)
            conds0 = act and (m_correct[ln] * 4 >= 3 * acc_full)
            conds1 = act and (m_correct[ln] == acc_full)
            conds2 = act and (m_fahl[ln] == 1)
            conds3 = act and (m_tss[ln] < tss_below[ln])
            conds4 = act and (ls < loss_below[ln])
            ms0 = o_ms[b, 0, ln]
            ms1 = o_ms[b, 1, ln]
            ms2 = o_ms[b, 2, ln]
            ms3 = o_ms[b, 3, ln]
            ms4 = o_ms[b, 4, ln]
            ms0 = e if (conds0 and ms0 < 0) else ms0
            ms1 = e if (conds1 and ms1 < 0) else ms1
            ms2 = e if (conds2 and ms2 < 0) else ms2
            ms3 = e if (conds3 and ms3 < 0) else ms3
            ms4 = e if (conds4 and ms4 < 0) else ms4
            o_ms[b, 0, ln] = ms0
            o_ms[b, 1, ln] = ms1
            o_ms[b, 2, ln] = ms2
            o_ms[b, 3, ln] = ms3
            o_ms[b, 4, ln] = ms4
            mc = main[ln]
            met = ((mc == 0 and ms0 >= 0) or (mc == 1 and ms1 >= 0) or (mc == 2 and ms2 >= 0)
                   or (mc == 3 and ms3 >= 0) or (mc == 4 and ms4 >= 0))
            o_fin[b, 0, ln] = np.float64(ls) if act else o_fin[b, 0, ln]
            o_fin[b, 1, ln] = np.float64(m_tss[ln] / dt.type(n_p * n_out)) if act else o_fin[b, 1, ln]
            o_fin[b, 2, ln] = m_correct[ln] / acc_full if act else o_fin[b, 2, ln]
            lower = act and finite and (np.float64(ls) < o_fin[b, 3, ln])
            o_fin[b, 3, ln] = np.float64(ls) if lower else o_fin[b, 3, ln]
            o_div[b, ln] = 1 if (act and not finite) else o_div[b, ln]
            o_run[b, ln] = e if act else o_run[b, ln]
            stop = (not finite) or (e >= epochs[ln]) or (estop[ln] == 1 and met)
            still = act and not stop
            active[ln] = 1 if still else 0
            lr_eff[ln] = lr[ln] if still else zero
            n_active += 1 if still else 0
        if ci < n_curve and curve_epochs[ci] == e:
            for ln in range(LANES):
                if o_run[b, ln] == e:  # the lane evaluated this epoch
                    o_curve[b, ci, 0, ln] = m_loss[ln]
                    o_curve[b, ci, 1, ln] = m_tss[ln] / dt.type(n_p * n_out)
            ci += 1
        if rec_out:
            for k in range(n_p):
                for o in range(n_out):
                    for ln in range(LANES):
                        o_out[b, k, o, ln] = A[k, out0 + o, ln] if o_run[b, ln] == e else o_out[b, k, o, ln]
        if n_active == 0:
            break
        # --- one epoch of updates ----------------------------------------------------
        if schedule == 0:  # full batch: reuse the evaluation forward pass
            G[:, :] = zero
            scale = delta_scale(loss, dt.type(n_p * n_out), one)
            for k in range(n_p):
                output_deltas(loss, out_act, A, Tt, k, D, out0, n_out, scale, slope)
                backward_pattern(theta, A, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc)
            update(opt, theta, G, M1, M2, lr_eff, mom, b1, b2, eps, pw1, pw2, psum, active)
            continue
        if shuffle:
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
            scale = delta_scale(loss, dt.type((stop_k - start) * n_out), one)
            for k in range(start, stop_k):
                forward_pattern(theta, At, Zt, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, z)
                output_deltas(loss, out_act, At, Ttr, k, D, out0, n_out, scale, slope)
                backward_pattern(theta, At, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc)
            update(opt, theta, G, M1, M2, lr_eff, mom, b1, b2, eps, pw1, pw2, psum, active)


@njit(**NJIT_PARALLEL)
def train_blocks(X, T, tidx, sizes, acts, w_off, b_off, s_off, unit_off,
                 loss, opt, schedule, batch_size, shuffle, acc_mode,
                 theta_all, lr_all, mom_all, b1_all, b2_all, eps_all, slope_all,
                 epochs_all, main_all, estop_all, tss_all, lossb_all, skey_all,
                 curve_epochs, rec_out,
                 o_run, o_ms, o_fin, o_div, o_curve, o_out):
    """Train every block of runs; arguments as ``train_block`` with a leading block axis."""
    for b in prange(theta_all.shape[0]):
        train_block(b, X, T, tidx, sizes, acts, w_off, b_off, s_off, unit_off,
                    loss, opt, schedule, batch_size, shuffle, acc_mode,
                    theta_all, lr_all, mom_all, b1_all, b2_all, eps_all, slope_all,
                    epochs_all, main_all, estop_all, tss_all, lossb_all, skey_all,
                    curve_epochs, rec_out,
                    o_run, o_ms, o_fin, o_div, o_curve, o_out)


@njit(**NJIT_PARALLEL)
def loss_grad_blocks(X, T, tidx, sizes, acts, w_off, b_off, s_off, unit_off, loss, acc_mode,
                     theta_all, slope_all, o_loss, o_grad, o_out):
    """Full-dataset loss (o_loss (n_blocks, L)), its gradient (o_grad (n_blocks, P, L)) and
    the outputs (o_out (n_blocks, n_p, n_out, L)) for every lane, without training."""
    for b in prange(theta_all.shape[0]):
        theta = theta_all[b]
        slope = slope_all[b]
        dt = theta.dtype
        n_p = X.shape[0]
        n_layers = acts.shape[0]
        n_out = sizes[n_layers]
        out0 = unit_off[n_layers]
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
            forward_pattern(theta, A, Zo, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, z)
        dataset_metrics(A, Zo, Tt, tidx, out0, n_out, loss, acc_mode, m_loss, m_tss, ints[0],
                        ints[1], best, ints[2], ints[3])
        scale = delta_scale(loss, dt.type(n_p * n_out), dt.type(1.0))
        for k in range(n_p):
            output_deltas(loss, acts[n_layers - 1], A, Tt, k, D, out0, n_out, scale, slope)
            backward_pattern(theta, A, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc)
            for o in range(n_out):
                for ln in range(LANES):
                    o_out[b, k, o, ln] = A[k, out0 + o, ln]
        for ln in range(LANES):
            o_loss[b, ln] = m_loss[ln]
