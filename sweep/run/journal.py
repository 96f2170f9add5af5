"""The journal of verified parts: resume after ``kill -9`` re-checks only the parts written after it.

``manifest["verified_parts"]`` is written when a session starts and when it ends; a session killed
in between (``kill -9``, a power cut) leaves every part it wrote unlisted, and the next start would
read each of them whole (~15 ms a part: 33 s at 2,000 parts). The writer thread therefore appends
one JSON line per part it wrote to ``DIR.sweep/verified.jsonl``::

    {"journal": 1, "runs_hash": "..."}                                    header: the run layout
    {"name": "part-....parquet", "size": 174203, "mtime_ns": ..., "digest": "..."}

Each line is written (one ``write``, so a ``kill -9`` cannot lose it once the call returned) as the
part is renamed into place, and the file is fsync'd every :data:`FSYNC_EVERY` lines and on close
(so a power cut loses at most that many lines: those parts are then checked again, nothing else).
On start (:func:`read_journal`) the entries count as the manifest's do: a part whose size and mtime
match its entry is not read again, one that changed is checked and its digest compared. A torn last
line, or any line that is not a whole entry, is ignored; a journal of another run layout (a grid
that grew) is ignored entirely. Once a session's manifest lists every part, :meth:`Journal.start`
begins a fresh journal, so it only ever holds one session's parts.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from results.writer import OutputDir, atomic_write_bytes

FSYNC_EVERY = 64
NAME = "verified.jsonl"


def journal_path(out: OutputDir) -> Path | None:
    """Where ``out``'s journal lives; None in layout 1 (whose parts are always checked by run id)."""
    return None if out.legacy else out.layout.meta / NAME


def read_journal(out: OutputDir, runs_hash: str) -> dict[str, list]:
    """``{part name: [size, mtime_ns, digest]}`` from the journal, if it was written under ``runs_hash``.

    Reads only whole lines that parse as an entry: a line torn by ``kill -9`` (or any garbage) is
    skipped, never an error. A later line for the same name replaces an earlier one."""
    path = journal_path(out)
    if path is None:
        return {}
    try:
        data = path.read_bytes()
    except OSError:  # absent (a sweep started before journals) or unreadable: check the parts
        return {}
    lines = data.split(b"\n")[:-1]          # the text after the last newline is a torn line
    if not lines or _parse(lines[0]).get("runs_hash") != runs_hash:
        return {}
    entries: dict[str, list] = {}
    for line in lines[1:]:
        e = _parse(line)
        name, size, mtime, digest = (e.get(k) for k in ("name", "size", "mtime_ns", "digest"))
        if (isinstance(name, str) and type(size) is int and type(mtime) is int
                and (digest is None or isinstance(digest, str))):
            entries[name] = [size, mtime] + ([digest] if digest else [])
    return entries


def _parse(line: bytes) -> dict:
    try:
        value = json.loads(line.decode("utf-8"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class Journal:
    """The open journal of one session; :meth:`append` is called by the writer thread only."""

    def __init__(self, path: Path, fh):
        self.path = path
        self._fh = fh
        self._unsynced = 0

    @classmethod
    def start(cls, out: OutputDir, runs_hash: str) -> "Journal | None":
        """A fresh journal (the manifest just written lists every part verified so far)."""
        path = journal_path(out)
        if path is None:
            return None
        header = json.dumps({"journal": 1, "runs_hash": runs_hash}).encode() + b"\n"
        atomic_write_bytes(path, header, out.layout.tmp)
        return cls(path, open(path, "ab", buffering=0))

    def append(self, name: str, fp: list) -> None:
        """Record part ``name`` with its :func:`sweep.run.done.fingerprint` ``[size, mtime_ns, digest]``."""
        entry = {"name": name, "size": fp[0], "mtime_ns": fp[1], "digest": fp[2] if len(fp) > 2 else None}
        self._fh.write(json.dumps(entry).encode() + b"\n")   # unbuffered: one write() per line
        self._unsynced += 1
        if self._unsynced >= FSYNC_EVERY:
            os.fsync(self._fh.fileno())
            self._unsynced = 0

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            if self._unsynced:
                os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
