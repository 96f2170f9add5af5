"""Sequential seeds: run each cell in seed blocks until its answer is resolved.

The round loop (``run_sequential``):

1. read the finished runs (:class:`~sweep.run.seq_cells.OutcomeStore`) and evaluate every cell
   (:func:`evaluate_cell`): a cell's state is a pure function of the outcomes of its seeds
   ``0, 1, 2, ...`` in order, evaluated only at the block boundaries, so it does not depend on
   threads, backend, chunking or how many sessions (kills, resumes) wrote the data;
2. write the per-cell states into the manifest (key ``"sequential"``);
3. give every cell that is still running its next block (all of them at once: one round is one
   ``run_sweep`` call restricted to those run-index ranges, several cells per chunk), then go
   to 1. The loop ends when every cell has stopped (resolved, or ``max`` reached).

A kill at any moment loses at most the chunks in flight; the next session re-reads the data,
finds the same states, and trains exactly the missing runs of the same blocks.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from results import sequential_stats as ss
from results.writer import OutputDir
from sweep.run.seq_cells import Cell, OutcomeStore, grid_cells


@dataclass
class CellState:
    """status: ``resolved`` | ``max`` (stopped at max unresolved) | ``running``; runs: seeds used
    (at the stop, or the last evaluated boundary); estimate/lo/hi: the rule's statistic and its
    interval there; next: the run-index range to train next (running cells)."""

    status: str
    runs: int
    estimate: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    next: tuple[int, int] | None = None

    @property
    def halfwidth(self) -> float:
        return (self.hi - self.lo) / 2


@dataclass
class SequentialStats:
    rounds: int = 0
    n_trained: int = 0
    n_failed: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    cells: list = field(default_factory=list)
    states: list = field(default_factory=list)

    @property
    def n_used(self) -> int:
        return sum(s.runs for s in self.states)


def evaluate_cell(rule, cell: Cell, grid, store: OutcomeStore, done_upto: dict | None = None) -> CellState:
    """The cell's state from its finished seeds ``0..N-1`` (N: its first missing seed).

    done_upto: cell index -> ``(n, median, lo, hi)`` at a boundary already found unresolved
    (the median rule skips the boundaries up to it: finished runs never change)."""
    bounds = rule.boundaries()
    top = min(rule.max, _known_top(store, bounds))  # seeds past it cannot be in the store
    pos = store.lookup(grid.columns(cell.base, cell.base + top)["run_id"])
    missing = np.flatnonzero(pos < 0)
    n_done = int(missing[0]) if missing.size else top  # contiguous prefix
    pos = pos[:n_done]
    if rule.kind == "share":
        idx, n, k, lo, hi = ss.share_stop(store.success[pos][None, :], bounds, rule.target, rule.conf)
        idx, n, k, lo, hi = int(idx[0]), int(n[0]), int(k[0]), float(lo[0]), float(hi[0])
        est = k / n if n else math.nan
        if idx >= 0:
            ok = bool(ss.share_resolved(k, n, rule.target, rule.conf)[0])
            return CellState("resolved" if ok else "max", n, est, lo, hi)
    else:
        n, est, lo, hi = (done_upto or {}).get(cell.index, (0, math.nan, math.nan, math.nan))
        for b in bounds[(bounds <= n_done) & (bounds > n)]:
            est, lo, hi = ss.km_median(store.time[pos[:b]], store.observed[pos[:b]], rule.conf)
            n = int(b)
            if ss.median_resolved(lo, hi, rule.target) or b == rule.max:
                status = "resolved" if ss.median_resolved(lo, hi, rule.target) else "max"
                return CellState(status, n, est, lo, hi)
        if done_upto is not None and n:
            done_upto[cell.index] = (n, est, lo, hi)
    nxt = int(bounds[np.searchsorted(bounds, n_done, side="right")])
    return CellState("running", n, est, lo, hi, next=(cell.base + n_done, cell.base + nxt))


def _known_top(store: OutcomeStore, bounds: np.ndarray) -> int:
    """The boundary just past the highest seed the store holds (bounds the ids to look up)."""
    if not store.ids.size:
        return int(bounds[0])
    s = int(store.seeds.max()) + 1
    i = min(int(np.searchsorted(bounds, s, side="left")), bounds.size - 1)
    return int(bounds[i])


def manifest_section(rule, cells: list[Cell], states: list[CellState], rounds: int, status: str,
                     wall_s: float = 0.0) -> dict:
    """What the manifest records: the rule, and per cell how it stopped (rounds and wall_s: this session)."""
    def num(x: float):
        return None if x is None or not math.isfinite(x) else float(x)
    return {
        "rule": rule.canonical(), "description": rule.describe(), "status": status, "rounds": rounds, "wall_s": round(wall_s, 3),
        "n_cells": len(cells), "n_resolved": sum(s.status == "resolved" for s in states),
        "n_max": sum(s.status == "max" for s in states), "runs_used": sum(s.runs for s in states),
        "cells": [{"cell": c.label, "values": c.values, "runs": s.runs, "status": s.status,
                   "estimate": num(s.estimate), "lo": num(s.lo), "hi": num(s.hi),
                   "halfwidth": num(s.halfwidth)} for c, s in zip(cells, states)],
    }


def _record(out_path, section: dict, status: str) -> None:
    with OutputDir(out_path) as out:
        manifest = out.read_manifest() or {}
        manifest["sequential"] = section
        manifest["status"] = status
        out.write_manifest(manifest)


def run_sequential(grid, out_dir=None, backend=None, chunk_size=None, progress=True,
                   resume_hint: str = "", stream=sys.stderr) -> SequentialStats:
    """Train ``grid``'s cells round by round until each one is resolved or at ``max``."""
    from sweep.run.backends import make_backend
    from sweep.run.runner import run_sweep

    rule = grid.stopping
    out_path = out_dir or grid.output["dir"]
    backend = backend or make_backend()
    t0 = time.perf_counter()
    stats = SequentialStats(cells=grid_cells(grid))
    with OutputDir(out_path) as out:  # the lock: read the data without a writer at work
        store = OutcomeStore(out, rule)
        store.refresh()
        store.check_belongs(grid, stats.cells, rule.max)
    done_upto: dict = {}
    bar = tqdm(total=len(stats.cells), unit="cell", disable=not progress, file=stream, dynamic_ncols=True)
    try:
        while True:
            store.refresh()
            stats.states = [evaluate_cell(rule, c, grid, store, done_upto) for c in stats.cells]
            stopped = sum(s.status != "running" for s in stats.states)
            bar.n = stopped
            bar.set_postfix_str(f"round {stats.rounds}, {store.ids.size:,} runs", refresh=False)
            bar.refresh()
            running = [s.next for s in stats.states if s.status == "running"]
            status = "complete" if not running else "interrupted" if stats.interrupted else \
                "failed" if stats.n_failed else "running"
            _record(out_path, manifest_section(rule, stats.cells, stats.states, stats.rounds, status,
                                                 time.perf_counter() - t0), status)
            if not running or stats.interrupted or stats.n_failed:
                break
            stats.rounds += 1
            rs = run_sweep(grid, out_path, backend=backend, chunk_size=chunk_size, progress=False,
                           resume_hint=resume_hint, stream=stream, index_ranges=running)
            stats.n_trained += rs.n_trained
            stats.n_failed += rs.n_failed  # a failed chunk would fail again: stop and report it
            stats.interrupted = rs.interrupted
    finally:
        bar.close()
        stats.wall_s = time.perf_counter() - t0
    return stats


def format_cells(stats: SequentialStats, rule) -> str:
    """One line per cell: runs used, the statistic with its interval, and how it stopped."""
    pct = rule.kind == "share"
    lines = []
    for c, s in zip(stats.cells, stats.states):
        if pct:
            est = f"{100 * s.estimate:.2f}% [{100 * s.lo:.2f}, {100 * s.hi:.2f}]" if s.runs else "-"
        else:
            est = f"{s.estimate:g} [{s.lo:g}, {s.hi:g}]" if s.runs else "-"
        how = {"resolved": "resolved", "max": f"hit max ({rule.max})", "running": "not finished"}[s.status]
        lines.append(f"  {c.label}: {s.runs:,} runs, {est}, {how}")
    head = (f"{rule.describe()}\n{sum(s.status == 'resolved' for s in stats.states)} of {len(stats.cells)} "
            f"cells resolved, {stats.n_used:,} runs used, {stats.rounds} round(s) this session")
    return "\n".join([head, *lines])
