"""Benchmarks of the kernels against the NumPy twin (and JAX when installed), same workloads
as ``sweep bench`` (run with ``python -m pytest tests/benchmarks --benchmark-only -n 0``).

Each throughput test times ``kernels.train`` with ``benchmark.pedantic(rounds=3)`` and, in
the same test, the NumPy reference on fewer runs/epochs (best of 3); ``extra_info`` holds
both in network-epochs/s (runs x epochs / s) and their ratio, so sizes may differ.
"""
from __future__ import annotations

import time

import numba
import numpy as np
import pytest

import kernels
from kernels import TrainOptions
from sweep.bench import suite as bench
from sweep.bench.refs import jax_available

ROUNDS = 3
WORKLOADS = {w.key: w for w in bench.WORKLOADS}


def pedantic_best(benchmark, fn, rounds: int = ROUNDS) -> tuple[float, object]:
    """Run ``fn`` under ``benchmark.pedantic``; (best own wall time, last result)."""
    times, out = [], []

    def timed():
        t = time.perf_counter()
        out.append(fn())
        times.append(time.perf_counter() - t)
        return out[-1]

    benchmark.pedantic(timed, rounds=rounds, iterations=1)
    return min(times), out[-1]


def run_workload(benchmark, w: bench.Workload, with_jax: bool = True):
    net, X, T = bench._problem(w)
    n, ep = w.kernel
    opts = TrainOptions(loss="mse", optimizer="sgd", schedule=w.schedule, dtype=w.dtype)
    theta0 = kernels.init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    kernels.train(net, opts, X, T, theta0[:1], lr=w.lr, epochs=1)  # compile / load outside the timing
    best, res = pedantic_best(benchmark, lambda: kernels.train(net, opts, X, T, theta0, lr=w.lr, epochs=ep))
    assert int(res.epochs_run.sum()) == n * ep and not res.diverged.any()
    rate = n * ep / best
    ref = bench.time_numpy(net, X, T, w.schedule, w.dtype, w.lr, *w.numpy, repeats=ROUNDS)
    info = benchmark.extra_info
    info.update({"sizes": list(net.sizes), "schedule": w.schedule, "dtype": w.dtype,
                 "threads": numba.get_num_threads(), "n_runs": n, "epochs": ep,
                 "network_epochs_per_s": rate, "numpy_n_runs": ref["n_runs"], "numpy_epochs": ref["epochs"],
                 "numpy_network_epochs_per_s": ref["network_epochs_per_s"],
                 "ratio_numpy": rate / ref["network_epochs_per_s"]})
    if with_jax and jax_available():
        jx = bench.time_jax(net, X, T, w.schedule, w.dtype, w.lr, *w.jax, repeats=ROUNDS)
        info.update({"jax_network_epochs_per_s": jx["network_epochs_per_s"],
                     "ratio_jax": rate / jx["network_epochs_per_s"]})
    return info


def test_bench_xor_2_2_1_full(benchmark):
    """The issue's headline: 10,000 runs x 2,000 epochs of XOR 2-2-1, full batch, float64."""
    w = WORKLOADS["xor_2_2_1_full"]
    assert w.kernel == (10_000, 2_000)
    info = run_workload(benchmark, w)
    assert info["network_epochs_per_s"] > 0 and info["ratio_numpy"] > 0


def test_bench_xor_2_16_1_full(benchmark):
    info = run_workload(benchmark, WORKLOADS["xor_2_16_1_full"])
    assert info["network_epochs_per_s"] > 0 and info["ratio_numpy"] > 0


@pytest.mark.parametrize("key", [k for k in WORKLOADS if k not in ("xor_2_2_1_full", "xor_2_16_1_full")])
def test_bench_workload(benchmark, key):
    info = run_workload(benchmark, WORKLOADS[key])
    assert info["network_epochs_per_s"] > 0


@pytest.mark.parametrize("key, label, hidden, size", bench.SCALING, ids=[s[0] for s in bench.SCALING])
def test_bench_thread_scaling(benchmark, key, label, hidden, size):
    """Throughput on all threads (the benchmark) and on one thread; extra_info has the speedup."""
    threads = numba.get_num_threads()
    if threads < 2:
        pytest.skip("one thread only")
    net, X, T = bench._problem(bench.Workload(key, label, bench.XOR, hidden))
    n, ep = size
    try:
        numba.set_num_threads(1)
        one = bench.time_kernel(net, X, T, "full", "float64", 0.5, n, ep, repeats=ROUNDS)
    finally:
        numba.set_num_threads(threads)
    opts = TrainOptions(loss="mse", optimizer="sgd", schedule="full")
    theta0 = kernels.init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    best, _ = pedantic_best(benchmark, lambda: kernels.train(net, opts, X, T, theta0, lr=0.5, epochs=ep))
    rate = n * ep / best
    benchmark.extra_info.update({"threads": [1, threads], "network_epochs_per_s": [one["network_epochs_per_s"], rate],
                                 "speedup": rate / one["network_epochs_per_s"]})
    assert rate > 0


def test_bench_jit_compile(benchmark, tmp_path):
    """Cold (empty NUMBA_CACHE_DIR and MLP_SWEEP_CACHE) then cached first call in fresh processes."""
    cache = str(tmp_path / "cache")
    cold = benchmark.pedantic(bench.time_fresh_process, args=(cache,), rounds=1, iterations=1)
    cached = bench.time_fresh_process(cache)
    benchmark.extra_info.update({"cold_s": cold["first_call_s"], "cached_s": cached["first_call_s"],
                                 "import_s": cached["import_s"]})
    assert cached["first_call_s"] < cold["first_call_s"]


def test_bench_sweep_run_100k(benchmark):
    """End-to-end ``sweep run`` of 100,000 XOR 2-2-1 runs x 2,000 epochs."""
    sw = benchmark.pedantic(bench.time_sweep, args=(100_000, 2_000, None), rounds=1, iterations=1)
    benchmark.extra_info.update({k: sw[k] for k in ("runs_per_s", "network_epochs_per_s", "outside_kernels_share",
                                                    "wall_s", "kernel_s")})
    assert sw["runs_per_s"] > 0 and 0 <= sw["outside_kernels_share"] < 1
