"""The output directory: a lock, a manifest, and part files written atomically.

Every file is written to a temporary name starting with ``.`` (which dataset discovery
skips), flushed to disk, then ``os.replace``-d into place: a ``kill -9`` at any moment
leaves either the whole part or none of it, never a corrupt one.
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

from sweep.errors import OutputError

MANIFEST = "_manifest.json"
LOCK = "_lock"
CURVES = "_curves"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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

    # --- lock ------------------------------------------------------------------------
    def __enter__(self) -> "OutputDir":
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK
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
        (self.path / LOCK).unlink(missing_ok=True)

    @staticmethod
    def _lock_owner(lock: Path):
        try:
            host, pid = lock.read_text().split()
            return host, int(pid)
        except (OSError, ValueError):
            return None

    # --- manifest ----------------------------------------------------------------------
    def read_manifest(self) -> dict | None:
        p = self.path / MANIFEST
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise OutputError(f"{p} is unreadable: {exc}") from None

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_bytes(self.path / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())

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
            cdir = self.path / CURVES
            cdir.mkdir(exist_ok=True)
            atomic_write_table(cdir / f"part-{name}.parquet", curves)
        path = self.path / f"part-{name}.parquet"
        atomic_write_table(path, table)
        return path
