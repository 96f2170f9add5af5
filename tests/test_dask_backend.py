"""The Dask backend gives the local backend's results, survives a dead worker, quarantines a
chunk that keeps failing, keeps few tasks in flight, and cancels them on Ctrl-C.

Everything runs on loopback: one LocalCluster per test module (2 worker processes x 1
thread, each with a nanny that restarts a dead worker), the one ``--dask-local 2`` starts,
and a 1-worker one. Fault injection uses the tasks in ``tests/dask_faults.py`` (see its
docstring); the scheduler runs in this process and the workers are spawned from it, so all
of them import ``dask_faults`` from the ``tests/`` folder pytest puts on ``sys.path``.
"""
from __future__ import annotations

import functools
import io
import json
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402

import dask_faults  # tests/dask_faults.py  # noqa: E402
import sweep.run.backends.dask as dask_backend  # noqa: E402
from results.layout import layout_of  # noqa: E402
from sweep.run.backends.base import ChunkFailure  # noqa: E402
from sweep.run.backends.dask import DaskBackend  # noqa: E402
from sweep.cli import main  # noqa: E402
from sweep.grid.load import load_grid  # noqa: E402
from sweep.run.runner import iter_chunks, make_plans, run_sweep  # noqa: E402

GRID = """\
name = "xor-dask"
[task]
name = "xor"
[model]
hidden = [2]
activation = "sigmoid"
[train]
epochs = 300
[sweep]
seeds = 200
"train.lr" = [0.1, 0.5, 1.0]
[output]
chunk_size = 128
"""
N_RUNS = 600
CHUNKS = ["000-000000000000-128-all", "000-000000000128-128-all", "000-000000000256-128-all",
          "000-000000000384-128-all", "000-000000000512-88-all"]


def load(out: Path) -> pd.DataFrame:
    """Every run row of ``out`` (parts only), sorted by run_id."""
    table = ds.dataset(sorted(str(p) for p in out.glob("part-*.parquet")), format="parquet").to_table()
    return table.to_pandas().sort_values("run_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("grid") / "xor.toml"
    path.write_text(GRID)
    return str(path)


@pytest.fixture(scope="module")
def local_result(grid_path, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local")
    assert main(["run", grid_path, "--out", str(out), "--no-progress", "--threads", "2"]) == 0
    df = load(out)
    assert len(df) == N_RUNS
    return df


def local_cluster(n_workers: int):
    """Like the one ``--dask-local`` starts: worker processes with nannies, no AMM."""
    with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                        dashboard_address=":0")


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as c:
        yield c


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)  # a previous test may have killed one
        yield c


@pytest.mark.slow
def test_dask_local_equals_local(grid_path, local_result, tmp_path):
    out = tmp_path / "out"
    assert main(["run", grid_path, "--out", str(out), "--dask-local", "2", "--no-progress"]) == 0
    assert sorted(p.stem for p in out.glob("part-*.parquet")) == [f"part-{c}" for c in CHUNKS]
    pd.testing.assert_frame_equal(load(out), local_result)
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert manifest["status"] == "complete" and manifest["failures"] == []
    assert manifest["sessions"][-1]["backend"].startswith("dask backend, LocalCluster")


