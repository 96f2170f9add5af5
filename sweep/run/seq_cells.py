"""Cells of a sequential grid and their outcomes read back from the output directory.

A cell is one combination of the swept axes of a sub-grid; its seed ``s`` (``0 <= s < max``)
is run index ``base + s`` of the full grid. Cells with the same normalised config (an
overlapping sub-grid, an axis that does not apply) are one cell: they share every run_id.

:class:`OutcomeStore` keeps, per finished run, what the rule needs (success flag, time,
observed), reading each part file once; what a cell has is found by its run_ids, so only the
data on disk decides, never the order in which sessions wrote it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.dataset as ds

from sweep.errors import OutputError
from sweep.grid.groups import show


@dataclass(frozen=True)
class Cell:
    """index: position among the grid's cells; base: run index of its seed 0; values: swept key -> value."""

    index: int
    base: int
    values: dict
    label: str


def grid_cells(grid) -> list[Cell]:
    """Every distinct cell, in run-index order."""
    cells, seen = [], set()
    for sub in grid.subgrids:
        keys = [k for a in sub.axes for k in a.keys]
        for c in range(sub.n_runs // sub.seeds.n):
            base = sub.offset + c * sub.seeds.n
            rid = int(grid.columns(base, base + 1)["run_id"][0])
            if rid in seen:
                continue
            seen.add(rid)
            cfg = grid.run_config(base)
            values = {k: cfg[k] for k in keys}
            label = ", ".join(f"{k}={show(v)}" for k, v in values.items()) or "all runs"
            cells.append(Cell(len(cells), base, values, label))
    return cells


class OutcomeStore:
    """The finished runs' outcomes for ``rule``, by run_id (sorted), grown part by part.

    success: the share rule's event (``metric <= at``, or ``converged``); time/observed: the
    censored time of ``metric`` (its epoch where reached, else ``epochs_run``).
    """

    def __init__(self, out, rule):
        self.out, self.rule = out, rule
        self.seen: set[str] = set()
        self.ids = np.zeros(0, np.uint64)
        self.seeds = np.zeros(0, np.int64)
        self.success = np.zeros(0, bool)
        self.time = np.zeros(0, np.float64)
        self.observed = np.zeros(0, bool)

    def refresh(self) -> int:
        """Read the part files not read yet; returns how many runs were added."""
        new = [p for p in self.out.part_files() if p.name not in self.seen]
        if not new:
            return 0
        metric = self.rule.metric
        cols = ["run_id", "seed", "epochs_run", "converged"] + ([metric] if metric != "converged" else [])
        t = ds.dataset([str(p) for p in new], format="parquet").to_table(columns=cols)
        ids = t.column("run_id").to_numpy()
        conv = t.column("converged").to_numpy(zero_copy_only=False).astype(bool)
        run = t.column("epochs_run").to_numpy().astype(np.float64)
        if metric == "converged":
            success, time, observed = conv, run, conv
        else:
            m = t.column(metric).to_numpy(zero_copy_only=False)
            observed = ~np.isnan(m.astype(np.float64))
            time = np.where(observed, m, run).astype(np.float64)
            success = observed & (time <= (self.rule.at if self.rule.at is not None else np.inf))
        order = np.argsort(np.concatenate([self.ids, ids]), kind="stable")
        self.ids = np.concatenate([self.ids, ids])[order]
        self.seeds = np.concatenate([self.seeds, t.column("seed").to_numpy()])[order]
        self.success = np.concatenate([self.success, success])[order]
        self.time = np.concatenate([self.time, time])[order]
        self.observed = np.concatenate([self.observed, observed])[order]
        self.seen.update(p.name for p in new)
        return len(ids)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in the store, -1 where not finished."""
        if not self.ids.size:
            return np.full(ids.shape, -1, np.int64)
        pos = np.minimum(np.searchsorted(self.ids, ids), self.ids.size - 1)
        return np.where(self.ids[pos] == ids, pos, -1)

    def check_belongs(self, grid, cells: list[Cell], max_seeds: int) -> None:
        """Refuse a directory holding runs that are not seeds ``0..max-1`` of this grid's cells."""
        if not self.ids.size:
            return
        top = int(min(max_seeds, self.seeds.max() + 1)) if (self.seeds < max_seeds).any() else 0
        ours = [grid.columns(c.base, c.base + top)["run_id"] for c in cells] if top else []
        known = np.concatenate(ours) if ours else np.zeros(0, np.uint64)
        foreign = int((~np.isin(self.ids, known)).sum())
        if foreign:
            raise OutputError(f"{self.out.path} holds {foreign} runs that grid {grid.name!r} does not contain "
                              f"(seeds 0..{max_seeds - 1} of its {len(cells)} cells): it was written by a different "
                              "grid. Use another --out directory.")
