"""The one-screen summary printed after ``sweep run``: per group, runs, converged share and
median convergence epoch, read back from the Parquet dataset (so resumed runs count too)."""
from __future__ import annotations

import numpy as np
import pyarrow.dataset as ds

from results.writer import OutputDir
from sweep.schema import group_keys


def summary_keys(grid, max_rows: int = 60) -> list[str]:
    """The swept keys (one row per combination) when that fits a screen, else the group keys."""
    swept = []
    for sub in getattr(grid, "subgrids", ()):
        for axis in sub.axes:
            swept += [k for k in axis.keys if k not in swept]
    sizes = [len({repr(g.config.get(k)) for g in grid.groups()}) for k in group_keys()]
    if swept and len(grid.groups()) <= max_rows:
        return swept
    return [k for k, n in zip(group_keys(), sizes) if n > 1]


def group_summary(out_dir, grid):
    """A DataFrame with one row per group: runs, converged share, median epoch, diverged.

    Counts runs per (group, convergence epoch, converged, diverged) in one streaming Acero
    aggregation over the parts, so memory follows the distinct epochs, not the runs (a
    10^8-run directory is summarised in a few hundred MB); the median is exact.
    """
    import pandas as pd

    varying = summary_keys(grid)
    keys = varying + ["convergence_epoch", "converged", "diverged"]
    files = [str(p) for p in OutputDir(out_dir).part_files()]
    if not files:
        return pd.DataFrame()
    from pyarrow import acero

    # a streaming, threaded hash aggregation: memory follows the groups, never the runs
    dataset = ds.dataset(files, format="parquet")
    df = acero.Declaration.from_sequence([
        acero.Declaration("scan", acero.ScanNodeOptions(dataset, columns=keys)),
        acero.Declaration("aggregate", acero.AggregateNodeOptions([([], "hash_count_all", None, "count_all")], keys=keys)),
    ]).to_table(use_threads=True).to_pandas()
    if df.empty:
        return df
    df = df.rename(columns={"count_all": "n"})
    group = varying or [df.assign(_all="all")["_all"]]
    rows = []
    for name, g in df.groupby(group, dropna=False, observed=True, sort=True):
        n = g["n"].sum()
        conv = g[g["converged"]]
        rows.append({**dict(zip(varying, name if isinstance(name, tuple) else (name,))),
                     "runs": int(n), "converged": conv["n"].sum() / n, "median_epoch": _median(conv),
                     "diverged": g.loc[g["diverged"], "n"].sum() / n})
    out = pd.DataFrame(rows)
    return out if varying else out.drop(columns=[c for c in out.columns if c not in
                                                  ("runs", "converged", "median_epoch", "diverged")])


def _median(g) -> float:
    """The median convergence epoch of the runs counted in ``g`` (pandas' median: mean of the two middle values)."""
    g = g.dropna(subset=["convergence_epoch"]).sort_values("convergence_epoch")
    n = int(g["n"].sum())
    if n == 0:
        return float("nan")
    cum = g["n"].cumsum().to_numpy()
    vals = g["convergence_epoch"].to_numpy(dtype=float)
    lo = vals[np.searchsorted(cum, (n - 1) // 2 + 1)]
    hi = vals[np.searchsorted(cum, n // 2 + 1)]
    return (lo + hi) / 2


def format_summary(df, main: str) -> str:
    if df.empty:
        return "no runs written"
    show = df.copy()
    show["converged"] = (100 * show["converged"]).map("{:.1f}%".format)
    show["diverged"] = (100 * show["diverged"]).map("{:.1f}%".format)
    show["median_epoch"] = show["median_epoch"].map(lambda v: "-" if v != v else f"{v:.0f}")
    show = show.rename(columns={"converged": f"converged ({main})", "median_epoch": "median epoch (converged)"})
    return show.to_string(index=False)
