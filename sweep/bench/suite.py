"""``sweep bench [--quick] [--threads N] [--json FILE]``: the throughput table of the issue
"Performance: SIMD across runs", measured in one run on this machine.

Every row trains the same computation three ways: ``kernels.train`` (mlp-sweep), the NumPy
twin vectorised over runs (``sweep.bench.refs.numpy_vectorised_train``) and, when installed,
JAX ``jit(vmap(...))`` (``sweep.bench.refs.jax_train``). Throughput is network-epochs per
second (runs x epochs / seconds, best of the repeats), so the slow references may train fewer
runs and epochs than the kernels; every ratio is mlp-sweep / reference. The kernels also
evaluate loss, accuracy and milestones on the full dataset after every epoch; the references
only train. Further rows: thread scaling, the JIT compile time of a fresh process (cold, with
an empty cache directory, and cached), and an end-to-end ``sweep run`` of 100,000 runs.

``--quick`` shrinks every size (< 60 s; it gives up on the cold compile after 30 s); the
hidden ``--tiny`` (seconds, no cold compile) is for the test suite only. ``--rows KEY,...``
measures only those throughput rows (``sweep.bench.workloads.WORKLOADS``' keys), without the
thread scaling, compile and ``sweep run`` rows.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from sweep.bench.report import json_default, load_average, fmt_rate, machine_info, markdown
from sweep.bench.workloads import SCALING, WORKLOADS, XOR, Workload, scaled  # noqa: F401 (re-exported)

MODES = ("full", "quick", "tiny")
REPEATS = {"full": 5, "quick": 2, "tiny": 1}
SWEEP_RUNS = {"full": 100_000, "quick": 100_000, "tiny": 2_000}
SWEEP_EPOCHS = {"full": 2_000, "quick": 20, "tiny": 3}
COLD_TIMEOUT_S = {"full": 1800.0, "quick": 30.0}


# ----------------------------------------------------------------------------------------------
# measuring
# ----------------------------------------------------------------------------------------------
def best_of(fn, repeats: int) -> tuple[float, list[float], object]:
    """(best seconds, every time, last result) of ``repeats`` calls of ``fn()``."""
    times, out = [], None
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), times, out


def _problem(w: Workload):
    from kernels import Network
    from sweep.grid.tasks import make_task

    X, T = make_task(dict(w.task))
    sizes = (X.shape[1], *w.hidden, T.shape[1])
    net = Network(sizes, (w.activation,) * len(w.hidden) + ("sigmoid",))
    return net, X, T


def _theta0(net, n: int) -> np.ndarray:
    import kernels
    return kernels.init_params(net, "torch_default", np.arange(n, dtype=np.uint64))


def _figure(n: int, ep: int, best: float, times: list[float], network_epochs: int) -> dict:
    return {"n_runs": n, "epochs": ep, "network_epochs": network_epochs, "best_s": best,
            "times_s": times, "network_epochs_per_s": network_epochs / best if best > 0 else math.nan}


def time_kernel(net, X, T, schedule: str, dtype: str, lr: float, n: int, ep: int, repeats: int,
                batch_size: int = 1) -> dict:
    import kernels
    from kernels import TrainOptions

    opts = TrainOptions(loss="mse", optimizer="sgd", schedule=schedule, batch_size=batch_size, dtype=dtype)
    theta0 = _theta0(net, n)
    t = time.perf_counter()
    kernels.train(net, opts, X, T, theta0[:1], lr=lr, epochs=1)  # JIT compile or cache load, untimed
    first_call_s = time.perf_counter() - t
    best, times, res = best_of(lambda: kernels.train(net, opts, X, T, theta0, lr=lr, epochs=ep), repeats)
    fig = _figure(n, ep, best, times, int(res.epochs_run.sum()))
    fig["first_call_s"] = first_call_s
    return fig


def time_numpy(net, X, T, schedule: str, dtype: str, lr: float, n: int, ep: int, repeats: int,
               batch_size: int = 1) -> dict:
    from sweep.bench.refs import numpy_vectorised_train

    theta0 = _theta0(net, n)
    best, times, _ = best_of(lambda: numpy_vectorised_train(
        net.sizes, theta0, X, T, lr, ep, schedule, dtype, batch_size, net.activations), repeats)
    return _figure(n, ep, best, times, n * ep)


def time_jax(net, X, T, schedule: str, dtype: str, lr: float, n: int, ep: int, repeats: int,
             batch_size: int = 1) -> dict:
    from sweep.bench.refs import jax_train

    theta0 = _theta0(net, n)
    t = time.perf_counter()
    jax_train(net.sizes, theta0, X, T, lr, 1, schedule, dtype, batch_size, net.activations)  # compile
    compile_s = time.perf_counter() - t
    best, times, _ = best_of(lambda: jax_train(
        net.sizes, theta0, X, T, lr, ep, schedule, dtype, batch_size, net.activations), repeats)
    fig = _figure(n, ep, best, times, n * ep)
    fig["compile_s"] = compile_s
    return fig


_COMPILE_SCRIPT = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import numpy as np
    import kernels
    from kernels import Network, TrainOptions
    t1 = time.perf_counter()
    net = Network((2, 2, 1), ("sigmoid", "sigmoid"))
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    T = np.array([[0], [1], [1], [0]], dtype=np.float64)
    theta = kernels.init_params(net, "torch_default", np.arange(4, dtype=np.uint64))
    kernels.train(net, TrainOptions(), X, T, theta, lr=0.5, epochs=3)
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1}))
""")


