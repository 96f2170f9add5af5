"""The study grids and scripts in experiments/: grids validate, the shared statistics are right,
and the Fahlman study refuses clearly (or runs its backprop rows) without the new training rules."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from sweep.grid import load_grid, parse_grid

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
import _study as S  # noqa: E402
import fahlman1988_study as F  # noqa: E402

STUDY_GRIDS = ["rhw1986.toml", "kolen_pollack1990.toml", "schmidhuber_guessing.toml", "xor-169.toml"]


@pytest.mark.parametrize("name", STUDY_GRIDS)
def test_study_grids_validate(name):
    grid = load_grid(EXPERIMENTS / name)
    assert grid.n_runs > 0 and not grid.warnings


def test_study_grids_sizes():
    """The documents quote these designs: keep them in step with the grids."""
    rhw = load_grid(EXPERIMENTS / "rhw1986.toml")
    assert rhw.n_runs == 20_000 + 20_000 + 8_000 + 12_000  # before the H = 2 overlap is de-duplicated
    guess = load_grid(EXPERIMENTS / "schmidhuber_guessing.toml")
    cols = guess.columns(0, guess.n_runs)
    assert (cols["train.epochs"] == 0).all()
    assert sorted(set(zip(cols["init.low"], cols["init.high"]))) == sorted((-r, r) for r in (0.5, 1, 2, 5, 10, 100))


def test_binomial_intervals_match_the_beta_quantiles():
    # Clopper-Pearson: lo = Beta(a/2; k, n-k+1), hi = Beta(1-a/2; k+1, n-k)
    for k, n in [(2, 200), (254, 300_000), (0, 300_000), (7, 7)]:
        b = S.binomial(k, n)
        lo = sps.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
        hi = sps.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        assert b["cp_lo"] == pytest.approx(lo, rel=1e-6, abs=1e-12)
        assert b["cp_hi"] == pytest.approx(hi, rel=1e-6, abs=1e-12)
        assert b["wilson_lo"] <= b["p"] <= b["wilson_hi"]
    # 0 of n: the exact upper limit is 1 - 0.025^(1/n)
    assert S.binomial(0, 300_000)["cp_hi"] == pytest.approx(1 - 0.025 ** (1 / 300_000), rel=1e-9)


def test_rate_tests():
    assert S.versus_rate(200, 300_000, 200 / 300_000) > 0.9
    assert S.versus_rate(254, 300_000, 1 / 1500) < 0.001
    assert S.versus_count(10, 1000, 10, 1000) == pytest.approx(1.0)
    assert S.versus_count(60, 1000, 2, 200) < 0.01


def test_percentile_of_uncensored_runs():
    import pandas as pd

    df = pd.DataFrame({"epoch_tss": pd.array([10, 20, 30, 40, None], dtype="Int64"),
                       "epochs_run": [10, 20, 30, 40, 100], "train.epochs": 100})
    r = S.percentile_of(df, "epoch_tss", 25)
    assert r["p"] == pytest.approx(2 / 5)  # no censoring before 25: the plain share
    assert r["median"] == 30 and r["never"] == pytest.approx(0.2)


def test_backprop_only_grid_keeps_only_todays_rules():
    text = F.backprop_only_grid(F.GRID.read_text())
    assert '"quickprop"' not in text and '"train.flat_spot"' not in text and '"rprop"' not in text
    grid = parse_grid(text, str(F.GRID))
    cols = grid.columns(0, grid.n_runs)
    assert set(cols["train.optimizer"]) == {"sgd", "momentum"}
    assert grid.n_runs == 1000 * (4 + 5)


@pytest.mark.skipif(not F.missing_rules(), reason="this mlp-sweep has the issue-10 training rules")
def test_fahlman_study_refuses_without_the_new_rules(capsys):
    with pytest.raises(SystemExit) as exc:
        F.main(["--out", "/nonexistent/never-written"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "lacks the training rules of issue 10" in err and "'rprop'" in err and "--backprop-only" in err


@pytest.mark.skipif(bool(F.missing_rules()), reason="needs the issue-10 training rules (rprop, quickprop)")
def test_fahlman_backprop_rows_keep_their_run_ids_in_the_full_grid():
    full = load_grid(F.GRID)
    part = parse_grid(F.backprop_only_grid(F.GRID.read_text()), str(F.GRID))
    ids_full = set(full.columns(0, full.n_runs)["run_id"].tolist())
    ids_part = part.columns(0, part.n_runs)["run_id"]
    assert set(ids_part.tolist()) <= ids_full
    assert np.unique(ids_part).size == part.n_runs
