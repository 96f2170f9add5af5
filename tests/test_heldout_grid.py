"""Held-out sets through the grid (issue 27 items 1-3): ``task.n_test``, ``task.test_path``,
``task.test_fraction``, ``criteria.main = "test_<milestone>"`` and ``criteria.accuracy``, from
the grid file to the Parquet columns and curves.

The held-out set of a generated task is checked against the task's own definition (a second draw:
same classes, centres and teacher, fresh points), a CSV split against the file, and the Parquet
columns against ``kernels.train`` on the same data (itself checked against the NumPy twin in
``tests/test_heldout.py``).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kernels
from sweep.cli import main
from sweep.grid import datasets
from sweep.grid.load import parse_grid
from sweep.grid.schema import HELD_OUT_TASKS
from sweep.grid.tasks import make_datasets


def sets(name, **keys):
    return make_datasets({"task.name": name, **{f"task.{k}": v for k, v in keys.items()}})


def test_the_schema_and_the_generators_agree_on_which_tasks_draw_a_held_out_set():
    assert HELD_OUT_TASKS == datasets.HELD_OUT_TASKS


@pytest.mark.parametrize("name", HELD_OUT_TASKS)
def test_a_held_out_set_is_a_fresh_draw_of_the_same_task(name):
    X, T, Xte, Tte = sets(name, n_train=60, n_test=90, noise=0.3, data_seed=4)
    assert Xte.shape == (90, X.shape[1]) and Tte.shape == (90, T.shape[1])
    assert not (Xte[:, None, :] == X[None, :, :]).all(axis=2).any()       # no training point reused
    again = sets(name, n_train=60, n_test=90, noise=0.3, data_seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X, T, Xte, Tte)))
    other = sets(name, n_train=60, n_test=90, noise=0.3, data_seed=5)
    assert not np.array_equal(other[2], Xte)
    # the training set does not depend on the held-out set's size
    X0, T0, none, _ = sets(name, n_train=60, noise=0.3, data_seed=4)
    assert none is None and np.array_equal(X0, X) and np.array_equal(T0, T)


def test_blobs_held_out_set_shares_the_centres():
    X, T, Xte, Tte = sets("blobs", n_train=3000, n_test=3000, noise=0.5, classes=3, data_seed=2)
    for c in range(3):
        np.testing.assert_allclose(Xte[Tte[:, c] == 1].mean(axis=0), X[T[:, c] == 1].mean(axis=0), atol=0.06)


def test_teacher_held_out_labels_come_from_the_same_teacher():
    _, _, Xte, Tte = sets("teacher", n_train=10, n_test=500, n_inputs=5, noise=0.0, data_seed=7)
    w1, w2 = datasets.teacher_weights(5, [4], 7)
    assert np.array_equal(Tte[:, 0], (np.tanh(Xte @ w1.T) @ w2.T > 0)[:, 0].astype(float))
    assert abs(Xte.mean()) < 0.1 and abs(Xte.std() - 1) < 0.05      # N(0, I) inputs


def test_moons_held_out_noise_is_the_stated_gaussian():
    _, _, Xte, Tte = sets("moons", n_train=10, n_test=20000, noise=0.2, data_seed=1)
    clean, _ = datasets.moons(20000, 0.0)
    r = Xte - clean
    assert abs(r.mean()) < 0.01 and abs(r.std() - 0.2) < 0.005 and Tte.mean() == 0.5


def test_a_csv_split_holds_out_the_stated_rows(tmp_path):
    rows = np.column_stack([np.arange(40.0), np.arange(40.0) % 2])
    (tmp_path / "d.csv").write_text("\n".join(f"{a:g},{b:g}" for a, b in rows))
    cfg = {"task.name": "csv", "task.path": "d.csv", "task.n_outputs": 1, "task.test_fraction": 0.25}
    X, T, Xte, Tte = make_datasets({**cfg, "task.data_seed": 3}, tmp_path)
    assert len(Xte) == 10 and len(X) == 30
    assert sorted([*X[:, 0], *Xte[:, 0]]) == list(range(40))         # a partition of the file
    assert list(X[:, 0]) == sorted(X[:, 0]) and list(Xte[:, 0]) == sorted(Xte[:, 0])   # file order kept
    u = datasets.uniform(datasets.stream(datasets.data_key("csv", 3), datasets.SPLIT), 40)
    assert set(Xte[:, 0]) == set(np.argsort(u)[:10].astype(float))
    other = make_datasets({**cfg, "task.data_seed": 4}, tmp_path)[2]
    assert set(other[:, 0]) != set(Xte[:, 0])


GRID = """
name = "ho"
[task]
name = "moons"
n_train = 40
n_test = 30
noise = 0.25
[model]
hidden = [6]
activation = "tanh"
[train]
optimizer = "adam"
lr = 0.05
epochs = 60
[record]
curve_points = 5
[sweep]
seeds = 12
"""


def _run(tmp_path, text, *sets_, name="out"):
    grid = tmp_path / f"{name}.toml"
    grid.write_text(text)
    out = tmp_path / name
    assert main(["run", str(grid), "--no-progress", "--out", str(out), *[a for s in sets_ for a in ("--set", s)]]) == 0
    return pd.read_parquet(out).sort_values("run_index"), pd.read_parquet(tmp_path / f"{name}.sweep" / "curves")


def test_held_out_columns_are_what_kernels_train_gives(tmp_path):
    df, curves = _run(tmp_path, GRID)
    X, T, Xte, Tte = sets("moons", n_train=40, n_test=30, noise=0.25)
    net = kernels.Network((2, 6, 1), ("tanh", "sigmoid"))
    opts = kernels.TrainOptions(optimizer="adam")
    theta0 = kernels.init_params(net, "torch_default", parse_grid(GRID).columns(0, 12)["init_key"])
    ref = kernels.train(net, opts, X, T, theta0, epochs=60, lr=0.05, X_test=Xte, T_test=Tte)
    for k in ("final_loss", "final_accuracy", "best_accuracy"):
        np.testing.assert_array_equal(df[f"test_{k}"], ref.test[k])
    np.testing.assert_array_equal(df["test_best_epoch"], ref.test["best_epoch"])
    np.testing.assert_array_equal(df["gap_accuracy"], ref.final_accuracy - ref.test["final_accuracy"])
    assert df["test_epoch_acc75"].notna().any()
    assert set(curves.columns) >= {"accuracy", "test_loss", "test_accuracy"} and curves["test_accuracy"].notna().all()


def test_a_test_milestone_stops_runs_and_is_their_convergence(tmp_path):
    df, _ = _run(tmp_path, GRID, "criteria.main=test_acc75", "train.early_stop=true")
    hit = df["test_epoch_acc75"].notna()
    assert hit.any()
    assert (df.loc[hit, "epochs_run"] == df.loc[hit, "test_epoch_acc75"]).all()
    assert (df["convergence_epoch"].fillna(-1) == df["test_epoch_acc75"].fillna(-1)).all()


def test_without_a_held_out_set_the_test_columns_are_null(tmp_path):
    df, curves = _run(tmp_path, GRID.replace("n_test = 30\n", ""))
    assert df["test_final_accuracy"].isna().all() and df["test_epoch_acc75"].isna().all()
    assert curves["test_loss"].isna().all() and curves["accuracy"].notna().all()


def test_accuracy_rule_side_on_one_hot_targets(tmp_path):
    text = GRID.replace('n_train = 40', 'n_train = 40\ntargets = "onehot"')
    side, _ = _run(tmp_path, text, "criteria.accuracy=side")
    auto, _ = _run(tmp_path, text, name="auto")
    assert (side["final_accuracy"] <= auto["final_accuracy"]).all()
    assert (side["final_accuracy"] < auto["final_accuracy"]).any()
    assert (side["final_loss"] == auto["final_loss"]).all()       # the rule changes no training
    assert len(set(side["run_id"]) & set(auto["run_id"])) == 0


@pytest.mark.parametrize("sets_, expect", [
    (["criteria.main=test_acc100", "task.n_test=0"], "is a milestone on the held-out set, but the runs have none"),
    (["task.n_test=-1"], "task.n_test = -1 must be >= 0"),
    (["criteria.accuracy=best"], "criteria.accuracy = 'best' is not allowed; choose one of: auto, argmax, side"),
])
def test_bad_held_out_keys_are_one_clear_exit_2(tmp_path, capsys, sets_, expect):
    grid = tmp_path / "g.toml"
    grid.write_text(GRID)
    assert main(["run", str(grid), "--no-progress", *[a for s in sets_ for a in ("--set", s)]]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err, err


def test_an_older_grid_keeps_its_run_ids():
    """Keys added for held-out sets add nothing to run_id at their defaults."""
    base = parse_grid(GRID.replace("n_test = 30\n", "")).columns(0, 3)["run_id"]
    same = parse_grid(GRID.replace("n_test = 30\n", "n_test = 0\n"), "<grid>", ["criteria.accuracy=auto"])
    assert list(same.columns(0, 3)["run_id"]) == list(base)
    assert not set(parse_grid(GRID).columns(0, 3)["run_id"]) & set(base)


def held_out_digest(name: str) -> str:
    _, _, Xte, Tte = sets(name, n_train=30, n_test=40, noise=0.2, data_seed=9)
    return hashlib.sha256(Xte.tobytes() + Tte.tobytes()).hexdigest()


def test_same_held_out_set_in_a_fresh_process():
    code = ("import json; from tests.test_heldout_grid import held_out_digest, HELD_OUT_TASKS; "
            "print(json.dumps([held_out_digest(n) for n in HELD_OUT_TASKS]))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[" + ", ".join(f'"{held_out_digest(n)}"' for n in HELD_OUT_TASKS) + "]"
