"""The report of a real two-axis sweep with loss curves: Kaplan-Meier plot with its at-risk
table, loss-curve plot and heatmap, each checked against numbers computed here."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from results.analysis import censored_times
from results.curve_plot import curve_quantiles, loss_curve_figure
from results.km_plot import km_figure
from results.layout import layout_of
from results.reader import analysis_view, load, load_curves
from results.report import write_report
from results.styles import pct, ticks
from sweep.cli import main

GRID = """
name = "two-axis"
description = "XOR: lr x width with curves"
[task]
name = "xor"
[train]
loss = "bce"
epochs = 400
[record]
curve_points = 10
[sweep]
seeds = 20
"train.lr" = [0.5, 4.0]
"model.hidden" = [[2], [8]]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("figs")
    (root / "g.toml").write_text(GRID)
    out = root / "two-axis"
    assert main(["run", str(root / "g.toml"), "--out", str(out), "--no-progress"]) == 0
    return out


def test_km_figure_has_at_risk_table_censoring_marks_and_outside_legend(sweep_dir):
    df = analysis_view(load(sweep_dir))  # model.hidden as its label, to select by text below
    fig = km_figure(df, ["train.lr", "model.hidden"], "epoch_acc100", at=[169])
    curve_ax, table_ax = fig.axes[0], fig.axes[1]
    assert "runs at risk" in table_ax.get_title(loc="left")
    # counts: runs whose (censored) time is >= the tick epoch, per group, read back from the texts
    times, _ = censored_times(df, "epoch_acc100")
    tick_at = ticks(curve_ax.get_xscale() == "log", float(times.max()))
    labels = [t.get_text() for t in table_ax.get_yticklabels()][::-1]  # top row first
    texts = [t for t in table_ax.texts]
    assert len(texts) == len(labels) * len(tick_at) == 4 * len(tick_at)
    for r, label in enumerate(labels):
        lr, hidden = re.fullmatch(r"lr=([\d.]+), hidden=(\[\d+\])", label).groups()
        sel = ((df["train.lr"] == float(lr)) & (df["model.hidden"] == hidden)).to_numpy()
        want = [str(int((times[sel] >= k).sum())) for k in tick_at]
        row = [t.get_text() for t in texts[r * len(tick_at):(r + 1) * len(tick_at)]]
        assert row == want, label
    # one colour per lr, one line style per width, n and share in each legend entry
    legend = curve_ax.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > curve_ax.get_window_extent().x1 - 1
    steps = [ln for ln in curve_ax.get_lines() if ln.get_label().startswith("lr=")]
    assert len(steps) == 4
    by_lr = {}
    for ln in steps:
        lr, hidden = re.match(r"lr=([\d.]+), hidden=(\[\d+\])", ln.get_label()).groups()
        by_lr.setdefault(lr, set()).add((str(ln.get_color()), ln.get_linestyle()))
        sel = (df["train.lr"] == float(lr)) & (df["model.hidden"] == hidden)
        assert f"{pct(df.loc[sel, 'epoch_acc100'].notna().mean())} reached" in ln.get_label()
    assert len({c for s in by_lr.values() for c, _ in s}) == 2  # colour per lr
    assert all(len({ls for _, ls in s}) == 2 for s in by_lr.values())  # style per width
    # a censoring mark (|) on each curve whose group has censored runs, at F of those times
    marks = [ln for ln in curve_ax.get_lines() if ln.get_marker() == "|"]
    censored_groups = df[df["epoch_acc100"].isna()].groupby(["train.lr", "model.hidden"], observed=True).ngroups
    assert len(marks) == censored_groups >= 1
    # x axis: linear from 0 or log from 1, never a log axis from 0
    left = curve_ax.get_xlim()[0]
    assert (curve_ax.get_xscale(), left) in (("linear", 0.0), ("log", 1.0))


def test_loss_curve_figure_median_and_band(sweep_dir):
    df, curves = analysis_view(load(sweep_dir)), load_curves(sweep_dir)
    fig = loss_curve_figure(df, curves, ["train.lr", "model.hidden"])
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("lr=")]
    assert len(lines) == 4 and len(ax.collections) == 4  # a p10-p90 band per group
    ln = next(ln for ln in lines if ln.get_label().startswith("lr=4, hidden=[8]"))
    ids = df.loc[(df["train.lr"] == 4.0) & (df["model.hidden"] == "[8]"), "run_id"]
    c = curves[curves["run_id"].isin(ids)]
    want = c.groupby("epoch")["loss"].median().to_numpy()
    assert np.allclose(ln.get_ydata(), want)
    assert np.allclose(curve_quantiles(curves, ids)["p90"], c.groupby("epoch")["loss"].quantile(0.9))


def test_report_has_km_loss_curves_and_heatmap(sweep_dir):
    html_path, md_path = write_report(sweep_dir, by=["lr", "hidden"], at=[169])
    assert html_path == layout_of(sweep_dir).report / "report.html"
    files = {p.name for p in (html_path.parent / "report_files").iterdir()}
    assert {"km.png", "loss_curves.png", "heatmap.png"} <= files
    md = md_path.read_text()
    assert "## Loss curves" in md and "## Kaplan–Meier curves" in md and "KM median epoch" in md
    assert "pooled over" not in md.split("## Kaplan")[0]  # tables are per cell, nothing pooled there
    assert pd.read_parquet(sweep_dir).shape[0] == 80  # the report is not in DIR
