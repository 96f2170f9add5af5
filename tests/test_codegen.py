"""The generated kernels (``kernels.codegen``): the default schedule against the memory schedule.

Both must give the same results for every configuration: ``train(..., specialise=True)`` (the
default: the register schedules where they fit) and ``specialise=False`` (the memory schedule,
``kernels.codegen_epoch``) are compared on every field of ``TrainResult``, with several blocks
of runs and a partial last block. Epochs must be equal; floats agree to 1e-9 relative (in
practice the same bits: every schedule performs the same operations in the same order; the
generic kernel they replaced is frozen in tests/test_frozen_generic.py). Also: no recompilation for new hyper-parameters,
the path chosen depends only on the configuration, and the on-disk cache is reused by a
fresh process.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from kernels import Network, TrainOptions, call_static, init_params, train
from kernels.ops import MILESTONES
from kernels import codegen
from kernels.codegen_tuning import plan

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_T = np.array([[0], [1], [1], [0]], dtype=np.float64)
N_RUNS = 40          # 3 blocks of 16, the last one partial
EPOCHS = 200
FIELDS = ("epochs_run", "final_loss", "final_mse", "final_accuracy", "min_loss", "epoch_acc75",
          "epoch_acc100", "epoch_fahlman", "epoch_tss", "epoch_loss", "diverged", "converged",
          "convergence_epoch", "curve_loss", "curve_mse", "final_params", "final_outputs")
INT_FIELDS = ("epochs_run", "epoch_acc75", "epoch_acc100", "epoch_fahlman", "epoch_tss", "epoch_loss",
              "convergence_epoch", "diverged", "converged")


def dataset(kind, rng):
    if kind == "xor":
        return XOR_X, XOR_T
    if kind == "encoder":                       # 4-2-4, one-hot targets: argmax accuracy
        return np.eye(4), np.eye(4)
    if kind == "multi":                         # 3 inputs, 2 non-one-hot outputs, 5 patterns
        X = rng.integers(0, 2, (5, 3)).astype(float) + rng.normal(0, 0.1, (5, 3))
        return X, rng.integers(0, 2, (5, 2)).astype(float)
    if kind == "regress":                       # targets outside [0, 1] for linear outputs
        X = rng.normal(size=(6, 2))
        return X, np.stack([X[:, 0] - 2 * X[:, 1], X[:, 0] * X[:, 1]], axis=1)
    raise ValueError(kind)


# (id, sizes, activations, bias, shortcut, data, loss, optimizer, schedule options, extra)
CASES = [
    ("xor-sig-full-mse-sgd", (2, 2, 1), ("sigmoid", "sigmoid"), True, False, "xor", "mse", "sgd", dict(), {}),
    ("xor-sig-full-sse-mom", (2, 3, 1), ("sigmoid", "sigmoid"), True, False, "xor", "sse", "momentum", dict(), {}),
    ("xor-sig-full-bce-adam", (2, 2, 1), ("tanh", "sigmoid"), True, False, "xor", "bce", "adam", dict(), {}),
    ("xor-relu-online", (2, 4, 1), ("relu", "sigmoid"), True, False, "xor", "mse", "sgd",
     dict(schedule="online"), {}),
    ("xor-leaky-online-shuffle", (2, 3, 1), ("leaky_relu", "sigmoid"), True, True, "xor", "sse", "momentum",
     dict(schedule="online", shuffle=True), {}),
    ("xor-tanh-minibatch", (2, 3, 1), ("tanh", "tanh"), True, False, "xor", "mse", "adam",
     dict(schedule="minibatch", batch_size=3), {}),
    ("multi-minibatch-shuffle", (3, 4, 3, 2), ("relu", "tanh", "linear"), False, True, "multi", "sse", "adam",
     dict(schedule="minibatch", batch_size=2, shuffle=True), {}),
    ("multi-nobias-full", (3, 4, 2), ("sigmoid", "sigmoid"), False, False, "multi", "bce", "momentum", dict(), {}),
    ("multi-2hidden-online", (3, 3, 3, 2), ("tanh", "leaky_relu", "sigmoid"), True, False, "multi", "mse",
     "sgd", dict(schedule="online"), {}),
    ("perceptron-shortcut", (2, 1), ("sigmoid",), True, True, "xor", "mse", "sgd", dict(), {}),
    ("perceptron-linear", (3, 2), ("linear",), True, False, "multi", "sse", "momentum",
     dict(schedule="minibatch", batch_size=4), {}),
    ("regress-linear-out", (2, 5, 2), ("tanh", "linear"), True, True, "regress", "mse", "adam",
     dict(schedule="online", shuffle=True), {}),
    ("encoder-argmax", (4, 2, 4), ("sigmoid", "sigmoid"), True, False, "encoder", "mse", "sgd", dict(), {}),
    ("encoder-argmax-bce-online", (4, 2, 4), ("sigmoid", "sigmoid"), True, False, "encoder", "bce", "adam",
     dict(schedule="online", shuffle=True), {}),
    ("early-stop", (2, 2, 1), ("sigmoid", "sigmoid"), True, False, "xor", "sse", "momentum", dict(),
     dict(early_stop=True, lr="mixed")),
    ("early-stop-online", (2, 3, 1), ("tanh", "sigmoid"), True, True, "xor", "mse", "sgd",
     dict(schedule="online", shuffle=True), dict(early_stop=True, lr="mixed")),
    ("diverge", (2, 3, 1), ("relu", "linear"), True, False, "xor", "sse", "sgd", dict(), dict(lr="huge")),
    ("diverge-online", (2, 3, 1), ("leaky_relu", "linear"), True, True, "xor", "sse", "momentum",
     dict(schedule="online"), dict(lr="huge")),
    ("float32-full", (2, 2, 1), ("sigmoid", "sigmoid"), True, False, "xor", "bce", "sgd",
     dict(dtype="float32"), {}),
    ("float32-online-adam", (3, 4, 2), ("tanh", "sigmoid"), True, True, "multi", "mse", "adam",
     dict(schedule="online", shuffle=True, dtype="float32"), {}),
    ("float32-diverge", (2, 3, 1), ("relu", "linear"), True, False, "xor", "sse", "momentum",
     dict(dtype="float32"), dict(lr="huge")),
    # wide hidden layers: the unit loop (codegen_epoch, Plan.units), 300 units past what unrolls
    ("wide-full-momentum", (2, 40, 1), ("sigmoid", "sigmoid"), True, False, "xor", "mse", "momentum", dict(), {}),
    ("wide-online-shortcut-adam", (2, 20, 1), ("tanh", "sigmoid"), True, True, "xor", "sse", "adam",
     dict(schedule="online", shuffle=True), {}),
    ("wide-diverge-online", (2, 17, 1), ("relu", "linear"), True, False, "xor", "sse", "sgd",
     dict(schedule="online"), dict(lr="huge")),
    ("wide-multi-minibatch", (3, 18, 2), ("leaky_relu", "sigmoid"), False, False, "multi", "bce", "momentum",
     dict(schedule="minibatch", batch_size=2), dict(early_stop=True, lr="mixed")),
    ("very-wide-full", (2, 300, 1), ("sigmoid", "sigmoid"), True, False, "xor", "mse", "sgd", dict(), {}),
]


def run_both(case, n=N_RUNS, seed=0, pick=None):
    name, sizes, acts, bias, shortcut, data, loss, optimizer, sched, extra = case
    rng = np.random.default_rng(zlib.crc32(name.encode()) + seed)
    X, T = dataset(data, rng)
    net = Network(sizes=sizes, activations=acts, bias=bias, shortcut=shortcut)
    opts = TrainOptions(loss=loss, optimizer=optimizer, curve_epochs=(0, 1, 5, 50, 150, 200),
                        record_final_params=True, record_final_outputs=True, **sched)
    theta0 = init_params(net, "uniform", np.arange(n, dtype=np.uint64) + 7 * seed, low=-1.0, high=1.0)
    base = {"sgd": 0.5, "momentum": 0.1, "adam": 0.02}[optimizer]
    lr = base * rng.uniform(0.5, 1.5, n)
    if extra.get("lr") == "huge":
        lr[::3] = 1e6 if optimizer != "adam" else 1e4
    elif extra.get("lr") == "mixed":
        lr[::2] *= 4
    hp = dict(lr=lr, epochs=rng.integers(0, EPOCHS + 1, n), momentum=rng.uniform(0.3, 0.9, n),
              beta1=rng.uniform(0.8, 0.95, n), beta2=rng.uniform(0.99, 0.9999, n), eps=1e-7,
              leaky_slope=rng.uniform(0.01, 0.3, n), tss_below=rng.uniform(0.05, 0.5, n),
              loss_below=rng.uniform(0.01, 0.1, n), early_stop=bool(extra.get("early_stop", False)),
              main=np.array(MILESTONES.names())[rng.integers(0, len(MILESTONES.names()), n)],
              shuffle_keys=rng.integers(0, 2**63, n, dtype=np.uint64))
    hp["epochs"][-1] = EPOCHS            # at least one run goes the distance
    if pick is not None:                 # train only these runs, with the same inputs
        theta0 = theta0[pick]
        hp = {k: v[pick] if np.ndim(v) else v for k, v in hp.items()}
    fast = train(net, opts, X, T, theta0, specialise=True, **hp)
    slow = train(net, opts, X, T, theta0, specialise=False, **hp)
    fast.extra["T"] = T
    return net, opts, X, fast, slow


def assert_same(fast, slow, label):
    for f in FIELDS:
        a, b = getattr(fast, f), getattr(slow, f)
        assert (a is None) == (b is None), f"{label}: {f}"
        if a is None:
            continue
        assert a.shape == b.shape, f"{label}: {f} shape {a.shape} vs {b.shape}"
        if f in INT_FIELDS:
            np.testing.assert_array_equal(a, b, err_msg=f"{label}: {f}")
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=0, equal_nan=True, err_msg=f"{label}: {f}")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_default_matches_memory_schedule(case):
    from kernels.codegen_tuning import unit_chunk
    net, opts, X, fast, slow = run_both(case)
    st = call_static(net, opts, X, fast.extra["T"])
    assert codegen.specialised_train_blocks(net, st, X.shape[0], opts.dtype) is not None, "not specialised"
    if case[0].startswith(("wide", "very-wide")):
        assert unit_chunk(codegen.make_spec(net, st, X.shape[0], opts.dtype)) > 0, "the unit loop"
    assert_same(fast, slow, case[0])
    name = case[0]
    if "diverge" in name:
        assert fast.diverged.any() and not fast.diverged.all(), "want a mix of diverging and sane runs"
    if "early-stop" in name:
        assert (fast.epochs_run < EPOCHS).any() and fast.converged.any()


def test_results_independent_of_batching():
    """A run's results do not depend on its neighbours, its block or the number of runs."""
    case = next(c for c in CASES if c[0] == "diverge-online")
    _, _, _, fast, _ = run_both(case)
    assert fast.diverged[[0, 3]].all() and not fast.diverged[[1, 2]].any()
    for pick in ([0], [1], [3, 2, 0], list(range(39, -1, -2))):
        _, _, _, part, _ = run_both(case, pick=np.array(pick))
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(fast, f)[pick], getattr(part, f), err_msg=f"{pick}: {f}")


