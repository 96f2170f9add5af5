"""Generated tasks: each generator against an independent formula, determinism, data identity.

The references here are written from the papers and docs/conventions.md, not from
``sweep/grid/datasets.py``: the spirals point by point, the noisy tasks by class balance and first
two moments, the teacher's labels by a forward pass of its weights, and the random draws by the
kernels' own ``kernels.rng.uniform``.
"""
from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kernels.rng import uniform as kernel_uniform
from sweep.cli import main
from sweep.grid import datasets
from sweep.grid.hashing import INIT_KEY_KEYS, RUN_ID_KEYS, value_hash
from sweep.grid.load import parse_grid
from sweep.grid.schema import GENERATED_TASKS, PARAMS
from sweep.grid.tasks import make_datasets, make_task

ROOT = Path(__file__).resolve().parents[1]


def task(name: str, **keys) -> tuple[np.ndarray, np.ndarray]:
    return make_task({"task.name": name, **{f"task.{k}": v for k, v in keys.items()}})


def kernel_normals(key: int, n: int) -> np.ndarray:
    """n standard normals by the kernels' Box-Muller (docs/conventions.md), from kernels.rng.uniform."""
    out = np.empty(n)
    for j in range(n):
        u1, u2 = kernel_uniform(np.uint64(key), np.uint64(2 * j)), kernel_uniform(np.uint64(key), np.uint64(2 * j + 1))
        out[j] = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    return out


# ------------------------------------------------------------------------------------------
# Spirals: Lang & Witbrock 1988, point by point
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("density", [1, 2, 3])
def test_spirals_points_are_lang_and_witbrock(density):
    X, T = task("spirals", density=density)
    rows, labels = [], []
    for i in range(96 * density + 1):
        angle = i * math.pi / (16 * density)
        radius = 6.5 * (104 * density - i) / (104 * density)
        x, y = radius * math.sin(angle), radius * math.cos(angle)
        rows += [(x, y), (-x, -y)]
        labels += [1.0, 0.0]
    assert X.shape == (2 * (96 * density + 1), 2) and T.shape == (len(rows), 1)
    np.testing.assert_allclose(X, np.array(rows), rtol=0, atol=1e-12)
    assert T[:, 0].tolist() == labels
    if density == 1:  # 2 x 97 points, three turns (angle 0 .. 6 pi)
        assert len(X) == 194 and math.isclose(96 * math.pi / 16, 6 * math.pi)


def test_spirals_noise_is_the_kernels_normal_stream():
    clean, _ = task("spirals")
    noisy, _ = task("spirals", noise=0.3, data_seed=5)
    key = datasets.stream(datasets.data_key("spirals", 5), datasets.NOISE)
    np.testing.assert_allclose((noisy - clean).ravel(), 0.3 * kernel_normals(key, clean.size), rtol=0, atol=1e-12)
    onehot, T1 = task("spirals", targets="onehot")
    assert T1.shape == (194, 2) and (T1[:, 1] == task("spirals")[1][:, 0]).all() and (T1.sum(1) == 1).all()


# ------------------------------------------------------------------------------------------
# Noisy clouds: class balance and first two moments
# ------------------------------------------------------------------------------------------
N = 20_000


def check_moments(X: np.ndarray, mean, noise: float, clean_var=0.0) -> None:
    """Sample mean within 5 standard errors, variance within 5%."""
    var = clean_var + noise ** 2
    assert np.all(np.abs(X.mean(0) - mean) < 5 * np.sqrt(var / len(X)))
    np.testing.assert_allclose(X.var(0), var, rtol=0.05)


def test_xor_noisy_balance_and_moments():
    X, T = task("xor_noisy", n_train=N, noise=0.3, data_seed=1)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    for c, corner in enumerate(corners):
        rows = np.arange(c, N, 4)
        assert (T[rows, 0] == float(corner[0] != corner[1])).all()
        check_moments(X[rows], corner, 0.3)
    assert T.mean() == 0.5
    # off-diagonal covariance ~ 0: independent coordinates
    assert abs(np.corrcoef((X - corners[np.arange(N) % 4]).T)[0, 1]) < 0.03


def test_blobs_balance_centres_and_moments():
    k, d, noise = 4, 3, 0.7
    X, T = task("blobs", n_train=N, noise=noise, classes=k, n_inputs=d, data_seed=9)
    assert X.shape == (N, d) and T.shape == (N, k)
    assert (T.sum(1) == 1).all() and (T.argmax(1) == np.arange(N) % k).all()
    assert T.sum(0).tolist() == [N // k] * k
    key = datasets.stream(datasets.data_key("blobs", 9), datasets.CENTERS)
    centres = np.array([-5 + 10 * kernel_uniform(np.uint64(key), np.uint64(c)) for c in range(k * d)]).reshape(k, d)
    for c in range(k):
        check_moments(X[np.arange(c, N, k)], centres[c], noise)


@pytest.mark.parametrize("n", [N, N + 1])
def test_moons_balance_and_moments(n):
    noise = 0.2
    X, T = task("moons", n_train=n, noise=noise, data_seed=3)
    n0, n1 = (n + 1) // 2, n // 2
    assert T[:, 0].tolist() == [i % 2 for i in range(n)] and T.sum() == n1
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)  # scikit-learn's make_moons
    outer = np.stack([np.cos(t0), np.sin(t0)], 1)
    inner = np.stack([1 - np.cos(t1), 1 - np.sin(t1) - 0.5], 1)
    for rows, clean in ((np.arange(0, n, 2), outer), (np.arange(1, n, 2), inner)):
        check_moments(X[rows], clean.mean(0), noise, clean.var(0))
    np.testing.assert_allclose(task("moons", n_train=n, noise=0.0)[0][0::2], outer, atol=1e-12)


