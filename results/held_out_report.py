"""The report's held-out ("test") set section: only for a directory whose runs have a held-out set.

``report_blocks`` gives, per cell, the test accuracy (median and mean with their intervals),
the generalisation gaps, the share of runs that fit the training set but not the test set
(Wilson interval), the convergence table of the main milestone on the test set with its
Kaplan-Meier curves, and the training against test curves; ``[]`` for a directory without a
held-out set, so its report stays what it was.
"""
from __future__ import annotations

import math

import pandas as pd

from results import held_out as gen
from results.km_plot import km_figure
from results.report_tables import convergence_display, with_ci
from results.styles import pct, value_text
from results.train_test_plot import has_test_curves, train_test_figure


def _points(v) -> str:
    """An accuracy difference in signed percentage points."""
    return "–" if v is None or not math.isfinite(v) else f"{100 * v:+.1f}"


def _num(v) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:+.3g}"


def _cell(r, column: str, fmt) -> tuple[str, str]:
    """``(median [CI], mean [CI])`` of one column of a ``generalisation`` row."""
    med = with_ci(fmt(r[f"{column}_median"]), fmt(r[f"{column}_median_lo"]), fmt(r[f"{column}_median_hi"]))
    mean = with_ci(fmt(r[f"{column}_mean"]), fmt(r[f"{column}_mean_lo"]), fmt(r[f"{column}_mean_hi"]))
    return med, mean


def generalisation_display(table: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """``gen.generalisation`` and ``gen.fits_train_not_test`` (same ``by``) as one formatted table."""
    by = table.attrs.get("by", [])
    ci = f"{table.attrs.get('conf', 0.95):.0%} CI"
    cols = table.attrs.get("columns", [])
    below = f"< {pct(fits.attrs.get('threshold', 1.0))}"
    rows = []
    for (_, r), (_, f) in zip(table.iterrows(), fits.iterrows()):
        row = {c: value_text(r[c]) for c in by}
        row["runs with a test set"] = f"{int(r['n_test']):,}"
        if "test_final_accuracy" in cols:
            med, mean = _cell(r, "test_final_accuracy", pct)
            row.update({f"test accuracy median [{ci}]": med, f"test accuracy mean [{ci}]": mean})
        if "gap_accuracy" in cols:
            row[f"accuracy gap (train − test, pts) median [{ci}]"] = _cell(r, "gap_accuracy", _points)[0]
        if "gap_loss" in cols:
            row[f"loss gap (test − train) median [{ci}]"] = _cell(r, "gap_loss", _num)[0]
        row[f"fit training set, test accuracy {below} [{ci}]"] = with_ci(
            f"{pct(f['share'])} ({int(f['n_fit_not_test'])})", pct(f["share_lo"]), pct(f["share_hi"]))
        rows.append(row)
    return pd.DataFrame(rows)


def report_blocks(df: pd.DataFrame, curves, by: list[str], metric: str, at=(), conf: float = 0.95) -> list[tuple]:
    """Report blocks (see ``results.report``) of the held-out set; [] when no run has one."""
    if not gen.has_test_set(df) or "test_final_accuracy" not in df:
        return []
    table = gen.generalisation(df, by, conf)
    fits = gen.fits_train_not_test(df, by, conf=conf)
    blocks = [("h2", "Held-out (test) set by setting"),
              ("p", f"Over the {int(table['n_test'].sum()):,} runs with a held-out set. Medians with "
                    "order-statistic intervals, means with Student's t intervals. Accuracy gap = final training "
                    "accuracy − final test accuracy; loss gap = final test loss − final training loss. The last "
                    "column: runs that fit the training set (final accuracy 100%) but not the test set, of all "
                    "runs with a test set (count in brackets), with Wilson intervals."),
              ("table", generalisation_display(table, fits))]
    test = "test_" + metric
    if test in df:
        conv = gen.held_out_convergence(df, by, metric, at=at, conf=conf)
        blocks += [("h2", f"Convergence on the test set ({test})"),
                   ("p", f"{test}: the first epoch {metric} held on the held-out set; a run that never got there "
                         "is censored at its epochs_run, as on the training set."),
                   ("table", convergence_display(conv, at)),
                   ("img", "test_km.png", km_figure(gen.with_test_set(df), by, test, at=at, conf=conf),
                    "Kaplan-Meier curves on the test set")]
    if has_test_curves(curves):
        blocks += [("h2", "Training and test curves"),
                   ("img", "train_test_curves.png", train_test_figure(df, curves, by), "training and test curves")]
    return blocks


__all__ = ["generalisation_display", "report_blocks"]
