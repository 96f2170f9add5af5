"""Run a sweep: plan chunks, skip finished runs, execute on a backend, write parts.

Resume rule: a run is done when its ``run_id`` is in a part file. Re-running trains only
the missing runs. A grid that only adds runs (more seeds, more values) is accepted and only
the new runs are trained. A grid whose runs are all in the directory (a subset: fewer seeds, a
value fewer on an axis) trains nothing and leaves the directory, manifest included, untouched
(``RunStats.subset``). A directory that holds runs the grid does not contain while the grid has
runs the directory lacks belongs to a different grid and is refused.
"""
from __future__ import annotations

import platform
import socket
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from results.schema import SCHEMA_VERSION
from results.writer import OutputDir, os_error_text
from sweep.run.backends.base import ChunkFailure
from sweep.errors import OutputError
from sweep.run.execute import Chunk, GroupPlan, execute_chunk, plan_group  # noqa: F401
from sweep.run.chunking import DEFAULT_CHUNK, chunk_sizes  # noqa: F401  (DEFAULT_CHUNK: re-export)
from sweep.run.done import fingerprint, plan_by_index
from sweep.run.done import iter_chunks as iter_sized_chunks
from sweep.grid.identity import done_ids, manifest_fields, rows_for
from sweep.run.interrupt import sigint_deferred
from sweep.run.progress import Progress
from sweep.run.journal import Journal
from sweep.run.repair import scan_and_repair
from sweep.run.numerics import check_resumable
from sweep.run.numerics import manifest_fields as numerics_fields

@dataclass
class RunStats:
    n_grid: int = 0
    n_done_before: int = 0
    n_pending: int = 0
    n_trained: int = 0
    n_failed: int = 0
    kernel_s: float = 0.0
    chunk_s: float = 0.0
    write_s: float = 0.0
    plan_s: float = 0.0
    warm_s: float = 0.0          # waited for kernels before the first chunk
    compile_ahead_s: float = 0.0  # spent compiling later groups' kernels in the background
    wall_s: float = 0.0
    network_epochs: int = 0
    failures: list = field(default_factory=list)
    interrupted: bool = False
    subset: bool = False          # the grid is a subset of the directory's runs, all done: nothing written


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict:
    import numba
    import pandas
    import pyarrow

    from sweep import __version__
    return {"mlp_sweep": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "pyarrow": pyarrow.__version__, "pandas": pandas.__version__}


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


