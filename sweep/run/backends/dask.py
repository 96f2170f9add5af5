"""The Dask backend: the same chunks, run on the workers of a Dask cluster.

One task is one :class:`~sweep.run.execute.Chunk` (thousands of runs, one kernel call), never
one run. A task's key names the grid and the chunk's runs
(``mlp-sweep-<grid hash[:12]>-<chunk.name>``), and ``execute_chunk`` is a pure function of
them, so a retried or recomputed task trains exactly the same runs bit for bit.

- Where: ``scheduler`` is an address (``tcp://HOST:PORT``), a ``distributed.Client``, or a
  cluster object (``LocalCluster``, dask-jobqueue's ``SLURMCluster`` ...); ``n_workers``
  instead starts a ``LocalCluster`` of that many worker processes, closed by ``close()``.
  A client or cluster handed in stays open: it belongs to the caller.
- Data: the grid and the group plans are scattered once (``broadcast=True``); every task
  refers to them by key. Scattered data has no recipe: if every worker holding it dies, the
  scheduler cancels the tasks that need it, and this backend scatters it again and
  resubmits them (at most ``max(1, retries)`` times per chunk). Dask's active memory
  manager drops broadcast copies on idle workers (dask/dask#11148), which makes that more
  likely and costs a transfer per worker now and then; the ``LocalCluster`` started here
  runs without it.
- Flow: at most ``max_in_flight`` chunks are submitted at a time (default
  ``max(4, 2 * worker threads)``); one more is fed in as each one finishes, so a sweep of
  100,000 chunks never puts 100,000 tasks on the scheduler. Results (Arrow tables) come
  back to the client, where the runner writes the parts: workers write nothing.
- Failures are data: a task that raises is retried ``retries`` times by Dask; a worker that
  dies mid-task is replaced by its nanny and the task rerun (up to the scheduler's
  ``distributed.scheduler.allowed-failures``, default 3, then ``KilledWorker``). A chunk that
  still fails is yielded as a :class:`~sweep.run.backends.base.ChunkFailure` with the remote
  traceback, and the rest of the sweep goes on.
- Compilation: before the first chunk, one worker warms every group's kernels
  (``sweep.run.warmup``: compiling them and writing Numba's on-disk cache), then the other workers
  do the same (they load that cache instead of racing to write it). Workers that join later compile or load
  on their first chunk.
- Threads: a task sets Numba's thread count (thread-local in Numba) to the worker's Dask
  threads divided by the tasks it is running now: ``1`` per task when every slot is busy,
  all of them for a lone task at the end of the sweep. ``threads`` fixes it instead when an
  existing cluster is used; for a started ``LocalCluster`` it is the threads per worker.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from contextlib import nullcontext
from typing import Callable, Iterable, Iterator

from sweep.run.backends.base import ChunkFailure, NoWarmUp
from sweep.errors import SweepError
from sweep.run.execute import Chunk, ChunkResult, GroupPlan, execute_chunk

#: Serialises kernel calls inside one worker process when Numba's threading layer is
#: ``workqueue``, which aborts the process on concurrent parallel launches (tbb and omp
#: are thread-safe).
_KERNEL_LOCK = threading.Lock()


def _numba_threads(fixed: int | None) -> int:
    """Threads for this task's kernel call (see the module docstring)."""
    import numba

    if fixed:
        n = int(fixed)
    else:
        try:
            from distributed import get_worker

            state = get_worker().state
            n = state.nthreads // max(1, state.executing_count)
        except ValueError:  # not on a worker (a test calling the task directly)
            n = numba.get_num_threads()
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def _kernel_guard():
    import numba

    try:
        return _KERNEL_LOCK if numba.threading_layer() == "workqueue" else nullcontext()
    except ValueError:  # no parallel kernel has run in this process yet: play safe
        return _KERNEL_LOCK


