"""Whole-grid checks run after parsing: sizes, names, paired bounds, addresses.

- ``name`` must not start with ``.`` (``".."`` would put the output beside the grid's parent,
  and pyarrow skips hidden folders).
- A grid holds at most ``MAX_RUNS`` runs (the product of its axes and seeds, summed over
  sub-grids); beyond that the runner's chunk list alone would take gigabytes. Larger studies
  are several grids (or ``seeds = {start, count}`` slices of one).
- ``init.low <= init.high`` wherever the uniform schemes use them, and ``train.step_min <=
  train.step_max`` wherever rprop does, for every pair the grid forms (separate axes pair every value with every value; a zip pairs them by position).
- ``output.chunk_size`` (and ``--chunk-size``) is 1 .. ``MAX_CHUNK_SIZE`` runs.
- ``execution.scheduler``, when set, is a Dask address (``tcp://HOST:PORT`` ...).
- ``criteria.main = "test_<milestone>"`` only where the runs have a held-out set.
"""
from __future__ import annotations

import math
import re

from sweep.grid.groups import applies

MAX_RUNS = 10**9
#: Most runs one kernel call (one chunk, one part file) may hold: its arrays and its Arrow table
#: are held whole in memory (a few kB a run), and 2^20 runs already pay per-call costs 256x less
#: often than the default 4096.
MAX_CHUNK_SIZE = 2**20
SCHEDULER_RE = re.compile(r"(tcp|tls|ucx|inproc|ws|wss)://[^\s/]+\Z|[A-Za-z0-9_.-]+:\d+\Z")


def scheduler_problem(address: str) -> str | None:
    """Why ``address`` is not a Dask scheduler address, or None."""
    if SCHEDULER_RE.match(address):
        return None
    return f"{address!r} is not a Dask scheduler address; expected tcp://HOST:PORT (or tls://, ucx://, HOST:PORT)"


def check_grid(ctx, name: str, fixed: dict, subgrids, groups, execution: dict) -> None:
    if name.startswith("."):
        raise ctx.error(f"name = {name!r} must not start with '.' (a hidden or parent folder); "
                        "use letters, digits, '_', '.', '-'", "", "name")
    n_runs = sum(s.n_runs for s in subgrids)
    if n_runs > MAX_RUNS:
        sizes = " + ".join(" x ".join([*(str(a.size) for a in s.axes), f"{s.seeds.n:,} seeds"]) for s in subgrids)
        raise ctx.error(f"the grid has {n_runs:,} runs ({sizes}), more than the {MAX_RUNS:,} one sweep "
                        f"supports; split it into several grids, e.g. seeds = {{start = 0, count = ...}} slices",
                        "sweep", "seeds")
    _check_bounds(ctx, fixed, subgrids, groups)
    _check_test_main(ctx, fixed, subgrids, groups)
    if execution.get("scheduler"):
        problem = scheduler_problem(execution["scheduler"])
        if problem:
            raise ctx.error(f"execution.scheduler = {problem}", "execution", "scheduler")


#: (lower key, upper key, why lower <= upper is required)
BOUNDS = (("init.low", "init.high", "the uniform schemes draw from [low, high)"),
          ("train.step_min", "train.step_max", "rprop keeps every step size within [step_min, step_max]"))


def _check_bounds(ctx, fixed: dict, subgrids, groups) -> None:
    for lo_key, hi_key, why in BOUNDS:
        for g in groups:
            if not applies(lo_key, g.config):
                continue
            for si in g.subgrids:
                for low, high in _pairs(fixed, subgrids[si], lo_key, hi_key):
                    if low > high:
                        raise ctx.error_at(f"{lo_key} = {low:g} is above {hi_key} = {high:g}; {why}, "
                                           f"so {lo_key.split('.')[1]} <= {hi_key.split('.')[1]} is required",
                                           lo_key)


def has_held_out(config: dict) -> bool:
    """Whether a (normalised) group config's runs have a held-out set."""
    return bool(config.get("task.n_test") or config.get("task.test_path") or config.get("task.test_fraction"))


def _check_test_main(ctx, fixed: dict, subgrids, groups) -> None:
    for g in groups:
        if has_held_out(g.config):
            continue
        for si in g.subgrids:
            axis = next((x for x in subgrids[si].axes if "criteria.main" in x.keys), None)
            mains = [v[axis.keys.index("criteria.main")] for v in axis.values] if axis else [fixed["criteria.main"]]
            bad = next((m for m in mains if m.startswith("test_")), None)
            if bad:
                where = f" (in the group {g.label})" if len(groups) > 1 else ""
                raise ctx.error_at(f"criteria.main = {bad!r} is a milestone on the held-out set, but the runs "
                                   f"have none{where}; set task.n_test (generated tasks), task.test_path or "
                                   f"task.test_fraction (csv), or choose a training-set milestone", "criteria.main")


def _pairs(fixed: dict, sub, a: str, b: str):
    """Every (value of a, value of b) pair that runs of ``sub`` take."""
    axis_a = next((x for x in sub.axes if a in x.keys), None)
    axis_b = next((x for x in sub.axes if b in x.keys), None)
    if axis_a is not None and axis_a is axis_b:
        i, j = axis_a.keys.index(a), axis_a.keys.index(b)
        return [(v[i], v[j]) for v in axis_a.values]
    va = [v[axis_a.keys.index(a)] for v in axis_a.values] if axis_a else [fixed[a]]
    vb = [v[axis_b.keys.index(b)] for v in axis_b.values] if axis_b else [fixed[b]]
    return [(max(va), min(vb))] if not (math.isnan(max(va)) or math.isnan(min(vb))) else []
