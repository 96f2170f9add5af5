"""The study grids and scripts in experiments/: grids validate, the shared statistics are right,
and the Fahlman study's grid asks for each rule with the settings its document quotes."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from sweep.grid.load import load_grid, parse_grid

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
import _rules_stats as RS  # noqa: E402
import _study as S  # noqa: E402
import fahlman1988_study as F  # noqa: E402

STUDY_GRIDS = ["rhw1986.toml", "kolen_pollack1990.toml", "schmidhuber_guessing.toml", "xor-169.toml",
               "fahlman1988.toml", "spirals.toml", "moons_generalisation.toml"]
ISSUE10_RULES = ("rprop", "quickprop")
ISSUE10_KEYS = ("train.rprop_variant", "train.eta_plus", "train.eta_minus", "train.step_init", "train.step_min",
                "train.step_max", "train.quickprop_mu", "train.flat_spot", "train.weight_decay")


def pre_issue10_grid(text: str) -> str:
    """The grid text without the [[sweep.grids]] blocks that name an issue-10 rule or key: the
    grid as it could be written before those rules existed."""
    blocks = re.split(r"(?m)^(?=\[\[sweep\.grids\]\])", text)
    new = [f'"{o}"' for o in ISSUE10_RULES] + [f'"{k}"' for k in ISSUE10_KEYS]
    return "".join(b for b in blocks if not (b.startswith("[[sweep.grids]]") and any(n in b for n in new)))


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
    df = pd.DataFrame({"epoch_tss": pd.array([10, 20, 30, 40, None], dtype="Int64"),
                       "epochs_run": [10, 20, 30, 40, 100], "train.epochs": 100})
    r = S.percentile_of(df, "epoch_tss", 25)
    assert r["p"] == pytest.approx(2 / 5)  # no censoring before 25: the plain share
    assert r["median"] == 30 and r["never"] == pytest.approx(0.2)


def test_pre_issue10_grid_keeps_only_the_old_rules():
    text = pre_issue10_grid(F.GRID.read_text())
    assert '"quickprop"' not in text and '"train.flat_spot"' not in text and '"rprop"' not in text
    grid = parse_grid(text, str(F.GRID))
    cols = grid.columns(0, grid.n_runs)
    assert set(cols["train.optimizer"]) == {"sgd", "momentum"}
    assert grid.n_runs == 1000 * (4 + 5 + 3)


def test_fahlman_backprop_rows_keep_their_run_ids_in_the_full_grid():
    full = load_grid(F.GRID)
    part = parse_grid(pre_issue10_grid(F.GRID.read_text()), str(F.GRID))
    ids_full = set(full.columns(0, full.n_runs)["run_id"].tolist())
    ids_part = part.columns(0, part.n_runs)["run_id"]
    assert set(ids_part.tolist()) <= ids_full
    assert np.unique(ids_part).size == part.n_runs


def test_fahlman_grid_settings_per_rule():
    """Each rule at the settings the document names: full batch, sse, 40-20-40, U[-1, 1];
    Quickprop with mu 1.75, flat spot 0.1, decay 1e-4 and epsilon 0.5-4; Rprop at Riedmiller &
    Braun's constants in the four variants; backprop with and without momentum / flat spot."""
    grid = load_grid(F.GRID)
    df = pd.DataFrame(grid.columns(0, grid.n_runs))
    assert (df["train.schedule"] == "full").all() and (df["train.loss"] == "sse").all()
    assert (df["criteria.main"] == "fahlman").all() and (df["init.low"] == -1).all() and (df["init.high"] == 1).all()
    qp = df[df["train.optimizer"] == "quickprop"]
    assert sorted(set(qp["train.lr"])) == [0.5, 1.0, 1.5, 2.0, 4.0]
    assert set(qp["train.quickprop_mu"]) == {1.75} and set(qp["train.weight_decay"]) == {1e-4}
    assert (qp["train.flat_spot"] == 0.1).sum() == 5 * 5000 and (qp["train.flat_spot"] == 0.0).sum() == 5 * 5000
    rp = df[df["train.optimizer"] == "rprop"]
    consts = ["train.eta_plus", "train.eta_minus", "train.step_init", "train.step_min"]
    assert rp[consts].drop_duplicates().values.tolist() == [[1.2, 0.5, 0.1, 1e-6]]
    published = rp[rp["train.step_max"] == 50.0]
    assert sorted(set(published["train.rprop_variant"])) == ["irprop+", "irprop-", "rprop+", "rprop-"]
    assert len(published) == 4 * 5000
    capped = rp[rp["train.step_max"] != 50.0]  # the diagnostic rows
    assert set(capped["train.step_max"]) == {1.0} and sorted(set(capped["train.rprop_variant"])) == ["irprop+", "rprop+"]
    bp = df[df["train.optimizer"].isin(["sgd", "momentum"])]
    assert (bp["train.weight_decay"].fillna(0) == 0).all()
    assert {(o, f) for o, f in zip(bp["train.optimizer"], bp["train.flat_spot"].fillna(0))} == {
        ("sgd", 0.0), ("sgd", 0.1), ("momentum", 0.0), ("momentum", 0.1)}
    assert sorted(set(bp["train.momentum"].dropna())) == [0.5, 0.9]
    # the study runs this grid on four problems, parity and XOR with fewer seeds for the fast rules
    assert [o for o in F.PROBLEMS["4-bit parity (4-4-1)"][1] if o.startswith("sweep.seeds")] == ["sweep.seeds=2000"]
    assert not [o for o in F.PROBLEMS["XOR (2-2-1)"][1] if o.startswith("sweep.seeds")]