def test_path_depends_on_configuration_only():
    net = Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid"))
    X4, T4 = np.zeros((4, 2)), np.zeros((4, 1))
    args = (net, call_static(net, TrainOptions(loss="mse"), X4, T4), 4, "float64")
    k1 = codegen.specialised_train_blocks(*args)
    k2 = codegen.specialised_train_blocks(*args)
    assert k1 is not None and k1.train_range is k2.train_range
    big = Network(sizes=(64, 256, 64), activations=("sigmoid", "sigmoid"))
    st_big = call_static(big, TrainOptions(loss="mse", schedule="online"), np.zeros((64, 64)), np.eye(64))
    # too large for the register schedules: the memory schedule (codegen_epoch)
    spec_big = codegen.make_spec(big, st_big, 64, "float64")
    assert codegen.eligible(spec_big) and plan(spec_big).memory > 0
    assert plan(codegen.make_spec(*args)).memory == 0


def test_no_recompile_for_new_hyper_parameters():
    case = CASES[0]
    net, opts, X, _, _ = run_both(case)
    kernel = codegen.specialised_train_blocks(net, call_static(net, opts, X, XOR_T), 4, "float64")
    assert len(kernel.train_range.signatures) == 1
    theta0 = init_params(net, "normal", np.arange(100, dtype=np.uint64))
    opts2 = TrainOptions(loss="mse", optimizer="sgd", curve_epochs=(0, 3), record_final_outputs=True)
    train(net, opts2, XOR_X, XOR_T, theta0, lr=np.linspace(0.1, 2, 100), epochs=np.arange(100), early_stop=True,
          main="fahlman", leaky_slope=0.2, tss_below=0.3)
    train(net, opts2, XOR_X, XOR_T, theta0[:3], lr=0.3, epochs=7)
    assert len(kernel.train_range.signatures) == 1, kernel.train_range.signatures


