"""``sweep ls [DIR]``: every sweep directory under DIR (default ``runs``) with name, status,
runs done/total and date."""
from __future__ import annotations

import os
import sys

from sweep.cli.sweepdirs import find_sweeps


def register(sub) -> None:
    p = sub.add_parser("ls", help="list the sweep directories under DIR (default: runs)",
                       description="Every sweep directory under DIR: name, status, runs done/total, "
                                   "last finish (or start) time in UTC, and path.")
    p.add_argument("dir", nargs="?", default="runs", help="folder to search (default: runs)")
    p.set_defaults(func=run)


def run(args) -> int:
    sweeps = find_sweeps(args.dir)
    if not sweeps:
        print(f"no sweep directories under {args.dir}")
        return 0
    rows = [("name", "status", "runs", "date (UTC)", "path")]
    rows += [(s.name, s.status, s.progress, s.date or "-", os.path.relpath(s.path)) for s in sweeps]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for s in sweeps:
        if s.damaged:
            print(f"warning: {s.damaged}; 'sweep run' of its grid rebuilds it (its parts are kept)", file=sys.stderr)
    return 0
