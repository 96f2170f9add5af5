"""The held-out ("test") set of a run table: test accuracy and the generalisation gap per cell,
the runs that fit the training set but not the test set, and the test milestones' convergence.

A run has a held-out set where ``test_final_loss`` or ``test_final_accuracy`` is not null (both
are null for a run without one). Its test milestones (``test_epoch_acc100`` ...) are censored at
``epochs_run`` exactly like the training ones, so ``analysis.convergence``, ``claim``,
``survival`` and ``km_figure`` take them as they are, on the runs that have a held-out set
(:func:`with_test_set`): a run without one has no test time at all, not a censored one.
:func:`held_out_convergence` does both steps.

The continuous metrics (``test_final_accuracy``, ``gap_accuracy`` = final_accuracy -
test_final_accuracy, ``gap_loss`` = test_final_loss - final_loss) are summarised per cell by
:func:`value_summary`: the median with its order-statistic interval and the p25 and p75
(``stats.sample_quantile``), and the mean with Student's t interval (``stats.mean_interval``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from results import stats
from results.analysis import AnalysisError, _frame, convergence, group_rows
from results.reader import analysis_view, resolve_column, resolve_columns
from results.schema import MILESTONE_COLUMNS

#: the columns that say a run has a held-out set (null where it has none)
TEST_MARKERS = ("test_final_loss", "test_final_accuracy")
#: the continuous held-out metrics ``generalisation`` summarises, in its column order
GAP_COLUMNS = ("test_final_accuracy", "gap_accuracy", "gap_loss")
#: a training accuracy this close to 1 counts as fitting the training set
_FULL = 1.0 - 1e-12


def held_out_rows(df: pd.DataFrame) -> np.ndarray:
    """(n,) bool: the runs with a held-out set (a non-null ``test_final_loss`` or ``test_final_accuracy``)."""
    marks = [df[c].notna().to_numpy(bool) for c in TEST_MARKERS if c in df]
    return np.logical_or.reduce(marks) if marks else np.zeros(len(df), bool)


def has_test_set(df: pd.DataFrame) -> bool:
    """Whether any run of ``df`` has a held-out set (False for a table without the test columns)."""
    return bool(held_out_rows(df).any())


def with_test_set(df: pd.DataFrame) -> pd.DataFrame:
    """The runs of ``df`` that have a held-out set (``attrs`` kept)."""
    out = df[held_out_rows(df)]
    out.attrs = dict(df.attrs)
    return out


def held_out_metric(df: pd.DataFrame, metric: str = "epoch_acc100") -> str:
    """The test twin of a training milestone: ``"epoch_acc100"``, ``"acc100"`` or the criterion
    ``"test_acc100"`` -> ``"test_epoch_acc100"``; raises ``ColumnError`` when ``df`` lacks it."""
    name = metric[len("test_"):] if metric.startswith("test_") else metric
    return resolve_column(df, "test_" + MILESTONE_COLUMNS.get(name, name))


def held_out_convergence(df: pd.DataFrame, by=None, metric: str = "epoch_acc100", at=(), conf: float = 0.95,
                     diverged: str = "censor") -> pd.DataFrame:
    """``analysis.convergence`` of the test twin of ``metric`` over the runs with a held-out set."""
    return convergence(with_test_set(df), by, held_out_metric(df, metric), at=at, conf=conf, diverged=diverged)


def _summary(values: np.ndarray, conf: float) -> dict:
    med, med_lo, med_hi = stats.sample_quantile(values, 0.5, conf)
    mean, mean_lo, mean_hi = stats.mean_interval(values, conf)
    return dict(median=med, median_lo=med_lo, median_hi=med_hi,
                p25=stats.sample_quantile(values, 0.25, conf)[0], p75=stats.sample_quantile(values, 0.75, conf)[0],
                mean=mean, mean_lo=mean_lo, mean_hi=mean_hi)


def value_summary(df: pd.DataFrame, column: str, by=None, conf: float = 0.95) -> pd.DataFrame:
    """One row per group of ``by``: the distribution of the continuous ``column`` over its runs.

    Columns: ``n`` (runs), ``n_values`` (non-null values: runs without a held-out set have none
    of the test metrics), ``median`` with ``median_lo``/``median_hi`` (order-statistic interval;
    the median is the lower one, ``min{x : share <= x >= 1/2}``, as every median here), ``p25``,
    ``p75``, ``mean`` with Student's t ``mean_lo``/``mean_hi``. NaN where a group has no value.
    """
    df = analysis_view(df)
    by = resolve_columns(df, by)
    column = resolve_column(df, column)
    values = df[column].to_numpy(np.float64, na_value=np.nan)
    rows = []
    for key, idx in group_rows(df, by):
        v = values[idx]
        row = dict(zip(by, key))
        row.update(n=int(idx.size), n_values=int((~np.isnan(v)).sum()), **_summary(v, conf))
        rows.append(row)
    out = _frame(rows, df, by)
    out.attrs.update(column=column, by=by, conf=conf)
    return out


def generalisation(df: pd.DataFrame, by=None, conf: float = 0.95, columns=GAP_COLUMNS) -> pd.DataFrame:
    """``value_summary`` of each of ``columns`` (default: test accuracy, accuracy gap, loss gap) side
    by side, one row per group: ``n``, ``n_test`` (runs with a held-out set), then for each column
    ``<column>_median``, ``_median_lo``, ``_median_hi``, ``_p25``, ``_p75``, ``_mean``, ``_mean_lo``,
    ``_mean_hi``. Columns absent from ``df`` are left out."""
    df = analysis_view(df)
    by = resolve_columns(df, by)
    present = [c for c in columns if c in df]
    if not present:
        raise AnalysisError(f"none of {', '.join(columns)} is in the run table: no held-out set was evaluated")
    has = held_out_rows(df)
    rows = []
    for key, idx in group_rows(df, by):
        row = dict(zip(by, key))
        row.update(n=int(idx.size), n_test=int(has[idx].sum()))
        for c in present:
            v = df[c].to_numpy(np.float64, na_value=np.nan)[idx]
            row.update({f"{c}_{k}": x for k, x in _summary(v, conf).items()})
        rows.append(row)
    out = _frame(rows, df, by)
    out.attrs.update(by=by, conf=conf, columns=present)
    return out


def train_fitted(df: pd.DataFrame, train: str = "final_accuracy") -> np.ndarray:
    """(n,) bool: the runs that fit the training set: ``final_accuracy`` = 1 (``"final_accuracy"``),
    the training main milestone reached (``"converged"``), or a milestone column not null."""
    if train == "final_accuracy":
        return df["final_accuracy"].to_numpy(np.float64, na_value=np.nan) >= _FULL
    column = resolve_column(df, train)
    if pd.api.types.is_bool_dtype(df[column].dtype):
        return df[column].fillna(False).to_numpy(bool)
    return df[column].notna().to_numpy(bool)


def fits_train_not_test(df: pd.DataFrame, by=None, threshold: float = 1.0, train: str = "final_accuracy",
                        conf: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``: the runs that fit the training set (``train_fitted``) but whose
    ``test_final_accuracy`` is below ``threshold`` (default 1: not perfect on the test set).

    Counted over the runs with a held-out set. Columns: ``n`` (those runs), ``n_fit`` (of them,
    fitting the training set), ``n_fit_not_test``, ``share`` = n_fit_not_test / n with its Wilson
    interval ``share_lo``/``share_hi``, and ``share_of_fit`` = n_fit_not_test / n_fit with
    ``share_of_fit_lo``/``share_of_fit_hi`` (NaN where no run fits).
    """
    df = analysis_view(df)
    by = resolve_columns(df, by)
    if "test_final_accuracy" not in df:
        raise AnalysisError("the run table has no test_final_accuracy: no held-out set was evaluated")
    if not 0.0 < threshold <= 1.0:
        raise AnalysisError(f"threshold must lie in (0, 1], got {threshold}")
    has = held_out_rows(df)
    fit = train_fitted(df, train) & has
    test_acc = df["test_final_accuracy"].to_numpy(np.float64, na_value=np.nan)
    hit = fit & (test_acc < threshold)  # NaN (diverged) compares False: not counted as below
    rows = []
    for key, idx in group_rows(df, by):
        n, n_fit, k = int(has[idx].sum()), int(fit[idx].sum()), int(hit[idx].sum())
        lo, hi = stats.wilson_interval(k, n, conf)
        flo, fhi = stats.wilson_interval(k, n_fit, conf)
        row = dict(zip(by, key))
        row.update(n=n, n_fit=n_fit, n_fit_not_test=k, share=k / n if n else math.nan, share_lo=lo, share_hi=hi,
                   share_of_fit=k / n_fit if n_fit else math.nan, share_of_fit_lo=flo, share_of_fit_hi=fhi)
        rows.append(row)
    out = _frame(rows, df, by)
    out.attrs.update(by=by, conf=conf, threshold=threshold, train=train)
    return out


__all__ = ["GAP_COLUMNS", "fits_train_not_test", "generalisation", "has_test_set", "held_out_convergence",
           "held_out_metric", "held_out_rows", "train_fitted", "value_summary", "with_test_set"]
