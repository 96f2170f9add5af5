"""Counter-based random numbers: a run's stream is a pure function of its key.

No state is carried between draws, so a value never depends on the thread, block or
order in which it is drawn. ``draw(key, c) = splitmix64(key ^ splitmix64(c))``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.config import NJIT_INLINE

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


@njit(**NJIT_INLINE)
def splitmix64(z):
    """SplitMix64 finaliser of ``z + golden`` (uint64 -> uint64, wrapping)."""
    z = np.uint64(z) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(**NJIT_INLINE)
def uniform(key, counter):
    """U[0, 1) with 53 random bits: ``(draw(key, counter) >> 11) * 2**-53``."""
    d = splitmix64(np.uint64(key) ^ splitmix64(np.uint64(counter)))
    return np.float64(d >> _S11) * _TWO_M53


@njit(**NJIT_INLINE)
def shuffle_into(perm, key, epoch):
    """Fisher-Yates permutation of ``0..n-1`` for ``epoch`` (1-based), written into ``perm`` (n,)."""
    n = perm.shape[0]
    for i in range(n):
        perm[i] = i
    base = np.uint64(epoch) << np.uint64(32)
    for i in range(n - 1, 0, -1):
        j = np.int64(uniform(key, base + np.uint64(i)) * (i + 1))
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp
