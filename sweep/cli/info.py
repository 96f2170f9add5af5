"""``sweep info DIR``: one sweep's grid (sub-grids, axes, groups, file text), versions and progress."""
from __future__ import annotations

from sweep.errors import SweepError
from sweep.cli.sweepdirs import open_sweep


def register(sub) -> None:
    p = sub.add_parser("info", help="show a sweep directory's grid, versions and progress",
                       description="The grid (axes, groups, the grid file's text and overrides), the package "
                                   "versions it was written with, its progress and its sessions.")
    p.add_argument("dir", help="sweep output directory")
    p.set_defaults(func=run)


def _grid_summary(manifest: dict) -> str | None:
    """``Grid.describe()`` of the manifest's grid text, or None when it no longer parses here."""
    from sweep.grid.load import parse_grid
    try:
        return parse_grid(manifest["grid_text"], manifest.get("grid_path") or "<grid>",
                          manifest.get("overrides") or ()).describe()
    except (SweepError, KeyError, TypeError):
        return None


def run(args) -> int:
    s = open_sweep(args.dir)
    m = s.manifest
    total = s.n_total
    share = f" ({100 * s.n_done / total:.1f}%)" if total else ""
    lines = [f"{s.name}" + (f": {m['description']}" if m.get("description") else ""),
             f"  path:      {s.path}",
             f"  status:    {s.status}; {s.n_done} of {total if total is not None else '?'} runs done{share}",
             f"  started:   {m.get('started', '-')}   finished: {m.get('finished', '-')}   host: {m.get('host', '-')}",
             f"  layout {s.layout.version}, schema {m.get('schema_version', 1)}, "
             f"run identity {m.get('identity_version', 1)}; manifest {s.layout.manifest}",
             f"  curves:    {s.layout.curves if s.layout.curves.is_dir() else 'none recorded'}"]
    failures = m.get("failures") or []
    if failures:
        lines.append(f"  failed chunks: {len(failures)} (first: {failures[0].get('chunk')}: {failures[0].get('error')})")
    versions = m.get("versions") or {}
    if versions:
        lines.append("  versions:  " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    sessions = m.get("sessions") or []
    for i, ses in enumerate(sessions[-5:], max(1, len(sessions) - 4)):
        lines.append(f"  session {i}: {ses.get('started', '?')} {ses.get('backend', '')}: trained "
                     f"{ses.get('trained', '?')} of {ses.get('pending', '?')} pending, {ses.get('wall_s', '?')} s, "
                     f"{ses.get('status', '?')}")
    lines.append(f"  grid:      {m.get('grid_path') or '-'} (hash {str(m.get('grid_hash', '?'))[:12]})"
                 + (f", overrides: {' '.join(m['overrides'])}" if m.get("overrides") else ""))
    summary = _grid_summary(m) if m.get("grid_text") else None
    if summary:
        lines += ["", summary]
    if m.get("grid_text"):
        lines += ["", "grid file:"] + ["  " + t for t in m["grid_text"].rstrip().splitlines()]
    print("\n".join(lines))
    return 0
