"""Compare two sets of runs: converged shares and convergence epochs, paired where the design pairs them.

``compare_frames(da, db)`` is the one comparison: both counts and shares, the share
difference ``share_diff`` with an interval, both Kaplan-Meier medians, then

- paired (``results.paired.pair_runs``: same seed and setting, so the same initial weights):
  McNemar mid-p for the shares with Tango's score interval for their difference (its inverse:
  at a difference of 0 its statistic is McNemar's), and the censoring-aware paired sign test for
  the epochs with ``a_first_net`` = (A first - B first) / ordered pairs and the mid-p interval
  that inverts that test (``results.paired_intervals``);
- unpaired: Fisher's exact test for the shares with Newcombe's hybrid score interval, and the
  log-rank test for the epochs (``a_first_net`` is NaN).

Selections that pair on the seeds both have (different seed counts, e.g. neighbouring cells of a
sequential sweep) are compared on those common runs only: counts, shares, medians and tests alike.

``share_test`` / ``time_test`` / ``share_interval`` name the methods used and ``pairing`` says why.
Two selections that share runs (the same ``run_id``) are refused: overlapping samples are not
independent, and a run compared with itself is no evidence. The log-rank
test is always reported too (``logrank_*``). ``compare`` selects A and B in one table;
``compare_by`` compares two tables (two sweep directories) level by level of a column.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from results import paired, paired_intervals, stats
from results.analysis import AnalysisError, censored_times, group_label, group_rows, select
from results.reader import analysis_view, resolve_column, resolve_columns


def compare_frames(da: pd.DataFrame, db: pd.DataFrame, metric: str = "epoch_acc100", conf: float = 0.95,
                   diverged: str = "censor", label_a: str = "a", label_b: str = "b") -> pd.Series:
    """Compare the runs of ``da`` (A) with those of ``db`` (B); see the module docstring."""
    for name, part in ((label_a, da), (label_b, db)):
        if part.empty:
            raise AnalysisError(f"selection {name} matches no runs")
    da, db = analysis_view(da), analysis_view(db)
    metric = resolve_column(da, metric)
    if "run_id" in da and "run_id" in db:
        shared = len(set(da["run_id"].tolist()) & set(db["run_id"].tolist()))
        if shared:
            raise AnalysisError(f"{shared} runs are in both {label_a} and {label_b} (same run_id): "
                                "overlapping samples cannot be compared as independent")
    da, db = da.reset_index(drop=True), db.reset_index(drop=True)
    pairing = paired.pair_runs(da, db)
    if pairing.paired and (pairing.n_pairs < len(da) or pairing.n_pairs < len(db)):
        # paired on the common seeds: every figure of the row is of those runs, so they agree
        da, db = da.iloc[pairing.ia].reset_index(drop=True), db.iloc[pairing.ib].reset_index(drop=True)
        same = np.arange(pairing.n_pairs, dtype=np.int64)
        pairing = dataclasses.replace(pairing, ia=same, ib=same)
    ta, oa = censored_times(da, metric, diverged)
    tb, ob = censored_times(db, metric, diverged)
    ka, kb = int(oa.sum()), int(ob.sum())
    d, dlo, dhi = stats.newcombe_interval(ka, len(da), kb, len(db), conf)
    share_interval, net = "Newcombe hybrid score (unpaired)", (math.nan,) * 3
    lr = stats.logrank(ta, oa, tb, ob)
    if pairing.paired:
        ia, ib = pairing.ia, pairing.ib
        share = paired.mcnemar(oa[ia], ob[ib])
        time = paired.paired_sign_test(ta[ia], oa[ia], tb[ib], ob[ib])
        share_test, share_p, time_test, time_p = share.name, share.pvalue, time.name, time.pvalue
        d, dlo, dhi = paired_intervals.tango_interval(share.a_only, share.b_only, pairing.n_pairs, conf)
        share_interval = "Tango score (paired)"
        net = paired_intervals.net_first_interval(time.a_only, time.b_only, conf)
        extra = dict(only_a_converged=share.a_only, only_b_converged=share.b_only,
                     a_first=time.a_only, b_first=time.b_only, no_order=time.concordant)
    else:
        share_test = "Fisher exact (unpaired)"
        share_p = float(sps.fisher_exact([[ka, len(da) - ka], [kb, len(db) - kb]]).pvalue)
        time_test, time_p, extra = "log-rank (unpaired)", lr.pvalue, {}
    return pd.Series(dict(
        metric=metric, a=label_a, b=label_b, n_a=len(da), n_b=len(db), converged_a=ka, converged_b=kb,
        share_a=ka / len(da), share_b=kb / len(db), share_diff=d, share_diff_lo=dlo, share_diff_hi=dhi,
        share_interval=share_interval, a_first_net=net[0], a_first_net_lo=net[1], a_first_net_hi=net[2],
        km_median_a=stats.km_fit(ta, oa, conf).quantile(0.5)[0],
        km_median_b=stats.km_fit(tb, ob, conf).quantile(0.5)[0],
        epochs_max_a=float(ta.max()), epochs_max_b=float(tb.max()),
        paired=pairing.paired, pairing=pairing.reason, pairing_short=pairing.short, n_pairs=pairing.n_pairs,
        share_test=share_test, share_pvalue=share_p, time_test=time_test, time_pvalue=time_p,
        logrank_statistic=lr.statistic, logrank_pvalue=lr.pvalue, **extra))


def compare(df: pd.DataFrame, a: dict, b: dict, metric: str = "epoch_acc100", conf: float = 0.95,
            diverged: str = "censor") -> pd.Series:
    """Compare the runs selected by ``a`` with those selected by ``b`` (e.g. ``{"lr": 0.5}``).

    Runs with the same seed that differ only in non-init settings (lr, loss, optimizer, ...)
    are compared paired (McNemar, paired sign test); otherwise unpaired (Fisher, log-rank).
    """
    da, db = select(df, a), select(df, b)
    for name, part, spec in (("a", da, a), ("b", db, b)):
        if part.empty:
            raise AnalysisError(f"selection {name}={spec!r} matches no runs")
    return compare_frames(da, db, metric, conf, diverged,
                          group_label(list(a), tuple(a.values())), group_label(list(b), tuple(b.values())))


def compare_by(df_a: pd.DataFrame, df_b: pd.DataFrame, by, metric: str = "epoch_acc100",
               conf: float = 0.95, diverged: str = "censor") -> pd.DataFrame:
    """``compare_frames`` of two run tables (e.g. two sweep directories) per level of ``by``.

    Levels present in only one table are skipped (``attrs["skipped"]`` lists them).
    """
    df_a, df_b = analysis_view(df_a), analysis_view(df_b)
    by_a, by_b = resolve_columns(df_a, by), resolve_columns(df_b, by)
    if by_a != by_b:
        raise AnalysisError(f"--by resolves differently in the two sweeps: {by_a} vs {by_b}")
    groups_b = {tuple(map(str, k)): idx for k, idx in group_rows(df_b, by_b)}
    rows, skipped = [], []
    for key, idx in group_rows(df_a, by_a):
        other = groups_b.pop(tuple(map(str, key)), None)
        if other is None:
            skipped.append(group_label(by_a, key))
            continue
        r = compare_frames(df_a.iloc[idx], df_b.iloc[other], metric, conf, diverged, "A", "B")
        rows.append({**dict(zip(by_a, key)), **r.to_dict()})
    skipped += [", ".join(k) for k in groups_b]
    out = pd.DataFrame(rows)
    out.attrs.update(by=by_a, metric=resolve_column(df_a, metric), skipped=skipped)
    return out


__all__ = ["compare", "compare_by", "compare_frames"]
