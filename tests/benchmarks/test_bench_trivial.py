"""Trivial runs (issue 29, item 6): what a zero-epoch run costs outside the kernel.

Run with ``python -m pytest tests/benchmarks/test_bench_trivial.py --benchmark-only -n 0``
(``NUMBA_NUM_THREADS=1``, as ``tests/benchmarks/trivial_20m.sh``: the other core writes Parquet).

- ``test_bench_trivial_4m``: 4,000,000 zero-epoch XOR runs through ``run_sweep``; ``extra_info``
  holds runs/s, CPU microseconds per run and the Parquet writer's busy share of the wall time.
- ``test_bench_config_columns``: the config columns of one 65,536-run chunk, per run (the old
  path) and per run of equal config (``config_segments``), in ``extra_info`` as microseconds.
"""
from __future__ import annotations

import time

import pytest

from sweep.grid.columns import CONFIG_COLUMNS, config_arrays, config_segments
from sweep.grid.load import parse_grid
from sweep.run.runner import run_sweep

TRIVIAL = """
name = "trivial"
[task]
name = "xor"
[train]
epochs = 0
[sweep]
seeds = 1000000
"train.lr" = [0.25, 0.5, 1.0, 2.0]
"""


def test_bench_trivial_4m(benchmark, tmp_path):
    grid = parse_grid(TRIVIAL)
    run_sweep(parse_grid(TRIVIAL.replace("seeds = 1000000", "seeds = 4")), tmp_path / "warm", progress=False)
    outs = iter(range(100))

    def once():
        t, cpu = time.perf_counter(), time.process_time()
        stats = run_sweep(grid, tmp_path / f"o{next(outs)}", progress=False)
        return stats, time.perf_counter() - t, time.process_time() - cpu

    stats, seconds, cpu = benchmark.pedantic(once, rounds=1)
    assert stats.n_trained == grid.n_runs == 4_000_000
    benchmark.extra_info.update(runs_per_s=grid.n_runs / seconds, cpu_us_per_run=cpu / grid.n_runs * 1e6,
                                writer_busy=stats.write_s / seconds)


@pytest.mark.parametrize("path", ["per_run", "segments"])
def test_bench_config_columns(benchmark, path):
    grid = parse_grid(TRIVIAL)
    cols = grid.columns(1_000_000 - 32_768, 1_000_000 + 32_768)   # two learning rates: two segments
    starts, lengths = config_segments(grid, cols["run_index"])
    assert len(starts) == 2
    if path == "per_run":
        benchmark(config_arrays, cols, grid)
    else:
        benchmark(lambda: config_arrays({k: cols[k][starts] for k in CONFIG_COLUMNS}, grid, lengths))
    benchmark.extra_info["us_per_chunk"] = benchmark.stats.stats.median * 1e6
