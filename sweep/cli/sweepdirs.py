"""Facts about sweep directories for ``sweep ls`` and ``sweep info``, read without loading runs.

Runs done are counted from the Parquet footers (no data pages are read); the status is the
manifest's, except that a sweep whose manifest says "running" but whose lock is gone is
shown as "interrupted" (its process ended without finishing: nobody holds its lock).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from results.layout import SIDECAR_SUFFIX, Layout, is_sweep_dir, layout_of
from results.lock import is_held
from sweep.errors import OutputError


@dataclass(frozen=True)
class SweepDir:
    path: Path
    layout: Layout
    manifest: dict
    n_done: int
    damaged: str = ""    # why the manifest could not be read ("sweep ls" lists the sweep as damaged)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    @property
    def n_total(self) -> int | None:
        n = self.manifest.get("n_runs")
        return n if isinstance(n, int) else None

    @property
    def status(self) -> str:
        if self.damaged:
            return "damaged"
        status = str(self.manifest.get("status") or "unknown")
        if status == "running" and not is_held(self.layout.lock):
            return "interrupted"   # killed (kill -9, SIGTERM, a crash): nobody holds the lock
        return status

    @property
    def date(self) -> str:
        """Last finish (or start) time as ``YYYY-MM-DD HH:MM`` (UTC)."""
        when = self.manifest.get("finished") or self.manifest.get("started") or ""
        return str(when)[:16].replace("T", " ")

    @property
    def progress(self) -> str:
        total = self.n_total
        return f"{self.n_done}/{total}" if total is not None else f"{self.n_done}/?"


def count_runs(path: Path) -> int:
    """Rows in ``path``'s run parts, from the Parquet footers."""
    n = 0
    for part in sorted(Path(path).glob("part-*.parquet")):
        try:
            n += pq.ParquetFile(part).metadata.num_rows
        except (OSError, ValueError):  # a damaged part counts as nothing (issue 12 repairs it)
            continue
    return n


def _not_a_dir(path: Path, what: str) -> OutputError:
    if path.exists():
        return OutputError(f"{path} is a file, not a directory; {what}")
    return OutputError(f"{path}: no such directory")


def open_sweep(path, damaged_ok: bool = False) -> SweepDir:
    """The sweep at ``path`` (runs directory of either layout); ``OutputError`` if it is none.

    ``damaged_ok``: a manifest that cannot be read (bad bytes, bad JSON, not an object) gives a
    ``damaged`` sweep instead of an error (``sweep ls`` lists it and goes on)."""
    path = Path(path)
    if path.name.endswith(SIDECAR_SUFFIX) and Path(str(path)[: -len(SIDECAR_SUFFIX)]).is_dir():
        path = Path(str(path)[: -len(SIDECAR_SUFFIX)])  # the sidecar was named: use its runs
    if not path.is_dir():
        raise _not_a_dir(path, "give a sweep's output directory (e.g. runs/NAME, as 'sweep ls' lists them)")
    layout = layout_of(path)
    manifest: dict = {}
    if layout.manifest.is_file():
        try:
            manifest = json.loads(layout.manifest.read_bytes().decode("utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:   # ValueError: bad JSON, bad UTF-8, not an object
            problem = f"{layout.manifest}: unreadable manifest: {exc}"
            if not damaged_ok:
                raise OutputError(f"{problem}; 'sweep run' of its grid rebuilds it") from None
            return SweepDir(path, layout, {}, count_runs(path), damaged=problem)
    elif not any(path.glob("part-*.parquet")):
        raise OutputError(f"{path} is not a sweep directory (no manifest, no part-*.parquet); "
                          f"'sweep ls {path}' lists the sweeps under it")
    return SweepDir(path, layout, manifest, count_runs(path))


def find_sweeps(root) -> list[SweepDir]:
    """Every sweep directory under ``root`` (``root`` included), sorted by path; sidecars skipped.
    A sweep whose manifest cannot be read is listed as damaged (``SweepDir.damaged``)."""
    root = Path(root)
    if not root.is_dir():
        raise _not_a_dir(root, "'sweep ls' takes a folder to search for sweeps (default: runs)")
    found = []
    for here, dirs, _files in os.walk(root):
        here_p = Path(here)
        if is_sweep_dir(here_p):
            found.append(open_sweep(here_p, damaged_ok=True))
            dirs[:] = []  # runs directories hold only parts (or layout-1 _curves/)
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and not d.endswith(SIDECAR_SUFFIX))
    return found
