"""Figures of a sweep's convergence, each returned as a ``matplotlib`` Figure.

Epoch axes use a "symlog" scale: logarithmic from epoch 1 up, linear between 0 and 1, so
that a milestone reached at epoch 0 (already met by the initial weights) stays on the plot.
Runs that never reached a milestone are censored at their ``epochs_run``: the Kaplan-Meier
curves account for them and every title says how many there are.
"""
from __future__ import annotations

import math
import textwrap

import matplotlib

matplotlib.use("Agg")  # headless: reports are rendered to PNG
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from results import stats  # noqa: E402
from results.analysis import group_rows, censored_times, group_label, varying_columns  # noqa: E402
from results.reader import analysis_view, resolve_column, resolve_columns  # noqa: E402
from results.styles import pct, reference_lines  # noqa: E402

FIGSIZE = (8.0, 4.8)


def _new(ax, figsize=FIGSIZE):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _plain_epochs(v, _pos=None) -> str:
    if v < 0:
        return ""
    if v == 0:
        return "0"
    if v >= 1e5:
        return f"1e{math.log10(v):.0f}"
    return f"{v:,.0f}"


def epoch_scale(ax, axis: str = "x") -> None:
    """Symlog epoch axis: linear on [0, 1], log above, ticks as plain epoch numbers."""
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    setter("symlog", linthresh=1.0, linscale=0.3)
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(_plain_epochs))
    if axis == "x":  # epochs are never negative: drop symlog's mirrored half
        ax.set_xlim(left=0)
    else:
        ax.set_ylim(bottom=0)


