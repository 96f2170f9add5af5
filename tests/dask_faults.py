"""Fault-injection tasks for tests/test_dask_backend.py (same signature as ``run_chunk``).

They run inside Dask worker processes, so monkeypatching in the test process cannot reach
them: the test binds their arguments with ``functools.partial`` and hands that to
``DaskBackend(task=...)`` (or patches ``sweep.run.backends.dask.run_chunk``, the default task,
in the client process). The scheduler and the workers must import this module: on a
LocalCluster started by the test they do (the workers are spawned with the test's
``sys.path``). State that must survive a worker's death (has this chunk crashed once
already?) lives in marker files.
"""
from __future__ import annotations

import os
import time

from sweep.run.backends.dask import run_chunk


def crash_once(grid, plan, chunk, threads=None, *, target: str, marker: str):
    """Kill the whole worker process (no exception, no cleanup) the first time ``target`` runs."""
    if chunk.name == target and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        os._exit(1)
    return run_chunk(grid, plan, chunk, threads)


def always_fail(grid, plan, chunk, threads=None, *, target: str, log: str):
    """Raise on every attempt for ``target``; each attempt appends a line to ``log``."""
    if chunk.name == target:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        raise ValueError(f"injected failure in chunk {chunk.name}")
    return run_chunk(grid, plan, chunk, threads)


def slow(grid, plan, chunk, threads=None, *, seconds: float):
    time.sleep(seconds)
    return run_chunk(grid, plan, chunk, threads)
