"""Runs a ``train_range(b0, b1, data, net, st, runs, curve_epochs, out)`` kernel on threads.

Every generated training kernel releases the GIL,
so ranges of blocks run on ``numba.get_num_threads()`` Python threads. (A ``prange`` would need a
parfor lowering of the whole training loop: tens of seconds of compile time for nothing.)
"""
from __future__ import annotations

import threading

import numba


def block_driver(train_range, compiling=None):
    """``train_blocks`` on top of ``train_range``: ranges of blocks on ``numba.get_num_threads()``
    Python threads (the kernel releases the GIL), taken in order from ``guided_ranges`` so that
    threads that finish early take more. Which thread trains a block never changes its results.
    ``compiling``: a context manager factory around the first call (an empty range, which
    compiles the kernel or loads it from the cache before the threads start)."""

    def train_blocks(data, net, st, runs, curve_epochs, out):
        args = (data, net, st, runs, curve_epochs, out)
        if compiling is not None and not train_range.overloads:
            with compiling():
                train_range(0, 0, *args)
        n_blocks = runs.theta.shape[0]
        n_threads = max(1, min(numba.get_num_threads(), n_blocks))
        if n_threads == 1:
            train_range(0, n_blocks, *args)
            return
        ranges = iter(guided_ranges(n_blocks, n_threads))
        take = threading.Lock()
        errors = []

        def work():
            try:
                while True:
                    with take:
                        rng = next(ranges, None)
                    if rng is None:
                        return
                    train_range(*rng, *args)
            except BaseException as exc:  # re-raised in the caller
                errors.append(exc)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(n_threads - 1)]
        for t in threads:
            t.start()
        work()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    train_blocks.train_range = train_range
    return train_blocks


def guided_ranges(n_blocks: int, n_threads: int):
    """``(b0, b1)`` ranges covering ``0 .. n_blocks - 1`` in order, each ``ceil(left / (2 *
    n_threads))`` blocks (guided self-scheduling): few calls while much is left, single blocks
    at the end, so the threads finish at most one block apart, however long each block's runs
    train. (Fixed ranges of ``n_blocks / 16`` left a thread up to a whole range behind: 4-bit
    parity 4-64-64-1's 63 blocks ran as 33 and 30 on two threads, 5% of the time idle.)"""
    b0 = 0
    while b0 < n_blocks:
        b1 = b0 + max(1, -(-(n_blocks - b0) // (2 * n_threads)))
        yield b0, b1
        b0 = b1