def run_chunk(grid, plan: GroupPlan, chunk: Chunk, threads: int | None = None) -> ChunkResult:
    """The task each worker runs: one chunk, with this task's share of the worker's threads."""
    import numba

    numba.set_num_threads(_numba_threads(threads))
    with _kernel_guard():
        return execute_chunk(grid, plan, chunk)


def warm_worker(grid, plans: list[GroupPlan]) -> dict:
    """Compile (or load) every group's kernels in this process (``sweep.run.warmup``; trains nothing).

    Never raises: a group whose run fails is reported, and its chunks will fail (and be
    quarantined) on their own.
    """
    import numba

    from sweep.run.warmup import warm_groups

    t0 = time.perf_counter()
    numba.set_num_threads(1)
    with _kernel_guard():
        report = warm_groups(plans)
    return {"seconds": time.perf_counter() - t0, "errors": report.errors, "pid": os.getpid()}


def _import_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - the extra is not installed
        raise SweepError("the Dask backend needs dask.distributed: pip install 'mlp-sweep[dask]'") from None
    return distributed


class DaskBackend:
    """Run chunks as Dask tasks; see the module docstring for the rules."""

    name = "dask"

    def __init__(self, scheduler=None, n_workers: int | None = None, threads: int | None = None,
                 retries: int = 2, *, max_in_flight: int | None = None, warm: bool = True,
                 task: Callable | None = None, stream=None, connect_timeout: str = "20s"):
        distributed = _import_distributed()
        self.retries = int(retries)
        self.max_in_flight = max_in_flight
        self.warm = warm
        self.task = task or run_chunk   # another task (same signature) for fault-injection tests
        self.stream = stream or sys.stderr
        self._cluster = None           # a LocalCluster we started (closed in close())
        self._own_client = True
        self._warmed: set[tuple[str, str]] = set()   # (grid hash, worker address)
        if isinstance(scheduler, distributed.Client):
            self.client, self._own_client = scheduler, False
            self.task_threads = threads
        elif scheduler is not None and not isinstance(scheduler, str):  # a cluster object
            self.client = distributed.Client(scheduler)
            self.task_threads = threads
        elif scheduler:
            try:
                self.client = distributed.Client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
            self.task_threads = threads
        else:
            per_worker = int(threads or 1)
            n = int(n_workers or max(1, (os.cpu_count() or 1) // per_worker))
            import dask

            # The active memory manager would drop the broadcast copies of the grid on
            # workers with no task running (dask/dask#11148); here we own the cluster.
            with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}):
                self._cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=per_worker, processes=True,
                    dashboard_address=":0", env={"NUMBA_NUM_THREADS": str(per_worker)},
                    preload=["sweep.run.backends.dask_worker_setup"],  # workers ignore Ctrl-C
                    silence_logs=logging.ERROR)  # no "task cancelled" warnings after a Ctrl-C
            self.client = distributed.Client(self._cluster)
            self.task_threads = None
        link = self.dashboard_link
        print(f"dask: scheduler {self.client.scheduler.address}, {self._worker_text()}"
              + (f", dashboard {link}" if link else ""), file=self.stream)

    # -- information ----------------------------------------------------------------------
    @property
    def dashboard_link(self) -> str | None:
        """The dashboard's address, or None (no dashboard, or bokeh is not installed)."""
        if not _has_bokeh():
            return None
        try:
            return self.client.dashboard_link
        except (KeyError, AttributeError, TypeError):  # no dashboard (bokeh not installed)
            return None

    def _nthreads(self) -> dict[str, int]:
        return self.client.nthreads()

    def _worker_text(self) -> str:
        nthreads = self._nthreads()
        return f"{len(nthreads)} worker(s), {sum(nthreads.values())} thread(s)"

    def describe(self) -> str:
        link = self.dashboard_link
        kind = "LocalCluster" if self._cluster is not None else "cluster"
        return (f"dask backend, {kind} at {self.client.scheduler.address}, {self._worker_text()}, "
                f"retries {self.retries}" + (f", dashboard {link}" if link else ""))

    # -- execution ------------------------------------------------------------------------
    def _in_flight_limit(self) -> int:
        if self.max_in_flight:
            return int(self.max_in_flight)
        return max(4, 2 * sum(self._nthreads().values()))

    def _warm_workers(self, grid, grid_f, plans_f) -> None:
        """Compile on one worker first (it writes Numba's cache), then on the others."""
        workers = [w for w in sorted(self._nthreads()) if (grid.hash, w) not in self._warmed]
        if not workers:
            if not self._nthreads():
                print("dask: no workers yet; chunks wait for them", file=self.stream)
            return
        t0, times = time.perf_counter(), []
        for batch in (workers[:1], workers[1:]):
            futures = [self.client.submit(warm_worker, grid_f, plans_f, workers=[w],
                                          allow_other_workers=False, pure=False,
                                          key=f"mlp-sweep-warm-{grid.hash[:12]}-{w}")
                       for w in batch]
            for w, f in zip(batch, futures):
                try:
                    info = f.result()
                except Exception as exc:  # noqa: BLE001 - the worker may be gone; chunks still run
                    print(f"dask: warming {w} failed: {type(exc).__name__}: {exc}", file=self.stream)
                    continue
                self._warmed.add((grid.hash, w))
                times.append(info["seconds"])
                for err in info["errors"]:
                    print(f"dask: warming {w}: {err}", file=self.stream)
            del futures
        print(f"dask: kernels ready on {len(times)} worker(s) in {time.perf_counter() - t0:.1f} s "
              f"(first worker {times[0] if times else float('nan'):.1f} s)", file=self.stream)

    def warm_up(self, plans: list[GroupPlan], chunks) -> NoWarmUp:
        """Nothing here: each worker warms itself before its first chunk (``map_chunks``)."""
        return NoWarmUp()

    def map_chunks(self, grid, plans: list[GroupPlan], chunks: Iterable[Chunk]
                   ) -> Iterator[ChunkResult | ChunkFailure]:
        distributed = _import_distributed()
        client = self.client
        pending = iter(chunks)
        shared = _Shared(client, grid, plans, self.stream)
        prefix = f"mlp-sweep-{grid.hash[:12]}"
        in_flight: dict = {}           # future -> chunk
        resubmits: dict[str, int] = {}  # chunk name -> times resubmitted after a cancellation
        done_flow = distributed.as_completed(with_results=True, raise_errors=False)

        def submit(chunk: Chunk) -> None:
            n = resubmits.get(chunk.name, 0)
            key = f"{prefix}-{chunk.name}" + (f"-resubmit{n}" if n else "")
            future = client.submit(self.task, shared.grid, shared.plans[chunk.group], chunk,
                                   self.task_threads, key=key, retries=self.retries)
            in_flight[future] = chunk
            done_flow.add(future)

        try:
            shared.scatter()
            if self.warm:
                self._warm_workers(grid, shared.grid, shared.plans)
            limit, checked = self._in_flight_limit(), time.monotonic()
            while True:
                while len(in_flight) < limit and (chunk := next(pending, None)) is not None:
                    submit(chunk)
                if not in_flight:
                    break
                future, result = _next_done(done_flow, in_flight, client)
                if future not in in_flight:     # a late report of one _next_done already took from its status
                    continue
                chunk = in_flight.pop(future)
                if time.monotonic() - checked > 2:  # workers may have joined or left (SLURM jobs)
                    limit, checked = self._in_flight_limit(), time.monotonic()
                if future.status == "finished":
                    yield result
                elif future.status == "cancelled" and resubmits.get(chunk.name, 0) < max(1, self.retries):
                    # not by us: the scheduler forgot it, usually because the only worker holding
                    # the scattered grid died. Scatter again (once workers are back) and resubmit.
                    resubmits[chunk.name] = resubmits.get(chunk.name, 0) + 1
                    shared.ensure()
                    submit(chunk)
                else:
                    yield _failure(chunk, future, result)
                future.release()
        except KeyboardInterrupt:
            client.cancel(list(in_flight))
            in_flight.clear()
            raise
        except OSError as exc:  # CommClosedError, TimeoutError: the scheduler is gone
            in_flight.clear()
            raise SweepError(f"lost the connection to the Dask scheduler at {self.client.scheduler.address} "
                             f"({type(exc).__name__}: {exc}); the finished chunks are saved: run the same "
                             f"command again to resume") from None
        finally:  # also when the runner stops early (an error while writing): drop what is left
            if in_flight:
                client.cancel(list(in_flight))
            shared.release()

    def close(self) -> None:
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


