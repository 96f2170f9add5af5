"""Initial parameters drawn from each run's own counter-based stream.

Parameter ``j`` of a run with key ``k`` uses ``u = uniform(k, j)`` (normal: Box-Muller on
counters ``2j, 2j+1``), so a run's initial weights depend only on its key, never on its
position in a batch. Schemes (codes in ``INIT_SCHEMES``), then times ``scale``:

- uniform:        low + (high - low) u
- normal:         std * sqrt(-2 ln(1 - u1)) cos(2 pi u2)
- glorot_uniform: weights U(+-sqrt(6 / (fan_in + fan_out))), biases 0     (Keras Dense)
- torch_default:  weights and biases U(+-1 / sqrt(fan_in))                (PyTorch nn.Linear)
"""
from __future__ import annotations

import math

from numba import njit, prange

from kernels.config import NJIT_PARALLEL
from kernels.rng import uniform

#: Init scheme name -> code (``numpy_legacy`` and ``explicit`` are drawn outside the kernels).
INIT_SCHEMES = {"uniform": 0, "normal": 1, "glorot_uniform": 2, "torch_default": 3}
UNIFORM, NORMAL, GLOROT, TORCH = (INIT_SCHEMES[k] for k in INIT_SCHEMES)


@njit(**NJIT_PARALLEL)
def init_runs(scheme, keys, low, high, std, scale, fan_in, fan_out, is_bias, out):
    """out (n_runs, P) float64; keys uint64 (n_runs,); low/high/std/scale (n_runs,);
    fan_in/fan_out int64 (P,) and is_bias bool (P,) describe each parameter."""
    n_params = out.shape[1]
    for r in prange(out.shape[0]):
        key = keys[r]
        for j in range(n_params):
            if scheme == UNIFORM:
                v = low[r] + (high[r] - low[r]) * uniform(key, j)
            elif scheme == NORMAL:
                u1 = uniform(key, 2 * j)
                u2 = uniform(key, 2 * j + 1)
                v = std[r] * math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
            elif scheme == GLOROT:
                lim = math.sqrt(6.0 / (fan_in[j] + fan_out[j]))
                v = 0.0 if is_bias[j] else -lim + 2.0 * lim * uniform(key, j)
            else:
                lim = 1.0 / math.sqrt(fan_in[j])
                v = -lim + 2.0 * lim * uniform(key, j)
            out[r, j] = v * scale[r]