def test_threads_give_same_results():
    import numba
    case = next(c for c in CASES if c[0] == "early-stop-online")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _, _, _, one, _ = run_both(case, n=70)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        _, _, _, many, _ = run_both(case, n=70)
    finally:
        numba.set_num_threads(before)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(one, f), getattr(many, f), err_msg=f)


_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    t0 = time.perf_counter()
    from kernels import Network, TrainOptions, codegen, train
    net = Network(sizes=(2, 3, 1), activations=("tanh", "sigmoid"))
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float); T = np.array([[0], [1], [1], [0]], float)
    t1 = time.perf_counter()
    res = train(net, TrainOptions(optimizer="momentum"), X, T, np.full((20, net.n_params), 0.3), lr=0.5, epochs=50)
    t2 = time.perf_counter()
    (mod,) = codegen._loaded.values()
    print(json.dumps(dict(file=mod.__file__, first_train_s=t2 - t1, import_s=t1 - t0,
                          hits=sum(mod.train_range.stats.cache_hits.values()),
                          misses=sum(mod.train_range.stats.cache_misses.values()),
                          loss=float(res.final_loss[0]))))
""")


def _child(cache: Path):
    import json
    env = dict(os.environ, MLP_SWEEP_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_cache_reused_by_a_fresh_process(tmp_path):
    cache = tmp_path / "kernels"
    first = _child(cache)
    path = Path(first["file"])
    assert path.parent == cache and path.exists()
    stamp = path.stat().st_mtime_ns
    second = _child(cache)
    assert second["file"] == first["file"]
    assert path.stat().st_mtime_ns == stamp, "the source was rewritten (would invalidate Numba's cache)"
    assert second["hits"] >= 1 and second["misses"] == 0, second
    # a load, not a compile (relative: a loaded 2-core machine takes about 1 s to load)
    assert second["first_train_s"] < 0.5 * first["first_train_s"], (first, second)
    assert second["loss"] == first["loss"]
    assert not list(cache.glob("*.tmp")), "temporary files left behind"