def test_rule_labels():
    df = pd.DataFrame({"train.optimizer": ["sgd", "sgd", "momentum", "momentum", "quickprop", "quickprop",
                                           "rprop", "rprop"],
                       "train.flat_spot": [0.0, 0.1, None, 0.1, 0.1, 0.0, 0.0, 0.0],
                       "train.rprop_variant": [None, None, None, None, None, None, "rprop-", "irprop+"],
                       "train.step_max": [None, None, None, None, None, None, 50.0, 1.0]})
    assert F.rule_labels(df) == ["backprop", "backprop+flat spot", "backprop+momentum", "backprop+momentum+flat spot",
                                 "quickprop", "quickprop (no flat spot)", "rprop-", "irprop+ (cap 1)"]


def test_best_restart_matches_brute_force_on_uncensored_runs():
    """Without censoring before the budget, R(c) = mean(min(T, c)) / share(T <= c) exactly."""
    from results import stats
    rng = np.random.default_rng(3)
    t = np.where(rng.random(400) < 0.3, 200.0, rng.integers(1, 120, 400).astype(float))  # 30% never (censored at 200)
    o = t < 200
    fit = stats.km_fit(t, o)
    brute = {c: np.minimum(t, c).mean() / (o & (t <= c)).mean() for c in range(1, 200) if (o & (t <= c)).any()}
    c_best = min(brute, key=brute.get)
    r, c = RS.best_restart(fit, 200)
    assert r == pytest.approx(brute[c_best], rel=1e-12) and c == c_best
    assert RS.best_restart(stats.km_fit([5.0, 5.0], [False, False]), 10) == (np.inf, pytest.approx(np.nan, nan_ok=True))


def test_mean_ci_and_ratio_range():
    x = np.array([10.0, 12.0, 14.0, np.inf])  # inf: a run that never converged is left out
    m, lo, hi = RS.mean_ci(x)
    half = 1.959963984540054 * np.std([10, 12, 14], ddof=1) / np.sqrt(3)
    assert (m, lo, hi) == pytest.approx((12.0, 12.0 - half, 12.0 + half))
    assert RS.ratio_range(100, 90, 110, 20, 19, 21) == pytest.approx((5.0, 90 / 21, 110 / 19))
    assert RS.ratio_range(100, 90, 110, 20, 19, np.inf)[1] == 0.0
    assert np.isnan(RS.ratio_range(np.inf, 90, np.inf, 20, 19, 21)[0])


# -- shipped documents are current (issue 28 item 5) ---------------------------------------------
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("experiments_main", EXPERIMENTS / "__main__.py")
REGEN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(REGEN)


def test_every_shipped_document_was_made_by_todays_report_code_and_numerics():
    problems = REGEN.stale()
    assert not problems, "stale findings documents: " + "; ".join(problems)


def test_the_freshness_check_sees_a_change_of_report_code(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for _, (script, names) in REGEN.STUDIES.items():
        for name in names:
            (docs / name).parent.mkdir(parents=True, exist_ok=True)
            (docs / name).write_text("text\n" + S.provenance(script, {"numerics_version": 2}) + "\n")
    from kernels.config import NUMERICS_VERSION
    if NUMERICS_VERSION == 2:
        assert REGEN.stale(docs) == []
    (docs / "rhw1986.md").write_text("text\nGenerated by `experiments/rhw1986_study.py` with report code "
                                     "0123456789abcdef, numerics version 2.\n")
    (docs / "xor-169.md").write_text("written by hand\n")
    found = REGEN.stale(docs)
    assert len(found) == 2 and "rhw1986.md: made by report code 0123456789abcdef" in found[0] + found[1]
    assert any("xor-169.md: no record" in f for f in found)


def test_quick_mode_rewrites_every_seed_count(tmp_path, monkeypatch):
    monkeypatch.setenv(S.QUICK_SEEDS_ENV, "7")
    grid, overrides = S.quick_grid(EXPERIMENTS / "fahlman1988.toml", str(tmp_path / "runs" / "x"),
                                   ["sweep.seeds=2000", "task.name=parity"])
    assert overrides == ["task.name=parity"]
    g = load_grid(grid)
    assert g.n_runs > 0 and all(int(n) == 7 for n in re.findall(r"(?m)^\s*seeds\s*=\s*(\d+)", grid.read_text()))
    monkeypatch.delenv(S.QUICK_SEEDS_ENV)
    assert S.quick_grid(EXPERIMENTS / "fahlman1988.toml", str(tmp_path), ["a=1"]) == (EXPERIMENTS / "fahlman1988.toml", ["a=1"])