class _Shared:
    """The grid and the group plans, scattered to every worker, scattered again if lost.

    Scattered data has no recipe: when every worker that held it is gone, the scheduler
    forgets it and cancels the tasks that need it. ``ensure`` notices and scatters anew.
    """

    def __init__(self, client, grid, plans: list[GroupPlan], stream):
        self.client, self.grid_value, self.plan_values = client, grid, list(plans)
        self.stream = stream
        self.grid, self.plans = None, []

    def scatter(self) -> None:
        if not self.client.nthreads():  # scatter gives up after 2 s without a worker
            print("dask: waiting for a worker to join (Ctrl-C to stop)", file=self.stream)
            self.client.wait_for_workers(1)
        self.grid = self.client.scatter(self.grid_value, broadcast=True, hash=False)
        self.plans = self.client.scatter(self.plan_values, broadcast=True, hash=False)

    def ensure(self) -> None:
        if all(f.status == "finished" for f in (self.grid, *self.plans)):
            return
        if self.client.status != "running":
            raise OSError(f"the client is {self.client.status}")
        print("dask: the scattered grid was lost with its workers; scattering it again", file=self.stream)
        self.release()
        self.scatter()

    def release(self) -> None:
        for f in (self.grid, *self.plans):
            if f is not None:
                f.release()


