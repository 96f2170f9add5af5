"""Run a sweep: plan chunks, skip finished runs, execute on a backend, write parts.

Resume rule: a run is done when its ``run_id`` is in a part file. Re-running trains only
the missing runs. A grid that only adds runs (more seeds, more values) is accepted and only
the new runs are trained. A grid whose runs are all in the directory (a subset: fewer seeds, a
value fewer on an axis) trains nothing and leaves the directory, manifest included, untouched
(``RunStats.subset``). A directory that holds runs the grid does not contain while the grid has
runs the directory lacks belongs to a different grid and is refused.

``run_sweep`` is composed of named parts: the repair scan (``sweep.run.repair``), the plan
(``sweep.run.pending.plan_sweep``), the manifest's record of the session, started and finished
(``sweep.run.session.Session``), and the part writer, which owns the writer thread and the
deferred Ctrl-C (``sweep.run.part_writer.PartWriter``).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from results.writer import OutputDir, os_error_text
from sweep.__main__ import raise_if_interrupted
from sweep.errors import OutputError
from sweep.run.backends.base import ChunkFailure
from sweep.run.chunking import DEFAULT_CHUNK, chunk_sizes  # noqa: F401  (DEFAULT_CHUNK: re-export)
from sweep.run.execute import Chunk, GroupPlan, execute_chunk, plan_group  # noqa: F401
from sweep.run.numerics import check_resumable
from sweep.run.part_writer import PartWriter
from sweep.run.pending import (SweepPlan, base_dir, group_max_epochs, iter_chunks, make_plans,  # noqa: F401
                               plan_pending, plan_sweep)
from sweep.run.progress import Progress
from sweep.run.repair import scan_and_repair
from sweep.run.session import Session


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


def run_sweep(grid, out_dir=None, backend=None, chunk_size=None, progress=True,
              resume_hint: str = "", stream=None, index_ranges=None) -> RunStats:
    """Train every missing run of ``grid`` into ``out_dir`` and return timing figures.

    index_ranges: ``[(start, stop), ...]`` run-index ranges: train only the missing runs in
    them (one round of sequential seeds, ``sweep.run.sequential``, which checks the directory).

    On start the directory is repaired and scanned (``sweep.run.repair``); the pending chunks are
    then planned from the part names (``sweep.run.done``) or, for parts of another run layout,
    from their run ids (``sweep.run.pending``). ``chunk_size`` None: the grid's, or an automatic
    size (``sweep.run.chunking``).
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
        check_resumable(scan.manifest, out.path)
        t0 = time.perf_counter()
        plan = plan_sweep(grid, out, scan, chunk_size, index_ranges)
        stats.n_done_before = plan.n_done_before
        if plan.all_there:
            stats.subset = not out.legacy
            stats.wall_s = time.perf_counter() - t_start
            return stats   # nothing to train: the directory and its manifest stay the full grid's
        stats.plan_s = time.perf_counter() - t0
        if plan.chunks:  # the backend compiles or loads the kernels (local: the first group now, the rest ahead)
            warm = backend.warm_up(plan.plans, plan.chunks)
            stats.warm_s = warm.sync_s
        stats.n_pending = plan.n_pending
        session = Session.start(out, grid, plan.plans, scan.manifest, backend, stats.n_pending)
        writer = PartWriter.start(out, grid, scan, scan.manifest, stats)
        bar = Progress(stats.n_pending, enabled=progress, stream=stream, done=stats.n_done_before)
        ended = False   # the chunks ended normally or by Ctrl-C; else an exception escapes: "error"
        try:
            with writer:    # on leaving, every finished chunk is written
                _train(backend, grid, plan, stats, writer, bar, stream)
            ended = True
        except KeyboardInterrupt:
            stats.interrupted = True
            ended = True
        finally:
            crashed = not ended or bool(writer.errors)
            bar.close()
            writer.close()
            if warm is not None:
                warm.close()
                stats.warm_s += getattr(warm, "waited_s", 0.0)
                stats.compile_ahead_s = warm.ahead_s
            stats.wall_s = time.perf_counter() - t_start
            status = ("error" if crashed else "interrupted" if stats.interrupted
                      else "failed" if stats.n_failed else "complete")
            error = session.finish(stats, status, writer.verified)
            if error is not None:
                writer.errors.append(error)
        if writer.errors:
            raise OutputError(os_error_text(writer.errors[0], out.path, "cannot write to")
                              + f" ({stats.n_done_before + stats.n_trained} of {grid.n_distinct} runs are saved)")
    if stats.interrupted:
        print(f"\ninterrupted: {stats.n_done_before + stats.n_trained} of {grid.n_distinct} runs are saved in "
              f"{out.path}; resume with: {resume_hint or 'the same command'}", file=stream)
    return stats


def _train(backend, grid, plan: SweepPlan, stats: RunStats, writer: PartWriter, bar: Progress, stream) -> None:
    """Run the plan's chunks on ``backend``, each finished one to ``writer``; a failed chunk is
    recorded in ``stats`` and the others go on; stops at the first write error. A failure after a
    Ctrl-C whose KeyboardInterrupt was swallowed (an import of the chunk's turned into ImportError)
    is that Ctrl-C: the finished chunks are written and the run ends interrupted. Checked before
    the first chunk too (one swallowed while the kernels compiled), and after each."""
    raise_if_interrupted()
    for item in backend.map_chunks(grid, plan.plans, plan.chunks):
        if isinstance(item, ChunkFailure):
            raise_if_interrupted()
            stats.n_failed += item.chunk.n_runs
            stats.failures.append({"chunk": item.chunk.name, "error": item.error,
                                   "traceback": item.traceback})
            print(f"\nchunk {item.chunk.name} failed: {item.error}", file=stream)
            continue
        stats.kernel_s += item.kernel_s
        stats.chunk_s += item.total_s
        stats.network_epochs += item.network_epochs
        writer.submit(item)
        if writer.errors:
            break
        bar.update(item.table.num_rows, item.network_epochs)
        raise_if_interrupted()
