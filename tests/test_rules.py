"""The training-rule comparison (results/rules.py) and its section in ``sweep report``."""
from __future__ import annotations

import json
import math

import matplotlib.image as mpimg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from results import compare, rules, stats
from results.reader import load
from results.report import write_report
from sweep.grid.columns import run_schema

EPOCHS = 100


def rule_table(times_by_cell: dict) -> pa.Table:
    """Runs with every schema column; ``times_by_cell[(task, optimizer, lr, momentum)]`` lists
    each run's epoch of epoch_acc100 (None = not reached within EPOCHS: censored)."""
    schema = run_schema(version=1)  # schema 1: list keys as JSON text, as written before
    cols: dict[str, list] = {name: [] for name in schema.names}
    i = 0
    for (task, opt, lr, mom), times in times_by_cell.items():
        for s, t in enumerate(times):
            v = {"run_id": 10_000 + i, "run_index": i, "seed": s, "task.name": task, "model.hidden": "[2]",
                 "train.optimizer": opt, "train.lr": lr, "train.momentum": mom, "train.epochs": EPOCHS,
                 "criteria.main": "acc100", "epochs_run": EPOCHS, "converged": t is not None,
                 "diverged": False, "epoch_acc100": t, "convergence_epoch": t,
                 "epoch_acc75": None if t is None else max(0, t - 1), "final_mse": 1e-3 if t else 0.2}
            for name in cols:
                cols[name].append(v.get(name))
            i += 1
    return pa.table(cols, schema=schema)


CELLS = {
    # xor: momentum (fast) vs sgd at two lrs (lr 2 faster than lr 0.5)
    ("xor", "sgd", 0.5, None): [40, 50, 60, 70, None, None],
    ("xor", "sgd", 2.0, None): [20, 30, 40, 50, 60, None],
    ("xor", "momentum", 0.5, 0.5): [15, 25, 35, None],
    ("xor", "momentum", 0.5, 0.9): [5, 6, 7, 8, 9, 10, 11, 12],
    # parity: only sgd converges at all
    ("parity", "sgd", 0.5, None): [80, 90, None, None],
    ("parity", "sgd", 2.0, None): [None, None, None, 99],
    ("parity", "momentum", 0.5, 0.5): [None, None, None],
    ("parity", "momentum", 0.5, 0.9): [None, None],
}


@pytest.fixture(scope="module")
def df(tmp_path_factory):
    d = tmp_path_factory.mktemp("rules")
    pq.write_table(rule_table(CELLS), d / "part-0.parquet")
    return load(d)


def test_restart_mean_by_hand():
    # 4 runs converge at 1..4, one is censored at the budget 10: F(10) = 0.8 and
    # E[min(T, 10)] = (1 + 2 + 3 + 4 + 10) / 5 = 4, so 4 / 0.8 = 5 epochs per success
    fit = stats.km_fit([1, 2, 3, 4, 10], [True, True, True, True, False])
    assert rules.restart_mean(fit, 10) == pytest.approx(5.0)
    # every run converges: the plain mean
    assert rules.restart_mean(stats.km_fit([2, 4], [True, True]), 10) == pytest.approx(3.0)
    # nobody converges: no finite cost
    assert math.isinf(rules.restart_mean(stats.km_fit([10, 10], [False, False]), 10))


def test_restart_mean_matches_simulated_restarts():
    # runs converge at epoch 3 with probability 0.25, else never (censored at 20): each attempt
    # costs 3 or 20, success needs 4 attempts on average -> 3 + 3 * 20 = 63 epochs
    rng = np.random.default_rng(7)
    ok = rng.random(4000) < 0.25
    fit = stats.km_fit(np.where(ok, 3, 20), ok)
    p = ok.mean()
    assert rules.restart_mean(fit, 20) == pytest.approx((3 * p + 20 * (1 - p)) / p)
    assert abs(rules.restart_mean(fit, 20) - 63) < 6


