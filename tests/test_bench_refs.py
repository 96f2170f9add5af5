"""The benchmark's references compute what the kernels compute, and ``sweep bench`` runs.

``sweep bench`` reports kernel / NumPy throughput ratios; they only mean something if both
sides train the same networks. The NumPy twin is checked against ``kernels.train`` on the
configurations the benchmark uses (so the compiled kernels are shared with it).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import kernels
from kernels import Network, TrainOptions
from sweep.bench import refs as R
from sweep.cli import main
from sweep.grid.tasks import make_task

N_RUNS = 37  # two full blocks of lanes and a partial one
EPOCHS = 50
TASKS = {
    "xor": {"task.name": "xor"},
    "parity4": {"task.name": "parity", "task.bits": 4},
    "encoder8": {"task.name": "encoder", "task.size": 8},
    # the generated datasets of sweep.bench.workloads (issue 27 item 5)
    "spirals": {"task.name": "spirals", "task.density": 1, "task.noise": 0.0},
    "moons1000": {"task.name": "moons", "task.n_train": 1000},
    "teacher50": {"task.name": "teacher", "task.n_inputs": 50},
}
#: the bench rows on generated datasets: (task, hidden, schedule, batch size, hidden activation)
GENERATED = [("spirals", (20, 20), "full", 1, "tanh"), ("moons1000", (32,), "minibatch", 32, "sigmoid"),
             ("teacher50", (4,), "online", 1, "sigmoid")]


def setup(task: str, hidden: tuple[int, ...], n: int = N_RUNS, act: str = "sigmoid"):
    X, T = make_task(TASKS[task])
    sizes = (X.shape[1], *hidden, T.shape[1])
    net = Network(sizes, (act,) * len(hidden) + ("sigmoid",))
    theta0 = kernels.init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    lr = np.linspace(0.1, 2.0, n)  # per-run learning rates: the lanes differ
    return net, X, T, theta0, lr


def kernel_params(net, X, T, theta0, lr, schedule, dtype="float64", epochs=EPOCHS, batch_size=1):
    opts = TrainOptions(loss="mse", optimizer="sgd", schedule=schedule, batch_size=batch_size, dtype=dtype,
                        record_final_params=True)
    res = kernels.train(net, opts, X, T, theta0, lr=lr, epochs=epochs)
    assert not res.diverged.any() and (res.epochs_run == epochs).all()
    return res.final_params


@pytest.mark.parametrize("task, hidden, schedule", [
    ("xor", (2,), "full"), ("xor", (2,), "online"), ("xor", (16,), "full"), ("xor", (16,), "online"),
    ("parity4", (4,), "full"), ("encoder8", (3,), "full"),
])
def test_numpy_reference_matches_kernels(task, hidden, schedule):
    net, X, T, theta0, lr = setup(task, hidden)
    want = kernel_params(net, X, T, theta0, lr, schedule)
    got = R.numpy_vectorised_train(net.sizes, theta0, X, T, lr, EPOCHS, schedule)
    assert got.shape == theta0.shape
    assert np.abs(want - theta0).max() > 0.05  # it did train
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("task, hidden, schedule, batch, act", GENERATED)
def test_references_match_kernels_on_generated_rows(task, hidden, schedule, batch, act):
    """The rows of hundreds of patterns: tanh, minibatch (1,000 = 31 x 32 + 8) and online."""
    from sweep.bench.workloads import WORKLOADS

    assert any(w.task == tuple(TASKS[task].items()) and w.hidden == hidden and w.schedule == schedule
               and w.batch_size == batch and w.activation == act for w in WORKLOADS)
    net, X, T, theta0, lr = setup(task, hidden, act=act)
    lr = lr / 4                                   # per-run rates 0.025-0.5
    epochs = 10
    want = kernel_params(net, X, T, theta0, lr, schedule, epochs=epochs, batch_size=batch)
    assert np.abs(want - theta0).max() > 0.05     # it did train
    got = R.numpy_vectorised_train(net.sizes, theta0, X, T, lr, epochs, schedule, batch_size=batch,
                                   acts=net.activations)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    if R.jax_available():
        got = R.jax_train(net.sizes, theta0, X, T, lr, epochs, schedule, batch_size=batch, acts=net.activations)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_numpy_online_variant_and_layout():
    net, X, T, theta0, lr = setup("xor", (2,))
    np.testing.assert_array_equal(R.numpy_online_train(net.sizes, theta0, X, T, lr, 3),
                                  R.numpy_vectorised_train(net.sizes, theta0, X, T, lr, 3, "online"))
    # zero epochs: the split/join round trip is the identity on the conventions' layout
    np.testing.assert_array_equal(R.numpy_vectorised_train(net.sizes, theta0, X, T, lr, 0), theta0)
    Ws, bs = R.split_params(net.sizes, theta0)
    w, b, _ = net.unflatten(theta0[5])
    np.testing.assert_array_equal(Ws[1][5], w[1])
    np.testing.assert_array_equal(bs[0][5], b[0])
    with pytest.raises(ValueError, match="theta0"):
        R.numpy_vectorised_train((2, 3, 1), theta0, X, T, lr, 1)


def test_numpy_reference_float32_close_to_kernels():
    net, X, T, theta0, lr = setup("xor", (2,))
    want = kernel_params(net, X, T, theta0, lr, "full", dtype="float32")
    got = R.numpy_vectorised_train(net.sizes, theta0, X, T, lr, EPOCHS, "full", dtype="float32")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_jax_reference_matches_kernels():
    pytest.importorskip("jax")
    net, X, T, theta0, lr = setup("xor", (2,))
    for schedule in ("full", "online"):
        want = kernel_params(net, X, T, theta0, lr, schedule)
        np.testing.assert_allclose(R.jax_train(net.sizes, theta0, X, T, lr, EPOCHS, schedule), want,
                                   rtol=0, atol=1e-10)


def test_jax_train_is_none_without_jax(monkeypatch):
    monkeypatch.setattr(R, "jax_available", lambda: False)
    net, X, T, theta0, lr = setup("xor", (2,), n=3)
    assert R.jax_train(net.sizes, theta0, X, T, 0.5, 2) is None
    assert R.jax_version() is None


@pytest.mark.slow
def test_sweep_bench_quick_json(tmp_path, capsys):
    from sweep.bench.suite import SCALING, WORKLOADS

    out = tmp_path / "out.json"
    assert main(["bench", "--quick", "--tiny", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| Workload | mlp-sweep | NumPy vectorised | ratio | JAX | ratio | limit (est.) | of limit | notes |" in table
    assert "**ISA**: " in table
    rep = json.loads(out.read_text())
    rows = rep["workloads"]
    assert set(rows) == ({w.key for w in WORKLOADS} | {s[0] for s in SCALING}
                         | {"jit_cold", "jit_cached", "sweep_run"})
    for w in WORKLOADS:
        row = rows[w.key]
        assert w.label in table
        for side in ("kernel", "numpy") + (("jax",) if row["jax"] is not None else ()):
            assert row[side]["network_epochs_per_s"] > 0, (w.key, side)
            assert row[side]["network_epochs"] == row[side]["n_runs"] * row[side]["epochs"]
        assert row["ratio_numpy"] > 0
        assert row["limit"] > 0 and row["of_limit"] == row["kernel"]["network_epochs_per_s"] / row["limit"]
    assert rep["machine"]["limit_model"]["isa"] in ("avx512", "avx2", "neon", "other")
    assert (rows["xor_2_2_1_full"]["jax"] is not None) == R.jax_available()
    for key, *_ in SCALING:
        if not rows[key].get("skipped"):
            assert min(rows[key]["network_epochs_per_s"]) > 0 and rows[key]["speedup"] > 0
    assert rows["jit_cold"]["skipped"]  # a fresh cache compiles everything: not with --tiny
    assert rows["jit_cached"]["seconds"] > 0
    sweep = rows["sweep_run"]
    assert sweep["runs_per_s"] > 0 and sweep["network_epochs_per_s"] > 0
    assert 0 <= sweep["outside_kernels_share"] < 1
    m = rep["machine"]
    assert m["cores"] >= 1 and m["numba_threads"] >= 1 and m["lanes"] == kernels.LANES and m["cpu"]
