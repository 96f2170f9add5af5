"""The numerics version of a run directory: results are only resumed with the same arithmetic.

``kernels.config.NUMERICS_VERSION`` changes whenever an op computes other bits for the same
configuration. A directory records the version it was written with (``numerics_version`` in
``_manifest.json``; a manifest without it was written by version 1). Mixing versions in one
dataset would put runs with different arithmetic side by side under one grid, so
``check_resumable`` refuses it before anything is trained or written.
"""
from __future__ import annotations

from pathlib import Path

from sweep.errors import OutputError

KEY = "numerics_version"
#: The version of a manifest written before the field existed.
UNRECORDED = 1


def current() -> int:
    from kernels.config import NUMERICS_VERSION
    return int(NUMERICS_VERSION)


def manifest_fields() -> dict:
    """What the run manifest records about the numerics."""
    return {KEY: current()}


def recorded(manifest: dict | None) -> int | None:
    """The version a directory's manifest says it was written with: its field, else 1 for a
    manifest a run wrote (it has the grid's ``name``), else None: nothing recorded one (a new
    directory, or a manifest rebuilt from the part files after damage, whose runs are then
    taken as they are)."""
    manifest = manifest or {}
    if KEY in manifest:
        return int(manifest[KEY])
    return UNRECORDED if "name" in manifest else None


def check_resumable(manifest: dict | None, path: str | Path) -> None:
    """Raise ``OutputError`` (exit 2) when ``path`` was written with other numerics than these
    kernels; a directory with no recorded version is always fine."""
    theirs, ours = recorded(manifest), current()
    if theirs is not None and theirs != ours:
        raise OutputError(
            f"{path} was written with numerics version {theirs} (manifest key {KEY!r}), but this "
            f"mlp-sweep computes with numerics version {ours}: its runs would not be comparable bit for "
            f"bit with new ones. Use another --out directory, or the mlp-sweep release that wrote it.")