def trim_left(ax, values, axis: str = "x") -> None:
    """Start a symlog epoch axis just below the smallest value (no empty decades before it)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size and v.min() >= 2:
        (ax.set_xlim if axis == "x" else ax.set_ylim)(0.8 * v.min(), None)


def _epoch_edges(vmax: float, n: int = 40) -> np.ndarray:
    """Integer bin edges ``[0, 1, ..., ~vmax + 1]``, log-spaced above 1: each bin is ``[lo, hi)``."""
    top = max(2.0, float(vmax) + 1.0)
    edges = np.unique(np.round(np.geomspace(1.0, top, n)))
    if edges[-1] <= vmax:
        edges = np.append(edges, vmax + 1)
    return np.concatenate([[0.0], edges])


def _short(by: list[str]) -> list[str]:
    """Legend names: last dotted part when those are unique ("lr" for "train.lr")."""
    short = [c.split(".")[-1] for c in by]
    return short if len(set(short)) == len(short) else list(by)


def _colors(n: int):
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    return [plt.get_cmap("viridis")(x) for x in np.linspace(0.0, 0.95, n)]


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


#: at most this many lines a panel: more groups are split over panels stacked under one another
MAX_LINES = 6


def km_curves(df: pd.DataFrame, by=None, metric: str = "epoch_acc100", ax=None, at=(), conf: float = 0.95,
              diverged: str = "censor", title: str | None = None, max_lines: int = MAX_LINES):
    """Kaplan-Meier share of runs that reached ``metric`` vs epoch, one step line per group.

    The shaded band is the pointwise ``conf`` interval; each line ends at the group's largest
    ``epochs_run`` (runs not converged by then are censored there). Vertical lines, each in its
    own style, mark ``at``; the legend sits outside the axes, on the right. On a figure of its
    own (no ``ax``), more than ``max_lines`` groups are split, in order, over panels stacked
    under one another, and the title goes over the whole figure.
    """
    df = analysis_view(df)
    by = resolve_columns(df, by)
    metric = resolve_column(df, metric)
    groups = group_rows(df, by)
    title = title or f"Share of runs that reached {metric} by each epoch ({conf:.0%} band)"
    if ax is None and len(groups) > max_lines:
        return _km_split(df, by, metric, groups, at, conf, diverged, title, max_lines)
    own = ax is None
    fig, ax = _new(ax)
    times, observed = censored_times(df, metric, diverged)
    names = _short(by)
    for (key, idx), color in zip(groups, _colors(len(groups))):
        fit = stats.km_fit(times[idx], observed[idx], conf)
        if fit.n == 0:
            continue
        end = float(times[idx].max())
        x = np.concatenate([[0.0], fit.time, [end]])
        y = np.concatenate([[0.0], fit.cdf, [fit.cdf[-1]]])
        lo = np.concatenate([[0.0], fit.cdf_lo, [fit.cdf_lo[-1]]])
        hi = np.concatenate([[0.0], fit.cdf_hi, [fit.cdf_hi[-1]]])
        label = (group_label(names, key) if by else "all runs") + f"  (n={fit.n}, {fit.n_events / fit.n:.0%} reached)"
        ax.step(x, y, where="post", color=color, lw=1.6, label=label)
        ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.15, lw=0)
    reference_lines(ax, at)
    epoch_scale(ax)
    ax.set_ylim(0, 1.0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(True, which="major", alpha=0.3)
    ax.set_xlabel("epoch (log scale above 1)")
    ax.set_ylabel(f"runs with {metric} reached (Kaplan–Meier)")
    if own:     # over the figure, legend included: a long title is not cut at the axes' edge
        fig.suptitle(textwrap.fill(title, 90))
    else:
        ax.set_title(title)
    if groups:   # outside the data, to the right of the axes
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, ncol=1 if len(groups) <= 12 else 2,
                  frameon=False)
    return fig


def _km_split(df, by, metric, groups, at, conf, diverged, title, max_lines):
    """``km_curves`` of ``groups`` in order, at most ``max_lines`` a panel, panels stacked."""
    k = -(-len(groups) // max_lines)
    per = -(-len(groups) // k)
    fig, axes = plt.subplots(k, 1, figsize=(FIGSIZE[0], 0.75 * FIGSIZE[1] * k + 0.6), layout="constrained",
                             sharex=True, sharey=True, squeeze=False)
    names = _short(by)
    for i, ax in enumerate(axes[:, 0]):
        chunk = groups[i * per:(i + 1) * per]
        idx = np.concatenate([g for _, g in chunk])
        km_curves(df.iloc[np.sort(idx)], by, metric, ax=ax, at=at, conf=conf, diverged=diverged,
                  title=f"{group_label(names, chunk[0][0])} to {group_label(names, chunk[-1][0])}")
        ax.set_ylabel("reached (KM)")
        if i < k - 1:
            ax.set_xlabel("")
    fig.suptitle(textwrap.fill(title, 90))
    return fig


def km_panels(df: pd.DataFrame, by, metric: str = "epoch_acc100", at=(), conf: float = 0.95,
              max_lines: int = 10, max_panels: int = 12):
    """``km_curves`` on one axes when there are at most ``max_lines`` groups, else one panel per
    level of ``by[0]`` (up to ``max_panels``) with lines for the other columns."""
    df = analysis_view(df)
    by = resolve_columns(df, by)
    n_groups = len(group_rows(df, by)) if by else 1
    if n_groups <= max_lines or len(by) < 2:
        return km_curves(df, by, metric, at=at, conf=conf)
    all_panels = group_rows(df, by[:1])
    panels = all_panels[:max_panels]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), layout="constrained",
                             sharex=True, sharey=True, squeeze=False)
    for (key, idx), ax in zip(panels, axes.ravel()):
        km_curves(df.iloc[idx], by[1:], metric, ax=ax, at=at, conf=conf,
                  title=group_label(by[:1], key))
        ax.set_xlabel("epoch")
        ax.set_ylabel("reached (KM)")
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    more = f" (first {len(panels)} of {len(all_panels)})" if len(all_panels) > len(panels) else ""
    fig.suptitle(f"Share of runs that reached {metric} by each epoch, one panel per {by[0]}{more}")
    return fig


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        levels = [c for c in series.cat.categories if c in present]
    else:
        levels = sorted(series.dropna().unique().tolist())
    return levels + ([None] if series.isna().any() else [])


def share_heatmap(df: pd.DataFrame, x: str, y: str, metric: str = "epoch_acc100", ax=None):
    """Share of runs that reached ``metric`` (within their ``epochs_run``) for each (x, y) cell."""
    df = analysis_view(df)
    x, y = resolve_column(df, x), resolve_column(df, y)
    metric = resolve_column(df, metric)
    fig, ax = _new(ax, figsize=(8.0, 5.2))
    xs, ys = _levels(df[x]), _levels(df[y])
    reached = df[metric].notna().to_numpy(bool)
    share = np.full((len(ys), len(xs)), np.nan)
    count = np.zeros((len(ys), len(xs)), dtype=np.int64)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for key, idx in group_rows(df, [y, x]):
        r, c = yi[None if pd.isna(key[0]) else key[0]], xi[None if pd.isna(key[1]) else key[1]]
        count[r, c] = idx.size
        share[r, c] = reached[idx].mean()
    im = ax.imshow(share, origin="lower", cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    small = len(xs) * len(ys) <= 48
    for r in range(len(ys)):
        for c in range(len(xs)):
            if count[r, c] == 0:
                continue
            text = pct(share[r, c]) + (f"\nn={count[r, c]}" if small else "")
            ax.text(c, r, text, ha="center", va="center", fontsize=8 if small else 7,
                    color="white" if share[r, c] < 0.6 else "black")
    fmt = lambda v: "n/a" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))  # noqa: E731
    ax.set_xticks(range(len(xs)), [fmt(v) for v in xs], rotation=45 if len(xs) > 8 else 0)
    ax.set_yticks(range(len(ys)), [fmt(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    others = [c for c in varying_columns(df, max_columns=6) if c not in (x, y)]
    pooled = f"\n(pooled over {', '.join(others)})" if others else ""
    ax.set_title(f"Share of runs that reached {metric} within epochs_run{pooled}")
    fig.colorbar(im, ax=ax, label=f"share reached {metric}", format=PercentFormatter(1.0))
    return fig


def epoch_histogram(df: pd.DataFrame, metric: str = "epoch_acc100", by=None, ax=None, at=()):
    """Histogram of the epoch at which ``metric`` was reached, log-spaced bins, per group if ``by``."""
    df = analysis_view(df)
    metric = resolve_column(df, metric)
    by = resolve_columns(df, by)
    fig, ax = _new(ax)
    vals = df[metric].to_numpy(np.float64, na_value=np.nan)
    seen = ~np.isnan(vals)
    n, k = len(df), int(seen.sum())
    if k == 0:
        _no_data(ax, f"no run reached {metric}")
    else:
        edges = _epoch_edges(np.nanmax(vals), n=30)
        groups = group_rows(df, by) if by else [((), np.arange(n))]
        if len(groups) > 10:
            groups = [((), np.arange(n))]
        names = _short(by)
        for (key, idx), color in zip(groups, _colors(len(groups))):
            v = vals[idx][seen[idx]]
            label = (group_label(names, key) if key else "runs that reached it") + f" (n={v.size})"
            ax.hist(v, bins=edges, histtype="step" if len(groups) > 1 else "stepfilled", lw=1.5,
                    color=color, alpha=1.0 if len(groups) > 1 else 0.7, label=label)
        reference_lines(ax, at)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    epoch_scale(ax)
    trim_left(ax, vals)
    run = df["epochs_run"].to_numpy(np.float64, na_value=np.nan)
    horizon = f"{np.nanmax(run):.0f}" if n else "?"
    ax.set_xlabel(f"epoch at which {metric} was first reached (log scale above 1)")
    ax.set_ylabel("runs per bin (log-spaced bins)")
    ax.set_title(f"Epoch at which runs reached {metric}: {k} of {n} runs\n({n - k} did not within "
                 f"{'≤' if n and np.nanmin(run) < np.nanmax(run) else ''}{horizon} epochs; not shown)")
    ax.grid(True, alpha=0.3)
    return fig


def final_mse_distribution(df: pd.DataFrame, ax=None, metric: str | None = None):
    """Final MSE on a log axis for converged, stuck (neither converged nor diverged) and diverged runs.

    "converged" is the ``converged`` column (the run's main criterion), or ``metric`` reached when given.
    """
    fig, ax = _new(ax)
    mse = df["final_mse"].to_numpy(np.float64, na_value=np.nan)
    conv = (df[resolve_column(df, metric)].notna().to_numpy(bool) if metric
            else df["converged"].to_numpy(bool))
    dvg = df["diverged"].to_numpy(bool) & ~conv
    stuck = ~conv & ~dvg
    ok = np.isfinite(mse) & (mse > 0)
    if not ok.any():
        _no_data(ax, "no finite positive final MSE")
    else:
        lo, hi = np.min(mse[ok]), np.max(mse[ok])
        edges = np.geomspace(lo, hi * 1.0001 if hi > lo else lo * 10, 60)
        parts = [(conv, f"converged ({metric or 'main criterion'})", "tab:green"),
                 (stuck, "stuck: not converged, not diverged", "tab:orange"),
                 (dvg, "diverged", "tab:red")]
        for mask, name, color in parts:
            v = mse[mask & ok]
            extra = f", {int((mask & ~ok).sum())} not finite" if (mask & ~ok).any() else ""
            label = f"{name} (n={int(mask.sum())}{extra})"
            if v.size:
                ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.45, color=color, edgecolor=color,
                        lw=1.2, label=label)
            else:
                ax.plot([], [], color=color, lw=6, alpha=0.45, label=label)
        ax.set_xscale("log")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_xlabel("final MSE at epochs_run (log scale)")
    ax.set_ylabel("runs per bin")
    ax.set_title(f"Final mean squared error of {len(df)} runs by outcome")
    ax.grid(True, alpha=0.3)
    return fig


def milestone_scatter(df: pd.DataFrame, given: str = "epoch_acc75", target: str = "epoch_acc100",
                      ax=None, mark: tuple[float, float] | None = None, at=()):
    """2-D histogram of (epoch of ``given``, epoch of ``target``) over runs that reached both.

    log-log (symlog) axes, counts on a log colour scale; ``mark`` draws one claimed point
    (e.g. the tutorial's (107, 169)); ``at`` draws horizontal lines at those target epochs.
    """
    given, target = resolve_column(df, given), resolve_column(df, target)
    fig, ax = _new(ax, figsize=(7.2, 5.6))
    g = df[given].to_numpy(np.float64, na_value=np.nan)
    t = df[target].to_numpy(np.float64, na_value=np.nan)
    both = ~np.isnan(g) & ~np.isnan(t)
    only = int((~np.isnan(g) & np.isnan(t)).sum())
    if not both.any():
        _no_data(ax, f"no run reached both {given} and {target}")
    else:
        top = max(np.max(g[both]), np.max(t[both]))
        edges = _epoch_edges(top, n=50)
        h, _, _ = np.histogram2d(g[both], t[both], bins=[edges, edges])
        h = np.ma.masked_equal(h, 0)
        mesh = ax.pcolormesh(edges, edges, h.T, norm=LogNorm(vmin=1, vmax=max(1, h.max())), cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="runs per cell")
        ax.plot([0, edges[-1]], [0, edges[-1]], color="0.5", ls=":", lw=1, label=f"{target} = {given}")
        reference_lines(ax, at, horizontal=True, label=f"{target} = {{k}}")
        if mark is not None:
            ax.plot([mark[0]], [mark[1]], marker="*", ms=14, color="red", mec="white", ls="",
                    label=f"claim ({mark[0]:g}, {mark[1]:g})")
        ax.legend(fontsize=8, loc="lower right")  # empty when target implies given (acc100 => acc75)
    epoch_scale(ax, "x")
    epoch_scale(ax, "y")
    trim_left(ax, g[both], "x")
    trim_left(ax, t[both], "y")
    ax.set_xlabel(f"epoch at which {given} was reached (log scale)")
    ax.set_ylabel(f"epoch at which {target} was reached (log scale)")
    ax.set_title(f"{given} vs {target}: {int(both.sum())} runs reached both;\n"
                 f"{only} reached {given} only (not shown)")
    return fig
