"""``sweep run`` arguments checked before any work, and the size guard for huge sweeps.

Argument types for argparse (a bad value exits 2 with ``argument --flag: ...``), checks that
need the grid (threads against this machine's cores, the scheduler address), and the guard:
a sweep of more than ``LIMIT_RUNS`` runs, ``LIMIT_NETWORK_EPOCHS`` network-epochs (runs x
epochs, an upper bound: early stop and divergence end runs sooner) or runs longer than
``LIMIT_EPOCHS`` epochs starts only with ``--yes``; ``--dry-run`` prints the same figures
with a time estimate.
"""
from __future__ import annotations

import argparse
import os

from sweep.errors import SweepError
from sweep.grid.checks import scheduler_problem

LIMIT_RUNS = 10**8
LIMIT_NETWORK_EPOCHS = 10**12
LIMIT_EPOCHS = 10**7
MAX_THREADS = 4096


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be an integer >= 1")
    return value


def thread_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"{value} must be 0 (all cores) .. {MAX_THREADS}")
    return value


def check_run_args(args, grid) -> None:
    """Checks that need the grid or the machine; raises SweepError (exit 2)."""
    if args.out is not None and not args.out.strip():
        raise SweepError("--out '' is empty; give a directory, or leave --out out to use [output] dir "
                         f"({grid.output['dir']})")
    if args.scheduler is not None:
        problem = scheduler_problem(args.scheduler)
        if problem:
            raise SweepError(f"--scheduler {problem}")
    if args.scheduler and args.dask_local:
        raise SweepError("--scheduler and --dask-local exclude each other: use an existing cluster or start one")
    dask = bool(args.scheduler or args.dask_local or grid.execution.get("scheduler")
                or grid.execution.get("dask_local") or grid.execution.get("backend") == "dask")
    cores = os.cpu_count() or 1
    if args.threads and not dask and args.threads > cores:
        raise SweepError(f"--threads {args.threads}: this machine has {cores} core(s); use 0 (all) .. {cores}")


def network_epochs(grid) -> int:
    """Sum over runs of ``train.epochs`` (exact, from the axes: no per-run work)."""
    total = 0
    for sub in grid.subgrids:
        axis = next((a for a in sub.axes if "train.epochs" in a.keys), None)
        if axis is None:
            total += sub.n_runs * int(grid.fixed["train.epochs"])
        else:
            j = axis.keys.index("train.epochs")
            total += (sub.n_runs // axis.size) * sum(int(v[j]) for v in axis.values)
    return total


def max_epochs(grid) -> int:
    best = 0
    for sub in grid.subgrids:
        axis = next((a for a in sub.axes if "train.epochs" in a.keys), None)
        best = max(best, int(grid.fixed["train.epochs"]) if axis is None
                   else max(int(v[axis.keys.index("train.epochs")]) for v in axis.values))
    return best


def size_problems(grid) -> list[str]:
    """What makes this sweep large enough to need --yes (empty: nothing)."""
    out = []
    if grid.n_runs > LIMIT_RUNS:
        out.append(f"{grid.n_runs:,} runs (more than {LIMIT_RUNS:,})")
    ne = network_epochs(grid)
    if ne > LIMIT_NETWORK_EPOCHS:
        out.append(f"{ne:,} network-epochs (more than {LIMIT_NETWORK_EPOCHS:,})")
    me = max_epochs(grid)
    if me > LIMIT_EPOCHS:
        out.append(f"runs of up to {me:,} epochs (more than {LIMIT_EPOCHS:,})")
    return out


def check_size(grid, yes: bool, grid_arg: str) -> None:
    problems = size_problems(grid)
    if problems and not yes:
        raise SweepError(f"{grid_arg}: this sweep is very large: {'; '.join(problems)}. See the estimate with "
                         f"--dry-run, then run it with --yes if that is what you want")
