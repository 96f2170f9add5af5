"""Training against held-out ("test") curves per cell: loss and accuracy, side by side.

One panel per metric (loss on a log axis, accuracy in percent), one colour per cell of ``by``,
the training curve solid and the test curve dashed: at each recorded epoch the median over the
cell's runs and their interquartile band (``curve_plot.curve_quantiles``). Only runs with a
held-out set are drawn, so both lines of a cell come from the same runs. The curves table
(``results.load_curves``) gives ``loss``, ``accuracy``, ``test_loss``, ``test_accuracy`` per
run and epoch; each run joins its cell through ``run_id``. More cells than ``max_cells`` pool
the last columns of ``by`` (the title says so), and at most ``max_cells`` are drawn.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from results.analysis import group_rows
from results.curve_plot import curve_quantiles
from results.held_out import with_test_set
from results.km_plot import _label, pooled_note
from results.plots import _colors
from results.reader import analysis_view, resolve_columns
from results.styles import epoch_axis, plt, short_names

#: panel title, training column, test column, log axis
PANELS = (("loss", "loss", "test_loss", True), ("accuracy", "accuracy", "test_accuracy", False))


def _has(curves: pd.DataFrame, column: str) -> bool:
    return column in curves and bool(np.isfinite(curves[column].to_numpy(np.float64, na_value=np.nan)).any())


def has_test_curves(curves) -> bool:
    """Whether the curves table holds any finite ``test_loss`` or ``test_accuracy``."""
    return curves is not None and any(_has(curves, test) for _, _, test, _ in PANELS)


def cells(df: pd.DataFrame, by: list[str], max_cells: int) -> list[str]:
    """``by`` without its last columns until it makes at most ``max_cells`` groups (at least ``by[:1]``)."""
    by = list(by)
    while len(by) > 1 and len(group_rows(df, by)) > max_cells:
        by = by[:-1]
    return by


def train_test_figure(df: pd.DataFrame, curves: pd.DataFrame, by=None, max_cells: int = 6,
                      band=(0.25, 0.75)):
    """The figure of the module docstring; ``band``: the quantiles of the shaded band."""
    df = with_test_set(analysis_view(df))
    by = cells(df, resolve_columns(df, by), max_cells)
    groups = group_rows(df, by)
    shown = groups[:max_cells]
    panels = [p for p in PANELS if _has(curves, p[1]) or _has(curves, p[2])]
    if not panels:
        raise ValueError("the curves table has no loss or accuracy values")
    ids = df["run_id"].to_numpy(np.uint64)
    epochs = curves["epoch"].to_numpy(np.float64)
    positive = epochs[epochs > 0]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels) + 3.2, 4.4), layout="constrained",
                             sharex=True, squeeze=False)
    lo_name, hi_name = f"p{100 * band[0]:g}", f"p{100 * band[1]:g}"
    logs = []
    for (name, _, _, log_y), ax in zip(panels, axes[0]):
        log = epoch_axis(ax, float(epochs.max()) if epochs.size else 1.0,
                         float(positive.min()) if positive.size else 1.0)
        logs.append(log)
        ax.set_xlabel("epoch" + (" (log; epoch 0 at 1)" if log else ""))
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        if log_y:
            ax.set_yscale("log")
            ax.set_ylabel(f"{name} (log scale)")
        else:
            ax.set_ylim(0.0, 1.02)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_ylabel(name)
    handles = []
    for (key, idx), colour in zip(shown, _colors(len(shown))):
        handles.append(Line2D([], [], color=colour, lw=2, label=f"{_label(short_names(by), key)}  (n={idx.size})"))
        for (_, train, test, _), ax, log in zip(panels, axes[0], logs):
            for column, ls, alpha in ((train, "-", 0.16), (test, "--", 0.10)):
                q = curve_quantiles(curves, ids[idx], column, band) if column in curves else pd.DataFrame()
                if q.empty:
                    continue
                x = q["epoch"].to_numpy(np.float64)
                x = np.maximum(x, 1.0) if log else x
                ax.plot(x, q["median"], color=colour, ls=ls, lw=1.7)
                ax.fill_between(x, q[lo_name], q[hi_name], color=colour, alpha=alpha, lw=0)
    handles += [Line2D([], [], color="0.2", ls="-", label="training set"),
                Line2D([], [], color="0.2", ls="--", label="test set")]
    axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    notes = [pooled_note(df, by)]
    if len(groups) > len(shown):
        notes.append(f"first {len(shown)} of {len(groups)} cells shown")
    note = "; ".join(n for n in notes if n)
    fig.suptitle(f"Training (solid) and test (dashed) curves per cell: median and "
                 f"p{100 * band[0]:g}–p{100 * band[1]:g} band over runs with a test set"
                 + (f"\n{note}" if note else ""), fontsize=11)
    return fig


__all__ = ["cells", "has_test_curves", "train_test_figure"]
