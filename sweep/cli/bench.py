"""``sweep bench [--quick] [--threads N] [--json FILE] [--no-jax] [--rows KEY,...]``: the benchmark table (sweep.bench.suite)."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="measure kernel throughput and print a table",
        description="Train the issue's workloads with mlp-sweep, a NumPy twin vectorised over runs and "
                    "(if installed: pip install mlp-sweep[bench]) JAX, and print a Markdown table of "
                    "network-epochs/s, thread scaling, JIT compile times and an end-to-end sweep run. "
                    "Takes about 5 minutes; --quick under one.")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (< 60 s)")
    p.add_argument("--threads", type=int, metavar="N", help="Numba threads for the kernels (default: all cores)")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    p.add_argument("--no-jax", action="store_true", help="skip the JAX reference even if jax is installed")
    p.add_argument("--rows", metavar="KEY,...",
                   help="only these throughput rows (comma-separated keys of sweep.bench.workloads.WORKLOADS, "
                        "e.g. spirals_2_20_20_1_full), without the scaling, compile and sweep-run rows")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # test suite: seconds, not minutes
    p.set_defaults(func=lambda args: __import__("sweep.bench.suite", fromlist=["main"]).main(args))
