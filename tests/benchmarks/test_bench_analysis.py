"""Benchmark: ``convergence()`` on 1,000,000 runs in 20 groups (run with ``--benchmark-only -n 0``).

The frame uses the reader's compact dtypes (categorical configs, nullable Int64 epochs); the
test also bounds the frame's size and the peak memory ``convergence()`` allocates.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from results.analysis import convergence

N_RUNS = 1_000_000


def big_frame(n: int = N_RUNS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lr = rng.choice([0.1, 0.25, 0.5, 1.0, 2.0], n)
    hidden = rng.integers(0, 4, n)
    t = np.ceil(rng.lognormal(np.log(100 / lr * (1 + hidden)), 0.8)).astype(np.int64)
    reached = (t <= 20_000) & (rng.random(n) > 0.1)
    return pd.DataFrame({
        "train.lr": lr,
        "model.hidden": pd.Categorical.from_codes(hidden, ["[1]", "[2]", "[3]", "[2,2]"]),
        "task.name": pd.Categorical.from_codes(np.zeros(n, np.int8), ["xor"]),
        "epochs_run": pd.array(np.full(n, 20_000), dtype="Int64"),
        "epoch_acc100": pd.arrays.IntegerArray(np.where(reached, t, 0), ~reached),
        "diverged": np.zeros(n, bool),
    })


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return big_frame()


def test_bench_convergence_1m(benchmark, frame):
    # ~8 bytes per numeric cell: 1M rows x 3 numeric columns + small ones stays under 40 MB
    assert frame.memory_usage(deep=True).sum() < 40e6
    table = benchmark.pedantic(convergence, args=(frame,), kwargs=dict(by=["lr", "hidden"], at=(169, 1000)),
                               rounds=3, iterations=1)
    assert len(table) == 20 and table["n"].sum() == N_RUNS


def test_bench_convergence_memory(benchmark, frame):
    def run():
        tracemalloc.start()
        try:
            convergence(frame, by=["lr", "hidden"], at=(169,))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak = benchmark.pedantic(run, rounds=1, iterations=1)
    # times + flags + group index arrays for 1M runs: a few tens of MB, never a copy per group
    assert peak < 120e6, f"peak {peak / 1e6:.0f} MB"
