"""CLI: --version, ls, info, compare, Hydra-style overrides and "did you mean"."""
from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

import sweep
from results.layout import layout_of
from sweep.cli import main

GRID = """
name = "{name}"
description = "XOR over lr"
[task]
name = "xor"
[train]
loss = "{loss}"
epochs = 300
[sweep]
seeds = 12
"train.lr" = [0.5, 2.0]
"""


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")
    for name, loss in (("lr-mse", "mse"), ("lr-bce", "bce")):
        (root / f"{name}.toml").write_text(GRID.format(name=name, loss=loss))
        assert main(["run", str(root / f"{name}.toml"), "--out", str(root / "runs" / name), "--no-progress"]) == 0
    return root


def test_version(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mlp-sweep {sweep.__version__} (python ") and "numba" in out


def test_ls_lists_every_sweep_with_status_progress_and_date(two_sweeps, capsys):
    capsys.readouterr()
    assert main(["ls", str(two_sweeps / "runs")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "status", "runs", "date", "(UTC)", "path"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"lr-mse", "lr-bce"}  # the DIR.sweep sidecars are not sweeps of their own
    for name, row in rows.items():
        assert row[1] == "complete" and row[2] == "24/24"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row[3]) and row[-1].endswith(f"runs/{name}")
    # a sweep whose manifest says running but whose process is gone (no lock) shows as interrupted
    manifest = layout_of(two_sweeps / "runs" / "lr-mse").manifest
    saved = manifest.read_text()
    manifest.write_text(json.dumps({**json.loads(saved), "status": "running"}))
    try:
        assert main(["ls", str(two_sweeps / "runs")]) == 0
        assert re.search(r"lr-mse\s+interrupted\s+24/24", capsys.readouterr().out)
    finally:
        manifest.write_text(saved)


def test_ls_empty_and_missing(tmp_path, capsys):
    assert main(["ls", str(tmp_path)]) == 0
    assert "no sweep directories" in capsys.readouterr().out
    assert main(["ls", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_info_shows_grid_versions_and_progress(two_sweeps, capsys):
    capsys.readouterr()
    assert main(["info", str(two_sweeps / "runs" / "lr-mse")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lr-mse: XOR over lr")
    assert "complete; 24 of 24 runs done (100.0%)" in out
    assert "layout 2, schema 2, run identity 2" in out
    assert re.search(r"versions: +mlp_sweep 0\.1\.0, numba [\d.]+, numpy", out)
    assert "sub-grid 1 (runs 0..23): train.lr (2) x seeds 0..11 (12) = 24" in out
    assert 'loss = "mse"' in out  # the grid file's text
    assert main(["info", str(two_sweeps)]) == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_compare_two_sweeps_by_lr_is_paired_by_seed(two_sweeps, capsys):
    capsys.readouterr()
    a, b = two_sweeps / "runs" / "lr-mse", two_sweeps / "runs" / "lr-bce"
    assert main(["compare", str(a), str(b), "--by", "lr"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "A = " in lines[0] and "milestone epoch_acc100" in lines[0]  # the main criterion
    assert "compared setting: train.loss (A mse, B bce)" in lines[1:3]
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["train.lr", "n"])
    body = [line.split() for line in lines[head + 1:head + 3]]
    assert [r[0] for r in body] == ["0.5", "2.0"] and all(r[1] == "12/12" and r[-1] == "yes" for r in body)
    assert "McNemar mid-p" in out and "paired sign test" in out and "compared: train.loss" in out
    # the printed shares are the runs' own
    da, db = pd.read_parquet(a), pd.read_parquet(b)
    for r, lr in zip(body, (0.5, 2.0)):
        assert r[2] == f"{100 * da[da['train.lr'] == lr]['converged'].mean():.1f}%"
        assert r[3] == f"{100 * db[db['train.lr'] == lr]['converged'].mean():.1f}%"
    assert main(["compare", str(a), str(b), "--by", "lrr"]) == 2
    assert "did you mean train.lr" in capsys.readouterr().err


def _run_variant(root, name, *overrides, grid="lr-mse"):
    out = root / "variants" / name  # not under runs/, which test_ls lists
    if not out.exists():
        assert main(["run", str(root / f"{grid}.toml"), "--out", str(out), "--no-progress", *overrides]) == 0
    return out


def test_compare_refuses_runs_in_both_sweeps(two_sweeps, capsys):
    a = two_sweeps / "runs" / "lr-mse"
    more = _run_variant(two_sweeps, "lr-mse-more", "sweep.seeds=16")  # seeds 0..11 are A's runs
    capsys.readouterr()
    assert main(["compare", str(a), str(more), "--by", "lr"]) == 2
    err = capsys.readouterr().err
    assert "24 runs are in both A and B (same run_id" in err and "--drop-shared" in err and "Traceback" not in err
    assert main(["compare", str(a), str(more), "--by", "lr", "--json"]) == 2  # --json is refused alike
    capsys.readouterr()
    assert main(["compare", str(a), str(more), "--by", "lr", "--drop-shared", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["shared_runs"] == 24 and [r["n_b"] for r in doc["rows"]] == [4, 4]  # seeds 12..15 only
    assert not any(r["paired"] for r in doc["rows"])


def test_compare_cuts_different_budgets_at_the_smaller_one(two_sweeps, capsys):
    a = two_sweeps / "runs" / "lr-bce"
    short = _run_variant(two_sweeps, "lr-bce-250", "train.epochs=250", grid="lr-bce")
    capsys.readouterr()
    assert main(["compare", str(a), str(short), "--by", "lr", "--csv"]) == 0
    out = capsys.readouterr().out
    assert "# epoch budgets differ (A 300, B 250): both compared at 250 epochs" in out
    assert "# compared setting: none" in out  # train.epochs is handled by the cut
    rows = pd.read_csv(io.StringIO(out), comment="#")
    da, db = pd.read_parquet(a), pd.read_parquet(short)
    for _, r in rows.iterrows():  # A's share is "reached by epoch 250", not by its own 300
        sa, sb = (d[d["train.lr"] == r["train.lr"]]["epoch_acc100"] for d in (da, db))
        assert r["converged_a"] == int((sa <= 250).sum()) == int(sb.notna().sum()) == r["converged_b"]
        assert r["paired"] and r["share_diff"] == 0  # same seeds and weights: the same runs up to 250
    assert (pd.read_parquet(a)["epoch_acc100"] > 250).any()  # the cut changed something


def test_compare_refuses_two_differing_settings_unless_allowed(two_sweeps, capsys):
    a = two_sweeps / "runs" / "lr-mse"
    other = _run_variant(two_sweeps, "lr-bce-momentum", "train.loss=bce", "train.optimizer=momentum")
    capsys.readouterr()
    assert main(["compare", str(a), str(other), "--by", "lr"]) == 2
    err = capsys.readouterr().err
    assert "differ in more than one setting besides --by: train.loss (A mse, B bce); train.optimizer (A sgd, " \
           "B momentum)" in err and "--allow-different train.optimizer" in err
    assert main(["compare", str(a), str(other), "--by", "lr", "--allow-different", "loss"]) == 0
    out = capsys.readouterr().out
    assert "compared setting: train.optimizer (A sgd, B momentum)" in out
    assert "also differs (--allow-different): train.loss (A mse, B bce)" in out
    assert "applies on one side only: train.momentum (A n/a, B 0.9)" in out
    assert main(["compare", str(a), str(other), "--by", "lr", "--allow-different", "los,optimizer"]) == 2
    assert "--allow-different los: no column 'los'; did you mean" in capsys.readouterr().err


def test_compare_names_pooled_axes(two_sweeps, capsys):
    a, b = two_sweeps / "runs" / "lr-mse", two_sweeps / "runs" / "lr-bce"
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--by", "task.name"]) == 0
    out = capsys.readouterr().out
    assert "pooled within each level: train.lr (2 values in A, 2 in B)" in out


def test_hydra_overrides_and_comma_lists(tmp_path, capsys):
    g = tmp_path / "g.toml"
    g.write_text(GRID.format(name="hydra", loss="mse"))
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    assert main(["run", str(g), "train.epochs=40", "sweep.train.lr=0.1,1", "sweep.seeds=3",
                 "--out", str(out1), "--no-progress"]) == 0
    assert main(["run", str(g), "--set", "train.epochs=40", "--set", "sweep.train.lr=[0.1,1]",
                 "--set", "sweep.seeds=3", "--out", str(out2), "--no-progress"]) == 0
    d1, d2 = pd.read_parquet(out1), pd.read_parquet(out2)
    assert sorted(set(d1["train.lr"])) == [0.1, 1.0] and set(d1["train.epochs"]) == {40} and len(d1) == 6
    assert sorted(d1["run_id"]) == sorted(d2["run_id"])
    capsys.readouterr()
    assert main(["run", str(g), "--treads", "2"]) == 2
    assert "did you mean --threads" in capsys.readouterr().err
    assert main(["run", str(g), "train.lr=0.1,1", "--dry-run"]) == 2
    assert "use sweep.train.lr=0.1,1" in capsys.readouterr().err