def test_circles_balance_and_moments():
    noise = 0.1
    X, T = task("circles", n_train=N, noise=noise, data_seed=4)
    assert T.sum() == N // 2 and (T[1::2] == 1).all()
    t = np.linspace(0, 2 * np.pi, N // 2, endpoint=False)
    for rows, r in ((np.arange(0, N, 2), 1.0), (np.arange(1, N, 2), 0.5)):
        clean = r * np.stack([np.cos(t), np.sin(t)], 1)
        check_moments(X[rows], clean.mean(0), noise, clean.var(0))
        radius = np.hypot(*task("circles", n_train=N, noise=0.0)[0][rows].T)
        np.testing.assert_allclose(radius, r, atol=1e-12)


def test_sine_inputs_targets_and_noise():
    X, T = task("sine", n_train=N, noise=0.0, data_seed=2)
    assert X.shape == T.shape == (N, 1)
    assert X.min() >= -np.pi and X.max() < np.pi
    np.testing.assert_allclose(T, np.sin(X), atol=1e-15)
    check_moments(X, 0.0, 0.0, clean_var=np.pi ** 2 / 3)   # uniform on [-pi, pi)
    Xn, Tn = task("sine", n_train=N, noise=0.25, data_seed=2)
    np.testing.assert_array_equal(Xn, X)
    check_moments(Tn - np.sin(X), 0.0, 0.25)


# ------------------------------------------------------------------------------------------
# Teacher: labels recomputed from its weights
# ------------------------------------------------------------------------------------------
ACT = {"tanh": math.tanh, "relu": lambda z: max(z, 0.0), "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
       "linear": lambda z: z, "leaky_relu": lambda z: z if z > 0 else 0.01 * z}


@pytest.mark.parametrize("hidden, act", [([4], "tanh"), ([5, 3], "relu"), ([], "linear"), ([3], "sigmoid")])
def test_teacher_labels_from_its_weights(hidden, act):
    d, n = 5, 300
    X, y = task("teacher", n_train=n, n_inputs=d, teacher_hidden=hidden, teacher_activation=act,
                targets="regression", data_seed=11)
    _, s = task("teacher", n_train=n, n_inputs=d, teacher_hidden=hidden, teacher_activation=act, data_seed=11)
    weights = datasets.teacher_weights(d, hidden, 11)
    sizes = [d, *hidden, 1]
    assert [w.shape for w in weights] == [(b, a) for a, b in zip(sizes, sizes[1:])]
    for p in range(n):  # plain-Python forward pass of the teacher
        h = list(X[p])
        for layer, w in enumerate(weights):
            z = [sum(w[o][i] * h[i] for i in range(len(h))) for o in range(len(w))]
            h = z if layer == len(weights) - 1 else [ACT[act](v) for v in z]
        assert math.isclose(y[p, 0], h[0], rel_tol=1e-12, abs_tol=1e-12)
        assert s[p, 0] == float(h[0] > 0)
    # the weights are N(0, 1)/sqrt(fan_in) from the kernels' normal stream
    key = datasets.stream(datasets.data_key("teacher", 11), datasets.TEACHER)
    z = kernel_normals(key, sum(w.size for w in weights))
    flat = np.concatenate([w.ravel() * math.sqrt(w.shape[1]) for w in weights])
    np.testing.assert_allclose(flat, z, rtol=1e-12, atol=1e-12)


def test_teacher_inputs_are_standard_normal_and_noise_adds():
    X, y = task("teacher", n_train=N // 4, n_inputs=4, targets="regression", data_seed=1)
    check_moments(X.reshape(-1, 1), 0.0, 1.0)
    _, yn = task("teacher", n_train=N // 4, n_inputs=4, targets="regression", noise=0.5, data_seed=1)
    check_moments(yn - y, 0.0, 0.5)


# ------------------------------------------------------------------------------------------
# Determinism and identity
# ------------------------------------------------------------------------------------------
CASES = [("spirals", {"noise": 0.2}), ("moons", {}), ("circles", {}), ("blobs", {"classes": 5}),
         ("xor_noisy", {}), ("teacher", {"n_inputs": 7}), ("sine", {})]


def digest(name: str, keys: dict, data_seed: int) -> str:
    X, T = task(name, data_seed=data_seed, **keys)
    return hashlib.sha256(X.tobytes() + T.tobytes()).hexdigest()


def test_every_generated_task_has_a_case():
    assert sorted(n for n, _ in CASES) == sorted(GENERATED_TASKS)


@pytest.mark.parametrize("name, keys", CASES, ids=[c[0] for c in CASES])
def test_same_keys_same_dataset_other_seed_other_dataset(name, keys):
    assert digest(name, keys, 0) == digest(name, keys, 0)
    assert len({digest(name, keys, s) for s in (0, 1, 2, 2**63 - 1)}) == 4


def test_same_dataset_in_a_fresh_process():
    code = ("import hashlib, json, sys; from tests.test_datasets import CASES, digest; "
            "print(json.dumps([digest(n, k, 3) for n, k in CASES]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[" + ", ".join(f'"{digest(n, k, 3)}"' for n, k in CASES) + "]"


GRID = """
name = "ds"
[task]
name = "spirals"
[model]
hidden = [5, 5]
activation = "tanh"
[sweep]
seeds = 2
"""


def test_dataset_keys_are_part_of_run_id_and_init_key():
    base = parse_grid(GRID).columns(0, 2)
    for override in ("task.data_seed=1", "task.noise=0.1", "task.density=2"):
        other = parse_grid(GRID, "<grid>", [override]).columns(0, 2)
        assert not set(other["run_id"]) & set(base["run_id"]), override
        assert not set(other["init_key"]) & set(base["init_key"]), override
    new = [p.key for p in PARAMS if p.key.startswith("task.") and p.applies and set(GENERATED_TASKS) <= set(p.applies[1])]
    assert {"task.data_seed", "task.noise"} <= set(new) and set(new) <= set(RUN_ID_KEYS) & set(INIT_KEY_KEYS)
    # where a dataset key does not apply (every older task) it adds nothing: older run ids are unchanged
    for p in PARAMS:
        if p.key.startswith("task.") and p.key not in ("task.name", "task.bits", "task.size", "task.targets",
                                                       "task.path", "task.n_outputs"):
            assert value_hash(p.key, None) == 0 and value_hash(p.key, p.default if p.neutral is not None else None) == 0, p.key


def test_dataset_axes_are_ordinary_axes_grouped_by_dataset():
    g = parse_grid(GRID.replace('"spirals"', '"moons"') + '"task.data_seed" = [0, 1]\n"task.n_train" = [50, 100]\n'
                   '"task.noise" = [0.0, 0.2]\n')
    assert g.n_runs == 16 and len(g.groups()) == 8
    assert all(gr.n_runs == 2 for gr in g.groups())
    assert len(set(g.columns(0, 16)["run_id"])) == 16
    assert "task.noise=0.2" in g.groups()[-1].label


def test_per_task_defaults_fill_the_columns():
    cols = parse_grid(GRID).columns(0, 2)
    assert cols["task.noise"].tolist() == [0.0, 0.0] and cols["task.n_train"].tolist() == [None, None]
    cols = parse_grid(GRID, "<grid>", ["task.name=teacher"]).columns(0, 1)
    assert cols["task.targets"].tolist() == ["sign"] and cols["task.noise"].tolist() == [0.0]
    cols = parse_grid(GRID, "<grid>", ["task.name=xor"]).columns(0, 1)
    assert cols["task.targets"].tolist() == ["binary"] and cols["task.noise"].tolist() == [None]


def test_a_bad_data_seed_word_is_one_clear_exit_2(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(GRID)
    assert main(["run", str(grid), "--no-progress", "--set", "task.data_seed=each"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'per_run'" in err and "Traceback" not in err


def test_per_run_draws_each_runs_dataset_with_its_seed(tmp_path):
    """``data_seed = "per_run"``: run with seed s trains on the dataset of data_seed s (the kernels
    on that dataset give its row), cells are paired by seed, and the column says which dataset."""
    import kernels
    text = GRID.replace('"spirals"', '"moons"\nn_train = 24\nn_test = 16\nnoise = 0.3\ndata_seed = "per_run"')
    text = text.replace("seeds = 2", 'seeds = 5\n"train.lr" = [0.1, 0.5]').replace("[5, 5]", "[4]")
    (tmp_path / "g.toml").write_text(text)
    assert main(["run", str(tmp_path / "g.toml"), "--no-progress", "--out", str(tmp_path / "o")]) == 0
    df = pd.read_parquet(tmp_path / "o").sort_values("run_index")
    assert (df["task.data_seed"] == df["seed"]).all() and df["test_final_loss"].notna().all()
    cols = parse_grid(text).columns(0, 10)
    net = kernels.Network((2, 4, 1), ("tanh", "sigmoid"))
    for i in range(10):
        cfg = {"task.name": "moons", "task.n_train": 24, "task.n_test": 16, "task.noise": 0.3,
               "task.data_seed": int(cols["seed"][i])}
        X, T, Xte, Tte = make_datasets(cfg)
        theta0 = kernels.init_params(net, "torch_default", cols["init_key"][i:i + 1])
        ref = kernels.train(net, kernels.TrainOptions(), X, T, theta0, epochs=1000, lr=cols["train.lr"][i],
                            X_test=Xte, T_test=Tte)
        row = df.iloc[i]
        assert row["final_loss"] == ref.final_loss[0] and row["test_final_loss"] == ref.test["final_loss"][0], i
    by_seed = df.groupby("seed")["test_final_loss"].nunique()
    assert (by_seed == 2).all()         # the two lr cells of a seed: one dataset, two results


# ------------------------------------------------------------------------------------------
# End to end: sweep run writes Parquet
# ------------------------------------------------------------------------------------------
def test_sweep_run_spirals_and_blobs(tmp_path):
    spirals = tmp_path / "spirals.toml"
    spirals.write_text(GRID.replace("seeds = 2", "seeds = 3") + "\n[train]\nepochs = 20\nlr = 0.1\n"
                       "loss = \"mse\"\n[criteria]\nmain = \"acc75\"\n")
    assert main(["run", str(spirals), "--out", str(tmp_path / "s"), "--no-progress"]) == 0
    df = pd.read_parquet(tmp_path / "s")
    assert len(df) == 3 and (df["task.name"] == "spirals").all() and (df["epochs_run"] == 20).all()
    assert (df["task.data_seed"] == 0).all() and (df["task.noise"] == 0.0).all()
    assert df["final_loss"].notna().all() and df["run_id"].is_unique

    blobs = tmp_path / "blobs.toml"
    blobs.write_text('name = "b"\n[task]\nname = "blobs"\nn_train = 60\nclasses = 3\n[model]\nhidden = [4]\n'
                     '[train]\nepochs = 30\nlr = 0.5\n[sweep]\nseeds = 2\n"task.data_seed" = [0, 1]\n')
    assert main(["run", str(blobs), "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    df = pd.read_parquet(tmp_path / "b")
    assert len(df) == 4 and sorted(df["task.data_seed"].tolist()) == [0, 0, 1, 1]
    assert (df["task.classes"] == 3).all() and df["final_accuracy"].between(0, 1).all()
