"""End-to-end tests of ``sweep run``: Parquet output, resume, refusal, locking, determinism."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from results.layout import layout_of
from results.schema import METRIC_COLUMNS
from sweep.grid.columns import CONFIG_COLUMNS
from sweep.cli import main

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ROOT / "tests" / "grids"

SMALL = """
name = "small"
description = "a small XOR sweep for tests"
[task]
name = "xor"
[model]
hidden = [2]
[init]
scheme = "torch_default"
[train]
loss = "bce"
optimizer = "sgd"
lr = 1.0
epochs = 300
[sweep]
seeds = {seeds}
"train.lr" = [0.5, 2.0]
"""


def write_grid(tmp_path: Path, seeds: int = 40, extra: str = "", name: str = "grid.toml") -> Path:
    p = tmp_path / name
    p.write_text(SMALL.format(seeds=seeds) + extra)
    return p


def load_sorted(path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("run_id").reset_index(drop=True)


def test_run_writes_one_row_per_run_with_schema_columns(tmp_path, capsys):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(grid), "--out", str(out), "--no-progress"]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 80 and df["run_id"].is_unique
    for col in ["run_id", "run_index", "seed", *CONFIG_COLUMNS, *METRIC_COLUMNS]:
        assert col in df.columns, col
    assert sorted(df["run_index"]) == list(range(80))
    # censoring: a null convergence epoch means not converged
    assert (df["convergence_epoch"].isna() == ~df["converged"]).all()
    assert (df.loc[df.converged, "convergence_epoch"] <= df.loc[df.converged, "epochs_run"]).all()
    layout = layout_of(out)
    manifest = json.loads(layout.manifest.read_text())
    assert manifest["status"] == "complete" and manifest["n_runs"] == 80
    assert manifest["grid_text"] == grid.read_text()
    assert manifest["identity_version"] == 2 and manifest["layout_version"] == 2
    assert not layout.lock.exists()
    assert sorted(p.suffix for p in out.iterdir()) == [".parquet"] * len(list(out.iterdir()))
    text = capsys.readouterr().out
    assert "80 of 80 runs" in text and "train.lr" in text


def test_rerun_trains_nothing_and_resume_trains_only_missing(tmp_path, capsys):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "16"]) == 0
    full = load_sorted(out)
    capsys.readouterr()
    assert main(["run", str(grid), "--out", str(out), "--no-progress"]) == 0
    assert "0 trained now" in capsys.readouterr().out
    parts = sorted(out.glob("part-*.parquet"))
    for p in parts[::2]:  # as if those chunks were in flight when the process died
        p.unlink()
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "7"]) == 0
    resumed = load_sorted(out)
    assert resumed["run_id"].is_unique
    pd.testing.assert_frame_equal(resumed, full)


def test_different_grid_is_refused_but_more_seeds_are_added(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write_grid(tmp_path, 20)), "--out", str(out), "--no-progress"]) == 0
    first = load_sorted(out)
    other = write_grid(tmp_path, 20, name="other.toml").read_text().replace("epochs = 300", "epochs = 301")
    (tmp_path / "other.toml").write_text(other)
    assert main(["run", str(tmp_path / "other.toml"), "--out", str(out), "--no-progress"]) == 2
    assert "different grid" in capsys.readouterr().err
    assert main(["run", str(write_grid(tmp_path, 30, name="more.toml")), "--out", str(out), "--no-progress"]) == 0
    assert "20 trained now, 40 already there" in capsys.readouterr().out
    grown = load_sorted(out)
    assert len(grown) == 60
    pd.testing.assert_frame_equal(grown[grown.run_id.isin(first.run_id)].reset_index(drop=True), first)


def test_a_subset_of_a_complete_sweep_trains_nothing(tmp_path, capsys):
    """Issue 28 item 7: fewer seeds, or a value fewer on an axis, is not refused; the summary is
    of the subset's runs, and the directory (manifest included) is left as it was."""
    out = tmp_path / "out"
    grid = write_grid(tmp_path, 20)
    assert main(["run", str(grid), "--out", str(out), "--no-progress"]) == 0
    files, manifest = sorted(out.iterdir()), layout_of(out).manifest.read_text()
    capsys.readouterr()
    for subset, n, rows in ((["sweep.seeds=10"], 20, ["0.5    10", "2.0    10"]),
                            (["sweep.train.lr=0.5"], 20, ["0.5    20"]),
                            (["sweep.seeds=5", "sweep.train.lr=2.0"], 5, ["2.0     5"])):
        assert main(["run", str(grid), "--out", str(out), "--no-progress", *subset]) == 0, subset
        text = capsys.readouterr().out
        assert f"{n} of {n} runs" in text and f"0 trained now, {n} already there" in text and "subset" in text
        assert all(r in text for r in rows) and text.count("\n") == 3 + len(rows), text
    assert sorted(out.iterdir()) == files and layout_of(out).manifest.read_text() == manifest
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "sweep.seeds=10", "sweep.train.lr=0.5,3"]) == 2
    assert "different grid" in capsys.readouterr().err


