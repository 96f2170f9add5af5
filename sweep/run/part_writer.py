"""Writing finished chunks as part files, on a background thread, none lost to a Ctrl-C.

``PartWriter.start(out, grid, scan, manifest, stats)`` opens the journal of verified parts
(``sweep.run.journal``); ``submit(item)`` writes a chunk's rows (an ``execute_chunk`` result) as one
part on one background thread, overlapping the next kernel call (the kernels release the GIL),
at most two writes waiting; leaving ``with writer:`` (normally, by an error or by Ctrl-C) waits
for every write, a second Ctrl-C held until they are done. ``errors``: the writes' ``OSError``s;
``verified``: part name -> fingerprint, for the manifest (None when parts are checked otherwise).
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from results.writer import os_error_text
from sweep.errors import OutputError
from sweep.grid.identity import rows_for
from sweep.run.done import fingerprint
from sweep.run.interrupt import sigint_deferred
from sweep.run.journal import Journal


class PartWriter:
    """Parts of ``out`` (a ``results.writer.OutputDir``); counts into ``stats`` (a ``RunStats``):
    ``n_trained`` and ``write_s`` as each write finishes."""

    def __init__(self, out, stats, verified, journal):
        self.out, self.stats, self.verified, self.journal = out, stats, verified, journal
        self.errors: list = []
        self._pending: deque = deque()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-writer")

    @classmethod
    def start(cls, out, grid, scan, manifest, stats) -> "PartWriter":
        """After the manifest is written: it lists every part checked so far, and the parts
        written from here are journaled. ``OutputError`` if the journal cannot be opened."""
        verified = manifest.get("verified_parts", {}) if (scan.done is not None and not out.legacy) else None
        try:
            journal = Journal.start(out, grid.runs_hash) if verified is not None else None
        except OSError as exc:
            raise OutputError(os_error_text(exc, out.path, "cannot write to")) from None
        return cls(out, stats, verified, journal)

    def submit(self, item) -> None:
        self._pending.append(self._pool.submit(self._write, item))
        while len(self._pending) > 2:
            self._written(self._pending.popleft())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # finished chunks are never lost, even on Ctrl-C (a second one waits)
        with sigint_deferred():
            while self._pending:
                self._written(self._pending.popleft())
            self._pool.shutdown()
        return False

    def close(self) -> None:
        """Close the journal (its error joins ``errors``)."""
        if self.journal is not None:
            try:
                self.journal.close()
            except OSError as exc:
                self.errors.append(exc)

    def _written(self, future) -> None:
        try:
            n_rows, seconds = future.result()
        except OSError as exc:
            self.errors.append(exc)
            return
        self.stats.write_s += seconds
        self.stats.n_trained += n_rows

    def _write(self, item) -> tuple[int, float]:
        tw = time.perf_counter()
        out = self.out
        path = out.write_part(item.chunk.name, *rows_for(out, item.table, item.curves))
        if self.verified is not None:  # we wrote it from this grid: no need to check it next time
            self.verified[path.name] = fp = fingerprint(path, out.digests.get(path.name))
            if self.journal is not None:   # ... even after a kill -9 before the manifest's next write
                self.journal.append(path.name, fp)
        return item.table.num_rows, time.perf_counter() - tw