def _failure(chunk: Chunk, future, result) -> ChunkFailure:
    """A ChunkFailure from an erred (or cancelled) future, with the remote traceback."""
    if isinstance(result, tuple) and len(result) == 3:  # (type, exception, traceback)
        _, exc, tb = result
    else:  # cancelled: the result is the CancelledError
        exc, tb = result, None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if type(exc).__name__ == "KilledWorker":
        text += ("\nthe worker running this chunk died repeatedly (out of memory? a crash in the "
                 "kernel?); see distributed.scheduler.allowed-failures\n")
    return ChunkFailure(chunk, f"{type(exc).__name__}: {exc}", text)


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


#: Seconds without a completion after which ``map_chunks`` looks at its futures' own states.
STALL_S = 5.0


def _next_done(done_flow, in_flight: dict, client=None):
    """``next(done_flow)``: the next ``(future, result)`` to complete. A future that
    ``as_completed`` never reports (seen twice in the test suite, after a chunk's task failed:
    every worker idle and the client waiting for ever) is taken from its own status once nothing
    has completed for ``STALL_S`` seconds; one still pending while no worker processes anything
    for another ``STALL_S`` is cancelled (``map_chunks`` then resubmits it)."""
    from concurrent.futures import CancelledError

    t0, stalls = time.monotonic(), 0
    while not done_flow.has_ready():
        if time.monotonic() - t0 > STALL_S:
            stalls += 1
            for future in in_flight:
                if future.status == "finished":
                    return future, future.result()
                if future.status == "error":
                    exc = future.exception()
                    return future, (type(exc), exc, future.traceback())
                if future.status == "cancelled":
                    return future, CancelledError()
            busy = client.processing() if client is not None and stalls >= 2 else {}
            if busy and not any(busy.values()):      # workers there, all idle (none: wait for them)
                future = next(iter(in_flight))
                future.cancel()
                return future, CancelledError()
            t0 = time.monotonic()
        time.sleep(0.01)
    return next(done_flow)