def run_sweep(grid, out_dir=None, backend=None, chunk_size=None, progress=True,
              resume_hint: str = "", stream=None, index_ranges=None) -> RunStats:
    """Train every missing run of ``grid`` into ``out_dir`` and return timing figures.

    index_ranges: ``[(start, stop), ...]`` run-index ranges: train only the missing runs in
    them (one round of sequential seeds, ``sweep.run.sequential``, which checks the directory).

    On start the directory is repaired and scanned (``sweep.run.repair``); the pending chunks are
    then planned from the part names (``sweep.run.done``) or, for parts of another run layout,
    from their run ids. ``chunk_size`` None: the grid's, or an automatic size (``sweep.run.chunking``).
    """
    from sweep.run.backends import make_backend

    backend = backend or make_backend()
    warm = None
    stream = stream or sys.stderr
    out = OutputDir(out_dir or grid.output["dir"])
    stats = RunStats(n_grid=grid.n_distinct)
    t_start = time.perf_counter()
    with out:
        try:
            scan = scan_and_repair(out, grid)
        except OSError as exc:  # e.g. no space left to move a damaged part aside
            raise OutputError(os_error_text(exc, out.path, "cannot repair")) from None
        for w in scan.warnings:
            print(f"warning: {w}", file=stream)
        manifest = scan.manifest
        check_resumable(manifest, out.path)
        t0 = time.perf_counter()
        plans = make_plans(grid)
        sizes = chunk_sizes(grid, plans, chunk_size)
        if index_ranges is not None:
            from sweep.run.seq_plan import plan_ranges
            done = done_ids(out)
            stats.n_done_before = int(done.size)
            chunks = plan_ranges(grid, chunk_size or grid.output["chunk_size"], done, index_ranges)
        elif scan.done is not None and not out.legacy:
            chunks = plan_by_index(grid, sizes, scan.done)
            stats.n_done_before = scan.done.n_done
        else:  # parts of another layout or identity: plan by (current-identity) run ids
            done = done_ids(out) if out.legacy else out.done_run_ids(scan.parts)
            stats.n_done_before = int(done.size)
            chunks, matched = plan_pending(grid, sizes, done)
            if matched < done.size and not chunks:  # a subset of the directory's runs, all there
                stats.n_done_before, stats.subset = matched, not out.legacy
                stats.wall_s = time.perf_counter() - t_start
                return stats   # nothing to train: the directory and its manifest stay the full grid's
            if matched < done.size:
                raise OutputError(
                    f"{out.path} holds {done.size - matched} runs that grid {grid.name!r} does not contain, "
                    f"and the grid has {sum(c.n_runs for c in chunks)} runs it does not hold: it was written "
                    f"by a different grid (hash {str(manifest.get('grid_hash', '?'))[:12]}). Use another --out "
                    f"directory (a grid whose runs are all there, such as fewer seeds, trains nothing and is accepted).")
        stats.plan_s = time.perf_counter() - t0
        if chunks:  # the backend compiles or loads the kernels (local: the first group now, the rest ahead)
            warm = backend.warm_up(plans, chunks)
            stats.warm_s = warm.sync_s
        stats.n_pending = sum(c.n_runs for c in chunks)
        sessions = manifest.get("sessions", [])
        sessions = sessions if isinstance(sessions, list) else []
        sessions.append({"started": _now(), "backend": backend.describe(), "pending": stats.n_pending})
        manifest.update(_manifest_base(grid, plans))
        manifest.update(manifest_fields(out))
        if out.legacy:  # ids there are identity 1: never trust part names against this grid's ids
            manifest["part_names_layout"] = None
        manifest.update({"sessions": sessions, "status": "running", "started": manifest.get("started", _now())})
        try:
            out.write_manifest(manifest)
        except OSError as exc:
            raise OutputError(os_error_text(exc, out.manifest_path, "cannot write")) from None
        verified = manifest.get("verified_parts", {}) if (scan.done is not None and not out.legacy) else None
        try:  # the manifest now lists every part checked so far; parts written from here are journaled
            journal = Journal.start(out, grid.runs_hash) if verified is not None else None
        except OSError as exc:
            raise OutputError(os_error_text(exc, out.path, "cannot write to")) from None
        bar = Progress(stats.n_pending, enabled=progress, stream=stream, done=stats.n_done_before)
        # parts are written on one background thread, overlapping the next kernel call
        # (the kernels release the GIL); at most two writes wait, and all finish before exit
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-writer")
        pending: deque = deque()
        errors: list = []

        def written(future) -> None:
            try:
                n_rows, seconds = future.result()
            except OSError as exc:
                errors.append(exc)
                return
            stats.write_s += seconds
            stats.n_trained += n_rows

        def write(item) -> tuple[int, float]:
            tw = time.perf_counter()
            path = out.write_part(item.chunk.name, *rows_for(out, item.table, item.curves))
            if verified is not None:  # we wrote it from this grid: no need to check it next time
                verified[path.name] = fp = fingerprint(path, out.digests.get(path.name))
                if journal is not None:   # ... even after a kill -9 before the manifest's next write
                    journal.append(path.name, fp)
            return item.table.num_rows, time.perf_counter() - tw

        crashed = True  # until the loop ends normally or by Ctrl-C
        try:
            try:
                for item in backend.map_chunks(grid, plans, chunks):
                    if isinstance(item, ChunkFailure):
                        stats.n_failed += item.chunk.n_runs
                        stats.failures.append({"chunk": item.chunk.name, "error": item.error,
                                               "traceback": item.traceback})
                        print(f"\nchunk {item.chunk.name} failed: {item.error}", file=stream)
                        continue
                    stats.kernel_s += item.kernel_s
                    stats.chunk_s += item.total_s
                    stats.network_epochs += item.network_epochs
                    pending.append(writer.submit(write, item))
                    while len(pending) > 2:
                        written(pending.popleft())
                    if errors:
                        break
                    bar.update(item.table.num_rows, item.network_epochs)
            finally:  # finished chunks are never lost, even on Ctrl-C (a second one waits)
                with sigint_deferred():
                    while pending:
                        written(pending.popleft())
                    writer.shutdown()
            crashed = bool(errors)
        except KeyboardInterrupt:
            stats.interrupted = True
            crashed = bool(errors)
        finally:
            bar.close()
            if journal is not None:
                try:
                    journal.close()
                except OSError as exc:
                    errors.append(exc)
            if warm is not None:
                warm.close()
                stats.warm_s += getattr(warm, "waited_s", 0.0)
                stats.compile_ahead_s = warm.ahead_s
            stats.wall_s = time.perf_counter() - t_start
            status = ("error" if crashed else "interrupted" if stats.interrupted
                      else "failed" if stats.n_failed else "complete")
            sessions[-1].update({"finished": _now(), "trained": stats.n_trained, "failed": stats.n_failed,
                                 "kernel_s": round(stats.kernel_s, 3), "warm_s": round(stats.warm_s, 3), "compile_ahead_s": round(stats.compile_ahead_s, 3), "plan_s": round(stats.plan_s, 3), "wall_s": round(stats.wall_s, 3),
                                 "network_epochs": stats.network_epochs, "status": status})
            manifest.update({"status": status, "finished": _now(), "failures": stats.failures,
                             "n_done": stats.n_done_before + stats.n_trained})
            if verified is not None:
                manifest["verified_parts"] = verified
            with sigint_deferred():
                try:
                    out.write_manifest(manifest)
                except OSError as exc:  # e.g. the disk filled up: the parts are safe, the manifest is rebuilt next time
                    errors.append(exc)
        if errors:
            raise OutputError(os_error_text(errors[0], out.path, "cannot write to")
                              + f" ({stats.n_done_before + stats.n_trained} of {grid.n_distinct} runs are saved)")
    if stats.interrupted:
        print(f"\ninterrupted: {stats.n_done_before + stats.n_trained} of {grid.n_distinct} runs are saved in "
              f"{out.path}; resume with: {resume_hint or 'the same command'}", file=stream)
    return stats


def _manifest_base(grid, plans: list[GroupPlan]) -> dict:
    return {
        "name": grid.name, "description": grid.description, "grid_path": str(getattr(grid, "path", "")),
        "grid_text": grid.text, "grid_canonical": grid.canonical, "grid_hash": grid.hash, "runs_hash": grid.runs_hash,
        "overrides": list(grid.overrides), "schema_version": SCHEMA_VERSION, **numerics_fields(), "versions": _versions(),
        "host": socket.gethostname(), "n_runs": grid.n_distinct, "main_criterion": grid.main_criterion,
        "groups": [{"key": p.key, "label": p.label, "n_runs": g.n_runs, "sizes": list(p.network.sizes)}
                   for p, g in zip(plans, grid.groups())],
    }
