"""Kaplan-Meier curves with censoring marks and a number-at-risk table under the plot.

One step line per group of ``by``: colour per level of ``by[0]``, line style per level of
``by[1]``; more groups than fit one plot (or a third column) give one panel per level of
``by[0]``. The epoch axis is linear, or logarithmic from 1 when the times span over two
decades (a milestone met at epoch 0 is then drawn at 1). ``|`` marks where runs were
censored (stopped without reaching the milestone); the table gives, at each tick epoch,
the runs still at risk (not converged and still observed). The legend sits outside the axes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from results import stats
from results.analysis import censored_times, group_rows, varying_columns
from results.reader import analysis_view, resolve_column, resolve_columns
from results.styles import Styles, epoch_axis, pct, plt, reference_lines, short_names, ticks, value_text


def _label(names: list[str], key: tuple) -> str:
    return ", ".join(f"{n}={value_text(v)}" for n, v in zip(names, key)) or "all runs"


def pooled_note(df: pd.DataFrame, shown: list[str]) -> str:
    """``"pooled over train.loss, model.hidden"`` for varying columns not shown, else ``""``."""
    others = [c for c in varying_columns(df, max_columns=6) if c not in shown]
    return f"pooled over {', '.join(others)}" if others else ""


def _draw(ax, tab, df, idx_all, by, times, observed, styles, conf, log, at, band: bool):
    groups = group_rows(df.iloc[idx_all], by) if by else [((), np.arange(len(idx_all)))]
    names = short_names(by)
    t_max = float(times[idx_all].max())
    tick_at = ticks(log, t_max)
    rows = []
    for key, sub in groups:
        idx = idx_all[sub]
        t, o = times[idx], observed[idx]
        fit = stats.km_fit(t, o, conf)
        if fit.n == 0:
            continue
        style = styles.of(key) if by else {"color": "0.2", "ls": "-"}
        start = 1.0 if log else 0.0
        x = np.concatenate([[start], np.maximum(fit.time, start), [t.max()]])
        y = np.concatenate([[0.0], fit.cdf, [fit.cdf[-1]]])
        label = f"{_label(names, key)}  (n={fit.n}, {pct(fit.n_events / fit.n)} reached)"
        ax.step(x, y, where="post", lw=1.7, label=label, **style)
        if band:
            lo = np.concatenate([[0.0], fit.cdf_lo, [fit.cdf_lo[-1]]])
            hi = np.concatenate([[0.0], fit.cdf_hi, [fit.cdf_hi[-1]]])
            ax.fill_between(x, lo, hi, step="post", color=style["color"], alpha=0.12, lw=0)
        cens = np.unique(t[~o])
        if cens.size:
            f_at = fit.cdf[np.searchsorted(fit.time, cens, side="right") - 1]
            ax.plot(np.maximum(cens, start), f_at, ls="", marker="|", ms=9, mew=1.4, color=style["color"])
        rows.append((_label(names, key), style["color"], [int((t >= k).sum()) for k in tick_at]))
    reference_lines(ax, at, log)
    ax.set_ylim(0, 1.0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(True, which="major", alpha=0.3)
    # number at risk: one row per line, counts under the tick epochs
    tab.set_ylim(-0.5, len(rows) - 0.5)
    for r, (text, colour, counts) in enumerate(rows):
        y = len(rows) - 1 - r
        for k, n in zip(tick_at, counts):
            tab.text(max(k, 1.0) if log else k, y, f"{n}", ha="center", va="center", fontsize=7, color=colour)
    tab.set_yticks(range(len(rows)), [t for t, _, _ in rows][::-1], fontsize=7)
    for tl, (_, colour, _) in zip(tab.get_yticklabels(), rows[::-1]):
        tl.set_color(colour)
    tab.tick_params(axis="y", length=0, pad=16)  # room for the count centred on the first tick
    tab.set_xticks([max(k, 1.0) if log else k for k in tick_at])
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("runs at risk (not yet converged, still observed)", fontsize=8, loc="left")
    return len(rows)


def km_figure(df: pd.DataFrame, by=None, metric: str = "epoch_acc100", at=(), conf: float = 0.95,
              diverged: str = "censor", max_lines: int = 16, max_panels: int = 6):
    """The Kaplan-Meier figure of the report (see the module docstring)."""
    df = analysis_view(df)
    by = resolve_columns(df, by)
    metric = resolve_column(df, metric)
    times, observed = censored_times(df, metric, diverged)
    n_groups = len(group_rows(df, by)) if by else 1
    panels = [((), np.arange(len(df)))]
    lines_by = by
    if len(by) > 2 or n_groups > max_lines:
        panels = group_rows(df, by[:1])[:max_panels]
        lines_by = by[1:]
    n_lines = max(len(group_rows(df.iloc[idx], lines_by)) if lines_by else 1 for _, idx in panels)
    pos = times[observed & (times > 0)]
    t_max = float(times.max()) if times.size else 1.0
    t_min = float(pos.min()) if pos.size else 1.0
    cols = min(2, len(panels))
    nrows = -(-len(panels) // cols)
    tab_h = 0.22 * n_lines + 0.5
    fig = plt.figure(figsize=(7.2 * cols + 3.2, nrows * (3.6 + tab_h)), layout="constrained")
    grid = fig.add_gridspec(nrows * 2, cols, height_ratios=[3.6, tab_h] * nrows)
    styles = Styles(df, lines_by)
    first = None
    for p, (key, idx) in enumerate(panels):
        r, c = divmod(p, cols)
        ax = fig.add_subplot(grid[2 * r, c], sharex=first, sharey=first)
        tab = fig.add_subplot(grid[2 * r + 1, c], sharex=ax)
        first = first or ax
        log = epoch_axis(ax, t_max, t_min)
        _draw(ax, tab, df, idx, lines_by, times, observed, styles, conf, log, at, band=n_lines <= 6)
        ax.tick_params(labelbottom=False)
        ax.set_ylabel(f"reached {metric}")
        if key:
            ax.set_title(_label(short_names(by[:1]), key), fontsize=10)
        tab.set_xlabel("epoch" + (" (log scale; epoch 0 drawn at 1)" if log else ""))
        title = ", ".join(short_names(lines_by)) + ": colour, line style" if len(lines_by) > 1 else None
        if len(panels) == 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
                      title=title, title_fontsize=8)
        elif p == 0:  # one legend for every panel, outside them on the right
            fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=8, frameon=False,
                       title=title, title_fontsize=8)
    pooled = pooled_note(df, by)
    note = f" ({conf:.0%} band)" if n_lines <= 6 else ""
    fig.suptitle(f"Share of runs that reached {metric} by each epoch, Kaplan–Meier{note}; | = censored"
                 + (f"\n{pooled}" if pooled else ""), fontsize=11)
    return fig
