"""How ``kernels.driver`` splits a kernel's blocks over threads (the results never depend on it:
``tests/test_determinism.py``)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kernels.driver import guided_ranges


@given(st.integers(0, 5000), st.integers(1, 64))
def test_guided_ranges_cover_every_block_once_in_order(n_blocks, n_threads):
    ranges = list(guided_ranges(n_blocks, n_threads))
    assert [b for b0, b1 in ranges for b in range(b0, b1)] == list(range(n_blocks))
    sizes = [b1 - b0 for b0, b1 in ranges]
    assert all(s >= 1 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)       # large ranges first, single blocks last
    # each range is at most 1/(2 n_threads) of what is left, so the others can still balance it
    left = n_blocks
    for s in sizes:
        assert s <= max(1, -(-left // (2 * n_threads)))
        left -= s


@given(st.integers(1, 5000), st.integers(2, 64))
def test_the_last_ranges_are_single_blocks(n_blocks, n_threads):
    sizes = [b1 - b0 for b0, b1 in guided_ranges(n_blocks, n_threads)]
    assert sizes[-min(len(sizes), n_threads):] == [1] * min(len(sizes), n_threads)


def test_parity_bench_split_balances_two_threads():
    """63 blocks (1,000 runs of 16 lanes) on two threads: the slowest thread ends at most one
    block after the other, against three with the fixed ranges of 3 blocks before."""
    sizes = [b1 - b0 for b0, b1 in guided_ranges(63, 2)]
    finish = [0, 0]
    for s in sizes:                 # each range to the thread that is free first
        finish[finish.index(min(finish))] += s
    assert max(finish) - min(finish) <= 1
