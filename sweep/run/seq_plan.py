"""Chunks for a sequential round: given run-index ranges (one seed block of each unresolved
cell), the pending runs packed into chunks of at most ``chunk_size`` runs per group.

Several cells' blocks share one chunk (one kernel call, one Dask task) when they belong to the
same group: the chunk spans them and its mask selects their pending runs, so a round of 20
cells x 200 seeds is a few kernel calls rather than 20. Run indices are those of the full
grid (seeds ``0..max-1`` in every cell), so ``run_index`` and ``run_id`` are the same as in a
fixed grid of ``max`` seeds.
"""
from __future__ import annotations

import bisect

import numpy as np

from sweep.run.execute import Chunk


def _group_of(grid):
    """Sorted ``(start, stop, group)`` of every group range, and their starts."""
    spans = sorted((a, b, gi) for gi, g in enumerate(grid.groups()) for a, b in g.ranges)
    return spans, [s[0] for s in spans]


def plan_ranges(grid, chunk_size: int, done: np.ndarray, ranges) -> list[Chunk]:
    """Chunks holding the runs of ``ranges`` (``[(start, stop), ...]``, each inside one group
    range) whose ``run_id`` is not in ``done`` (sorted uint64); each run once."""
    spans, starts = _group_of(grid)
    by_group: dict[int, list[tuple[int, int]]] = {}
    for a, b in sorted(set((int(a), int(b)) for a, b in ranges if b > a)):
        i = bisect.bisect_right(starts, a) - 1
        if i < 0 or not spans[i][0] <= a < b <= spans[i][1]:
            raise ValueError(f"run range [{a}, {b}) is not inside one group of grid {grid.name!r}")
        for s in range(a, b, chunk_size):  # a block longer than a chunk is split
            by_group.setdefault(spans[i][2], []).append((s, min(b, s + chunk_size)))
    chunks, seen = [], np.zeros(0, np.uint64)
    for gi in sorted(by_group):
        batch: list[tuple[int, np.ndarray]] = []
        count = 0
        for a, b in by_group[gi]:
            ids = grid.columns(a, b)["run_id"]
            pending = ~np.isin(ids, done) & ~np.isin(ids, seen)
            seen = np.union1d(seen, ids[pending])  # a cell repeated by an overlapping sub-grid runs once
            if not pending.any():
                continue
            if batch and count + int(pending.sum()) > chunk_size:
                chunks.append(_chunk(gi, batch))
                batch, count = [], 0
            batch.append((a, pending))
            count += int(pending.sum())
        if batch:
            chunks.append(_chunk(gi, batch))
    return chunks


def _chunk(gi: int, batch: list[tuple[int, np.ndarray]]) -> Chunk:
    start = batch[0][0]
    stop = batch[-1][0] + batch[-1][1].size
    if len(batch) == 1 and batch[0][1].all():
        return Chunk(gi, start, stop)
    mask = np.zeros(stop - start, bool)
    for a, pending in batch:
        mask[a - start: a - start + pending.size] = pending
    return Chunk(gi, start, stop, mask)