def time_fresh_process(cache_dir: str | None, timeout: float = 1800.0) -> dict:
    """Import + first ``init_params``/``train`` call (XOR 2-2-1, float64) in a new Python process.

    ``cache_dir``: the Numba cache directory it uses (``NUMBA_CACHE_DIR`` and ``MLP_SWEEP_CACHE``);
    None keeps this environment's (the kernels' ``__pycache__``, warm after this process ran them).
    """
    import kernels

    env = dict(os.environ)
    root = str(Path(kernels.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
        env["MLP_SWEEP_CACHE"] = cache_dir
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"compile-time subprocess failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


_SWEEP_GRID = """\
name = "bench-sweep"
description = "sweep bench: end-to-end throughput"
[task]
name = "xor"
[model]
hidden = [2]
activation = "sigmoid"
output = "sigmoid"
[init]
scheme = "torch_default"
[train]
loss = "mse"
optimizer = "sgd"
schedule = "full"
lr = 0.5
epochs = {epochs}
[sweep]
seeds = {seeds}
[output]
dir = "out"
"""


def time_sweep(n_runs: int, epochs: int, threads: int | None) -> dict:
    """``sweep run`` of an XOR 2-2-1 grid into a temporary directory (RunStats figures)."""
    from sweep.run.backends.local import LocalBackend
    from sweep.grid.load import load_grid
    from sweep.run.runner import run_sweep

    with tempfile.TemporaryDirectory(prefix="mlp-sweep-bench-") as tmp:
        path = Path(tmp) / "grid.toml"
        path.write_text(_SWEEP_GRID.format(epochs=epochs, seeds=n_runs), encoding="utf-8")
        t = time.perf_counter()
        grid = load_grid(path)
        load_s = time.perf_counter() - t
        backend = LocalBackend(threads=threads)
        try:
            stats = run_sweep(grid, Path(tmp) / "out", backend=backend, progress=False)
        finally:
            backend.close()
    if stats.n_failed or stats.n_trained != n_runs:
        raise RuntimeError(f"bench sweep trained {stats.n_trained} of {n_runs} runs ({stats.n_failed} failed)")
    wall = stats.wall_s
    return {"n_runs": n_runs, "epochs": epochs, "threads": backend.threads, "load_s": load_s,
            "wall_s": wall, "kernel_s": stats.kernel_s, "write_s": stats.write_s, "plan_s": stats.plan_s,
            "warm_s": stats.warm_s,
            "network_epochs": stats.network_epochs, "runs_per_s": stats.n_trained / wall,
            "network_epochs_per_s": stats.network_epochs / wall,
            "outside_kernels_share": 1.0 - (stats.kernel_s + stats.warm_s) / wall}


# ----------------------------------------------------------------------------------------------
# machine
# ----------------------------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def select(rows) -> tuple[Workload, ...]:
    """The workloads named in ``rows`` (keys, in the table's order); every one when ``rows`` is empty."""
    if not rows:
        return WORKLOADS
    keys = {w.key for w in WORKLOADS}
    unknown = [r for r in rows if r not in keys]
    if unknown:
        raise ValueError(f"unknown bench rows {unknown}; the rows are {sorted(keys)}")
    return tuple(w for w in WORKLOADS if w.key in set(rows))


def run_bench(mode: str = "full", threads: int | None = None, use_jax: bool = True, rows=None) -> dict:
    """Measure every row (``rows``: only those throughput rows, nothing else); returns the report
    (``markdown(report)`` renders it)."""
    import numba

    import kernels
    from kernels import TrainOptions
    from sweep.bench.refs import jax_available

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    chosen = select(rows)
    max_threads = numba.config.NUMBA_NUM_THREADS
    if threads:
        numba.set_num_threads(max(1, min(int(threads), max_threads)))
    n_threads = numba.get_num_threads()
    repeats = REPEATS[mode]
    use_jax = use_jax and jax_available()
    load_start = load_average()
    workloads: dict[str, dict] = {}

    # warm-up: the first call of each dtype compiles the kernels or loads them from the cache
    t = time.perf_counter()
    for dtype in ("float64", "float32"):
        net, X, T = _problem(WORKLOADS[0])
        kernels.train(net, TrainOptions(dtype=dtype), X, T, _theta0(net, 1), lr=0.5, epochs=1)
    warmup_s = time.perf_counter() - t
    _log(f"{mode} run, {n_threads} thread(s), JAX {'on' if use_jax else 'off'}; "
         f"warm-up (JIT compile or cache load) {warmup_s:.1f} s")
    from sweep.bench.limit import limit, measure_machine
    machine = measure_machine()
    _log(f"{machine['isa_text']}, clock {machine['clock_hz'] / 1e9:.2f} GHz (measured), vectorised sigmoid "
         f"{machine['sigmoid_cycles']['float64']:.2f} / {machine['sigmoid_cycles']['float32']:.2f} cycles per lane "
         f"(float64 / float32), vector FP {machine['fp_rate']['float64']:.2f} operations per cycle")

    for w in chosen:
        net, X, T = _problem(w)
        args = (net, X, T, w.schedule, w.dtype, w.lr)
        row = {"kind": "throughput", "label": w.label, "sizes": list(net.sizes), "schedule": w.schedule,
               "dtype": w.dtype, "threads": n_threads, "activations": list(net.activations),
               "batch_size": w.batch_size, "n_patterns": int(X.shape[0])}
        row["kernel"] = time_kernel(*args, *scaled(w.kernel, mode), repeats, w.batch_size)
        row["numpy"] = time_numpy(*args, *scaled(w.numpy, mode, ref=True), repeats, w.batch_size)
        row["jax"] = (time_jax(*args, *scaled(w.jax, mode, ref=True), repeats, w.batch_size)
                      if use_jax else None)
        k = row["kernel"]["network_epochs_per_s"]
        row["ratio_numpy"] = k / row["numpy"]["network_epochs_per_s"]
        row["ratio_jax"] = k / row["jax"]["network_epochs_per_s"] if row["jax"] else None
        row["limit"] = limit(machine, net.sizes, X.shape[0], w.schedule, w.dtype, n_threads, w.batch_size,
                             net.activations)
        row["of_limit"] = k / row["limit"]
        workloads[w.key] = row
        _log(f"{w.label}: mlp-sweep {fmt_rate(k)}, NumPy {fmt_rate(row['numpy']['network_epochs_per_s'])}"
             + (f", JAX {fmt_rate(row['jax']['network_epochs_per_s'])}" if row["jax"] else "")
             + f" network-epochs/s (first kernel call {row['kernel']['first_call_s']:.1f} s)")

    if rows:
        return _report(mode, repeats, machine, warmup_s, load_start, workloads)
    hi = n_threads
    for key, label, hidden, size in SCALING:
        row = {"kind": "scaling", "label": label}
        if hi < 2:
            row["skipped"] = f"needs 2 or more threads (this run uses {hi}; see --threads)"
        else:
            net, X, T = _problem(Workload(key, label, XOR, hidden))
            n, ep = scaled(size, mode)
            rates = []
            try:
                for th in (1, hi):
                    numba.set_num_threads(th)
                    rates.append(time_kernel(net, X, T, "full", "float64", 0.5, n, ep, repeats)
                                 ["network_epochs_per_s"])
            finally:
                numba.set_num_threads(n_threads)
            row.update({"threads": [1, hi], "n_runs": n, "epochs": ep, "network_epochs_per_s": rates,
                        "speedup": rates[1] / rates[0]})
            _log(f"{label}: {row['speedup']:.2f}x from 1 to {hi} threads")
        workloads[key] = row

    cold_note = ("new process, empty NUMBA_CACHE_DIR and MLP_SWEEP_CACHE: first init_params + train"
                 " (XOR 2-2-1, float64)")
    with tempfile.TemporaryDirectory(prefix="mlp-sweep-numba-cache-") as cache:
        cold = None
        if mode == "tiny":
            skipped = "not with --tiny"
        else:
            limit = COLD_TIMEOUT_S[mode]
            try:
                cold = time_fresh_process(cache, timeout=limit)
                skipped = None
            except subprocess.TimeoutExpired:
                skipped = f"took over {limit:.0f} s, stopped (--quick); run without --quick"
        if cold is not None:
            workloads["jit_cold"] = {"kind": "seconds", "label": "JIT compile, cold", "seconds": cold["first_call_s"],
                                     **cold, "notes": f"{cold_note}; import {cold['import_s']:.2f} s more"}
            cached = time_fresh_process(cache)
            where = "the same cache directories, filled by the cold process"
        else:
            workloads["jit_cold"] = {"kind": "seconds", "label": "JIT compile, cold", "seconds": None,
                                     "skipped": skipped}
            cached = time_fresh_process(None)
            where = "this environment's caches, filled by this process"
    workloads["jit_cached"] = {
        "kind": "seconds", "label": "JIT compile, cached", "seconds": cached["first_call_s"], **cached,
        "notes": f"second new process, {where}: first call loads the cache; import {cached['import_s']:.2f} s more"}
    cold_s = workloads["jit_cold"].get("seconds")
    _log(f"JIT compile: cold {f'{cold_s:.2f} s' if cold_s else 'skipped'}, cached {cached['first_call_s']:.2f} s")

    sw = time_sweep(SWEEP_RUNS[mode], SWEEP_EPOCHS[mode], n_threads)
    workloads["sweep_run"] = {"kind": "sweep", "label": "End-to-end `sweep run` (XOR 2-2-1)", **sw}
    _log(f"sweep run: {sw['runs_per_s']:,.0f} runs/s, {100 * sw['outside_kernels_share']:.1f}% outside kernels")

    return _report(mode, repeats, machine, warmup_s, load_start, workloads)


def _report(mode, repeats, machine, warmup_s, load_start, workloads) -> dict:
    info = machine_info()
    info["limit_model"] = machine
    return {"mode": mode, "repeats": repeats, "machine": info, "warmup_s": warmup_s,
            "load_avg_1min": {"start": load_start, "end": load_average()}, "workloads": workloads}


def main(args) -> int:
    mode = "tiny" if getattr(args, "tiny", False) else ("quick" if getattr(args, "quick", False) else "full")
    rows = [r.strip() for r in (getattr(args, "rows", None) or "").split(",") if r.strip()]
    report = run_bench(mode, threads=getattr(args, "threads", None), use_jax=not getattr(args, "no_jax", False),
                       rows=rows)
    flags = "".join(f" {f}" for f, on in (("--quick", mode == "quick"), ("--tiny", mode == "tiny")) if on)
    if getattr(args, "threads", None):
        flags += f" --threads {args.threads}"
    if rows:
        flags += f" --rows {','.join(rows)}"
    report["flags"] = flags
    print(markdown(report))
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps(report, indent=2, default=json_default) + "\n", encoding="utf-8")
    return 0

