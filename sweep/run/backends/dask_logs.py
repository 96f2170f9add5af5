"""distributed's own log records during a sweep go to a file, not to the terminal.

Losing workers is routine for a sweep on Dask: the nanny (or SLURM) replaces them and the
backend reruns their chunks. distributed still logs every loss at ERROR, often with a
traceback ("Couldn't gather keys", "broadcast to ... failed", "failed during get data",
"Removing worker ... caused the cluster to lose ..."): six to nine tracebacks on the terminal
of a sweep that lost four workers and finished fine. While a :class:`DaskBackend` is open,
the records of the loggers in ``LOGGERS`` (in the client's process, which also holds the
scheduler and the nannies of ``--dask-local``, and, through the preload
``dask_worker_setup``, in its worker processes) are appended to one log file instead; when
the backend closes, one line says how many warnings and errors it holds and where it is.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

#: The loggers routed to the file (with their children: ``distributed.scheduler`` ...).
LOGGERS = ("distributed", "tornado", "bokeh")
#: Set in the environment of the worker processes we start: the preload routes them there too.
ENV = "MLP_SWEEP_DASK_LOG"
FORMAT = "%(asctime)s pid %(process)d - %(name)s - %(levelname)s - %(message)s"


def default_path() -> Path:
    """A fresh log file name in the temporary folder (created only when a record arrives)."""
    fd, name = tempfile.mkstemp(prefix="mlp-sweep-dask-", suffix=".log")
    os.close(fd)
    os.unlink(name)
    return Path(name)


def route(path: str | os.PathLike) -> list:
    """Send the records of ``LOGGERS`` to ``path`` (appended, so several processes can share
    it) instead of their handlers; returns what ``restore`` needs to undo it."""
    handler = logging.FileHandler(path, mode="a", delay=True)
    handler.setFormatter(logging.Formatter(FORMAT))
    saved = []
    for name in _configured():
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate))
        logger.handlers = [handler]
        logger.propagate = False
    return saved


def _configured() -> list[str]:
    """``LOGGERS`` and their children that exist now: distributed's logging set-up gives each
    name of its configuration (``distributed.client``, ``tornado.application`` ...) its own
    handler, so routing the parents alone would leave those on the terminal."""
    existing = list(logging.root.manager.loggerDict)
    return [name for name in existing
            if any(name == root or name.startswith(root + ".") for root in LOGGERS)
            and (name in LOGGERS or logging.getLogger(name).handlers)] + \
        [root for root in LOGGERS if root not in existing]


def restore(saved: list) -> None:
    closed = set()
    for logger, handlers, propagate in saved:
        for h in logger.handlers:
            if id(h) not in closed:
                closed.add(id(h))
                h.close()
        logger.handlers, logger.propagate = handlers, propagate


_LEVEL = re.compile(r" - (WARNING|ERROR|CRITICAL) - ")


def summary(path: Path) -> str | None:
    """One line on what the log file holds, or None when it holds no warning or error."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    levels = _LEVEL.findall(text)
    if not levels:
        return None
    errors = sum(level != "WARNING" for level in levels)
    return (f"dask: distributed logged {errors} error(s) and {len(levels) - errors} warning(s) "
            f"(lost workers are replaced and their chunks rerun): {path}")
