"""Convergence analysis of a sweep's run table (one row per run, as ``results.reader.load`` gives).

The time of a run for a milestone ``metric`` (a column like ``epoch_acc100``) is the epoch it
was first reached; a run where it is null was not seen to reach it within ``epochs_run``
epochs and is right-censored there. Shares such as ``converged_share`` count those runs in
``n`` (as not converged within their budget), and the Kaplan-Meier estimates treat them as
"later than ``epochs_run``", never as missing (see ``results.stats``).

Diverged runs: a run whose loss or parameters went non-finite stops at ``epochs_run = k``.
If it reached the milestone before that, it converged at that epoch. If not, the default
(``diverged="censor"``) censors it at its ``epochs_run``: it simply stopped being observed.
That assumes it would have behaved like the runs still training, which favours convergence;
``diverged="never"`` instead censors it at its planned ``train.epochs``, since a run with
non-finite parameters can never reach a milestone.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from results import stats
from results.reader import ColumnError, analysis_view, resolve_column, resolve_columns
from results.errors import SweepError
from results.schema import LABEL_SUFFIX

QUANTILES = {"km_p10": 0.10, "km_p25": 0.25, "km_p75": 0.75, "km_p90": 0.90}


class AnalysisError(SweepError, ValueError):
    """An analysis request that the data cannot answer (no runs selected, bad option)."""


# --- inputs -------------------------------------------------------------------------------

def censored_times(df: pd.DataFrame, metric: str, diverged: str = "censor") -> tuple[np.ndarray, np.ndarray]:
    """``(times, observed)`` for a milestone column: its epoch where reached, else ``epochs_run``."""
    if diverged not in ("censor", "never"):
        raise AnalysisError(f"diverged must be 'censor' or 'never', got {diverged!r}")
    metric = resolve_column(df, metric)
    observed = df[metric].notna().to_numpy(bool)
    reached = df[metric].to_numpy(np.float64, na_value=np.nan)
    run = df["epochs_run"].to_numpy(np.float64, na_value=np.nan)
    times = np.where(observed, reached, run)
    if diverged == "never" and "diverged" in df:
        budget = (df["train.epochs"].to_numpy(np.float64, na_value=np.nan)
                  if "train.epochs" in df else np.full(len(df), np.nanmax(run)))
        dead = ~observed & df["diverged"].to_numpy(bool)
        times = np.where(dead, np.fmax(budget, run), times)
    return times, observed


def group_rows(df: pd.DataFrame, by: list[str]) -> list[tuple[tuple, np.ndarray]]:
    """``[(key tuple, row positions)]`` in sorted group order; null keys form their own group."""
    if not by:
        return [((), np.arange(len(df)))]
    g = df.groupby(by, observed=True, dropna=False, sort=True)
    codes = g.ngroup().to_numpy()
    keys = [k if isinstance(k, tuple) else (k,) for k in g.size().index]
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(keys)))[:-1]
    return list(zip(keys, np.split(order, bounds)))


def format_value(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "n/a"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def group_label(by: list[str], key: tuple) -> str:
    """``"train.lr=0.5, model.hidden=[2]"`` for one group (``"all runs"`` without ``by``)."""
    return ", ".join(f"{c}={format_value(v)}" for c, v in zip(by, key)) or "all runs"


def _frame(rows: list[dict], df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    for c in by:  # keep the group columns' dtypes (categories in their natural order)
        if c in out:
            out[c] = out[c].astype(df[c].dtype)
    return out


def config_columns(df: pd.DataFrame) -> list[str]:
    """The config columns of a run table: dotted names (``train.lr``), without ``record.*`` and labels."""
    return [c for c in df.columns if isinstance(c, str) and "." in c and not c.startswith("record.")
            and not c.endswith(LABEL_SUFFIX)]


def varying_columns(df: pd.DataFrame, max_columns: int = 3) -> list[str]:
    """Config columns that vary across runs, most levels first, skipping ``record.*`` and any
    column determined by those already chosen (``train.momentum`` under ``train.optimizer``)."""
    df = analysis_view(df)
    cands = config_columns(df)
    levels = {c: df[c].nunique(dropna=False) for c in cands}
    chosen: list[str] = []
    n_groups = 1
    for c in sorted((c for c in cands if levels[c] > 1), key=lambda c: -levels[c]):
        k = df.groupby(chosen + [c], observed=True, dropna=False).ngroups
        if k > n_groups:
            chosen.append(c)
            n_groups = k
        if len(chosen) >= max_columns:
            break
    return chosen


# --- convergence table ----------------------------------------------------------------------

def at_list(at) -> list[int]:
    if at is None:
        return []
    if isinstance(at, (int, float, np.integer, np.floating)):
        return [at]
    return list(at)


def at_key(k) -> str:
    return f"{k:g}" if isinstance(k, float) else str(k)


def convergence(df: pd.DataFrame, by=None, metric: str = "epoch_acc100", at=(), conf: float = 0.95,
                diverged: str = "censor") -> pd.DataFrame:
    """One row per group of ``by`` with the convergence statistics of ``metric``.

    Columns: ``n`` (all runs, censored included), ``n_converged`` (metric reached), ``n_diverged``,
    ``epochs_max`` (largest ``epochs_run``), ``converged_share`` = n_converged / n with its Wilson
    interval ``share_lo``/``share_hi``; Kaplan-Meier quantiles of the convergence epoch:
    ``km_median`` with ``km_median_lo``/``km_median_hi``, ``km_p10``, ``km_p25``, ``km_p75``,
    ``km_p90`` (``inf``: not reached, e.g. the median when under half the runs converge);
    ``mean_converged``/``median_converged`` over the converged runs only (biased low: they
    ignore the censored runs); and for each ``k`` in ``at``: ``p_by_<k>`` = KM ``P(T <= k)``
    with ``p_by_<k>_lo``/``p_by_<k>_hi`` (NaN when ``k`` lies beyond every run's ``epochs_run``).
    """
    df = analysis_view(df)
    by = resolve_columns(df, by)
    metric = resolve_column(df, metric)
    times, observed = censored_times(df, metric, diverged)
    dvg = df["diverged"].to_numpy(bool) if "diverged" in df else np.zeros(len(df), bool)
    run = df["epochs_run"].to_numpy(np.float64, na_value=np.nan)
    ks = at_list(at)
    rows = []
    for key, idx in group_rows(df, by):
        t, o = times[idx], observed[idx]
        n, k = int(idx.size), int(o.sum())
        fit = stats.km_fit(t, o, conf)
        lo, hi = stats.wilson_interval(k, n, conf)
        med = fit.quantile(0.5)
        row = dict(zip(by, key))
        row.update(n=n, n_converged=k, n_diverged=int(dvg[idx].sum()),
                   epochs_max=float(np.nanmax(run[idx])) if n else math.nan,
                   converged_share=k / n if n else math.nan, share_lo=lo, share_hi=hi,
                   km_median=med[0], km_median_lo=med[1], km_median_hi=med[2])
        row.update({name: fit.quantile(q)[0] for name, q in QUANTILES.items()})
        row.update(mean_converged=float(t[o].mean()) if k else math.nan,
                   median_converged=float(np.median(t[o])) if k else math.nan)
        for kk in ks:
            p, plo, phi = fit.prob_by(kk)
            row.update({f"p_by_{at_key(kk)}": p, f"p_by_{at_key(kk)}_lo": plo, f"p_by_{at_key(kk)}_hi": phi})
        rows.append(row)
    out = _frame(rows, df, by)
    out.attrs.update(metric=metric, by=by, conf=conf, diverged=diverged)
    return out


# --- comparing two settings ---------------------------------------------------------------

def _matches(series: pd.Series, value) -> np.ndarray:
    """Rows of ``series`` equal to ``value``; a tuple or set means any of; JSON text compares by value."""
    if isinstance(value, (tuple, set, frozenset)):
        return np.logical_or.reduce([_matches(series, v) for v in value]) if value else np.zeros(len(series), bool)
    if value is None:
        return series.isna().to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
        text = series.astype(object)
        cats = pd.unique(text.dropna())
        hit = {c for c in cats if c == value or _parsed(c) == value}
        return text.isin(hit).to_numpy()
    if pd.api.types.is_float_dtype(series.dtype) and isinstance(value, (int, float)):
        return np.isclose(series.to_numpy(np.float64, na_value=np.nan), value, rtol=1e-12, atol=0.0)
    return (series == value).fillna(False).to_numpy(bool)


def _parsed(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def select(df: pd.DataFrame, where: dict) -> pd.DataFrame:
    """Rows matching every ``{column: value}`` (short column names allowed)."""
    view = analysis_view(df)  # a list column is matched through its label
    mask = np.ones(len(df), bool)
    for name, value in where.items():
        mask &= _matches(view[resolve_column(view, name)], value)
    return df[mask]


def compare(df: pd.DataFrame, a: dict, b: dict, metric: str = "epoch_acc100", conf: float = 0.95,
            diverged: str = "censor") -> pd.Series:
    """Compare the runs selected by ``a`` with those selected by ``b``: see ``results.compare.compare``
    (paired McNemar and sign tests where the design pairs runs by seed, else Fisher and log-rank)."""
    from results.comparison import compare as _compare  # it builds on this module
    return _compare(df, a, b, metric, conf, diverged)


# --- claims like "iteration 169 almost 100%" ----------------------------------------------

def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def _percent(x: float) -> int:
    """Whole percent, halves rounded up (Python's round() would send 0.5 to 0 but 1.5 to 2)."""
    return int(math.floor(100 * x + 0.5 + 1e-9))


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def claim(df: pd.DataFrame, metric: str, at, by=None, conf: float = 0.95,
          diverged: str = "censor") -> pd.DataFrame:
    """How typical is "``metric`` reached by epoch ``at``"? One row per group and value of ``at``.

    Columns: ``n``, ``n_converged``, ``p_by`` = KM ``P(T <= at)`` with ``p_by_lo``/``p_by_hi``;
    ``percentile`` = 100·``p_by``, the claim's percentile among all runs' convergence epochs
    (a run that never converges counts as converging after every epoch); ``share_of_converged``
    = empirical share of the converged runs that got there by ``at``; ``never_share`` = share of
    runs not converged within their ``epochs_run``; and a plain-language ``sentence``.
    """
    df = analysis_view(df)
    by = resolve_columns(df, by)
    metric = resolve_column(df, metric)
    ks = at_list(at)
    if not ks:
        raise AnalysisError("claim needs at least one epoch in 'at'")
    times, observed = censored_times(df, metric, diverged)
    run = df["epochs_run"].to_numpy(np.float64, na_value=np.nan)
    ci = f"{100 * conf:g}% CI"
    rows = []
    for key, idx in group_rows(df, by):
        t, o = times[idx], observed[idx]
        n, k = int(idx.size), int(o.sum())
        fit = stats.km_fit(t, o, conf)
        e_lo, e_hi = np.nanmin(run[idx]), np.nanmax(run[idx])
        within = f"{e_hi:.0f}" if e_lo == e_hi else f"their {e_lo:.0f}–{e_hi:.0f}"
        for at_k in ks:
            p, lo, hi = fit.prob_by(at_k)
            share_conv = float((t[o] <= at_k).mean()) if k else math.nan
            never = 1 - k / n
            head = f"With {group_label(by, key)}: " if by else "Over all runs: "
            if np.isfinite(p):
                among = f" ({ordinal(_percent(share_conv))} among the {k} that converge)" if k else ""
                sentence = (f"{head}{_pct(p)} ({ci} {_pct(lo)[:-1]}–{_pct(hi)}) of {n} runs reach {metric} "
                            f"by epoch {at_key(at_k)}; the claimed {at_key(at_k)} sits at the "
                            f"{ordinal(_percent(p))} percentile of convergence epochs{among}; "
                            f"{_pct(never)} never converge within {within} epochs.")
            else:  # at_k lies beyond every run's epochs_run: F(at_k) is not identified
                sentence = (f"{head}P({metric} by epoch {at_key(at_k)}) cannot be estimated: "
                            f"the {n} runs were observed for at most {e_hi:.0f} epochs.")
            row = dict(zip(by, key))
            row.update(at=at_k, n=n, n_converged=k, p_by=p, p_by_lo=lo, p_by_hi=hi, percentile=100 * p,
                       share_of_converged=share_conv, never_share=never, sentence=sentence)
            rows.append(row)
    out = _frame(rows, df, by)
    out.attrs.update(metric=metric, by=by, conf=conf)
    return out


# --- does an early milestone predict a later one? ---------------------------------------

def _edges(values: np.ndarray, bins) -> np.ndarray:
    if isinstance(bins, (int, np.integer)):
        if values.size == 0:
            return np.array([0.0, 1.0])
        edges = np.unique(np.floor(np.quantile(values, np.linspace(0, 1, int(bins) + 1))))
        edges[-1] = values.max() + 1  # bins are [lo, hi): make room for the largest value
        return np.unique(edges)
    edges = np.asarray(list(bins), dtype=np.float64)
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise AnalysisError(f"bins must be an int or increasing edges, got {bins!r}")
    return edges


def milestone_conditional(df: pd.DataFrame, given: str = "epoch_acc75", target: str = "epoch_acc100",
                          bins=10, at=(), conf: float = 0.95, diverged: str = "censor") -> pd.DataFrame:
    """Distribution of ``target`` among runs whose ``given`` milestone fell in each bin ``[lo, hi)``.

    bins: an int (that many equal-count bins of the observed ``given`` epochs) or increasing
    edges. Runs that never reached ``given`` are left out (their count is in
    ``attrs["n_given_censored"]``). Per bin: ``n``, ``n_target`` (reached ``target``),
    ``target_share``, KM quantiles of ``target`` (``km_p10``.. ``km_p90``, ``km_median`` with CI;
    a run that missed ``target`` is censored at its ``epochs_run``), ``lag_median`` (median of
    target - given among runs that reached both) and ``p_by_<k>`` = KM ``P(target <= k | bin)``.
    """
    given, target = resolve_column(df, given), resolve_column(df, target)
    g = df[given].to_numpy(np.float64, na_value=np.nan)
    has = ~np.isnan(g)
    times, observed = censored_times(df, target, diverged)
    edges = _edges(g[has], bins)
    which = np.searchsorted(edges, g, side="right") - 1
    rows = []
    for b in range(edges.size - 1):
        idx = np.flatnonzero(has & (which == b))
        t, o = times[idx], observed[idx]
        n, k = int(idx.size), int(o.sum())
        fit = stats.km_fit(t, o, conf)
        med = fit.quantile(0.5) if n else (math.nan,) * 3
        row = dict(given_lo=edges[b], given_hi=edges[b + 1], n=n, n_target=k,
                   target_share=k / n if n else math.nan,
                   km_median=med[0], km_median_lo=med[1], km_median_hi=med[2])
        row.update({name: fit.quantile(q)[0] if n else math.nan for name, q in QUANTILES.items()})
        row["lag_median"] = float(np.median(t[o] - g[idx][o])) if k else math.nan
        for kk in at_list(at):
            p, plo, phi = fit.prob_by(kk)
            row.update({f"p_by_{at_key(kk)}": p, f"p_by_{at_key(kk)}_lo": plo, f"p_by_{at_key(kk)}_hi": phi})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(given=given, target=target, n_given_censored=int((~has).sum()),
                     n_outside_bins=int((has & ((which < 0) | (which >= edges.size - 1))).sum()))
    return out


__all__ = ["AnalysisError", "ColumnError", "censored_times", "claim", "compare", "convergence",
           "group_label", "milestone_conditional", "ordinal", "select", "varying_columns"]
