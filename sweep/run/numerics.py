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


def recorded(manifest: dict | None) -> int:
    """The version a directory's manifest says it was written with."""
    return int((manifest or {}).get(KEY, UNRECORDED))


def check_resumable(manifest: dict | None, path: str | Path) -> None:
    """Raise ``OutputError`` (exit 2) when ``path`` was written with other numerics than these
    kernels; an empty directory (no manifest) is always fine."""
    if not manifest:
        return
    theirs, ours = recorded(manifest), current()
    if theirs != ours:
        raise OutputError(
            f"{path} was written with numerics version {theirs} (manifest key {KEY!r}), but this "
            f"mlp-sweep computes with numerics version {ours}: its runs would not be comparable bit for "
            f"bit with new ones. Use another --out directory, or the mlp-sweep release that wrote it.")