def test_second_run_on_locked_directory_fails_fast(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    lock = layout_of(out).lock
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from results.lock import DirLock; DirLock(sys.argv[1]).acquire(); "
        "print('held', flush=True); time.sleep(30)"), str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.perf_counter()
        assert main(["run", str(write_grid(tmp_path)), "--out", str(out), "--no-progress"]) == 2
        assert time.perf_counter() - t < 10
        err = capsys.readouterr().err
        assert f"in use by process {holder.pid}" in err and "Traceback" not in err
        assert not list(out.glob("part-*"))
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the lock with the process: the next run goes ahead, with no clean-up by hand
    assert main(["run", str(write_grid(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    assert len(pd.read_parquet(out)) == 80 and not lock.exists()


@pytest.mark.parametrize("content", ["", "otherhost 1\n", "garbage", f"{os.uname().nodename} 1\n"],
                         ids=["empty", "other-host", "garbage", "live-pid-no-lock"])
def test_a_lock_file_nobody_holds_is_no_obstacle(tmp_path, content):
    """An empty `_lock` (kill between create and write), another host's, or a live PID's without
    the OS lock: information only, the run takes the lock."""
    out = tmp_path / "out"
    out.mkdir()
    layout_of(out).lock.parent.mkdir(parents=True, exist_ok=True)
    layout_of(out).lock.write_text(content)
    assert main(["run", str(write_grid(tmp_path, 5)), "--out", str(out), "--no-progress"]) == 0
    assert len(pd.read_parquet(out)) == 10


def test_metrics_identical_across_threads_and_chunk_sizes(tmp_path):
    import numba
    grid = write_grid(tmp_path, 25)
    outs = []
    for threads, chunk in [(1, 5), (2, 64), (2, 17)]:
        out = tmp_path / f"o{threads}-{chunk}"
        assert main(["run", str(grid), "--out", str(out), "--no-progress",
                     "--threads", str(threads), "--chunk-size", str(chunk)]) == 0
        outs.append(load_sorted(out))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for other in outs[1:]:
        pd.testing.assert_frame_equal(outs[0], other)


def test_set_overrides_and_dry_run(tmp_path, capsys):
    grid = write_grid(tmp_path)
    assert main(["run", str(grid), "--dry-run", "--set", "sweep.seeds=3"]) == 0
    text = capsys.readouterr().out
    assert "6" in text and "estimated time" in text
    out = tmp_path / "o"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--set", "sweep.seeds=3",
                 "--set", "train.epochs=50"]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 6 and (df["train.epochs"] == 50).all() and (df["epochs_run"] == 50).all()


@pytest.mark.parametrize("fixture", sorted(p.name for p in GRIDS.glob("*.toml") if not p.name.startswith("good")))
def test_bad_grids_exit_2_with_message(fixture, capsys):
    path = GRIDS / fixture
    expect = path.read_text().splitlines()[0].removeprefix("# expect:").strip()
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert fixture in err and expect in err
    assert "Traceback" not in err


def test_cli_subprocess_no_traceback_on_bad_grid():
    bad = GRIDS / "unknown_key_typo.toml"
    proc = subprocess.run([sys.executable, "-m", "sweep", "run", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "did you mean" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_experiments_validate(path, capsys):
    from sweep.grid.load import load_grid
    grid = load_grid(path)
    assert grid.n_runs >= 1000
    assert grid.description.strip()


def test_seed001_grid_reproduces_published_weights(tmp_path):
    out = tmp_path / "o"
    grid = ROOT / "experiments" / "seed001_numpy_sigmoid.toml"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--set", "sweep.seeds=[314]",
                 "--set", "sweep.train.lr=[0.1]", "--set", "train.epochs=0", "--set", "record.initial_params=true"]) == 0
    theta = np.array(pd.read_parquet(out)["initial_params"].iloc[0])
    # layout: W1 (out, in) row-major, b1, W2, b2; the notebook prints W1 as (in, out)
    expected = [0.91687358, 0.26504775, 0.58854191, 0.78320538, 0.91800106, 0.82735501,
                0.72795148, 0.26048042, 0.9117634]
    np.testing.assert_allclose(theta, expected, atol=5e-9)


def test_overlapping_subgrids_train_each_distinct_run_once(tmp_path, capsys):
    grid = tmp_path / "union.toml"
    grid.write_text("""
name = "union"
[task]
name = "xor"
[train]
epochs = 50
[sweep]
seeds = 30
"train.lr" = [0.5, 1.0]
[[sweep.grids]]
"train.optimizer" = ["sgd"]
[[sweep.grids]]
"train.optimizer" = ["sgd", "momentum"]
"train.momentum" = [0.9]
""")
    out = tmp_path / "o"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "16"]) == 0
    df = pd.read_parquet(out)
    # 60 sgd runs appear in both sub-grids: 180 grid entries, 120 distinct runs
    assert len(df) == 120 and df["run_id"].is_unique
    assert df["train.optimizer"].value_counts().to_dict() == {"sgd": 60, "momentum": 60}
    capsys.readouterr()
    assert main(["ls", str(tmp_path)]) == 0 and main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert " complete  120/120 " in shown and "120 of 120 runs done" in shown  # distinct runs, not 180


def test_progress_bar_counts_the_whole_sweep_and_is_absent_with_nothing_to_do(tmp_path, capsys):
    """Issue 28 item 7: a resumed run's bar starts at the runs already there (done/total of the
    sweep); a run with nothing to train draws no ``0.00run`` bar."""
    out = tmp_path / "out"
    assert main(["run", str(write_grid(tmp_path, 20)), "--out", str(out)]) == 0
    assert "40.0/40.0" in capsys.readouterr().err
    assert main(["run", str(write_grid(tmp_path, 20)), "--out", str(out)]) == 0
    assert "run/s" not in capsys.readouterr().err
    assert main(["run", str(write_grid(tmp_path, 30)), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "40.0/60.0" in err and "60.0/60.0" in err and "/20.0" not in err
