"""The one-screen summary printed after ``sweep run``: per group, runs, converged share and
median convergence epoch, read back from the Parquet dataset (so resumed runs count too)."""
from __future__ import annotations

import pyarrow.dataset as ds

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
    """A DataFrame with one row per group: runs, converged share, median epoch, diverged."""
    varying = summary_keys(grid)
    cols = varying + ["converged", "convergence_epoch", "diverged"]
    df = ds.dataset(str(out_dir), format="parquet").to_table(columns=cols).to_pandas()
    if df.empty:
        return df
    keys = varying or [df.assign(_all="all")["_all"]]
    g = df.groupby(keys, dropna=False, observed=True, sort=True)
    out = g.agg(runs=("converged", "size"), converged=("converged", "mean"),
                median_epoch=("convergence_epoch", "median"), diverged=("diverged", "mean"))
    return out.reset_index(drop=not varying)


def format_summary(df, main: str) -> str:
    if df.empty:
        return "no runs written"
    show = df.copy()
    show["converged"] = (100 * show["converged"]).map("{:.1f}%".format)
    show["diverged"] = (100 * show["diverged"]).map("{:.1f}%".format)
    show["median_epoch"] = show["median_epoch"].map(lambda v: "-" if v != v else f"{v:.0f}")
    show = show.rename(columns={"converged": f"converged ({main})", "median_epoch": "median epoch (converged)"})
    return show.to_string(index=False)
