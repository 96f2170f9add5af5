"""The Dask backend: the same chunks, run on the workers of a Dask cluster.

One task is one :class:`~sweep.run.execute.Chunk` (thousands of runs, one kernel call), never
one run. A task's key names the grid and the chunk's runs
(``mlp-sweep-<grid hash[:12]>-<chunk.name>``), and ``execute_chunk`` is a pure function of
them, so a retried or recomputed task trains exactly the same runs bit for bit.

- Where: ``scheduler`` is an address (``tcp://HOST:PORT``), a ``distributed.Client``, or a
  cluster object (``LocalCluster``, dask-jobqueue's ``SLURMCluster`` ...); ``n_workers``
  instead starts a ``LocalCluster`` of that many worker processes, closed by ``close()``.
  A client or cluster handed in stays open: it belongs to the caller.
- Data: the grid and the group plans are sent once, each as a small task that returns it;
  every chunk's task depends on them by key. Unlike scattered data they have a recipe: when
  every worker holding one dies, the scheduler computes it again instead of forgetting the
  chunks that need it. A chunk whose future is cancelled or forgotten all the same (its
  data lost with its workers, a stall) is resubmitted under a fresh key, up to
  ``MAX_RESUBMITS`` times: losing workers is not the chunk's fault.
- Logs: while the backend is open, distributed's log records go to a file
  (``sweep.run.backends.dask_logs``), not to the terminal; ``close()`` prints one line
  naming it when it holds warnings or errors.
- Flow: at most ``max_in_flight`` chunks are submitted at a time (default
  ``max(4, 2 * worker threads)``); one more is fed in as each one finishes, so a sweep of
  100,000 chunks never puts 100,000 tasks on the scheduler. Results (Arrow tables) come
  back to the client, where the runner writes the parts: workers write nothing.
- Failures are data: a task that raises is retried ``retries`` times by Dask; a worker that
  dies mid-task is replaced by its nanny and the task rerun (up to the scheduler's
  ``distributed.scheduler.allowed-failures``, default 3, then ``KilledWorker``, after which the
  chunk is resubmitted ``max(1, retries)`` times: when many workers die at once, an innocent
  task is handed to dead workers one after another and reaches that count). A chunk that
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
import uuid
from contextlib import nullcontext
from typing import Callable, Iterable, Iterator

from sweep.run.backends import dask_logs
from sweep.run.backends.base import ChunkFailure, NoWarmUp
from sweep.run.backends.dask_flow import MAX_RESUBMITS, _failure, _next_done, _outcome
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
                 task: Callable | None = None, stream=None, connect_timeout: str = "20s",
                 quiet_logs: bool = True):
        distributed = _import_distributed()
        self.stream = stream or sys.stderr
        self.log_path = dask_logs.default_path() if quiet_logs else None
        self._saved_logs = dask_logs.route(self.log_path) if quiet_logs else None
        try:
            self._start(distributed, scheduler, n_workers, threads, connect_timeout)
        except BaseException:
            self._restore_logs()
            raise
        self.retries = int(retries)
        self.max_in_flight = max_in_flight
        self.warm = warm
        self.task = task or run_chunk   # another task (same signature) for fault-injection tests
        self._warmed: set[tuple[str, str]] = set()   # (grid hash, worker address)
        link = self.dashboard_link
        print(f"dask: scheduler {self.client.scheduler.address}, {self._worker_text()}"
              + (f", dashboard {link}" if link else ""), file=self.stream)

    def _start(self, distributed, scheduler, n_workers, threads, connect_timeout) -> None:
        self._cluster = None           # a LocalCluster we started (closed in close())
        self._own_client = True
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

            # The active memory manager would drop the copies of the grid on workers with no
            # task running (dask/dask#11148), to be fetched again; here we own the cluster.
            env = {"NUMBA_NUM_THREADS": str(per_worker)}
            if self.log_path is not None:  # the preload routes the workers' records there too
                env[dask_logs.ENV] = str(self.log_path)
            with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}):
                self._cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=per_worker, processes=True,
                    dashboard_address=":0", env=env,
                    preload=["sweep.run.backends.dask_worker_setup"],  # workers ignore Ctrl-C
                    silence_logs=logging.ERROR)  # no "task cancelled" warnings after a Ctrl-C
            self.client = distributed.Client(self._cluster)
            self.task_threads = None

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
        prefix = f"mlp-sweep-{grid.hash[:12]}"
        shared = _Shared(client, grid, plans, prefix)
        in_flight: dict = {}           # future -> chunk
        resubmits: dict[str, int] = {}  # chunk name -> times resubmitted (lost or killed)
        killed: dict[str, int] = {}     # chunk name -> KilledWorker results so far
        done_flow = distributed.as_completed(with_results=True, raise_errors=False)

        def submit(chunk: Chunk) -> None:
            n = resubmits.get(chunk.name, 0)   # a resubmission gets a key never used before
            key = f"{prefix}-{chunk.name}" + (f"-resubmit{n}-{uuid.uuid4().hex[:8]}" if n else "")
            future = client.submit(self.task, shared.grid, shared.plans[chunk.group], chunk,
                                   self.task_threads, key=key, retries=self.retries)
            in_flight[future] = chunk
            done_flow.add(future)

        def again(chunk: Chunk, outcome: str) -> bool:
            """Whether to resubmit a chunk the cluster lost (``MAX_RESUBMITS`` times) or whose
            workers all died (``max(1, retries)`` times: a poison chunk must end, see ``_outcome``)."""
            if outcome == "killed":
                killed[chunk.name] = killed.get(chunk.name, 0) + 1
                if killed[chunk.name] > max(1, self.retries):
                    return False
            if resubmits.get(chunk.name, 0) >= MAX_RESUBMITS:
                return False
            resubmits[chunk.name] = resubmits.get(chunk.name, 0) + 1
            return True

        try:
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
                outcome = _outcome(result)
                if outcome == "done":
                    yield result
                elif outcome in ("lost", "killed") and again(chunk, outcome):
                    submit(chunk)   # under a fresh key: the old one may still be being forgotten
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
        try:
            if self._own_client:
                self.client.close()
            if self._cluster is not None:
                self._cluster.close()
                self._cluster = None
        finally:
            self._restore_logs()

    def _restore_logs(self) -> None:
        if self._saved_logs is None:
            return
        dask_logs.restore(self._saved_logs)
        self._saved_logs = None
        line = dask_logs.summary(self.log_path)
        if line:
            print(line, file=self.stream)
        else:  # only INFO lines (workers starting, stopping): not worth a file left behind
            self.log_path.unlink(missing_ok=True)


def _value(x):
    """The task that holds the grid (or a plan): its result is its argument."""
    return x


class _Shared:
    """The grid and the group plans, each as a task whose result is that value.

    A task has a recipe, scattered data has none: when every worker holding the grid dies,
    the scheduler runs the task again (the value travels in its spec, a few kB) rather than
    forgetting the chunks that need it.
    """

    def __init__(self, client, grid, plans: list[GroupPlan], prefix: str):
        token = uuid.uuid4().hex[:8]   # fresh keys: a key released a moment ago may still be forgotten
        self.grid = client.submit(_value, grid, key=f"{prefix}-grid-{token}", pure=False)
        self.plans = [client.submit(_value, plan, key=f"{prefix}-plan{i}-{token}", pure=False)
                      for i, plan in enumerate(plans)]

    def release(self) -> None:
        for f in (self.grid, *self.plans):
            f.release()


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True
