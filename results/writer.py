"""The output directory: a lock, a manifest, and part files written atomically.

Where each file lives is ``results.layout`` (runs in DIR, the rest in the sidecar DIR.sweep/).
Every file is written to a temporary name starting with ``.`` (in the sidecar's tmp/, which no
reader looks at), flushed to disk, then ``os.replace``-d into place: a ``kill -9`` at any moment
leaves either the whole part or none of it, never a corrupt one.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from results.errors import OutputError
from results.layout import Layout, layout_of
from results.lock import DirLock, LockBusy


def _tmp_name(path: Path, tmp_dir: Path | None = None) -> Path:
    name = f".{path.name}.tmp-{os.getpid()}"
    return (tmp_dir / name) if tmp_dir is not None else path.with_name(name)


def atomic_write_bytes(path: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    tmp = _tmp_name(path, tmp_dir)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or Ctrl-C leaves no temp file behind
        raise


def _blake2b():
    return hashlib.blake2b(digest_size=16)


def digest_bytes(data) -> str:
    """The digest a part's bytes are checked against (blake2b, 128 bits, hex)."""
    h = _blake2b()
    h.update(data)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """:func:`digest_bytes` of a file's content."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, _blake2b).hexdigest()


SCHEMA_DIGEST_KEY = b"mlp_sweep_schema_digest"


def schema_digest(schema: pa.Schema) -> str:
    """A digest of what the footer says beyond the pages (whose CRC-32s cover the values): column
    names, types, nullability, field and file metadata (but this digest's own key). A list's item
    is ``item`` in Arrow and ``element`` once read from Parquet: the name is left out."""
    fields = [(f.name, re.sub(r"<(item|element): ", "<", str(f.type)), f.nullable, sorted((f.metadata or {}).items())) for f in schema]
    meta = sorted((k, v) for k, v in (schema.metadata or {}).items() if k not in (SCHEMA_DIGEST_KEY, b"ARROW:schema"))
    return digest_bytes(repr((fields, meta)).encode())


def atomic_write_table(path: Path, table: pa.Table, tmp_dir: Path | None = None) -> str:
    """Write ``table`` as Parquet at ``path`` atomically; returns the digest of the bytes written.

    Every page carries a CRC-32 (``write_page_checksum``) that readers verify
    (``page_checksum_verification``); the whole-file digest covers the footer as well."""
    tmp = _tmp_name(path, tmp_dir)
    try:
        # dictionaries only for text: on numbers they fall back per page, at 2-3x the time
        # (and dictionary columns, whose stored dictionary keeps their categories' order)
        text = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                or pa.types.is_dictionary(f.type)]
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               SCHEMA_DIGEST_KEY: schema_digest(table.schema).encode()})
        # min/max statistics only for the other columns: on the text ones they cost 15% of the
        # write (the dictionary's strings compared per row) and spare a reader little (a part's
        # text column is one dictionary entry and a page of zero codes; filters still apply)
        pq.write_table(table, tmp, compression="zstd", use_dictionary=text, write_page_checksum=True,
                       write_statistics=[f.name for f in table.schema if f.name not in text])
        with open(tmp, "rb+") as fh:
            digest = hashlib.file_digest(fh, _blake2b).hexdigest()   # just written: read from the page cache
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest


def os_error_text(exc: OSError, path, what: str) -> str:
    """One line for a file-system error: what failed, the path, and the OS message."""
    where = exc.filename if getattr(exc, "filename", None) else path
    hint = {errno.ENOSPC: "free some space and run the same command again to resume",
            errno.EDQUOT: "free some space and run the same command again to resume",
            errno.EROFS: "choose a writable --out directory",
            errno.EACCES: "choose a directory you can write to (--out)",
            errno.ENOTDIR: "a part of the path is a file; choose another --out directory",
            errno.EEXIST: "choose another --out directory"}.get(exc.errno, "")
    return f"{what} {where}: {exc.strerror or exc}" + (f"; {hint}" if hint else "")


def _owner_text(owner: str) -> str:
    host, _, pid = owner.partition(" ")
    return f"process {pid} on {host}" if pid else "another process"


class OutputDir:
    """A sweep's output directory. Use as a context manager to hold its lock (``results.lock``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.layout: Layout = layout_of(self.path)
        self._lock: DirLock | None = None
        self.digests: dict[str, str] = {}   # part name -> digest of the bytes this process wrote

    @property
    def legacy(self) -> bool:
        """True for a directory written in layout 1 (before the sidecar)."""
        return self.layout.version == 1

    # --- lock ------------------------------------------------------------------------
    def __enter__(self) -> "OutputDir":
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"cannot use the output directory {self.path}: it is a file, not a directory; "
                              f"choose another --out directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.layout.meta.mkdir(parents=True, exist_ok=True)
            if self.layout.tmp is not None:
                self.layout.tmp.mkdir(exist_ok=True)
            self._lock = DirLock(self.layout.lock).acquire()
        except LockBusy as exc:
            raise OutputError(f"{self.path} is in use by {_owner_text(exc.owner)} (it holds the lock on "
                              f"{exc.path}); wait for it to finish: the lock is released when that process "
                              f"exits, even by kill -9") from None
        except OSError as exc:
            raise OutputError(os_error_text(exc, self.path, "cannot use the output directory")) from None
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # --- manifest ----------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.layout.manifest

    def read_manifest(self) -> dict | None:
        p = self.manifest_path
        if not p.exists():
            return None
        try:
            value = json.loads(p.read_bytes().decode("utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
            raise OutputError(f"{p} is unreadable: {exc}") from None
        if not isinstance(value, dict):
            raise OutputError(f"{p} is unreadable: not a JSON object")
        return value

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode(),
                           self.layout.tmp)

    # --- parts -------------------------------------------------------------------------
    def part_files(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))

    def curves_file(self, part: Path) -> Path:
        """The curves part that belongs to run part ``part`` (it may not exist)."""
        return self.layout.curves / part.name

    def curve_files(self) -> list[Path]:
        return sorted(self.layout.curves.glob("part-*.parquet"))

    def temp_files(self) -> list[Path]:
        """Temporary files left by a writer that died (``.NAME.tmp-PID``): in the sidecar's tmp/,
        and beside the parts and curves (layout 1)."""
        folders = [self.path, self.layout.curves, self.layout.meta] + ([self.layout.tmp] if self.layout.tmp else [])
        return sorted({p for f in folders for p in f.glob(".*.tmp-*")})

    @property
    def quarantine_dir(self) -> Path:
        """Where damaged files go: ``DIR.sweep/quarantine/`` (``DIR/_quarantine/`` in layout 1)."""
        return self.layout.meta / ("_quarantine" if self.legacy else "quarantine")

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move ``path`` into the quarantine folder (never deleted) and log it there; returns the new path."""
        qdir = self.quarantine_dir
        qdir.mkdir(parents=True, exist_ok=True)
        base = self.path if path.is_relative_to(self.path) else self.layout.meta
        rel = path.relative_to(base)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = qdir / f"{'_'.join(rel.parts)}.{stamp}"
        n = 1
        while target.exists():
            target, n = qdir / f"{'_'.join(rel.parts)}.{stamp}.{n}", n + 1
        os.replace(path, target)
        with open(qdir / "quarantine.log", "a") as fh:
            fh.write(json.dumps({"time": stamp, "file": str(rel), "moved_to": target.name, "reason": reason}) + "\n")
        return target

    def done_run_ids(self, parts: list[Path] | None = None) -> np.ndarray:
        """Sorted run_ids of every finished run (reads only that column)."""
        parts = self.part_files() if parts is None else parts
        if not parts:
            return np.zeros(0, np.uint64)
        ids = ds.dataset([str(p) for p in parts], format="parquet").to_table(columns=["run_id"])
        return np.sort(ids.column("run_id").to_numpy())

    def write_part(self, name: str, table: pa.Table, curves: pa.Table | None = None) -> Path:
        """Write the curves first, then the run rows: a run counts as done only with both.

        Never replaces a part: when a grid was edited so that its group numbering moved (a
        sub-grid inserted before others), a new chunk can carry an old part's name; it is then
        written as ``part-NAME~K.parquet`` (the directory is planned by run ids from then on)."""
        stem, k = f"part-{name}", 0
        while (self.path / f"{stem}.parquet").exists() or (self.layout.curves / f"{stem}.parquet").exists():
            k += 1
            stem = f"part-{name}~{k}"
        if curves is not None and curves.num_rows:
            cdir = self.layout.curves
            cdir.mkdir(parents=True, exist_ok=True)
            atomic_write_table(cdir / f"{stem}.parquet", curves, self.layout.tmp)
        path = self.path / f"{stem}.parquet"
        self.digests[path.name] = atomic_write_table(path, table, self.layout.tmp)
        return path
