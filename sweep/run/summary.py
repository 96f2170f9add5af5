"""The one-screen summary printed after ``sweep run``: per group, runs, converged share and
Kaplan-Meier median convergence epoch, read back from the Parquet dataset (so resumed runs
count too).

The median is the one ``sweep report`` and ``sweep claim`` give (``results.analysis.convergence``):
Kaplan-Meier, censoring-aware, so runs that did not converge within ``epochs_run`` count as
"later than epochs_run" rather than being dropped; "> E" when under half the runs converged.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from results.schema import LABEL_SUFFIX
from results.writer import OutputDir

from sweep.grid.schema import group_keys


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


def grid_run_ids(grid) -> np.ndarray:
    """Every run_id of ``grid`` (8 bytes per run), for a summary of a subset of a directory."""
    ids = [grid.columns(s, min(b, s + (1 << 20)))["run_id"]
           for g in grid.groups() for a, b in g.ranges for s in range(a, b, 1 << 20)]
    return np.concatenate(ids) if ids else np.zeros(0, np.uint64)


def group_summary(out_dir, grid, run_ids=None) -> "pd.DataFrame":
    """A DataFrame with one row per swept combination: runs, converged share, KM median epoch,
    its horizon (largest ``epochs_run``) and the diverged share.

    Counts runs per (combination, convergence epoch, epochs run, converged, diverged) in one
    streaming Acero aggregation over the parts, so memory follows the distinct epochs, not the runs
    (a 10^8-run directory is summarised in a few hundred MB); the Kaplan-Meier median is then
    computed from those counts (``results.stats.km_quantile_counts``, the estimator of
    ``results.analysis.convergence``). ``run_ids``: only those runs (a grid that is a subset of
    the directory's runs, :func:`grid_run_ids`).
    """
    import pandas as pd
    from pyarrow import acero

    from results.stats import km_quantile_counts

    varying = summary_keys(grid)
    files = [str(p) for p in OutputDir(out_dir).part_files()]
    if not files:
        return pd.DataFrame()
    dataset = ds.dataset(files, format="parquet")
    names = dataset.schema.names
    # list-valued keys group by their label column (Arrow cannot hash lists)
    cols = [k + LABEL_SUFFIX if k + LABEL_SUFFIX in names else k for k in varying]
    keys = cols + ["convergence_epoch", "epochs_run", "converged", "diverged"]
    # parts dictionary-encode their text columns each with its own dictionary: group on the values
    exprs = [pc.field(k).cast(t.value_type) if pa.types.is_dictionary(t := dataset.schema.field(k).type)
             else pc.field(k) for k in keys]
    only = [] if run_ids is None else [acero.Declaration("filter", acero.FilterNodeOptions(
        pc.field("run_id").isin(pa.array(np.asarray(run_ids, np.uint64)))))]
    df = acero.Declaration.from_sequence([
        acero.Declaration("scan", acero.ScanNodeOptions(dataset, columns=keys + ["run_id"] * bool(only))),
        *only,
        acero.Declaration("project", acero.ProjectNodeOptions(exprs, keys)),
        acero.Declaration("aggregate", acero.AggregateNodeOptions([([], "hash_count_all", None, "count_all")],
                                                                   keys=keys)),
    ]).to_table(use_threads=True).to_pandas()
    if df.empty:
        return df
    df = df.rename(columns={"count_all": "n", **dict(zip(cols, varying))})
    group = varying or [df.assign(_all="all")["_all"]]
    rows = []
    for name, g in df.groupby(group, dropna=False, observed=True, sort=True):
        n = int(g["n"].sum())
        conv = g["converged"].to_numpy(bool)
        time = np.where(conv, g["convergence_epoch"].fillna(-1).to_numpy(float), g["epochs_run"].to_numpy(float))
        rows.append({**dict(zip(varying, name if isinstance(name, tuple) else (name,))), "runs": n,
                     "converged": g.loc[conv, "n"].sum() / n,
                     "median_epoch": km_quantile_counts(time, conv, g["n"].to_numpy(np.int64), 0.5),
                     "epochs_max": float(g["epochs_run"].max()), "diverged": g.loc[g["diverged"], "n"].sum() / n})
    return pd.DataFrame(rows)


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
