"""Benchmark: the Dask backend against the local one (run with ``--benchmark-only -n 0 -s``).

- Throughput: runs/s for a 100,000-run XOR 2-2-1 sweep (4 learning rates x 25,000 seeds,
  200 epochs, chunk size 4096): local backend with 2 Numba threads vs a LocalCluster of
  2 worker processes x 1 thread. Wall time includes writing every part.
- Overhead per chunk, for chunk sizes 256, 1024, 4096 and 16384::

      overhead = (wall * slots - sum of kernel seconds) / chunks = in task + rest

  where ``slots`` is how many kernels run at once (1 locally: one kernel spread over both
  threads; 2 for Dask: one single-threaded kernel per worker). ``in task`` is the work of
  ``execute_chunk`` outside the kernel (the chunk's columns, its Arrow tables); ``rest`` is
  everything outside ``execute_chunk``.

``test_bench_runs_per_second`` times the whole sweep (the runner writes each part,
fsync'ed); ``test_bench_chunk_overhead`` times the backend alone (results consumed, nothing
written), so its ``rest`` column is the scheduling cost itself: submit, queue, transfer of
the Arrow tables, and the client's loop. The kernels are compiled (and the Dask workers
warmed) before anything is timed. Figures are printed at the end of the module and kept in
the benchmark's ``extra_info``.
"""
from __future__ import annotations

import itertools
import time

import pytest

from sweep.run.backends.local import LocalBackend
from sweep.grid.load import load_grid
from sweep.run.runner import iter_chunks, make_plans, run_sweep

pytest.importorskip("distributed")

GRID = """\
name = "xor-bench-dask"
[task]
name = "xor"
[model]
hidden = [2]
activation = "sigmoid"
[train]
epochs = 200
[sweep]
seeds = 25000
"train.lr" = [0.25, 0.5, 1.0, 2.0]
"""
N_RUNS = 100_000
SIZES = (256, 1024, 4096, 16384)
FIGURES: list[dict] = []


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "xor.toml"
    path.write_text(GRID)
    return str(path)


@pytest.fixture(scope="module")
def backends(grid_path, tmp_path_factory):
    """Backends started on first use (so ``--benchmark-skip`` starts no cluster), warmed up."""
    made: dict = {}
    counter = itertools.count()

    def get(name: str):
        if name not in made:
            if name == "local":
                made[name] = LocalBackend(threads=2)
            else:
                from sweep.run.backends.dask import DaskBackend
                made[name] = DaskBackend(n_workers=2, threads=1)
            # compile / warm on a small grid with the same network (another grid hash)
            small = load_grid(grid_path, ["sweep.seeds=64"])
            run_sweep(small, tmp_path_factory.mktemp(f"warm{next(counter)}"), backend=made[name], progress=False)
        return made[name]

    yield get
    for backend in made.values():
        backend.close()
    if FIGURES:
        print("\n\nper chunk, ms (slot-ms: wall x kernels at once / chunks)")
        print("test     backend  chunk  chunks  wall_s   runs/s   kernel  overhead = in task + rest"
              "   client write")
        for f in FIGURES:
            print(f"{f['test']:8s} {f['backend']:7s} {f['chunk_size']:6d} {f['chunks']:7d} {f['wall_s']:7.2f} "
                  f"{f['runs_per_s']:8,.0f} {f['kernel_ms']:8.1f} {f['overhead_ms']:9.1f} = {f['in_task_ms']:7.1f}"
                  f" + {f['rest_ms']:6.1f} {f['write_ms']:12.1f}")


def figures(test: str, name: str, chunk_size: int, wall_s: float, kernel_s: float, task_s: float,
            write_s: float) -> dict:
    chunks = -(-N_RUNS // chunk_size)
    slots = 1 if name == "local" else 2
    fig = {
        "test": test, "backend": name, "chunk_size": chunk_size, "chunks": chunks, "wall_s": wall_s,
        "runs_per_s": N_RUNS / wall_s, "kernel_ms": 1e3 * kernel_s / chunks,
        "overhead_ms": 1e3 * (wall_s * slots - kernel_s) / chunks,
        "in_task_ms": 1e3 * (task_s - kernel_s) / chunks,
        "rest_ms": 1e3 * (wall_s * slots - task_s) / chunks,
        "write_ms": 1e3 * write_s / chunks,
    }
    FIGURES.append(fig)
    return fig


@pytest.mark.parametrize("name", ["local", "dask"])
def test_bench_runs_per_second(benchmark, backends, grid_path, tmp_path, name):
    """The whole sweep, parts written (atomically, fsync'ed) by the runner."""
    backend = backends(name)
    grid = load_grid(grid_path)
    outs = iter(tmp_path / f"out{i}" for i in itertools.count())
    stats = benchmark.pedantic(lambda: run_sweep(grid, next(outs), backend=backend, chunk_size=4096,
                                                 progress=False), rounds=1, iterations=1)
    assert stats.n_trained == N_RUNS and stats.n_failed == 0
    benchmark.extra_info.update(figures("sweep", name, 4096, stats.wall_s, stats.kernel_s, stats.chunk_s,
                                        stats.write_s))


@pytest.mark.parametrize("chunk_size", SIZES)
@pytest.mark.parametrize("name", ["local", "dask"])
def test_bench_chunk_overhead(benchmark, backends, grid_path, name, chunk_size):
    """The backend alone: every chunk's results consumed, nothing written."""
    backend = backends(name)
    grid = load_grid(grid_path)
    plans, chunks = make_plans(grid), list(iter_chunks(grid, chunk_size))

    def consume():
        t0 = time.perf_counter()
        items = list(backend.map_chunks(grid, plans, chunks))
        return time.perf_counter() - t0, items

    wall_s, items = benchmark.pedantic(consume, rounds=1, iterations=1)
    assert sum(item.table.num_rows for item in items) == N_RUNS
    benchmark.extra_info.update(figures(
        "backend", name, chunk_size, wall_s, sum(i.kernel_s for i in items), sum(i.total_s for i in items), 0.0))
