"""``sweep run GRID.toml [--out DIR] [--threads N] [--dry-run] [--set KEY=VALUE ...]``."""
from __future__ import annotations

import shlex
import sys
import time


from sweep.backends import make_backend
from sweep.grid import load_grid
from sweep.runner import make_plans, run_sweep
from sweep.summary import format_summary, group_summary


def register(sub) -> None:
    p = sub.add_parser("run", help="train every run of a grid into a Parquet dataset (resumable)",
                       description="Train every run of GRID and write one Parquet row per run. "
                                   "Re-running the same command resumes: only missing runs are trained.")
    p.add_argument("grid", help="the grid file (TOML)")
    p.add_argument("--out", help="output directory (default: [output] dir, or results/<name>)")
    p.add_argument("--threads", type=int, help="threads for the local backend (default: all cores)")
    p.add_argument("--dry-run", action="store_true", help="print the runs per group and a time estimate; train nothing")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any grid key, e.g. --set train.epochs=500 --set sweep.seeds=100")
    p.add_argument("--chunk-size", type=int, help="runs per kernel call (default: [output] chunk_size or 4096)")
    p.add_argument("--scheduler", help="run on an existing Dask cluster at tcp://HOST:PORT")
    p.add_argument("--dask-local", type=int, metavar="N", help="start a local Dask cluster of N workers")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    grid = load_grid(args.grid, args.overrides)
    out_dir = args.out or grid.output["dir"]
    if args.dry_run:
        return dry_run(grid)
    backend = make_backend(grid.execution, threads=args.threads, scheduler=args.scheduler,
                           dask_local=args.dask_local)
    cmd = "python -m sweep run " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["run"] else ""
    if grid.stopping is not None:
        return run_sequential_cmd(grid, out_dir, backend, args, cmd)
    try:
        stats = run_sweep(grid, out_dir, backend=backend, chunk_size=args.chunk_size,
                          progress=not args.no_progress, resume_hint=cmd or f"python -m sweep run {args.grid} --out {out_dir}")
    finally:
        backend.close()
    if stats.interrupted:
        return 130
    done = stats.n_done_before + stats.n_trained
    print(f"{grid.name}: {done} of {grid.n_runs} runs in {out_dir} "
          f"({stats.n_trained} trained now, {stats.n_done_before} already there, {stats.n_failed} failed)")
    if stats.n_trained:
        outside = 1 - (stats.kernel_s + stats.warm_s) / stats.wall_s if stats.wall_s else 0.0
        print(f"{stats.wall_s:.2f} s wall, {stats.n_trained / stats.wall_s:,.0f} runs/s, "
              f"{stats.network_epochs / stats.wall_s / 1e6:.1f} M network-epochs/s; "
              f"kernels {stats.kernel_s:.2f} s, kernel load/compile {stats.warm_s:.2f} s "
              f"(+{stats.compile_ahead_s:.2f} s in the background), "
              f"{100 * outside:.1f}% of wall time outside both")
    print(format_summary(group_summary(out_dir, grid), grid.main_criterion or "main"))
    return 1 if stats.n_failed else 0


def dry_run(grid) -> int:
    """Runs per group, the expected compile time (cold or cached), and a time estimate from
    training a few runs of each group (which compiles its kernels: the measured compile time is
    printed beside the expected one)."""
    from sweep.compile_ahead import expected_compile
    from sweep.execute import Chunk, execute_chunk
    from sweep.warmup import warm_group
    print(grid.describe())
    if grid.stopping is not None:
        rule = grid.stopping
        print(f"  {rule.describe()}: the runs above are the most it may train; at least "
              f"{rule.min} per cell; the estimate below is for that maximum")
    plans = make_plans(grid)
    expect = expected_compile(plans)
    n_spec = sum(v["kind"] == "specialised" for v in expect["groups"].values())
    print(f"kernels: {n_spec} specialised ({expect['cold']} to compile cold), {len(plans) - n_spec} generic; "
          f"expected compile/load {expect['total_s']:.1f} s in all, {expect['first_s']:.1f} s before the first "
          f"part" + (" (the other groups compile while the first one trains)" if expect["cold"] > 1 else ""))
    total_s = 0.0
    for plan, group in zip(plans, grid.groups()):
        info = expect["groups"][plan.index]
        compile_s = warm_group(plan)
        a, b = group.ranges[0]
        n = min(b - a, 64)
        t = time.perf_counter()
        res = execute_chunk(grid, plan, Chunk(plan.index, a, a + n))
        per_run = (time.perf_counter() - t) / n
        total_s += per_run * group.n_runs
        state = "generic kernel" if info["kind"] == "generic" else \
            f"specialised kernel, {'cached' if info['cached'] else 'cold'}"
        print(f"  {group.label or 'all runs'}: {group.n_runs} runs, ~{per_run * 1e3:.3f} ms/run "
              f"({res.network_epochs / max(res.kernel_s, 1e-9) / 1e6:.1f} M network-epochs/s in calibration); "
              f"{state}: compile/load expected {info['expected_s']:.1f} s, took {compile_s:.1f} s")
    print(f"estimated time: {total_s:.1f} s ({total_s / 60:.1f} min) for {grid.n_runs} runs, "
          f"plus {expect['first_s']:.1f} s of compile before the first part")
    return 0


def run_sequential_cmd(grid, out_dir, backend, args, cmd: str) -> int:
    """``sweep run`` on a grid with sequential seeds (sweep.sequential): rounds until resolved."""
    from sweep.sequential import format_cells, run_sequential
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
