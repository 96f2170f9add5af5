"""Benchmarks of issue 12 (run with ``python -m pytest tests/benchmarks/test_bench_resume.py --benchmark-only -n 0``).

- planning a resume of the 10^8-run grid (XOR, 25,000,000 seeds x 4, chunk 4096) with 300
  parts done, from the part names (``sweep.run.done``): seconds and MB, not O(runs);
- 2,000,000 zero-epoch runs end to end through ``run_sweep`` (runs/s in ``extra_info``).

The peak memory of a real resume (a process, measured by ``/usr/bin/time -v``) is
``tests/benchmarks/resume_1e8.sh``; 20,000,000 trivial runs: ``tests/benchmarks/trivial_20m.sh``.
"""
from __future__ import annotations

import time
import tracemalloc

import pytest

from sweep.run.chunking import chunk_sizes
from sweep.run.done import DoneIndex, plan_by_index
from sweep.grid.load import parse_grid
from sweep.run.runner import make_plans, run_sweep

BIG = """
name = "resume-1e8"
[task]
name = "xor"
[train]
epochs = 0
[sweep]
seeds = 25000000
"train.lr" = [0.25, 0.5, 1.0, 2.0]
[output]
chunk_size = 4096
"""


def test_bench_plan_resume_1e8_from_part_names(benchmark):
    grid = parse_grid(BIG)
    assert grid.n_runs == 10**8
    plans = make_plans(grid)
    sizes = chunk_sizes(grid, plans)
    done = DoneIndex([(i * 4096, (i + 1) * 4096) for i in range(300)], [])

    def plan():
        tracemalloc.start()
        chunks = plan_by_index(grid, sizes, done)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return chunks, peak

    chunks, peak = benchmark.pedantic(plan, rounds=3)
    assert sum(c.n_runs for c in chunks) == 10**8 - 300 * 4096
    benchmark.extra_info["peak_mb"] = peak / 1e6
    assert peak < 200e6


@pytest.mark.parametrize("n_seeds", [500_000])
def test_bench_trivial_runs_end_to_end(benchmark, tmp_path, n_seeds):
    grid = parse_grid(BIG.replace("seeds = 25000000", f"seeds = {n_seeds}").replace("chunk_size = 4096", ""))
    run_sweep(parse_grid(BIG.replace("seeds = 25000000", "seeds = 4")), tmp_path / "warm", progress=False)
    outs = iter(range(100))

    def once():
        t = time.perf_counter()
        stats = run_sweep(grid, tmp_path / f"o{next(outs)}", progress=False)
        return stats, time.perf_counter() - t

    stats, seconds = benchmark.pedantic(once, rounds=1)
    assert stats.n_trained == grid.n_runs
    benchmark.extra_info["runs_per_s"] = grid.n_runs / seconds
