"""Loss curves per group: the median over runs and the p10-p90 band at each recorded epoch.

``curves`` is the long curves table (``run_id``, ``epoch``, ``loss``, ``mse``); each run is
joined to its group of ``by`` through ``run_id``. At each epoch the quantiles are over the
runs recorded there: a run that stopped early (early stop, divergence) drops out after its
last epoch, which the title says. Colour per level of ``by[0]``, line style per ``by[1]``;
the epoch axis is logarithmic from 1 when the curve spans over two decades (epoch 0, the
initial loss, then sits at 1) and the loss axis is logarithmic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from results.analysis import group_rows
from results.km_plot import _label, pooled_note
from results.reader import analysis_view, resolve_columns
from results.styles import Styles, epoch_axis, plt, short_names


def curve_quantiles(curves: pd.DataFrame, run_ids, value: str = "loss", band=(0.10, 0.90)) -> pd.DataFrame:
    """Per epoch over the runs ``run_ids``: ``n``, ``p10``, ``median``, ``p90`` of ``value`` (the
    band's quantiles named ``p<percent>``: ``band=(0.25, 0.75)`` gives ``p25`` and ``p75``)."""
    c = curves[curves["run_id"].isin(np.asarray(run_ids, dtype=np.uint64))]
    c = c[np.isfinite(c[value].to_numpy(np.float64, na_value=np.nan))]
    g = c.groupby("epoch")[value]
    lo, hi = band
    return pd.DataFrame({"n": g.size(), f"p{100 * lo:g}": g.quantile(lo), "median": g.median(),
                         f"p{100 * hi:g}": g.quantile(hi)}).reset_index()


def _panel(ax, df, curves, idx_all, by, styles, value, band: bool, log: bool) -> bool:
    """Draw the groups of ``by`` among rows ``idx_all``; returns (some run stopped early,
    the largest median, the smallest positive p10)."""
    ids = df["run_id"].to_numpy(np.uint64)
    groups = group_rows(df.iloc[idx_all], by) if by else [((), np.arange(len(idx_all)))]
    dropped, top, bottom = False, 0.0, np.inf
    for key, sub in groups:
        q = curve_quantiles(curves, ids[idx_all[sub]], value)
        if q.empty:
            continue
        dropped |= bool((q["n"] < q["n"].max()).any())
        top = max(top, float(np.nanmax(q["median"])))
        p10 = q["p10"].to_numpy(np.float64)
        if (p10 > 0).any():
            bottom = min(bottom, float(p10[p10 > 0].min()))
        x = q["epoch"].to_numpy(np.float64)
        x = np.maximum(x, 1.0) if log else x
        style = styles.of(key) if by else {"color": "0.2", "ls": "-"}
        ax.plot(x, q["median"], lw=1.7, label=f"{_label(short_names(by), key)}  (n={sub.size})", **style)
        if band:
            ax.fill_between(x, q["p10"], q["p90"], color=style["color"], alpha=0.14, lw=0)
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    return dropped, top, bottom


def loss_curve_figure(df: pd.DataFrame, curves: pd.DataFrame, by=None, value: str = "loss",
                      max_lines: int = 6, max_panels: int = 6):
    """Median and p10-p90 band of ``value`` ("loss" or "mse") per group of ``by``.

    Up to ``max_lines`` groups share one plot; more (with two or more ``by`` columns) give
    one panel per level of ``by[1]`` (colour still per ``by[0]``), so every band stays legible.
    """
    df = analysis_view(df)
    by = resolve_columns(df, by)
    n_groups = len(group_rows(df, by)) if by else 1
    panels, lines_by = [((), np.arange(len(df)))], by
    if n_groups > max_lines and len(by) >= 2:
        panels = group_rows(df, by[1:2])[:max_panels]
        lines_by = [by[0]] + by[2:]
    styles = Styles(df, lines_by)
    epochs = curves["epoch"].to_numpy(np.float64)
    positive = epochs[epochs > 0]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols + 3.0 if len(panels) > 1 else 10.4, 4.2 * rows),
                             layout="constrained", sharex=True, sharey=True, squeeze=False)
    dropped, top, bottom = False, 0.0, np.inf
    n_lines = 1
    for (key, idx), ax in zip(panels, axes.ravel()):
        log = epoch_axis(ax, float(epochs.max()) if epochs.size else 1.0,
                         float(positive.min()) if positive.size else 1.0)
        n_lines = max(n_lines, len(group_rows(df.iloc[idx], lines_by)) if lines_by else 1)
        d, t, b = _panel(ax, df, curves, idx, lines_by, styles, value, n_lines <= 8, log)
        dropped, top, bottom = dropped or d, max(top, t), min(bottom, b)
        if key:
            ax.set_title(_label(short_names(by[1:2]), key), fontsize=10)
        ax.set_xlabel("epoch" + (" (log; epoch 0 at 1)" if log else ""))
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if top > 0 and np.isfinite(bottom):  # diverging runs' bands would stretch the axis to 1e100+
        axes[0, 0].set_ylim(max(bottom, top * 1e-12) / 2, top * 10)
    axes[0, 0].set_ylabel(f"{value} (log scale)")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    pooled = pooled_note(df, by)
    band = "median and p10–p90 band" if n_lines <= 8 else "median"
    extra = "; runs that stopped early drop out after their last epoch" if dropped else ""
    fig.suptitle(f"Training {value} per group: {band} over runs{extra}" + (f"\n{pooled}" if pooled else ""),
                 fontsize=11)
    return fig
