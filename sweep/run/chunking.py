"""Runs per kernel call, per group.

An explicit size (``--chunk-size``, ``[output] chunk_size`` or ``--set output.chunk_size``) is
used as given. Otherwise a group gets 4096 runs per call, scaled up to 16x (65,536) when its
runs are so short that the per-call overhead, not training, would set the pace:

    cost per run = max epochs x patterns (full batch: one pass over the data per epoch)
    factor       = largest power of two <= 4096 / max(1, cost), clamped to 1..16

So zero-epoch or few-epoch runs go in calls of 65,536 (and parts of that size), while runs
of a few hundred pattern-epochs or more keep 4096 (a kill loses at most one call's work).
"""
from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # python < 3.11
    import tomli as tomllib

DEFAULT_CHUNK = 4096
MAX_FACTOR = 16


def chunk_size_given(grid) -> bool:
    """Whether the grid file or a ``--set`` names ``output.chunk_size``."""
    if any(o.split("=", 1)[0].strip() == "output.chunk_size" for o in grid.overrides):
        return True
    try:
        out = tomllib.loads(grid.text).get("output", {})
    except (tomllib.TOMLDecodeError, AttributeError, TypeError):
        return True
    return isinstance(out, dict) and "chunk_size" in out


def auto_factor(max_epochs: int, n_patterns: int) -> int:
    cost = max(1, int(max_epochs) * max(1, int(n_patterns)))
    factor = 1
    while factor < MAX_FACTOR and factor * 2 * cost <= DEFAULT_CHUNK:
        factor *= 2
    return factor


def chunk_sizes(grid, plans, chunk_size: int | None = None) -> list[int]:
    """Runs per kernel call for each group of ``grid`` (``plans``: its ``GroupPlan`` list)."""
    if chunk_size:
        return [int(chunk_size)] * len(plans)
    if chunk_size_given(grid):
        return [int(grid.output.get("chunk_size") or DEFAULT_CHUNK)] * len(plans)
    sizes = []
    for plan, group in zip(plans, grid.groups()):
        n_test = 0 if plan.X_test is None else plan.X_test.shape[0]     # evaluated every epoch too
        sizes.append(DEFAULT_CHUNK * auto_factor(_max_epochs(grid, group), plan.X.shape[0] + n_test))
    return sizes


def _max_epochs(grid, group) -> int:
    """The largest ``train.epochs`` a group's runs can have (from the axes, no per-run work)."""
    best = 0
    for si in group.subgrids:
        axis = next((a for a in grid.subgrids[si].axes if "train.epochs" in a.keys), None)
        if axis is None:
            best = max(best, int(grid.fixed["train.epochs"]))
        else:
            j = axis.keys.index("train.epochs")
            best = max(best, max(int(v[j]) for v in axis.values))
    return best
