"""Shared looks of the report's figures: one colour per level of one axis, one line style per
level of another, percentages that never round a small share to 0%, epoch axes that waste no width.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # headless: reports are rendered to PNG
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 3))]


#: reference epochs (``at``): one style each, so two of them never look alike
REFERENCE_STYLES = (dict(color="0.15", ls=(0, (5, 3)), lw=1.2), dict(color="tab:purple", ls=(0, (1, 1.5)), lw=1.8),
                    dict(color="0.45", ls=(0, (6, 2, 1, 2)), lw=1.2), dict(color="tab:brown", ls=(0, (2, 2)), lw=1.4))


def reference_lines(ax, at, log: bool = False, horizontal: bool = False, label: str = "epoch {k}") -> None:
    """A vertical (``horizontal``: horizontal) line at each epoch of ``at``, labelled ``label``,
    each in its own style (drawn at 1 on a log axis when k is 0)."""
    line = ax.axhline if horizontal else ax.axvline
    for i, k in enumerate(at or ()):
        line(max(k, 1.0) if log else k, label=label.format(k=k), **REFERENCE_STYLES[i % len(REFERENCE_STYLES)])


def pct(x) -> str:
    """A share as a percentage that keeps small and near-full shares apart from 0% and 100%.

    0 -> "0%", 1 -> "100%", 0.002 -> "0.2%", 0.0004 -> "0.04%", 0.4331 -> "43.3%", 0.9996 -> "99.96%".
    """
    if x is None or not np.isfinite(x):
        return "–"
    if x <= 0:
        return "0%"
    if x >= 1:
        return "100%"
    v = 100.0 * float(x)
    if v < 0.1:
        return f"{v:.2g}%"
    if v > 99.9:
        return f"{100 - float(f'{100 - v:.2g}'):g}%"
    return f"{v:.1f}%"


def short_names(by: list[str]) -> list[str]:
    """Legend names: the last dotted part when those are unique ("lr" for "train.lr")."""
    short = [c.split(".")[-1] for c in by]
    return short if len(set(short)) == len(short) else list(by)


def value_text(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def levels(series: pd.Series) -> list:
    """Distinct values in their natural order (categories in category order)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        return [c for c in series.cat.categories if c in present]
    return sorted(series.dropna().unique().tolist())


class Styles:
    """Colour by ``by[0]`` (sequential for numbers, so their order shows), line style by ``by[1]``."""

    def __init__(self, df: pd.DataFrame, by: list[str]):
        self.by = list(by)
        self.colour_levels = levels(df[by[0]]) if by else []
        self.style_levels = levels(df[by[1]]) if len(by) > 1 else []
        n = max(1, len(self.colour_levels))
        numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in self.colour_levels)
        if numeric and n > 1:
            cmap = plt.get_cmap("viridis")
            self.colours = [cmap(x) for x in np.linspace(0.0, 0.85, n)]
        elif n <= 10:
            self.colours = [plt.get_cmap("tab10")(i) for i in range(n)]
        else:
            self.colours = [plt.get_cmap("turbo")(x) for x in np.linspace(0.05, 0.95, n)]

    def of(self, key: tuple) -> dict:
        """``color`` and ``ls`` for a group key (values of ``by`` in order)."""
        c = self.colours[self.colour_levels.index(key[0])] if self.by and key[0] in self.colour_levels else "0.2"
        ls = LINESTYLES[self.style_levels.index(key[1]) % len(LINESTYLES)] \
            if len(self.by) > 1 and key[1] in self.style_levels else "-"
        return {"color": c, "ls": ls}


def plain_epochs(v, _pos=None) -> str:
    if v <= 0:
        return "0" if v == 0 else ""
    if v >= 1e5:
        return f"1e{math.log10(v):.0f}"
    return f"{v:,.0f}"


def epoch_axis(ax, t_max: float, t_min_pos: float, axis: str = "x") -> bool:
    """Linear ``[0, t_max]``, or logarithmic from 1 when the times span over two decades.

    Returns True for the log axis (epoch 0 is then drawn at 1).
    """
    log = t_max / max(t_min_pos, 1.0) >= 100.0
    set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
    set_lim = ax.set_xlim if axis == "x" else ax.set_ylim
    fmt = (ax.xaxis if axis == "x" else ax.yaxis)
    if log:
        set_scale("log")
        set_lim(1.0, max(2.0, t_max) * 1.15)
    else:
        set_lim(0.0, max(1.0, t_max) * 1.02)
    fmt.set_major_formatter(FuncFormatter(plain_epochs))
    return log


def ticks(log: bool, t_max: float) -> list[float]:
    """Tick epochs for the at-risk table: decades (log) or about six round values (linear)."""
    if log:
        out = [10.0 ** k for k in range(0, int(math.floor(math.log10(max(t_max, 1)))) + 1)]
    else:
        step = 10 ** math.floor(math.log10(max(t_max, 1) / 5))
        step *= next(m for m in (1, 2, 2.5, 5, 10) if t_max / (step * m) <= 6)
        out = list(np.arange(0.0, t_max + 1e-9, step))
    return out
