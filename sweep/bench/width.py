"""Vector-width measurements of the specialised kernels (docs/specialised-kernels.md).

``python -m sweep.bench.width [--isa avx2|avx512|host] [--repeats N]`` times a few
configurations at each vector width (4, 8, 16 lanes per LLVM vector, forced with
``MLP_SWEEP_VECTOR_WIDTH``), each width in a fresh process (a kernel's width is fixed when it
is first loaded), one thread, best of ``--repeats`` calls in each of ``--rounds`` rounds that
interleave the widths (the machine is shared: a change of load then hits every width alike),
and prints a Markdown table of network-epochs/s.
``--isa avx2`` compiles for an AVX2 target on an AVX-512 host (``NUMBA_CPU_NAME=znver3`` and
the host's features without AVX-512), which is how the AVX2 table was measured here.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

#: (label, task config, hidden, schedule, dtype, n_runs, epochs)
CASES = (
    ("XOR 2-2-1 full", (("task.name", "xor"),), (2,), "full", "float64", 8192, 1000),
    ("XOR 2-2-1 online", (("task.name", "xor"),), (2,), "online", "float64", 8192, 500),
    ("XOR 2-4-1 full", (("task.name", "xor"),), (4,), "full", "float64", 8192, 500),
    ("XOR 2-8-1 full", (("task.name", "xor"),), (8,), "full", "float64", 4096, 500),
    ("XOR 2-16-1 full", (("task.name", "xor"),), (16,), "full", "float64", 4096, 300),
    ("XOR 2-16-1 online", (("task.name", "xor"),), (16,), "online", "float64", 4096, 150),
    ("XOR 2-64-1 full", (("task.name", "xor"),), (64,), "full", "float64", 1024, 200),
    ("XOR 2-64-1 online", (("task.name", "xor"),), (64,), "online", "float64", 1024, 100),
    ("parity 4-4-1 full", (("task.name", "parity"), ("task.bits", 4)), (4,), "full", "float64", 2048, 300),
    ("encoder 8-3-8 full", (("task.name", "encoder"), ("task.size", 8)), (3,), "full", "float64", 2048, 300),
    ("XOR 2-2-1 full f32", (("task.name", "xor"),), (2,), "full", "float32", 8192, 2000),
    ("XOR 2-16-1 full f32", (("task.name", "xor"),), (16,), "full", "float32", 4096, 500),
    ("XOR 2-64-1 full f32", (("task.name", "xor"),), (64,), "full", "float32", 1024, 300),
)
WIDTHS = (4, 8, 16)


def measure(repeats: int) -> list[dict]:
    """Throughput of every case in this process (its width and ISA are fixed by the environment)."""
    import time

    import numpy as np

    import kernels
    from kernels import Network, TrainOptions
    from sweep.grid.tasks import make_task

    out = []
    for label, task, hidden, schedule, dtype, n, ep in CASES:
        X, T = make_task(dict(task))
        sizes = (X.shape[1], *hidden, T.shape[1])
        net = Network(sizes, ("sigmoid",) * (len(sizes) - 1))
        opts = TrainOptions(loss="mse", optimizer="sgd", schedule=schedule, dtype=dtype)
        theta = kernels.init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
        t = time.perf_counter()
        kernels.train(net, opts, X, T, theta[:1], lr=0.5, epochs=1)
        compile_s = time.perf_counter() - t
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            kernels.train(net, opts, X, T, theta, lr=0.5, epochs=ep)
            best = min(best, time.perf_counter() - t)
        out.append({"label": label, "rate": n * (ep + 1) / best, "compile_s": compile_s})
    return out


def avx2_env() -> dict:
    """Environment variables that make Numba compile for AVX2 on this (AVX-512) host."""
    import llvmlite.binding as ll

    feats = {k: bool(v) for k, v in ll.get_host_cpu_features().items()}
    for k in feats:
        if k.startswith("avx512") or k in ("avxvnni", "evex512"):
            feats[k] = False
    return {"NUMBA_CPU_NAME": "znver3", "NUMBA_CPU_FEATURES": ",".join(("+" if v else "-") + k for k, v in feats.items())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sweep.bench.width")
    p.add_argument("--isa", choices=("host", "avx2"), default="host")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per case in each round")
    p.add_argument("--rounds", type=int, default=3, help="rounds over the widths (best of all)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.repeats)))
        return 0
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    if args.isa == "avx2":
        env.update(avx2_env())
    table: dict = {}
    for r in range(args.rounds):  # widths interleaved in time, so a change of load hits them alike
        for w in WIDTHS:
            env["MLP_SWEEP_VECTOR_WIDTH"] = str(w)
            proc = subprocess.run([sys.executable, "-m", "sweep.bench.width", "--child", "--repeats",
                                   str(args.repeats)], env=env, capture_output=True, text=True, check=True)
            for row in json.loads(proc.stdout.strip().splitlines()[-1]):
                old = table.setdefault(row["label"], {}).get(w)
                if old is None or row["rate"] > old["rate"]:
                    table[row["label"]][w] = row
            print(f"round {r + 1}, width {w} done", file=sys.stderr, flush=True)
    print(f"| configuration | {' | '.join(f'W={w}' for w in WIDTHS)} | best |")
    print("| --- |" + " ---: |" * (len(WIDTHS) + 1))
    for label, by_w in table.items():
        best = max(by_w, key=lambda w: by_w[w]["rate"])
        cells = " | ".join(f"{by_w[w]['rate'] / 1e6:.2f} M" for w in WIDTHS)
        print(f"| {label} | {cells} | {best} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
