"""``--dry-run``'s time estimate: a cost model per group, calibrated on two small chunks.

Timing 64 runs and multiplying by the runs was 13x too high on the 10^8-run zero-epoch grid
(10.1 h for 0.74 h): a chunk has a fixed cost (initial weights, packing, ~70 Arrow columns, a
Parquet part with its fsync) that 64 runs carry alone but 4,096 or 65,536 share. Per group, a
chunk of ``n`` and one of ``4 n`` runs (epochs capped, as before) give

- the kernel's seconds per run, scaled to the runs' own epochs;
- the rest of a chunk on the main thread: seconds per run and per chunk (the two sizes' slope
  and intercept);
- the Parquet writer's seconds per row and per part (both chunks' tables written to a temporary
  folder, as the runner writes them);

and a group takes the longer of its main thread and its writer (they overlap), in chunks of the
size the sweep will use (``sweep.run.chunking.chunk_sizes``).
"""
from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


#: Seconds of a group's first calibration chunk above which the estimate trains no more of it.
MAX_CALIBRATION_S = 0.5


@dataclass(frozen=True)
class GroupCost:
    """Seconds: ``kernel_run`` at the calibration's epochs (times ``scale`` for the runs' own)."""

    kernel_run: float
    other_run: float
    other_chunk: float
    write_row: float
    write_part: float
    scale: float = 1.0

    def seconds(self, n_runs: int, chunk: int) -> float:
        n_chunks = math.ceil(n_runs / max(1, chunk))
        main = n_runs * (self.kernel_run * self.scale + self.other_run) + n_chunks * self.other_chunk
        writer = n_runs * self.write_row + n_chunks * self.write_part
        return max(main, writer)


def _line(n1: int, y1: float, n2: int, y2: float) -> tuple[float, float]:
    """Slope and intercept through (n1, y1) and (n2, y2), neither negative."""
    if n2 <= n1:
        return max(0.0, y2 / max(1, n2)), 0.0
    slope = max(0.0, (y2 - y1) / (n2 - n1))
    return slope, max(0.0, y1 - slope * n1)


def _write_s(table, folder: Path, name: str) -> float:
    from results.writer import atomic_write_table

    t = time.perf_counter()
    atomic_write_table(folder / f"{name}.parquet", table, folder)
    return time.perf_counter() - t


def calibrate(capped_grid, grid, plan, start: int, stop: int, n: int = 64):
    """``(GroupCost, ChunkResult of the larger chunk)`` from runs ``start ..`` of one group
    (``capped_grid``: the grid with its epochs capped; ``grid``: the real one, for the scale)."""
    from sweep.run.execute import Chunk, execute_chunk

    n1 = min(stop - start, n)
    r1 = execute_chunk(capped_grid, plan, Chunk(plan.index, start, start + n1))   # first call: warm
    if r1.total_s < MAX_CALIBRATION_S:    # long runs: their per-chunk costs do not matter
        r1 = execute_chunk(capped_grid, plan, Chunk(plan.index, start, start + n1))
    n2 = min(stop - start, 4 * n1) if r1.total_s < MAX_CALIBRATION_S else n1
    r2 = execute_chunk(capped_grid, plan, Chunk(plan.index, start, start + n2)) if n2 > n1 else r1
    with tempfile.TemporaryDirectory(prefix="mlp-sweep-estimate-") as tmp:
        folder = Path(tmp)
        _write_s(r1.table, folder, "warm")
        w1 = min(_write_s(r1.table, folder, f"a{i}") for i in range(2))
        w2 = min(_write_s(r2.table, folder, f"b{i}") for i in range(2))
    kernel_run = r2.kernel_s / n2
    other_run, other_chunk = _line(n1, r1.total_s - r1.kernel_s, n2, r2.total_s - r2.kernel_s)
    write_row, write_part = _line(n1, w1, n2, w2)
    epochs = grid.columns(start, start + n2)["train.epochs"]
    capped = capped_grid.columns(start, start + n2)["train.epochs"]
    scale = max(1.0, float(epochs.sum()) / max(1.0, float(np.asarray(capped).sum())))
    return GroupCost(kernel_run, other_run, other_chunk, write_row, write_part, scale), r2
