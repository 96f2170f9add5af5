"""Cold compile time of the training kernels of issue 26's configurations, each in a fresh process.

``python -m sweep.bench.cold`` prints, per configuration, its schedule (``codegen_tuning.plan``),
its lane body's instructions and the seconds of its first ``kernels.train`` call with an empty
``MLP_SWEEP_CACHE`` (the initial weights' kernel loaded before the timing): what a user waits for
the first time a configuration runs. docs/specialised-kernels.md has the figures.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

#: (sizes, optimizer, schedule, batch size, patterns, dtype)
CONFIGS = (
    ("8-16-16-8", "adam", "online", 1, 8, "float64"),
    ("8-16-16-8", "sgd", "full", 1, 8, "float64"),
    ("2-40-40-40-1", "adam", "full", 1, 4, "float64"),
    ("2-40-40-40-1", "quickprop", "full", 1, 4, "float32"),
    ("4-64-64-1", "adam", "minibatch", 8, 16, "float64"),
    ("4-32-32-1", "adam", "minibatch", 8, 500, "float64"),
    ("4-32-32-1", "rprop+", "full", 1, 500, "float32"),
)

CHILD = r"""
import sys, time
import numpy as np
import kernels
from kernels import Network, TrainOptions, call_static
from kernels.codegen import make_spec
from kernels.codegen_tuning import plan, size
sizes = tuple(int(s) for s in sys.argv[1].split("-"))
opt, sched, bs, n_p, dtype = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
net = Network(sizes, ["tanh"] * (len(sizes) - 2) + ["sigmoid"])
opts = TrainOptions(loss="mse", optimizer=opt, schedule=sched, batch_size=bs, dtype=dtype)
rng = np.random.default_rng(0)
X, T = rng.normal(size=(n_p, sizes[0])), (rng.random((n_p, sizes[-1])) > 0.5).astype(float)
theta = kernels.init_params(net, "torch_default", np.arange(16, dtype=np.uint64))
spec = make_spec(net, call_static(net, opts, X, T), n_p, dtype)
t = time.perf_counter()
kernels.train(net, opts, X, T, theta[:1], epochs=0, lr=0.1)
print(f"{sys.argv[1]} {opt} {sched} (batch {bs}, {n_p} patterns, {dtype}): {plan(spec).loops()}, "
      f"{size(spec):,} instructions, cold compile {time.perf_counter() - t:.2f} s")
"""


def main() -> int:
    for cfg in CONFIGS:
        with tempfile.TemporaryDirectory() as cache:
            env = {"MLP_SWEEP_CACHE": cache}
            proc = subprocess.run([sys.executable, "-c", CHILD, *map(str, cfg)], capture_output=True, text=True,
                                  env={**os.environ, **env}, timeout=600)
            print(proc.stdout.strip() or proc.stderr.strip()[-2000:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
