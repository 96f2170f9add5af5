"""``sweep bench``: the benchmark table (filled in by sweep.bench)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure kernel throughput and print a table")
    p.set_defaults(func=lambda args: __import__("sweep.bench", fromlist=["main"]).main(args))
