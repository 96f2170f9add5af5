"""Which runs are done, from the part files' names: O(parts) memory, never O(runs).

A part is named ``part-GGG-SSSSSSSSSSSS-C-D.parquet`` (:attr:`sweep.run.execute.Chunk.name`):
group ``G``, run indices ``S .. S+C-1``, and ``D`` = ``all`` (every run of that range) or 8
hex digits of blake2b over the packed mask of the runs it holds. While a directory's parts
were all written under the current grid's run layout (``manifest["part_names_layout"] ==
grid.runs_hash``), a part's name says which run indices it holds, so planning a resume reads
no run ids: it merges the ``all`` ranges (and the run indices of the few masked parts) and
cuts each chunk against them.

Each part is checked once against its name: readable, ``run_index`` exactly its range (or its
mask, whose digest must match), and ``run_id`` equal to the grid's ids at those indices. A
checked part is remembered by ``(size, mtime_ns)`` in ``manifest["verified_parts"]``, so a
resume re-reads only parts that are new or changed.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from results.writer import SCHEMA_DIGEST_KEY, schema_digest

PART_RE = re.compile(r"part-(\d+)-(\d+)-(\d+)-(all|[0-9a-f]{8})\.parquet\Z")


@dataclass(frozen=True)
class PartName:
    group: int
    start: int
    count: int
    digest: str

    @property
    def stop(self) -> int:
        return self.start + self.count

    @property
    def full(self) -> bool:
        return self.digest == "all"


def parse_part_name(name: str) -> PartName | None:
    m = PART_RE.match(name)
    if not m:
        return None
    return PartName(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4))


def mask_digest(mask: np.ndarray) -> str:
    """The digest a masked chunk's name carries (as :attr:`sweep.run.execute.Chunk.name`)."""
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=4).hexdigest()


