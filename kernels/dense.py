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
Derivatives are written in terms of the output ``a`` (sigmoid: a(1-a); tanh: 1-a^2;
relu: [a>0]; leaky_relu: 1 if a>0 else slope; linear: 1).
"""
from __future__ import annotations

from numba import njit

from kernels.config import LANES, NJIT_INLINE
from kernels.elementary import exp


@njit(**NJIT_INLINE)
def activate(code, z, A, k, u, slope):
    """A[k, u, :] = f(z) for activation ``code`` (branch outside the lane loop)."""
    one = z.dtype.type(1.0)
    zero = z.dtype.type(0.0)
    if code == 0:  # sigmoid
        for ln in range(LANES):
            A[k, u, ln] = one / (one + exp(-z[ln]))
    elif code == 1:  # tanh = sign(z) (1 - e) / (1 + e), e = exp(-2|z|)
        two = z.dtype.type(2.0)
        for ln in range(LANES):
            e = exp(-two * abs(z[ln]))
            t = (one - e) / (one + e)
            A[k, u, ln] = t if z[ln] >= zero else -t
    elif code == 2:  # relu
        for ln in range(LANES):
            A[k, u, ln] = z[ln] if z[ln] > zero else zero
    elif code == 3:  # leaky_relu
        for ln in range(LANES):
            A[k, u, ln] = z[ln] if z[ln] > zero else slope[ln] * z[ln]
    else:  # linear
        for ln in range(LANES):
            A[k, u, ln] = z[ln]


@njit(**NJIT_INLINE)
def scale_by_derivative(code, A, k, u, D, slope):
    """D[u, :] *= f'(a) with a = A[k, u, :]."""
    one = D.dtype.type(1.0)
    zero = D.dtype.type(0.0)
    if code == 0:
        for ln in range(LANES):
            a = A[k, u, ln]
            D[u, ln] *= a * (one - a)
    elif code == 1:
        for ln in range(LANES):
            a = A[k, u, ln]
            D[u, ln] *= one - a * a
    elif code == 2:
        for ln in range(LANES):
            D[u, ln] = D[u, ln] if A[k, u, ln] > zero else zero
    elif code == 3:
        for ln in range(LANES):
            D[u, ln] = D[u, ln] if A[k, u, ln] > zero else D[u, ln] * slope[ln]


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
def backward_pattern(theta, A, D, G, k, sizes, acts, w_off, b_off, s_off, unit_off, slope, acc):
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
                scale_by_derivative(acts[l - 1], A, k, ia + i, D, slope)
