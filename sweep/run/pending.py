"""What a session of ``run_sweep`` trains: each group's plan and the chunks of runs still missing.

``plan_sweep(grid, out, scan, chunk_size, index_ranges) -> SweepPlan`` plans from what the
repair scan (``sweep.run.repair``) found: from the part names (``sweep.run.done``), from run ids
for parts of another run layout, or over index ranges for a round of sequential seeds
(``sweep.run.seq_plan``). A grid whose runs are all in a directory that holds others too (fewer
seeds, a value fewer) gives ``SweepPlan.all_there``; a directory that holds runs the grid lacks
while the grid has runs it lacks was written by another grid and is refused (``OutputError``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweep.errors import OutputError
from sweep.grid.identity import done_ids
from sweep.run.chunking import chunk_sizes
from sweep.run.done import iter_chunks as iter_sized_chunks
from sweep.run.done import plan_by_index
from sweep.run.execute import Chunk, GroupPlan, plan_group


@dataclass(frozen=True)
class SweepPlan:
    """``plans``: one ``GroupPlan`` per group of the grid; ``chunks``: the pending ``Chunk``s;
    ``n_done_before``: the grid's runs already on disk; ``all_there``: the grid's runs are a
    subset of the directory's, all done, so nothing is trained nor written."""

    plans: list
    chunks: list
    n_done_before: int
    all_there: bool = False

    @property
    def n_pending(self) -> int:
        return sum(c.n_runs for c in self.chunks)


def plan_sweep(grid, out, scan, chunk_size=None, index_ranges=None) -> SweepPlan:
    """The plan of this session (module docstring); ``scan``: ``scan_and_repair(out, grid)``."""
    plans = make_plans(grid)
    sizes = chunk_sizes(grid, plans, chunk_size)
    if index_ranges is not None:
        from sweep.run.seq_plan import plan_ranges
        done = done_ids(out)
        chunks = plan_ranges(grid, chunk_size or grid.output["chunk_size"], done, index_ranges)
        return SweepPlan(plans, chunks, int(done.size))
    if scan.done is not None and not out.legacy:
        return SweepPlan(plans, plan_by_index(grid, sizes, scan.done), scan.done.n_done)
    # parts of another layout or identity: plan by (current-identity) run ids
    done = done_ids(out) if out.legacy else out.done_run_ids(scan.parts)
    chunks, matched = plan_pending(grid, sizes, done)
    if matched < done.size and not chunks:  # a subset of the directory's runs, all there
        return SweepPlan(plans, chunks, matched, all_there=True)
    if matched < done.size:
        raise OutputError(
            f"{out.path} holds {done.size - matched} runs that grid {grid.name!r} does not contain, "
            f"and the grid has {sum(c.n_runs for c in chunks)} runs it does not hold: it was written "
            f"by a different grid (hash {str(scan.manifest.get('grid_hash', '?'))[:12]}). Use another --out "
            f"directory (a grid whose runs are all there, such as fewer seeds, trains nothing and is accepted).")
    return SweepPlan(plans, chunks, int(done.size))


def base_dir(grid) -> Path:
    return Path(grid.path).resolve().parent if getattr(grid, "path", None) else Path.cwd()


def group_max_epochs(grid, group) -> int:
    """Largest ``train.epochs`` in a group (fixes its curve epochs for every chunk)."""
    best = 0
    for a, b in group.ranges:
        for s in range(a, b, 1 << 20):
            best = max(best, int(grid.columns(s, min(b, s + (1 << 20)))["train.epochs"].max()))
    return best


def make_plans(grid) -> list[GroupPlan]:
    plans = []
    for i, g in enumerate(grid.groups()):
        max_ep = group_max_epochs(grid, g) if g.config.get("record.curve_points") else 0
        plans.append(plan_group(i, g, base_dir(grid), max_ep))
    return plans


def iter_chunks(grid, chunk_size: int):
    for gi, g in enumerate(grid.groups()):
        for a, b in g.ranges:
            for s in range(a, b, chunk_size):
                yield Chunk(gi, s, min(b, s + chunk_size))


def plan_pending(grid, chunk_size, done: np.ndarray) -> tuple[list[Chunk], int]:
    """Chunks restricted to runs not yet done and not repeated by an earlier sub-grid.

    One pass collects every run_id (8 bytes per run); the first occurrence of each id and
    membership in ``done`` are then found once, in O(n log n). Returns the chunks and how
    many of ``done`` belong to this grid.
    """
    sizes = chunk_size if isinstance(chunk_size, list) else [int(chunk_size)] * len(grid.groups())
    all_chunks = list(iter_sized_chunks(grid, sizes))
    ids = [grid.columns(c.start, c.stop)["run_id"] for c in all_chunks]
    flat = np.concatenate(ids) if ids else np.zeros(0, np.uint64)
    in_done = np.isin(flat, done) if done.size else np.zeros(flat.size, bool)
    first = np.zeros(flat.size, bool)
    first[np.unique(flat, return_index=True)[1]] = True
    pending_all = first & ~in_done
    matched = int(np.isin(done, flat).sum()) if done.size else 0
    chunks, offset = [], 0
    for c, chunk_ids in zip(all_chunks, ids):
        pending = pending_all[offset: offset + len(chunk_ids)]
        offset += len(chunk_ids)
        if pending.all():
            chunks.append(c)
        elif pending.any():
            chunks.append(Chunk(c.group, c.start, c.stop, pending.copy()))
    return chunks, matched
