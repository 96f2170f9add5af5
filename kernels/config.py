"""Numba options for every kernel, in one place (as stumpy does).

- ``error_model="numpy"``: no zero-division branch in float divides; that branch blocks
  vectorisation.
- ``fastmath=False``: no reassociation or FMA contraction, so a lane computes the same bits
  in a vector body or a scalar one, and results do not depend on lane, block or thread.
  Explicit FMAs (``kernels.intrinsics.fma``) are exact IEEE operations and keep that property.
- ``cache=True``: compiled code is cached on disk next to the module (``__pycache__``).
"""
from __future__ import annotations

#: Runs per block: the innermost loop of every kernel runs over these lanes. A compile-time
#: constant so LLVM knows the trip count; 16 doubles = two AVX-512 registers.
LANES = 16

NJIT = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)
NJIT_INLINE = dict(NJIT, inline="always")
NJIT_PARALLEL = dict(NJIT, parallel=True)
