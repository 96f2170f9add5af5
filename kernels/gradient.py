"""The loss, its gradient and the outputs of many networks, without training (``kernels.api``'s
``loss_and_grad`` and ``forward``).

Lane-last like every kernel (``kernels.bundles`` gives the shapes): the forward and backward
passes of ``kernels.dense``, the ops of ``kernels.ops`` reached through ``kernels.lanes``. Training
runs in the generated kernels (``kernels.codegen``); this module is the independent evaluation of
the gradient that the NumPy twin and finite differences check (tests/test_naive.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.config import LANES, NJIT, NJIT_INLINE
from kernels.dense import backward_pattern, forward_pattern
from kernels.lanes import derive, logit_delta, loss_scale, loss_terms, loss_values
from kernels.ops.hyper import ROW
from kernels.ops.metrics import ACC_ARGMAX, fahlman_ok, same_side

_fahlman_ok = njit(**NJIT_INLINE)(fahlman_ok)
_same_side = njit(**NJIT_INLINE)(same_side)
_SLOPE, _FS = ROW["leaky_slope"], ROW["flat_spot"]


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
