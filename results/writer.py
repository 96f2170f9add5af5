"""The output directory: a lock, a manifest, and part files written atomically.

Where each file lives is ``results.layout``'s business (``OutputDir.layout``): the runs in
DIR, the manifest, lock and curves in the sidecar ``DIR.sweep/`` (layout 2), or inside DIR
for a directory written before (layout 1, still resumed as it is).

Every file is written to a temporary name starting with ``.`` (in ``DIR.sweep/tmp/`` for
layout 2, so DIR never holds anything but complete parts), flushed to disk, then
``os.replace``-d into place: a ``kill -9`` at any moment leaves either the whole part or
none of it, never a corrupt one.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from results.errors import OutputError
from results.layout import Layout, layout_of


def _tmp_path(path: Path, tmp_dir: Path | None) -> Path:
    name = f".{path.name}.tmp-{os.getpid()}"
    return (tmp_dir / name) if tmp_dir is not None else path.with_name(name)


def atomic_write_bytes(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    tmp = _tmp_path(path, tmp_dir)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_table(path: Path, table: pa.Table, tmp_dir: Path | None = None) -> None:
    tmp = _tmp_path(path, tmp_dir)
    pq.write_table(table, tmp, compression="zstd")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputDir:
    """A sweep's output directory. Use as a context manager to hold its lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.layout: Layout = layout_of(self.path)

    @property
    def legacy(self) -> bool:
        """True for a directory written in layout 1 (before the sidecar)."""
        return self.layout.version == 1

    # --- lock ------------------------------------------------------------------------
    def __enter__(self) -> "OutputDir":
        self.path.mkdir(parents=True, exist_ok=True)
        self.layout.meta.mkdir(parents=True, exist_ok=True)
        if self.layout.tmp is not None:
            self.layout.tmp.mkdir(exist_ok=True)
        lock = self.layout.lock
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = self._lock_owner(lock)
                if owner and owner[0] == socket.gethostname() and not _pid_alive(owner[1]):
                    lock.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                who = f"process {owner[1]} on {owner[0]}" if owner else "another process"
                raise OutputError(f"{self.path} is in use by {who} (lock file {lock}); "
                                  f"wait for it to finish, or delete the lock file if that process is gone")
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{socket.gethostname()} {os.getpid()}\n")
            return self
        raise OutputError(f"could not take the lock {lock}")

    def __exit__(self, *exc) -> None:
        self.layout.lock.unlink(missing_ok=True)

    @staticmethod
    def _lock_owner(lock: Path):
        try:
            host, pid = lock.read_text().split()
            return host, int(pid)
        except (OSError, ValueError):
            return None

    # --- manifest ----------------------------------------------------------------------
    def read_manifest(self) -> dict | None:
        p = self.layout.manifest
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise OutputError(f"{p} is unreadable: {exc}") from None

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_bytes(self.layout.manifest, json.dumps(manifest, indent=2, sort_keys=True).encode(),
                           self.layout.tmp)

    # --- parts -------------------------------------------------------------------------
    def part_files(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))

    def done_run_ids(self) -> np.ndarray:
        """Sorted run_ids of every finished run (reads only that column)."""
        parts = self.part_files()
        if not parts:
            return np.zeros(0, np.uint64)
        ids = ds.dataset([str(p) for p in parts], format="parquet").to_table(columns=["run_id"])
        return np.sort(ids.column("run_id").to_numpy())

    def write_part(self, name: str, table: pa.Table, curves: pa.Table | None = None) -> Path:
        """Write the curves first, then the run rows: a run counts as done only with both."""
        if curves is not None and curves.num_rows:
            cdir = self.layout.curves
            cdir.mkdir(exist_ok=True)
            atomic_write_table(cdir / f"part-{name}.parquet", curves, self.layout.tmp)
        path = self.path / f"part-{name}.parquet"
        atomic_write_table(path, table, self.layout.tmp)
        return path