def test_compare_rules_rows_best_and_labels(df):
    t = rules.compare_rules(df, "acc100")
    assert t.attrs["by"] == ["task.name"]
    assert t.attrs["settings"] == ["train.lr", "train.momentum"]
    assert len(t) == len(CELLS)
    for (task, opt, lr, mom), times in CELLS.items():
        row = t[(t["task.name"] == task) & (t["rule"] == opt) & np.isclose(t["train.lr"], lr)
                & (t["train.momentum"].isna() if mom is None else np.isclose(t["train.momentum"], mom))]
        assert len(row) == 1
        row = row.iloc[0]
        reached = sorted(x for x in times if x is not None)
        assert row["n"] == len(times) and row["n_converged"] == len(reached)
        assert row["converged_share"] == pytest.approx(len(reached) / len(times))
        # KM median with censoring only at the end: the ceil(n/2)-th smallest time, if reached
        k = math.ceil(len(times) / 2)
        assert row["km_median"] == (reached[k - 1] if len(reached) >= k else math.inf)
    best = rules.best_settings(t).set_index(["task.name", "rule"])
    assert best.loc[("xor", "sgd"), "setting"] == "lr=2"
    # momentum varies among the momentum runs, so it is named; lr is always named
    assert best.loc[("xor", "momentum"), "setting"] == "lr=0.5, momentum=0.9"
    assert best.loc[("parity", "sgd"), "setting"] == "lr=0.5"  # median 90 (2 of 4 by then); lr 2: not reached
    # the fastest rule of a context has no comparison; the others are compared with it
    assert best.loc[("xor", "momentum"), "vs"] is None
    assert best.loc[("xor", "sgd"), "vs"] == "momentum (lr=0.5, momentum=0.9)"
    assert best.loc[("xor", "sgd"), "share_diff"] == pytest.approx(5 / 6 - 1)
    assert 0 < best.loc[("xor", "sgd"), "logrank_p"] < 0.01
    assert best.loc[("parity", "momentum"), "share_diff"] == pytest.approx(0 - 2 / 4)


def test_compare_rules_agrees_with_compare(df):
    """The pairwise view and results.compare give the same log-rank test for the same two cells:
    compare pairs sgd's 6 seeds with momentum's first 6 of 8 (its seeds 6, 7 have no partner), so
    the pairwise view is taken on those common seeds too."""
    c = compare(df, {"task.name": "xor", "optimizer": "sgd", "lr": 2.0},
                {"task.name": "xor", "optimizer": "momentum", "momentum": 0.9}, metric="acc100")
    assert c.paired and c.pairing_short == "paired on common seeds" and c.n_a == c.n_b == c.n_pairs == 6
    t = rules.compare_rules(df[df["seed"] < 6], "acc100")
    best = rules.best_settings(t).set_index(["task.name", "rule"])
    assert c.logrank_pvalue == pytest.approx(best.loc[("xor", "sgd"), "logrank_p"])
    assert c.share_diff == pytest.approx(best.loc[("xor", "sgd"), "share_diff"]) == 5 / 6 - 1


def _write_dir(tmp_path, table):
    pq.write_table(table, tmp_path / "part-0.parquet")
    (tmp_path / "_manifest.json").write_text(json.dumps({"name": "rules", "main_criterion": "acc100"}))
    return tmp_path


def test_report_has_a_rules_section_only_when_the_rule_varies(tmp_path):
    (tmp_path / "a").mkdir()
    d = _write_dir(tmp_path / "a", rule_table(CELLS))
    _, md = write_report(d, at=(50,))
    text = md.read_text()
    assert "## Training rules" in text
    # grouped automatically, the rule comes first: the convergence table and the KM panels go per rule
    assert "grouped by: train.optimizer, " in text
    assert text.split("## Convergence by setting")[1].lstrip().startswith("| train.optimizer |")
    assert "| xor | momentum | lr=0.5, momentum=0.9 | 8 |" in text
    png = md.parent / "report_files" / "rules_km.png"
    assert mpimg.imread(png).shape[0] > 100
    only_sgd = {k: v for k, v in CELLS.items() if k[1] == "sgd"}
    (tmp_path / "b").mkdir()
    _, md2 = write_report(_write_dir(tmp_path / "b", rule_table(only_sgd)), at=(50,))
    assert "Training rules" not in md2.read_text()
    assert not rules.rule_varies(load(tmp_path / "b"))
