"""A session's record in the directory's manifest (``manifest.json``): started, then finished.

``Session.start(out, grid, plans, manifest, backend, n_pending)`` adds this session to the
manifest's ``sessions``, brings the grid's fields up to date and writes it with status
``running``; ``session.finish(stats, status, verified)`` writes its outcome (trained, failed,
timings, status, failures, ``n_done``, the verified parts), a Ctrl-C held until it is written.
"""
from __future__ import annotations

import platform
import socket
from datetime import datetime, timezone

import numpy as np

from results.schema import SCHEMA_VERSION
from results.writer import os_error_text
from sweep.errors import OutputError
from sweep.grid.identity import manifest_fields
from sweep.run.interrupt import sigint_deferred
from sweep.run.numerics import manifest_fields as numerics_fields


class Session:
    """This session's entry (``entry``, the last of ``manifest["sessions"]``) and the manifest
    (a dict) it updates; ``out``: the ``results.writer.OutputDir``."""

    def __init__(self, out, manifest: dict, entry: dict):
        self.out, self.manifest, self.entry = out, manifest, entry

    @classmethod
    def start(cls, out, grid, plans, manifest: dict, backend, n_pending: int) -> "Session":
        """Write the manifest with this session running; ``OutputError`` if it cannot be written."""
        sessions = manifest.get("sessions", [])
        sessions = sessions if isinstance(sessions, list) else []
        sessions.append({"started": _now(), "backend": backend.describe(), "pending": n_pending})
        manifest.update(_manifest_base(grid, plans))
        manifest.update(manifest_fields(out))
        if out.legacy:  # ids there are identity 1: never trust part names against this grid's ids
            manifest["part_names_layout"] = None
        manifest.update({"sessions": sessions, "status": "running", "started": manifest.get("started", _now())})
        try:
            out.write_manifest(manifest)
        except OSError as exc:
            raise OutputError(os_error_text(exc, out.manifest_path, "cannot write")) from None
        return cls(out, manifest, sessions[-1])

    def finish(self, stats, status: str, verified) -> OSError | None:
        """Write the session's outcome (``stats``: a ``RunStats``) and the manifest's status; returns
        the error when it cannot be written (the parts are safe: the manifest is rebuilt next time)."""
        self.entry.update({"finished": _now(), "trained": stats.n_trained, "failed": stats.n_failed,
                           "kernel_s": round(stats.kernel_s, 3), "warm_s": round(stats.warm_s, 3),
                           "compile_ahead_s": round(stats.compile_ahead_s, 3), "plan_s": round(stats.plan_s, 3),
                           "wall_s": round(stats.wall_s, 3), "network_epochs": stats.network_epochs,
                           "status": status})
        self.manifest.update({"status": status, "finished": _now(), "failures": stats.failures,
                              "n_done": stats.n_done_before + stats.n_trained})
        if verified is not None:
            self.manifest["verified_parts"] = verified
        error = None
        with sigint_deferred():
            try:
                self.out.write_manifest(self.manifest)
            except OSError as exc:  # e.g. the disk filled up
                error = exc
        return error


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict:
    import numba
    import pandas
    import pyarrow

    from sweep import __version__
    return {"mlp_sweep": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "pyarrow": pyarrow.__version__, "pandas": pandas.__version__}


def _manifest_base(grid, plans) -> dict:
    return {
        "name": grid.name, "description": grid.description, "grid_path": str(getattr(grid, "path", "")),
        "grid_text": grid.text, "grid_canonical": grid.canonical, "grid_hash": grid.hash, "runs_hash": grid.runs_hash,
        "overrides": list(grid.overrides), "schema_version": SCHEMA_VERSION, **numerics_fields(), "versions": _versions(),
        "host": socket.gethostname(), "n_runs": grid.n_distinct, "main_criterion": grid.main_criterion,
        "groups": [{"key": p.key, "label": p.label, "n_runs": g.n_runs, "sizes": list(p.network.sizes)}
                   for p, g in zip(plans, grid.groups())],
    }
