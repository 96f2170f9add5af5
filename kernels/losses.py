"""Losses: the output deltas dE/dz for backward, and per-pattern terms for the metrics.

For a batch of ``nb`` patterns and ``n_out`` outputs (y outputs, t targets, z logits):

- sse:  E = 1/2 sum (y-t)^2                     dE/dz = (y-t) f'(y)
- mse:  E = sum (y-t)^2 / (nb n_out)            dE/dz = 2 (y-t) f'(y) / (nb n_out)
- bce:  E = sum softplus(z) - t z / (nb n_out)  dE/dz = (sigmoid(z) - t) / (nb n_out)
  (the stable form of -[t log y + (1-t) log(1-y)]; needs a sigmoid output).
"""
from __future__ import annotations

from numba import njit

from kernels.config import LANES, NJIT_INLINE
from kernels.dense import scale_by_derivative
from kernels.elementary import exp, log1p01


@njit(**NJIT_INLINE)
def delta_scale(loss, n_terms, one):
    """The constant factor of dE/dz; ``n_terms = nb * n_out`` in the float type of ``one``."""
    if loss == 0:
        return one
    if loss == 1:
        return (one + one) / n_terms
    return one / n_terms


@njit(**NJIT_INLINE)
def output_deltas(loss, out_act, A, Tt, k, D, out0, n_out, scale, slope):
    """D[out0 + j, :] = dE/dz_j for pattern position ``k`` (targets Tt[k])."""
    for j in range(n_out):
        for ln in range(LANES):
            D[out0 + j, ln] = scale * (A[k, out0 + j, ln] - Tt[k, j, ln])
        if loss != 2:
            scale_by_derivative(out_act, A, k, out0 + j, D, slope)


@njit(**NJIT_INLINE)
def softplus(z, zero):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|); ``zero`` carries the float type."""
    return (z if z > zero else zero) + log1p01(exp(-abs(z)))