def fingerprint(path: Path, digest: str | None = None) -> list:
    """``[size, mtime_ns]``, plus the digest of the part's bytes when known (``results.writer.file_digest``)."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns] + ([digest] if digest else [])


def check_part(grid, path: Path, name: PartName | None) -> tuple[str | None, np.ndarray | None]:
    """``(problem, run_index)``: why the part does not hold what its name says (None = it does).

    Reads the whole part, so a damaged page anywhere is found here and not by a later report.
    ``run_index`` is returned for masked parts (their runs are not implied by the name).
    """
    if name is None:
        return "its name does not say which runs it holds (not a part written by sweep run)", None
    try:  # every page's CRC-32 is checked (parts written before page checksums have none)
        table = pq.read_table(path, page_checksum_verification=True)
        stored = (table.schema.metadata or {}).get(SCHEMA_DIGEST_KEY)  # absent in parts written before
        if stored is not None and stored.decode() != schema_digest(table.schema):
            return "unreadable: its column names, types or metadata changed since it was written", None
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
        return f"unreadable: {type(exc).__name__}: {str(exc)[:200]}", None
    return _check_table(grid, table, name)


def _check_table(grid, table, name: PartName) -> tuple[str | None, np.ndarray | None]:
    if "run_id" not in table.column_names or "run_index" not in table.column_names:
        return "it has no run_id / run_index column", None
    idx = table.column("run_index").to_numpy()
    ids = table.column("run_id").to_numpy()
    groups = grid.groups()
    if (name.stop > grid.n_runs or name.group >= len(groups)
            or not any(a <= name.start and name.stop <= b for a, b in groups[name.group].ranges)):
        return f"its range {name.start}..{name.stop - 1} is not group {name.group} of this grid", None
    if name.full:
        if idx.size != name.count or not np.array_equal(idx, np.arange(name.start, name.stop)):
            return f"its run_index column is not exactly {name.start}..{name.stop - 1}", None
    else:
        if idx.size == 0 or idx.min() < name.start or idx.max() >= name.stop or np.any(np.diff(idx) <= 0):
            return f"its run_index column is not an increasing subset of {name.start}..{name.stop - 1}", None
        mask = np.zeros(name.count, bool)
        mask[idx - name.start] = True
        if mask_digest(mask) != name.digest:
            return "its run_index column does not match the mask digest in its name", None
    want = grid.columns(name.start, name.stop)["run_id"][idx - name.start]
    if not np.array_equal(ids, want):
        return f"{int((ids != want).sum())} of its {ids.size} run_ids are not this grid's runs at those indices", None
    return None, (None if name.full else idx)


def read_run_index(path: Path) -> np.ndarray:
    return pq.read_table(path, columns=["run_index"]).column("run_index").to_numpy()


class DoneIndex:
    """Done run indices: merged ``[start, stop)`` ranges plus a sorted array of single indices.

    Memory: two int64 per range (a few per part) and 8 bytes per run of a masked part.
    """

    def __init__(self, ranges: list[tuple[int, int]], singles: list[np.ndarray]):
        ranges = sorted(ranges)
        merged: list[list[int]] = []
        for a, b in ranges:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        arr = np.array(merged, dtype=np.int64).reshape(-1, 2)
        self.starts, self.stops = arr[:, 0].copy(), arr[:, 1].copy()
        self.singles = np.unique(np.concatenate(singles)) if singles else np.zeros(0, np.int64)

    @property
    def n_done(self) -> int:
        return int((self.stops - self.starts).sum()) + int(self.singles.size)

    def mask(self, start: int, stop: int) -> np.ndarray | None:
        """Done flags of runs ``start..stop-1``, or None when none of them is done."""
        lo = int(np.searchsorted(self.stops, start, side="right"))
        hi = int(np.searchsorted(self.starts, stop, side="left"))
        s_lo, s_hi = np.searchsorted(self.singles, [start, stop])
        if lo >= hi and s_lo >= s_hi:
            return None
        done = np.zeros(stop - start, bool)
        for a, b in zip(self.starts[lo:hi], self.stops[lo:hi]):
            done[max(a, start) - start: min(b, stop) - start] = True
        done[self.singles[s_lo:s_hi] - start] = True
        return done


# ------------------------------------------------------------------------------------------
# Planning: the chunks still to train
# ------------------------------------------------------------------------------------------
def may_repeat(grid) -> bool:
    """Whether two run indices of ``grid`` can share a run_id: overlapping sub-grids, or an
    axis (size > 1) none of whose keys applies in some combination (see ``sweep.grid.groups``)."""
    from sweep.grid.groups import applies, normalise

    if len(grid.subgrids) > 1:
        return True
    for sub in grid.subgrids:
        for f in range(sub.n_combos):
            norm = normalise(sub.combo_config(grid.fixed, f))
            if any(a.size > 1 and not any(applies(k, norm) for k in a.keys) for a in sub.axes):
                return True
    return False


def iter_chunks(grid, sizes: list[int]):
    """Every chunk of the grid: group ``g``'s ranges cut every ``sizes[g]`` runs."""
    from sweep.run.execute import Chunk

    for gi, g in enumerate(grid.groups()):
        for a, b in g.ranges:
            for s in range(a, b, sizes[gi]):
                yield Chunk(gi, s, min(b, s + sizes[gi]))


def plan_by_index(grid, sizes: list[int], done: DoneIndex):
    """Chunks cut against the done index: O(chunks) time, nothing per run but masks.

    A grid that may repeat a run (:func:`may_repeat`) also needs every run_id once, to keep
    only the first index of each (8 bytes per run, the cost of de-duplication).
    """
    from sweep.run.execute import Chunk

    chunks = list(iter_chunks(grid, sizes))
    first = None
    if may_repeat(grid):
        ids = np.concatenate([grid.columns(c.start, c.stop)["run_id"] for c in chunks]) if chunks else np.zeros(0, np.uint64)
        first = np.zeros(ids.size, bool)
        first[np.unique(ids, return_index=True)[1]] = True
        del ids
    out, offset = [], 0
    for c in chunks:
        n = c.stop - c.start
        d = done.mask(c.start, c.stop)
        pending = None if d is None else ~d
        if first is not None:
            f = first[offset: offset + n]
            pending = f if pending is None else pending & f
        offset += n
        if pending is None or pending.all():
            out.append(c)
        elif pending.any():
            out.append(Chunk(c.group, c.start, c.stop, pending.copy()))
    return out
