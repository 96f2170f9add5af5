"""Execution backends behind one interface (``sweep.run.backends.base.Backend``)."""
from __future__ import annotations


def make_backend(execution: dict | None = None, threads=None, scheduler=None, dask_local=None):
    """The backend the command line and the grid's [execution] section ask for (CLI wins)."""
    execution = execution or {}
    scheduler = scheduler or execution.get("scheduler") or None
    dask_local = dask_local if dask_local is not None else execution.get("dask_local") or None
    threads = threads if threads is not None else execution.get("threads") or None
    if scheduler or dask_local or execution.get("backend") == "dask":
        from sweep.run.backends.dask import DaskBackend
        return DaskBackend(scheduler=scheduler, n_workers=dask_local, threads=threads,
                           retries=int(execution.get("retries", 2)))
    from sweep.run.backends.local import LocalBackend
    return LocalBackend(threads=threads)