@pytest.mark.slow
def test_worker_death_is_retried(grid_path, local_result, cluster, client, tmp_path, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setattr(dask_backend, "run_chunk", functools.partial(
        dask_faults.crash_once, target=CHUNKS[2], marker=str(marker)))
    out = tmp_path / "out"
    t0 = time.perf_counter()
    rc = main(["run", grid_path, "--out", str(out), "--scheduler", cluster.scheduler_address, "--no-progress"])
    assert rc == 0
    assert time.perf_counter() - t0 < 60
    assert marker.exists()  # a worker process really died holding that chunk
    df = load(out)
    assert df["run_id"].is_unique and len(df) == N_RUNS
    pd.testing.assert_frame_equal(df, local_result)


@pytest.mark.slow
def test_lost_grid_is_computed_again(grid_path, local_result, tmp_path):
    """The only worker dies: the grid it held is gone; its task has a recipe, so the scheduler
    computes it again for the chunks that need it (scattered data would be forgotten)."""
    marker = tmp_path / "crashed"
    log = io.StringIO()
    with local_cluster(1) as one:
        backend = DaskBackend(scheduler=one, stream=log, task=functools.partial(
            dask_faults.crash_once, target=CHUNKS[2], marker=str(marker)))
        try:
            stats = run_sweep(load_grid(grid_path), tmp_path / "out", backend=backend, progress=False)
        finally:
            backend.close()
    assert marker.exists()
    assert stats.n_trained == N_RUNS and stats.n_failed == 0
    pd.testing.assert_frame_equal(load(tmp_path / "out"), local_result)


@pytest.mark.slow
def test_losing_most_workers_mid_sweep(grid_path, local_result, tmp_path, monkeypatch, capfd):
    """``--dask-local 5``; once 3 chunks are back, 4 worker processes are killed (SIGKILL), and
    once 6 are back, every worker then alive: the sweep still ends complete (exit 0) with the
    local backend's rows, and distributed's tracebacks stay in its log file, off the terminal."""
    real = DaskBackend.map_chunks
    killed = []

    def kill_workers(backend, n: int) -> None:
        pids = backend.client.run(os.getpid, on_error="return")  # a dying worker answers an error
        pids = sorted(p for p in pids.values() if isinstance(p, int))[:n]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed.append(len(pids))

    def map_chunks(self, grid, plans, chunks):
        for i, item in enumerate(real(self, grid, plans, chunks), 1):
            if i == 3:
                kill_workers(self, 4)
            if i == 6:
                kill_workers(self, 5)
            yield item

    monkeypatch.setattr(DaskBackend, "map_chunks", map_chunks)
    out = tmp_path / "out"
    capfd.readouterr()
    rc = main(["run", grid_path, "--out", str(out), "--dask-local", "5", "--chunk-size", "32", "--no-progress"])
    text = "".join(capfd.readouterr())
    assert rc == 0, text
    assert killed[0] == 4 and killed[1] >= 1, killed
    assert "Traceback" not in text and " - ERROR - " not in text, text
    assert "cancelled for reason" not in text and "failed:" not in text, text   # no chunk failed
    pd.testing.assert_frame_equal(load(out), local_result)
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert manifest["status"] == "complete" and manifest["failures"] == []


def test_failing_chunk_is_quarantined(grid_path, local_result, cluster, client, tmp_path, monkeypatch):
    log = tmp_path / "attempts"
    monkeypatch.setattr(dask_backend, "run_chunk", functools.partial(
        dask_faults.always_fail, target=CHUNKS[1], log=str(log)))
    out = tmp_path / "out"
    argv = ["run", grid_path, "--out", str(out), "--scheduler", cluster.scheduler_address, "--no-progress"]
    assert main(argv) == 1
    assert len(log.read_text().split()) == 3  # the first attempt and 2 retries ([execution] retries)
    assert sorted(p.stem for p in out.glob("part-*.parquet")) == [f"part-{c}" for i, c in enumerate(CHUNKS) if i != 1]
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert manifest["status"] == "failed"
    [failure] = manifest["failures"]
    assert failure["chunk"] == CHUNKS[1]
    assert failure["error"] == f"ValueError: injected failure in chunk {CHUNKS[1]}"
    assert "always_fail" in failure["traceback"] and "Traceback" in failure["traceback"]
    assert len(load(out)) == N_RUNS - 128

    monkeypatch.undo()  # the fault is gone: resuming trains only the quarantined chunk
    assert main(argv) == 0
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert manifest["sessions"][-1]["pending"] == 128 and manifest["status"] == "complete"
    pd.testing.assert_frame_equal(load(out), local_result)


def test_in_flight_is_bounded_and_keys_name_the_runs(grid_path, client, monkeypatch):
    grid = load_grid(grid_path)
    chunks = list(iter_chunks(grid, 32))  # 19 chunks
    submitted = []
    real_submit = client.submit

    def submit(fn, *args, key=None, **kwargs):
        if fn is not dask_backend._value:  # the grid's and the plans' tasks are not chunks
            submitted.append(key)
        return real_submit(fn, *args, key=key, **kwargs)

    monkeypatch.setattr(client, "submit", submit)
    backend = DaskBackend(scheduler=client, max_in_flight=3, warm=False)
    received = []
    for item in backend.map_chunks(grid, make_plans(grid), chunks):
        received.append(item.chunk.name)
        assert len(submitted) - len(received) <= 3 - 1
    backend.close()
    assert client.status == "running"  # a client handed in stays open
    assert sorted(received) == sorted(c.name for c in chunks)
    assert sorted(submitted) == sorted(f"mlp-sweep-{grid.hash[:12]}-{c.name}" for c in chunks)


def test_interrupt_cancels_outstanding_chunks(grid_path, client):
    grid = load_grid(grid_path)
    backend = DaskBackend(scheduler=client, warm=False, max_in_flight=4,
                          task=functools.partial(dask_faults.slow, seconds=0.5))
    items = backend.map_chunks(grid, make_plans(grid), list(iter_chunks(grid, 32)))
    assert not isinstance(next(items), ChunkFailure)
    with pytest.raises(KeyboardInterrupt):
        items.throw(KeyboardInterrupt)

    def chunk_tasks(dask_scheduler):
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("mlp-sweep-")]

    deadline = time.monotonic() + 10
    while (left := client.run_on_scheduler(chunk_tasks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


class _Flow:        # an as_completed that never reports anything
    def has_ready(self):
        return False


class _Future:
    def __init__(self, status, value=None):
        self.status, self.value, self.cancelled = status, value, False

    def result(self):
        return self.value

    def cancel(self):
        self.cancelled, self.status = True, "cancelled"


class _Client:
    def __init__(self, processing):
        self._processing = processing

    def processing(self):
        return self._processing


def test_a_completion_as_completed_misses_is_found_by_its_status(monkeypatch):
    from sweep.run.backends import dask_flow as backend

    monkeypatch.setattr(backend, "STALL_S", 0.05)
    done, pending = _Future("finished", "the result"), _Future("pending")
    assert backend._next_done(_Flow(), {pending: 0, done: 1}) == (done, "the result")
    # pending while every worker is idle: cancelled, for map_chunks to resubmit it
    future, _ = backend._next_done(_Flow(), {pending: 0}, _Client({"w1": [], "w2": []}))
    assert future is pending and pending.cancelled and pending.status == "cancelled"


def test_outcomes_lost_and_killed_are_run_again():
    from concurrent.futures import CancelledError

    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker
    from sweep.run.backends.dask_flow import _outcome

    forgotten = FutureCancelledError(key="k-resubmit2", reason="already forgotten")
    assert _outcome(CancelledError()) == "lost"
    assert _outcome((FutureCancelledError, forgotten, None)) == "lost"
    assert _outcome((KilledWorker, KilledWorker("k", "w", 3), None)) == "killed"
    assert _outcome((ValueError, ValueError("bad"), None)) == "failed"
    assert _outcome("a chunk result") == "done"


def test_distributed_logs_go_to_a_file(tmp_path, capfd):
    import logging

    from sweep.run.backends import dask_logs

    path = tmp_path / "dask.log"
    before = {name: list(logging.getLogger(name).handlers) for name in dask_logs._configured()}
    saved = dask_logs.route(path)
    try:
        logging.getLogger("distributed.scheduler").error("Removing worker: %s", "lost data")
        logging.getLogger("distributed.client").warning("Couldn't gather 1 keys")
        logging.getLogger("tornado.application").error("Exception in callback")
    finally:
        dask_logs.restore(saved)
    assert capfd.readouterr().err == ""
    assert "Removing worker: lost data" in path.read_text()
    assert dask_logs.summary(path).startswith("dask: distributed logged 2 error(s) and 1 warning(s)")
    assert {name: logging.getLogger(name).handlers for name in before} == before  # put back
    assert dask_logs.summary(tmp_path / "none.log") is None
