"""record.* keys say what is stored, not what is computed: they are not part of a run's identity."""
from __future__ import annotations

import pandas as pd

from results.layout import layout_of
from sweep.cli import main
from sweep.grid.load import parse_grid

GRID = """
name = "rec"
[task]
name = "xor"
[train]
epochs = 60
[sweep]
seeds = 4
"train.lr" = [0.5, 1.0]
"""


def test_record_keys_do_not_change_run_ids():
    plain = parse_grid(GRID)
    more = parse_grid(GRID, overrides=["record.curve_points=5", "record.final_params=true", "record.final_outputs=true"])
    assert plain.columns(0, plain.n_runs)["run_id"].tolist() == more.columns(0, more.n_runs)["run_id"].tolist()
    other = parse_grid(GRID, overrides=["train.epochs=61"])
    assert set(other.columns(0, 8)["run_id"]).isdisjoint(plain.columns(0, 8)["run_id"])


def test_recording_more_resumes_and_fills_new_columns_only_for_new_runs(tmp_path, capsys):
    (tmp_path / "g.toml").write_text(GRID)
    out = tmp_path / "out"
    base = ["run", str(tmp_path / "g.toml"), "--out", str(out), "--no-progress"]
    assert main(base) == 0
    first = pd.read_parquet(out)
    capsys.readouterr()
    assert main(base + ["--set", "record.curve_points=5", "--set", "record.final_params=true",
                        "--set", "sweep.seeds=6"]) == 0
    assert "4 trained now, 8 already there" in capsys.readouterr().out
    df = pd.read_parquet(out)
    old = df["run_id"].isin(first["run_id"])
    assert old.sum() == 8 and (~old).sum() == 4
    assert df.loc[old, "final_params"].isna().all() and df.loc[~old, "final_params"].notna().all()
    curves = pd.read_parquet(layout_of(out).curves)
    assert set(curves["run_id"]) == set(df.loc[~old, "run_id"])
    # the old rows are untouched
    pd.testing.assert_frame_equal(
        df[old].sort_values("run_id").reset_index(drop=True)[list(first.columns)].drop(columns=["record.curve_points", "record.final_params"]),
        first.sort_values("run_id").reset_index(drop=True).drop(columns=["record.curve_points", "record.final_params"]))
