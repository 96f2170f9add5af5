"""Where a sweep's files live: the runs table in DIR, everything else in the sidecar DIR.sweep/.

Layout 2 (this version)::

    DIR/part-<chunk>.parquet          the runs table, and nothing else
    DIR.sweep/manifest.json           grid, versions, times, counts, identity version
    DIR.sweep/lock                    while a ``sweep run`` writes
    DIR.sweep/curves/part-*.parquet   loss curves (a table of its own)
    DIR.sweep/report/                 ``sweep report`` output
    DIR.sweep/tmp/                    part files being written (renamed into DIR when complete)

so DIR holds only complete run parts: polars (which refuses a directory with other files)
and DuckDB's recursive glob ``'DIR/**/*.parquet'`` read exactly the runs.

Layout 1 (directories written before): ``DIR/_manifest.json``, ``DIR/_lock``,
``DIR/_curves/``, ``DIR/_report/``; still read and resumed in that layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAYOUT_VERSION = 2
SIDECAR_SUFFIX = ".sweep"


@dataclass(frozen=True)
class Layout:
    """The paths of one sweep directory. ``version`` 1 = the layout written before 2026-12."""

    runs: Path
    version: int
    manifest: Path
    lock: Path
    curves: Path
    report: Path
    tmp: Path | None   # None: temporary files sit beside their target (layout 1)

    @property
    def meta(self) -> Path:
        """The folder of everything but the runs (the sidecar; DIR itself in layout 1)."""
        return self.manifest.parent


def sidecar(runs: Path) -> Path:
    """``DIR.sweep`` beside ``DIR`` (``runs/x`` -> ``runs/x.sweep``)."""
    p = Path(runs).absolute()
    return p.with_name(p.name + SIDECAR_SUFFIX)


def _has_parts(runs: Path) -> bool:
    return runs.is_dir() and any(runs.glob("part-*.parquet"))


def _parts_are_v1(runs: Path) -> bool:
    """Whether the first readable part was written with schema 1 (no ``mlp_sweep_schema`` key);
    a directory copied without its sidecar keeps schema-2 parts and is not layout 1."""
    import pyarrow.parquet as pq
    for part in sorted(runs.glob("part-*.parquet")):
        try:
            meta = pq.read_schema(part).metadata or {}
        except Exception:  # noqa: BLE001 - an unreadable part says nothing about the layout
            continue
        return b"mlp_sweep_schema" not in meta
    return False


def is_legacy(runs: Path) -> bool:
    """True for a directory written in layout 1 (its manifest or curves inside DIR, or schema-1
    parts without a sidecar)."""
    runs = Path(runs)
    if (sidecar(runs) / "manifest.json").is_file():
        return False
    if (runs / "_manifest.json").is_file() or (runs / "_curves").is_dir():
        return True
    return _has_parts(runs) and _parts_are_v1(runs)


def layout_of(runs) -> Layout:
    """The layout of sweep directory ``runs`` (existing, or layout 2 for a new one)."""
    runs = Path(runs)
    if is_legacy(runs):
        return Layout(runs, 1, runs / "_manifest.json", runs / "_lock", runs / "_curves",
                      runs / "_report", None)
    side = sidecar(runs)
    return Layout(runs, LAYOUT_VERSION, side / "manifest.json", side / "lock", side / "curves",
                  side / "report", side / "tmp")


def is_sweep_dir(path) -> bool:
    """True when ``path`` is a sweep's runs directory (either layout), not a sidecar."""
    path = Path(path)
    if path.name.endswith(SIDECAR_SUFFIX) or not path.is_dir():
        return False
    return (sidecar(path) / "manifest.json").is_file() or (path / "_manifest.json").is_file()
