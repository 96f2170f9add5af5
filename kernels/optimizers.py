"""Parameter updates for a block: theta (P, L) from the batch gradient G (P, L).

- sgd:       theta -= lr g
- momentum:  v = mu v + g;  theta -= lr v                       (PyTorch; = RHW 1986 rule)
- adam:      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
             theta -= (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)   (PyTorch's form)

``active`` is 1 for the lanes that go on; a lane that has stopped keeps its parameters
(a select, not a branch), so its final parameters are those of its last epoch whatever its
neighbours do (``lr`` is also 0 there). ``psum`` receives the sum of the new parameters per lane: it is
non-finite exactly when some parameter is, which is how divergence is detected.
``pw1``/``pw2`` hold b1^t and b2^t per lane (Adam's bias correction).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.config import LANES, NJIT_INLINE


@njit(**NJIT_INLINE)
def update(opt, theta, G, M1, M2, lr, mom, b1, b2, eps, pw1, pw2, psum, active):
    n_params = theta.shape[0]
    one = theta.dtype.type(1.0)
    for ln in range(LANES):
        psum[ln] = 0.0
    if opt == 0:
        for p in range(n_params):
            for ln in range(LANES):
                t = theta[p, ln] - lr[ln] * G[p, ln]
                theta[p, ln] = t if active[ln] == 1 else theta[p, ln]
                psum[ln] += t
    elif opt == 1:
        for p in range(n_params):
            for ln in range(LANES):
                v = mom[ln] * M1[p, ln] + G[p, ln]
                M1[p, ln] = v
                t = theta[p, ln] - lr[ln] * v
                theta[p, ln] = t if active[ln] == 1 else theta[p, ln]
                psum[ln] += t
    else:
        for ln in range(LANES):
            pw1[ln] *= b1[ln]
            pw2[ln] *= b2[ln]
        for p in range(n_params):
            for ln in range(LANES):
                g = G[p, ln]
                m = b1[ln] * M1[p, ln] + (one - b1[ln]) * g
                v = b2[ln] * M2[p, ln] + (one - b2[ln]) * (g * g)
                M1[p, ln] = m
                M2[p, ln] = v
                denom = np.sqrt(v) / np.sqrt(one - pw2[ln]) + eps[ln]
                t = theta[p, ln] - (lr[ln] / (one - pw1[ln])) * (m / denom)
                theta[p, ln] = t if active[ln] == 1 else theta[p, ln]
                psum[ln] += t
