"""The generated kernels' block state starts on a cache line (``codegen_emit._aligned_rows``):
Numba's ``np.empty`` aligns to 32 bytes, so a 64-byte vector of a row could straddle two lines."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from kernels.codegen_emit import CACHE_LINE, _aligned_rows


def _allocator(n_rows, lanes, dtype):
    src = "\n".join(["def alloc():", *_aligned_rows("sf", n_rows, lanes, dtype),
                     "    return sf, sf_buf.ctypes.data, sf.ctypes.data"])
    scope = {"np": np}
    exec(src, scope)
    return njit(scope["alloc"])


@pytest.mark.parametrize("n_rows,lanes,dtype", [(10145, 16, "float64"), (7, 16, "float32"), (12, 8, "int64"),
                                                (1, 4, "float64")])
def test_rows_start_on_a_cache_line_and_have_their_shape(n_rows, lanes, dtype):
    alloc = _allocator(n_rows, lanes, dtype)
    for _ in range(20):         # numba's allocations land at either half of a line
        sf, buf_at, at = alloc()
        assert sf.shape == (n_rows, lanes) and sf.flags.c_contiguous
        assert sf.dtype == np.dtype(dtype)
        assert at % CACHE_LINE == 0
        assert 0 <= at - buf_at < CACHE_LINE
        sf[:] = 1                   # every row is inside the buffer
        assert sf.sum() == n_rows * lanes
