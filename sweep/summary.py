"""The one-screen summary printed after ``sweep run``: per group, runs, converged share and
Kaplan-Meier median convergence epoch, read back from the Parquet dataset (so resumed runs
count too).

The median is the one ``sweep report`` and ``sweep claim`` give (``results.analysis.convergence``):
Kaplan-Meier, censoring-aware, so runs that did not converge within ``epochs_run`` count as
"later than epochs_run" rather than being dropped; "> E" when under half the runs converged.
"""
from __future__ import annotations

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
    """A DataFrame with one row per swept combination: runs, converged share, KM median epoch,
    its horizon (largest ``epochs_run``) and the diverged share."""
    from results.analysis import convergence
    from results.reader import load

    varying = summary_keys(grid)
    df = load(out_dir, columns=varying + ["converged", "convergence_epoch", "epochs_run", "diverged"])
    if df.empty:
        return df
    t = convergence(df, by=varying, metric="convergence_epoch")
    out = t[varying + ["n", "converged_share", "km_median", "epochs_max"]].rename(
        columns={"n": "runs", "converged_share": "converged", "km_median": "median_epoch"})
    out["diverged"] = t["n_diverged"] / t["n"]
    return out


def format_summary(df, main: str) -> str:
    if df.empty:
        return "no runs written"
    show = df.copy()
    show["converged"] = (100 * show["converged"]).map("{:.1f}%".format)
    show["diverged"] = (100 * show["diverged"]).map("{:.1f}%".format)
    show["median_epoch"] = [f"> {h:.0f}" if v == float("inf") else "-" if v != v else f"{v:.0f}"
                            for v, h in zip(show["median_epoch"], show["epochs_max"])]
    show = show.drop(columns="epochs_max").rename(
        columns={"converged": f"converged ({main})", "median_epoch": "KM median epoch"})
    for c in show.columns:  # list labels and categories print as text
        if str(show[c].dtype) == "category":
            show[c] = show[c].astype(str)
    return show.to_string(index=False)
