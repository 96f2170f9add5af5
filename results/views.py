"""Derived views of a run table for survival libraries, SQL and ``DataFrame.query``.

- :func:`survival`: lifelines' convention for a milestone: ``duration`` = the epoch it was
  reached, else the epoch the run was last observed (``epochs_run``: right-censored there), and
  ``event`` = 1 where reached, 0 where censored. ``lifelines.KaplanMeierFitter().fit(
  d["duration"], d["event"])`` then gives the same curve as ``results.stats.km_fit``.
- :func:`swept`: only the columns that vary (config columns with more than one value), the
  ids and the metrics, under short names where unique (``train.lr`` -> ``lr``), list columns as
  their JSON label: ``swept(df).query("lr == 0.5 and hidden == '[2]'")`` needs no quoting.

Both return new frames; ``results.load`` itself stays exactly ``pandas.read_parquet``.
"""
from __future__ import annotations

import pandas as pd

from results.analysis import censored_times, config_columns
from results.reader import ID_COLUMNS, analysis_view, resolve_column
from results.schema import METRIC_COLUMNS, TEST_COLUMNS


def survival(df: pd.DataFrame, metric: str = "epoch_acc100", diverged: str = "censor") -> pd.DataFrame:
    """``df`` plus ``duration`` (float epochs) and ``event`` (int 0/1) for ``metric``."""
    metric = resolve_column(df, metric)
    times, observed = censored_times(df, metric, diverged)
    return df.assign(duration=times, event=observed.astype(int))


def short_names(columns) -> dict[str, str]:
    """``{"train.lr": "lr", ...}`` for dotted columns whose last part is unique among ``columns``."""
    dotted = [c for c in columns if isinstance(c, str) and "." in c]
    last = [c.rsplit(".", 1)[-1] for c in dotted]
    taken = {c for c in columns if isinstance(c, str) and "." not in c}
    return {c: s for c, s in zip(dotted, last) if last.count(s) == 1 and s not in taken}


def swept(df: pd.DataFrame, short: bool = True) -> pd.DataFrame:
    """The varying config columns, ids and metrics (short names when ``short``; the held-out
    set's only where some run has one)."""
    view = analysis_view(df)
    varying = [c for c in config_columns(view) if view[c].astype(object).map(repr).nunique() > 1]
    metrics = [c for c in METRIC_COLUMNS if c in view and not (c in TEST_COLUMNS and view[c].isna().all())]
    keep = [c for c in ID_COLUMNS if c in view] + varying + metrics
    out = view[keep]
    return out.rename(columns=short_names(keep)) if short else out


__all__ = ["short_names", "survival", "swept"]
