"""Self-repair when a sweep starts (under the directory's lock, so nothing else writes).

1. Temporary files left by a writer that died (``.part-*.tmp-PID``) are removed: they were
   never renamed into place, so they hold nothing that counts.
2. A manifest that cannot be read (random bytes, empty, not JSON, not an object) is moved to
   ``DIR.sweep/quarantine/`` (``DIR/_quarantine/`` in layout 1) and rebuilt: the grid's own fields are written again by the runner.
3. Every part not yet checked (not in ``manifest["verified_parts"]`` nor in the journal of parts
   written since, :mod:`sweep.run.journal`, with the same size and mtime) is read whole and compared with its name
   (:func:`sweep.run.done.check_part`). An unreadable part, or (when the directory's part names
   follow this grid's layout) a part whose run ids do not match its name, or that repeats runs
   of another part, is moved to the quarantine folder with its curves, logged in
   its ``quarantine.log`` and in ``manifest["quarantined"]``, and a warning is printed.
   Its runs count as not done, so they are trained again. A curves file whose run part is
   missing is moved aside too (its runs are trained again, with new curves). Nothing is deleted.

The result says how to plan: by part names (:class:`~sweep.run.done.DoneIndex`, O(parts)), or by
run ids when the parts were written under another layout of the runs (a grid that grew, e.g.
more seeds) or the manifest no longer says which layout that was and some part disagrees.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from results.writer import OutputDir, file_digest
from sweep.run.done import DoneIndex, check_part, fingerprint, parse_part_name, read_run_index
from sweep.run.journal import read_journal
from sweep.errors import OutputError

UNREADABLE = ("unreadable", "it has no run_id")


@dataclass
class Scan:
    manifest: dict
    parts: list[Path]                 # the parts kept
    done: DoneIndex | None            # None: plan by run ids (parts of another layout)
    verified: dict = field(default_factory=dict)   # part name -> [size, mtime_ns]
    warnings: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def scan_and_repair(out: OutputDir, grid) -> Scan:
    """Repair ``out`` (see the module docstring) and say what is done."""
    warnings: list[str] = []
    removed = 0
    for tmp in out.temp_files():
        tmp.unlink(missing_ok=True)
        removed += 1
    if removed:
        warnings.append(f"removed {removed} temporary file(s) left by an interrupted writer")
    try:
        manifest = out.read_manifest()
    except OutputError as exc:
        moved = out.quarantine(out.manifest_path, str(exc))
        warnings.append(f"{exc}; moved it to {moved} and rebuilt the manifest from the part files")
        manifest = {"rebuilt": _now()}
    manifest = manifest or {}
    trusted = manifest.get("part_names_layout") == grid.runs_hash
    known = manifest.get("verified_parts", {}) if trusted else {}
    known = dict(known) if isinstance(known, dict) else {}
    known.update(read_journal(out, grid.runs_hash))   # parts written since the manifest's last write

    kept, bad, mismatched, verified = [], [], [], {}
    ranges, singles = [], {}
    for path in out.part_files():
        name = parse_part_name(path.name)
        fp = fingerprint(path)
        entry = known.get(path.name)
        entry = entry if isinstance(entry, list) else []
        digest = entry[2] if len(entry) == 3 else None
        idx = None
        if entry[:2] == fp and name is not None:   # checked before and untouched since
            problem = None
            if not name.full:
                try:
                    idx = read_run_index(path)
                except Exception as exc:  # noqa: BLE001 - changed since it was checked
                    problem = f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"
        else:  # new, or touched since: a recorded digest must still match, then the full check
            now = _digest(path)
            problem, idx = check_part(grid, path, name)
            if problem is None and digest and now != digest:
                problem, idx = (f"its bytes changed since it was written (blake2b {now[:12]}, "
                                f"recorded {digest[:12]})"), None
            if problem is None:
                problem = _check_curves(out, path)
            digest = now
        if problem is None:
            kept.append(path)
            verified[path.name] = fp + ([digest] if digest else [])
            if name.full:
                ranges.append((name.start, name.stop, path))
            else:
                singles[path] = idx
        elif problem.startswith(UNREADABLE) or trusted:
            bad.append((path, problem))
        else:
            mismatched.append((path, problem))
            kept.append(path)

    done = None
    if not mismatched:
        bad += _overlaps(ranges, singles)
        dropped = {p for p, _ in bad}
        kept = [p for p in kept if p not in dropped]
        done = DoneIndex([(a, b) for a, b, p in ranges if p not in dropped],
                         [i for p, i in singles.items() if p not in dropped])
        verified = {k: v for k, v in verified.items() if out.path / k not in dropped}
    for path, problem in bad:
        moved = out.quarantine(path, problem)
        curves = out.curves_file(path)
        if curves.exists():
            out.quarantine(curves, f"belongs to quarantined {path.name}")
        manifest.setdefault("quarantined", []).append(
            {"time": _now(), "file": path.name, "moved_to": _shown(moved, out.layout.meta.parent),
             "reason": problem})
        warnings.append(f"{path.name}: {problem}; moved to {_shown(moved, out.path.parent)}, "
                        f"its runs will be trained again")
    names = {p.name for p in kept}
    for curves in out.curve_files():  # curves whose run part is gone would repeat when retrained
        if curves.name not in names:
            moved = out.quarantine(curves, "orphan: its run part is missing, so its runs are trained again")
            warnings.append(f"{curves.parent.name}/{curves.name}: its run part is missing; moved to "
                            f"{_shown(moved, out.path.parent)}")
    manifest["part_names_layout"] = grid.runs_hash if done is not None else None
    manifest["verified_parts"] = verified if done is not None else {}
    return Scan(manifest, kept, done, verified, warnings)


def _digest(path: Path) -> str:
    try:
        return file_digest(path)
    except OSError as exc:
        return f"unreadable: {exc}"


def _shown(path: Path, base: Path) -> str:
    """``path`` relative to ``base``; either may be relative to the working directory (the default
    ``--out runs/NAME``) while the quarantine folder is absolute."""
    return str(Path(path).absolute().relative_to(Path(base).absolute()))


def _check_curves(out: OutputDir, part: Path) -> str | None:
    curves = out.curves_file(part)
    if not curves.exists():
        return None
    try:
        pq.read_metadata(curves)
    except Exception as exc:  # noqa: BLE001
        return f"its curves file {curves.name} is unreadable: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def _overlaps(ranges, singles) -> list[tuple[Path, str]]:
    """Parts that repeat runs another part already holds (the later one by start is moved)."""
    bad, reach, owner = [], -1, None
    for a, b, path in sorted(ranges, key=lambda r: (r[0], -r[1])):
        if a < reach:
            bad.append((path, f"it repeats runs {a}..{min(b, reach) - 1} of {owner.name}"))
            continue
        reach, owner = b, path
    good = sorted(((a, b) for a, b, p in ranges if p not in {x for x, _ in bad}))
    starts = np.array([a for a, _ in good], np.int64)
    stops = np.array([b for _, b in good], np.int64)
    seen: set = set()
    for path, idx in singles.items():
        pos = np.searchsorted(starts, idx, side="right") - 1
        inside = (pos >= 0) & (idx < stops[np.maximum(pos, 0)]) if starts.size else np.zeros(idx.size, bool)
        twice = np.isin(idx, np.fromiter(seen, np.int64, len(seen))) if seen else np.zeros(idx.size, bool)
        if inside.any() or twice.any():
            bad.append((path, "it repeats runs that another part holds"))
            continue
        seen.update(idx.tolist())
    return bad
