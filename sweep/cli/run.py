"""``sweep run GRID.toml [KEY=VALUE ...] [--out DIR] [--threads N] [--dry-run] [--set KEY=VALUE ...]``.

``KEY=VALUE`` words after the grid (Hydra style) are overrides like ``--set`` (``sweep.grid.overrides``).
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import numpy as np

from sweep.__main__ import raise_if_interrupted
from sweep.run.backends import make_backend
from sweep.grid.load import load_grid
from sweep.grid.overrides import normalise
from sweep.run.checks import (LIMIT_EPOCHS, LIMIT_NETWORK_EPOCHS, LIMIT_RUNS, check_run_args, check_size, chunk_size,
                               network_epochs, positive_int, size_problems, thread_count)
from sweep.run.runner import make_plans, run_sweep
from sweep.run.summary import format_summary, grid_run_ids, group_summary


CALIBRATION_EPOCHS = 2000


def register(sub) -> None:
    p = sub.add_parser("run", help="train every run of a grid into a Parquet dataset (resumable)",
                       description="Train every run of GRID and write one Parquet row per run. "
                                   "Re-running the same command resumes: only missing runs are trained.")
    p.add_argument("grid", help="the grid file (TOML)")
    p.add_argument("--out", help="output directory (default: [output] dir, or runs/<name>)")
    p.add_argument("--threads", type=thread_count, help="threads for the local backend (default: all cores)")
    p.add_argument("--dry-run", action="store_true", help="print the runs per group and a time estimate; train nothing")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any grid key, e.g. --set train.epochs=500 --set sweep.train.lr=0.1,1 "
                        "(or, Hydra style, KEY=VALUE after the grid)")
    p.add_argument("--chunk-size", type=chunk_size,
                   help="runs per kernel call, 1 .. 1,048,576 (default: [output] chunk_size, else 4096, up to 65536 "
                        "for very short runs)")
    p.add_argument("--scheduler", help="run on an existing Dask cluster at tcp://HOST:PORT")
    p.add_argument("--dask-local", type=positive_int, metavar="N", help="start a local Dask cluster of N workers")
    p.add_argument("--yes", action="store_true",
                   help=f"start a sweep even when it is very large (> {LIMIT_RUNS:,} runs, > {LIMIT_NETWORK_EPOCHS:.0e} "
                        f"network-epochs or > {LIMIT_EPOCHS:,} epochs per run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run, accepts_overrides=True)


def run(args) -> int:
    words = len(getattr(args, "override_words", ()))     # the Hydra-style words come last
    n_set = len(args.overrides) - words
    grid = load_grid(args.grid, [normalise(o, "--set" if i < n_set else None) for i, o in enumerate(args.overrides)])
    check_run_args(args, grid)
    out_dir = args.out or grid.output["dir"]
    if args.dry_run:
        return dry_run(grid)
    check_size(grid, args.yes, args.grid)
    cmd = "python -m sweep run " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["run"] else ""
    hint = cmd or f"python -m sweep run {shlex.quote(args.grid)} --out {shlex.quote(out_dir)}"
    backend = None
    try:
        backend = make_backend(grid.execution, threads=args.threads, scheduler=args.scheduler,
                               dask_local=args.dask_local)
        if not args.no_progress and hasattr(backend, "compile_stream"):
            backend.compile_stream = sys.stderr   # "compiling the ... kernel for 2-2-1 ...... 7.9 s"
        raise_if_interrupted()   # one a fallback swallowed in the grid's checks or the backend's imports
        if grid.stopping is not None:
            return run_sequential_cmd(grid, out_dir, backend, args, cmd)
        try:
            stats = run_sweep(grid, out_dir, backend=backend, chunk_size=args.chunk_size,
                              progress=not args.no_progress, resume_hint=hint)
        finally:
            backend.close()
    except KeyboardInterrupt:  # before or after the training loop (planning, start-up, shut-down)
        saved = any(Path(out_dir).glob("part-*.parquet")) if Path(out_dir).is_dir() else False
        print("\ninterrupted" + (f"; runs are saved in {out_dir}, resume with: {hint}" if saved else ""),
              file=sys.stderr)
        return 130
    if stats.interrupted:
        return 130
    done = stats.n_done_before + stats.n_trained
    print(f"{grid.name}: {done} of {grid.n_distinct} runs in {out_dir} "
          f"({stats.n_trained} trained now, {stats.n_done_before} already there, {stats.n_failed} failed)")
    if stats.n_trained:
        outside = 1 - (stats.kernel_s + stats.warm_s) / stats.wall_s if stats.wall_s else 0.0
        print(f"{stats.wall_s:.2f} s wall, {stats.n_trained / stats.wall_s:,.0f} runs/s, "
              f"{stats.network_epochs / stats.wall_s / 1e6:.1f} M network-epochs/s; "
              f"kernels {stats.kernel_s:.2f} s, kernel load/compile {stats.warm_s:.2f} s "
              f"(+{stats.compile_ahead_s:.2f} s in the background), "
              f"{100 * outside:.1f}% of wall time outside both; planning {stats.plan_s:.2f} s")
    if stats.subset:
        print(f"(these are a subset of the runs in {out_dir}; its other runs are left as they are)")
    ids = grid_run_ids(grid) if stats.subset else None
    print(format_summary(group_summary(out_dir, grid, ids), grid.main_criterion or "main"))
    return 1 if stats.n_failed else 0


class _CappedEpochs:
    """The grid with ``train.epochs`` capped, for a calibration that ends (epochs may be 10**9)."""

    def __init__(self, grid, cap: int):
        self.grid, self.cap = grid, cap

    def __getattr__(self, name):  # everything else is the grid's
        return getattr(self.grid, name)

    def columns(self, start: int, stop: int) -> dict:
        cols = dict(self.grid.columns(start, stop))
        cols["train.epochs"] = np.minimum(cols["train.epochs"], self.cap)
        return cols


def dry_run(grid) -> int:
    """Runs per group, network-epochs, the expected compile time (cold or cached), and a time
    estimate from training two small chunks of each group (at most ``CALIBRATION_EPOCHS`` epochs
    each, scaled up to the runs' epochs; costs per run, per chunk and per part: ``sweep.run.estimate``;
    the measured compile time is printed beside the expected one)."""
    from sweep.run.chunking import chunk_sizes
    from sweep.run.compile_ahead import expected_compile
    from sweep.run.estimate import calibrate
    from sweep.run.warmup import warm_group
    print(grid.describe())
    if grid.stopping is not None:
        rule = grid.stopping
        print(f"  {rule.describe()}: the runs above are the most it may train; at least "
              f"{rule.min} per cell; the estimate below is for that maximum")
    plans = make_plans(grid)
    expect = expected_compile(plans)
    n_kernels = len({v["name"] for v in expect["groups"].values()})
    print(f"kernels: {n_kernels} ({expect['cold']} to compile cold); "
          f"expected compile/load {expect['total_s']:.1f} s in all, {expect['first_s']:.1f} s before the first "
          f"part" + (" (the others compile while the first group trains)" if expect["ahead"] else ""))
    if expect["init_s"]:
        print(f"  the initial weights' kernel compiles first (its first use since install, or an empty "
              f"NUMBA_CACHE_DIR): expected {expect['init_s']:.1f} s")
    total_s = 0.0
    capped = _CappedEpochs(grid, CALIBRATION_EPOCHS)
    sizes = chunk_sizes(grid, plans)
    for plan, group, size in zip(plans, grid.groups(), sizes):
        info = expect["groups"][plan.index]
        compile_s = warm_group(plan)
        a, b = group.ranges[0]
        cost, res = calibrate(capped, grid, plan, a, b)  # per run, per chunk, per part (sweep.run.estimate)
        group_s = cost.seconds(group.n_runs, size)
        per_run = group_s / max(1, group.n_runs)
        total_s += group_s
        state = "specialised kernel, " + ("shared with a group above" if info.get("shared") else
                                          "cached" if info["cached"] else "cold")
        print(f"  {group.label or 'all runs'}: {group.n_runs:,} runs, ~{per_run * 1e3:.3f} ms/run "
              f"({res.network_epochs / max(res.kernel_s, 1e-9) / 1e6:.1f} M network-epochs/s in calibration); "
              f"{state}: compile/load expected {info['expected_s']:.1f} s, took {compile_s:.1f} s")
    print(f"{grid.n_runs:,} runs, {network_epochs(grid):,} network-epochs at most (early stop and divergence "
          f"end runs sooner); estimated time: {_duration(total_s)} on this machine, plus "
          f"{expect['first_s']:.1f} s of compile before the first part")
    problems = size_problems(grid)
    if problems:
        print(f"large sweep: {'; '.join(problems)}: 'sweep run' needs --yes to start it")
    return 0


def run_sequential_cmd(grid, out_dir, backend, args, cmd: str) -> int:
    """``sweep run`` on a grid with sequential seeds (sweep.run.sequential): rounds until resolved."""
    from sweep.run.sequential import format_cells, run_sequential
    try:
        stats = run_sequential(grid, out_dir, backend=backend, chunk_size=args.chunk_size,
                               progress=not args.no_progress,
                               resume_hint=cmd or f"python -m sweep run {args.grid} --out {out_dir}")
    finally:
        backend.close()
    print(f"{grid.name}: {stats.n_trained} runs trained now in {stats.rounds} round(s), "
          f"{stats.wall_s:.1f} s wall, {stats.n_failed} failed; output in {out_dir}")
    print(format_cells(stats, grid.stopping))
    if stats.interrupted:
        return 130
    return 1 if stats.n_failed else 0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
