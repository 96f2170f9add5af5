"""Dense layers with elementwise activations: forward and backward side by side.

Block layout (lane-last, ``L = LANES`` runs per block):

- ``theta (P, L)``: parameters, flat per run (see ``kernels.network``):
  ``W_l`` at ``w_off[l]`` row-major ``(sizes[l+1], sizes[l])``, ``b_l`` at ``b_off[l]``
  (``-1``: no bias), shortcut ``S`` at ``s_off`` (``-1``: none) row-major ``(n_out, n_in)``.
- ``A (n_pos, n_units, L)``: activations of every unit for every pattern position;
  layer ``l``'s units start at ``unit_off[l]``, layer 0 is the input.
- ``Zo (n_pos, n_out, L)``: output pre-activations (the logits, for ``bce``).
- ``D (n_units, L)``: deltas ``dE/dz`` of one pattern, during backward.

Forward:  z_l = W_l a_{l-1} + b_l (+ S x on the output layer),  a_l = f_l(z_l).
Backward: grad W_l += delta_l a_{l-1}^T,  grad b_l += delta_l,  grad S += delta_out x^T,
          delta_{l-1} = f'_{l-1}(a_{l-1}) * (W_l^T delta_l).
The activations and their derivatives (in terms of the output ``a``) are the op definitions of
``kernels.ops.activations``, applied lane by lane through ``kernels.lanes``; ``flat``/``fs`` add
Fahlman's flat-spot offset to every derivative.
"""
from __future__ import annotations

from numba import njit

from kernels.config import LANES, NJIT_INLINE
from kernels.lanes import activate, derive


@njit(**NJIT_INLINE)
def forward_pattern(theta, A, Zo, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, z):
    """Forward pass of pattern position ``k`` for every lane; fills A[k] and Zo[k]."""
    n_layers = acts.shape[0]
    n_in = sizes[0]
    for l in range(n_layers):
        n_i = sizes[l]
        n_o = sizes[l + 1]
        ia = unit_off[l]
        oa = unit_off[l + 1]
        last = l == n_layers - 1
        for j in range(n_o):
            if b_off[l] >= 0:
                bj = b_off[l] + j
                for ln in range(LANES):
                    z[ln] = theta[bj, ln]
            else:
                for ln in range(LANES):
                    z[ln] = 0.0
            row = w_off[l] + j * n_i
            for i in range(n_i):
                for ln in range(LANES):
                    z[ln] += theta[row + i, ln] * A[k, ia + i, ln]
            if last:
                if s_off >= 0:
                    srow = s_off + j * n_in
                    for i in range(n_in):
                        for ln in range(LANES):
                            z[ln] += theta[srow + i, ln] * A[k, i, ln]
                for ln in range(LANES):
                    Zo[k, j, ln] = z[ln]
            activate(acts[l], z, A, k, oa + j, slope)


@njit(**NJIT_INLINE)
def backward_pattern(theta, A, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc, flat, fs):
    """Accumulate the gradient of pattern ``k`` into G (P, L).

    On entry D holds the output deltas dE/dz_out at rows ``unit_off[-2]...``; the hidden
    deltas are overwritten on the way down.
    """
    n_layers = acts.shape[0]
    n_in = sizes[0]
    out0 = unit_off[n_layers]
    if s_off >= 0:
        for j in range(sizes[n_layers]):
            srow = s_off + j * n_in
            for i in range(n_in):
                for ln in range(LANES):
                    G[srow + i, ln] += D[out0 + j, ln] * A[k, i, ln]
    for l in range(n_layers - 1, -1, -1):
        n_i = sizes[l]
        n_o = sizes[l + 1]
        ia = unit_off[l]
        oa = unit_off[l + 1]
        for j in range(n_o):
            row = w_off[l] + j * n_i
            for i in range(n_i):
                for ln in range(LANES):
                    G[row + i, ln] += D[oa + j, ln] * A[k, ia + i, ln]
            if b_off[l] >= 0:
                bj = b_off[l] + j
                for ln in range(LANES):
                    G[bj, ln] += D[oa + j, ln]
        if l > 0:
            for i in range(n_i):
                for ln in range(LANES):
                    acc[ln] = 0.0
                for j in range(n_o):
                    w = w_off[l] + j * n_i + i
                    for ln in range(LANES):
                        acc[ln] += theta[w, ln] * D[oa + j, ln]
                for ln in range(LANES):
                    D[ia + i, ln] = acc[ln]
                derive(acts[l - 1], A, k, ia + i, D, slope, flat, fs)
