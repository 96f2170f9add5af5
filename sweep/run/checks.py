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
from pathlib import Path

from results.layout import SIDECAR_SUFFIX
from sweep.errors import SweepError
from sweep.grid.checks import MAX_CHUNK_SIZE, scheduler_problem

LIMIT_RUNS = 10**8
LIMIT_NETWORK_EPOCHS = 10**12
LIMIT_EPOCHS = 10**7
#: Weights per run above which a sweep needs --yes: no longer a tiny MLP, and minutes per run.
LIMIT_PARAMS = 10**5
#: Per-weight arrays a run holds at once (weights, gradient, two optimizer slots, initial and
#: final copies): what one run needs is at least this x weights x bytes per value.
ARRAYS_PER_WEIGHT = 6
LANES = 16   # runs per block: the least one kernel call holds
MAX_THREADS = 4096


def _integer(text: str, lowest: int, what: str, below: str) -> int:
    """``text`` as an int of at least ``lowest``, else argparse's error (``what`` names the kind,
    ``below`` says why a smaller value is refused)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an {what}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{value} {below}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1, "integer", "must be an integer >= 1")


def epoch_number(text: str) -> int:
    """An epoch for ``--at`` (0 = before any training)."""
    return _integer(text, 0, "integer epoch", "is not an epoch: epochs are counted from 0")


def chunk_size(text: str) -> int:
    value = positive_int(text)
    if value > MAX_CHUNK_SIZE:
        raise argparse.ArgumentTypeError(f"{value:,} is above {MAX_CHUNK_SIZE:,}, the most runs one kernel call "
                                         f"may hold in memory")
    return value


def thread_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"{value} must be 0 (all cores) .. {MAX_THREADS}")
    return value


def _name_max(path: Path) -> int:
    """The longest file name (bytes) the file system holding ``path`` (or its nearest existing folder) allows."""
    for folder in [path, *path.absolute().parents]:
        try:
            return os.pathconf(folder, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def out_problem(out: str) -> str | None:
    """Why the output folder ``out`` cannot be made: a name longer than the file system allows,
    either a component itself or the last one with ``.sweep`` added (the sidecar beside it)."""
    path = Path(out)
    limit = _name_max(path)
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            return f"the folder name {part[:40]!r}... is {len(os.fsencode(part))} bytes; this file system allows {limit}"
    last = len(os.fsencode(path.absolute().name))
    if last + len(SIDECAR_SUFFIX) > limit:
        return (f"the folder name {path.absolute().name[:40]!r}... is {last} bytes; with {SIDECAR_SUFFIX!r} added "
                f"(the sidecar folder beside it) it exceeds the {limit} this file system allows")
    return None


def check_run_args(args, grid) -> None:
    """Checks that need the grid or the machine; raises SweepError (exit 2)."""
    if args.out is not None and not args.out.strip():
        raise SweepError("--out '' is empty; give a directory, or leave --out out to use [output] dir "
                         f"({grid.output['dir']})")
    problem = memory_problem(grid)
    if problem:
        raise SweepError(f"{args.grid}: {problem}")
    problem = out_problem(args.out if args.out is not None else grid.output["dir"])
    if problem:
        where = "--out" if args.out is not None else "[output] dir (default runs/<name>)"
        raise SweepError(f"{where}: {problem}; choose a shorter name")
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


def largest_net(grid) -> tuple[int, str]:
    """``(weights, group label)`` of the group whose runs have the most weights (biases included)."""
    from sweep.grid.validate import task_shape
    best, label, cache = 0, "", {}
    for g in grid.groups():
        c = g.config
        n_in, n_out = task_shape(c, grid.base_dir, cache)
        widths = [n_in, *[int(h) for h in c["model.hidden"]], n_out]
        n = sum(a * b for a, b in zip(widths, widths[1:]))
        n += sum(widths[1:]) if c.get("model.bias", True) else 0
        n += n_in * n_out if c.get("model.shortcut") else 0
        if n > best:
            best, label = n, f"model.hidden={list(c['model.hidden'])}"
    return best, label


def _bytes_per_run(grid, weights: int) -> int:
    itemsize = 4 if grid.fixed.get("train.dtype") == "float32" else 8
    return weights * itemsize * ARRAYS_PER_WEIGHT


def memory_problem(grid) -> str | None:
    """Why even one block of runs cannot fit in this machine's memory (None: it can)."""
    weights, label = largest_net(grid)
    need = _bytes_per_run(grid, weights) * LANES
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
    if need <= have:
        return None
    return (f"{label}: {weights:,} weights a run need at least {need / 2**30:,.1f} GiB for one block of "
            f"{LANES} runs ({ARRAYS_PER_WEIGHT} arrays of every weight), more than this machine's "
            f"{have / 2**30:,.1f} GiB; use smaller model.hidden widths")


def size_problems(grid) -> list[str]:
    """What makes this sweep large enough to need --yes (empty: nothing)."""
    out = []
    weights, label = largest_net(grid)
    if weights > LIMIT_PARAMS:
        out.append(f"nets of {weights:,} weights ({label}; more than {LIMIT_PARAMS:,}, "
                   f"{_bytes_per_run(grid, weights) / 2**20:,.0f} MiB a run)")
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
