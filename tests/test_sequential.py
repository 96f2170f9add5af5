"""Sequential seeds end to end: each cell's runs are the prefix of its seeds that an independent
re-implementation of the rule picks from a fixed grid's runs; kill (SIGKILL) and resume, a
partial round, a changed rule and the Dask backend all give the same runs and numbers."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sweep.cli import main

ROOT = Path(__file__).resolve().parents[1]
METRICS = ["epochs_run", "final_loss", "final_mse", "converged", "epoch_acc100", "epoch_acc75"]

GRID = """
name = "seq-test"
[task]
name = "xor"
[model]
hidden = [2]
[train]
loss = "bce"
epochs = 170
early_stop = true
[sweep]
seeds = {{ until = "resolved", min = 100, max = 2000, step = 100 }}
"train.lr" = [2.0, 5.0, 8.0]
[sweep.resolve]
metric = "epoch_acc100"
at = 169
halfwidth = {h}
[output]
chunk_size = 512
"""


def write(tmp_path: Path, h: float = 0.05, name: str = "seq.toml") -> Path:
    p = tmp_path / name
    p.write_text(GRID.format(h=h))
    return p


def rows(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values("run_id").reset_index(drop=True)


def manifest(out: Path) -> dict:
    from results.layout import layout_of
    return json.loads(layout_of(out).manifest.read_text())


def reference_stop(success: np.ndarray, h: float, mn=100, mx=2000, step=100) -> int:
    """Independent rule: first n in mn, mn+step, ... where the exact 95% interval has half-width
    <= h and so would a share at its point nearest 1/2; else mx."""
    for n in range(mn, mx + 1, step):
        k = int(success[:n].sum())
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        worst = min(max(0.5, ci.low), ci.high)
        if (ci.high - ci.low) / 2 <= h + 1e-12 and 1.959964 * np.sqrt(worst * (1 - worst) / n) <= h + 1e-12:
            return n
    return mx


@pytest.fixture(scope="module")
def fixed(tmp_path_factory) -> pd.DataFrame:
    """The same cells with a fixed 2000-seed grid: the reference runs."""
    d = tmp_path_factory.mktemp("fixed")
    g = d / "fixed.toml"
    g.write_text(GRID.format(h=0.05).replace('seeds = { until = "resolved", min = 100, max = 2000, step = 100 }',
                                             "seeds = 2000").split("[sweep.resolve]")[0])
    assert main(["run", str(g), "--out", str(d / "out"), "--no-progress"]) == 0
    return rows(d / "out")


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """One uninterrupted sequential sweep."""
    d = tmp_path_factory.mktemp("straight")
    assert main(["run", str(write(d)), "--out", str(d / "out"), "--no-progress"]) == 0
    return d / "out"


def test_each_cell_is_the_prefix_the_rule_picks(straight, fixed):
    seq = rows(straight)
    cells = manifest(straight)["sequential"]["cells"]
    assert manifest(straight)["sequential"]["status"] == "complete" and len(cells) == 3
    for cell in cells:
        lr = cell["values"]["train.lr"]
        ref = fixed[fixed["train.lr"] == lr].sort_values("seed")
        success = (ref["epoch_acc100"].fillna(10**9) <= 169).to_numpy()
        n = reference_stop(success, 0.05)
        assert cell["runs"] == n and cell["status"] == "resolved"
        mine = seq[seq["train.lr"] == lr].sort_values("seed")
        assert mine["seed"].tolist() == list(range(n))  # a prefix of the seed sequence
        assert mine["run_id"].tolist() == ref["run_id"].tolist()[:n]  # the same runs as the fixed grid
        pd.testing.assert_frame_equal(mine[METRICS].reset_index(drop=True),
                                      ref[METRICS].iloc[:n].reset_index(drop=True))
        assert cell["estimate"] == pytest.approx(success[:n].mean())
        ci = stats.binomtest(int(success[:n].sum()), n).proportion_ci(0.95, method="exact")
        assert (cell["lo"], cell["hi"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert len({c["runs"] for c in cells}) > 1  # the cells did stop at different counts


def test_rerun_trains_nothing_and_claim_reports_stops(straight, capsys):
    before = rows(straight)
    grid = straight.parent / "seq.toml"
    assert main(["run", str(grid), "--out", str(straight), "--no-progress"]) == 0
    assert "0 runs trained now in 0 round(s)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(rows(straight), before)
    assert main(["claim", str(straight), "--at", "169"]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 cells resolved" in out and out.count("resolved") >= 4


@pytest.mark.slow
def test_sigkill_mid_way_then_resume_gives_the_same_runs(tmp_path, straight):
    grid, out = write(tmp_path), tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(grid), "--out", str(out), "--no-progress"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total = len(rows(straight))
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if list(out.glob("part-*.parquet")):  # the first round is on disk: kill it mid-way
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    n_before = len(rows(out)) if list(out.glob("part-*.parquet")) else 0
    assert n_before < total  # it really was killed before the end
    assert main(["run", str(grid), "--out", str(out), "--no-progress"]) == 0  # stale lock: resumed
    pd.testing.assert_frame_equal(rows(out), rows(straight))
    assert manifest(out)["sequential"]["cells"] == manifest(straight)["sequential"]["cells"]


def test_partial_round_on_disk_resumes_to_the_same_result(tmp_path, straight):
    out = tmp_path / "out"
    shutil.copytree(straight, out)
    parts = sorted(out.glob("part-*.parquet"), key=lambda p: p.name)
    df = rows(out)
    # keep the first round whole, and of the rest only every other part: holes inside blocks
    first = {p for p in parts if p.name.split("-")[2] == "000000000000"}
    for p in [p for p in parts if p not in first][::2]:
        p.unlink()
    assert len(rows(out)) < len(df)
    assert main(["run", str(write(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    pd.testing.assert_frame_equal(rows(out), df)
    assert manifest(out)["sequential"]["cells"] == manifest(straight)["sequential"]["cells"]


def test_tighter_rule_resumes_the_directory_and_equals_a_fresh_run(tmp_path, straight):
    out = tmp_path / "out"
    shutil.copytree(straight, out)
    assert main(["run", str(write(tmp_path)), "--out", str(out), "--no-progress",
                 "--set", "sweep.resolve.halfwidth=0.03"]) == 0
    fresh = tmp_path / "fresh"
    assert main(["run", str(write(tmp_path, h=0.03, name="tight.toml")), "--out", str(fresh), "--no-progress"]) == 0
    pd.testing.assert_frame_equal(rows(out), rows(fresh))
    assert manifest(out)["sequential"]["cells"] == manifest(fresh)["sequential"]["cells"]
    assert len(rows(fresh)) > len(rows(straight))


def test_a_directory_of_another_grid_is_refused(tmp_path, straight, capsys):
    out = tmp_path / "out"
    shutil.copytree(straight, out)
    other = write(tmp_path).read_text().replace("[2.0, 5.0, 8.0]", "[2.0, 5.0]")
    (tmp_path / "other.toml").write_text(other)
    assert main(["run", str(tmp_path / "other.toml"), "--out", str(out), "--no-progress"]) == 2
    assert "does not contain" in capsys.readouterr().err


def test_bad_rule_exits_2_with_the_key(tmp_path, capsys):
    g = write(tmp_path)
    assert main(["run", str(g), "--set", "sweep.resolve.halfwidth=2"]) == 2
    err = capsys.readouterr().err
    assert "sweep.resolve.halfwidth = 2 must be a number in (0, 0.5]" in err and "Traceback" not in err


@pytest.mark.slow
def test_dask_backend_gives_the_same_runs(tmp_path, straight):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path)), "--out", str(out), "--no-progress", "--dask-local", "2",
                 "--chunk-size", "128"]) == 0
    pd.testing.assert_frame_equal(rows(out), rows(straight))
    assert manifest(out)["sequential"]["cells"] == manifest(straight)["sequential"]["cells"]
