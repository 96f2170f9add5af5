"""Training rules side by side: a sweep whose ``train.optimizer`` takes several values.

A *rule* is one value of ``train.optimizer`` (sgd, momentum, adam, and rprop or quickprop where
the kernels have them). A rule's *setting* is the combination of the other ``train.*`` columns
that vary in the sweep (``train.lr``, ``train.momentum``, ``train.rprop_variant`` ...; a column
that does not apply to a rule is null there and left out of its label). The *context* is what
the rules are compared on: by default the varying ``task.*``, ``model.*``, ``init.*`` and
``criteria.*`` columns (the problem, the architecture, the initial range).

``compare_rules`` gives one row per (context, rule, setting) with the censoring-aware statistics
of ``results.analysis.convergence`` plus:

- ``restart_mean``: expected epochs to a success when a run that has not converged by the budget
  ``c`` is restarted with a fresh seed (Fahlman's 1988 accounting): with ``F`` the KM estimate of
  ``P(T <= t)`` and ``S = 1 - F``, ``E = (∫_0^c S(t) dt) / F(c)``. For integer epochs
  ``∫_0^c S dt = E[min(T, c)]``: every attempt costs ``min(T, c)``, and ``1 / F(c)`` attempts are
  needed on average. ``inf`` when no run converged.
- ``best``: per (context, rule), the setting with the smallest KM median (ties and medians that
  are not reached: larger converged share, then smaller ``restart_mean``). Choosing the best
  setting on the same runs flatters every rule a little (selection bias), as it did in the papers
  that tuned each rule by hand; with thousands of seeds per setting the effect is small.
- for the best rows: ``vs`` (the context's fastest rule), ``share_diff`` to it with Newcombe's
  interval, and ``logrank_p``, the log-rank test of equal convergence-time distributions.

``rule_curves`` draws the Kaplan-Meier curves of each rule at its best setting, one panel per
context; ``report_blocks`` is the section ``results.report`` adds when ``train.optimizer`` varies.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from results import stats
from results.analysis import censored_times, convergence, format_value, group_rows
from results.reader import analysis_view, resolve_column, resolve_columns

RULE = "train.optimizer"
CONTEXT_SECTIONS = ("task.", "model.", "init.", "criteria.")


def _varying(df: pd.DataFrame, prefixes) -> list[str]:
    return [c for c in df.columns if isinstance(c, str) and c.startswith(tuple(prefixes))
            and df[c].nunique(dropna=False) > 1]


def rule_varies(df: pd.DataFrame, rule: str = RULE) -> bool:
    """True when ``df`` holds runs of more than one training rule."""
    return rule in df and df[rule].nunique(dropna=True) > 1


def rule_first(df: pd.DataFrame, by: list[str]) -> list[str]:
    """``by`` led by ``train.optimizer`` when the rule varies (the report's table and panels then go
    per rule). The rule is added when ``by`` names only its parameters (``train.momentum`` is null for
    every rule but momentum, so automatic grouping may pick it instead of the rule)."""
    if not rule_varies(df):
        return list(by)
    return [RULE] + [c for c in by if c != RULE]


def setting_columns(df: pd.DataFrame, rule: str = RULE) -> list[str]:
    """The ``train.*`` columns other than the rule that vary across ``df`` (its rules' settings)."""
    return [c for c in _varying(df, ("train.",)) if c != rule]


def context_columns(df: pd.DataFrame) -> list[str]:
    """The varying ``task.*``, ``model.*``, ``init.*`` and ``criteria.*`` columns."""
    return _varying(df, CONTEXT_SECTIONS)


def setting_label(row, columns) -> str:
    """``"lr=0.5, momentum=0.9"`` from a row's non-null ``columns`` (``"default"`` if none)."""
    parts = [f"{c.split('.', 1)[1]}={format_value(row[c])}" for c in columns if not _null(row[c])]
    return ", ".join(parts) or "default"


def label_columns(df: pd.DataFrame, value, settings: list[str], rule: str = RULE) -> list[str]:
    """The setting columns worth naming for rule ``value``: those that vary among its runs, and ``train.lr``."""
    part = df[df[rule].astype(object) == value]
    return [c for c in settings if c == "train.lr" or part[c].nunique(dropna=False) > 1]


def restart_mean(fit: stats.KMFit, budget: float) -> float:
    """Expected epochs to a success with restarts at ``budget``: ``∫_0^budget S(t) dt / F(budget)``."""
    if fit.n == 0 or fit.n_events == 0:
        return math.inf
    # S is a right-continuous step function: 1 before time[0], 1 - cdf[i] on [time[i], time[i+1])
    edges = np.concatenate([[0.0], np.clip(fit.time, 0.0, budget), [budget]])
    surv = np.concatenate([[1.0], 1.0 - fit.cdf])
    area = float(np.sum(np.diff(edges) * surv))
    i = int(np.searchsorted(fit.time, budget, side="right")) - 1
    f_budget = float(fit.cdf[i]) if i >= 0 else 0.0
    return area / f_budget if f_budget > 0 else math.inf


def compare_rules(df: pd.DataFrame, metric: str = "epoch_acc100", by=None, at=(), conf: float = 0.95,
                  diverged: str = "censor", rule: str = RULE) -> pd.DataFrame:
    """One row per (context ``by``, rule, setting); see the module docstring for the columns.

    by: context columns (short names allowed; default ``context_columns(df)``); rule: the column
    whose values are the rules (default ``train.optimizer``; a derived column such as
    "optimizer + variant" works too). Sorted by context, then rule, then KM median.
    ``attrs``: ``by``, ``settings``, ``metric``, ``conf``, ``rule``.
    """
    if rule not in df:
        raise KeyError(f"no column {rule!r}: these runs do not record their training rule")
    df = analysis_view(df)
    metric = resolve_column(df, metric)
    by = context_columns(df) if by is None else resolve_columns(df, by)
    settings = setting_columns(df, rule)
    table = convergence(df, by + [rule] + settings, metric, at=at, conf=conf, diverged=diverged)
    times, observed = censored_times(df, metric, diverged)
    budget_col = df["train.epochs"] if "train.epochs" in df else df["epochs_run"]
    extra, named_by_rule = [], {}
    groups = group_rows(df, by + [rule] + settings)
    for (key, idx), (_, row) in zip(groups, table.iterrows()):
        fit = stats.km_fit(times[idx], observed[idx], conf)
        budget = float(np.nanmax(budget_col.to_numpy(np.float64, na_value=np.nan)[idx]))
        if row[rule] not in named_by_rule:
            named_by_rule[row[rule]] = label_columns(df, row[rule], settings, rule)
        named = named_by_rule[row[rule]]
        extra.append(dict(rule=str(row[rule]), setting=setting_label(row, named),
                          restart_mean=restart_mean(fit, budget), _idx=idx))
    table = pd.concat([table.drop(columns=["rule"], errors="ignore"), pd.DataFrame(extra, index=table.index)], axis=1)
    table["_rank_median"] = table["km_median"].astype(float)
    table["_rank_share"] = -table["converged_share"].astype(float)
    order = by + ["rule", "_rank_median", "_rank_share", "restart_mean"]
    table = table.sort_values(order, kind="stable").reset_index(drop=True)
    keys = by + ["rule"]
    table["best"] = ~table.duplicated(keys, keep="first") if keys else False
    table = _against_fastest(table, by, times, observed, conf)
    out = table.drop(columns=["_rank_median", "_rank_share", "_idx"])
    out.attrs.update(by=by, settings=settings, metric=metric, conf=conf, rule=rule)
    return out


def _against_fastest(table: pd.DataFrame, by, times, observed, conf) -> pd.DataFrame:
    """Best row of each rule vs the context's fastest best row: share difference and log-rank p."""
    table = table.assign(vs=None, share_diff=np.nan, share_diff_lo=np.nan, share_diff_hi=np.nan, logrank_p=np.nan)
    best = table[table["best"]]
    contexts = best.groupby(by, dropna=False, sort=False) if by else [((), best)]
    for _, rows in contexts:
        ref = rows.sort_values(["_rank_median", "_rank_share", "restart_mean"], kind="stable").iloc[0]
        ri = ref["_idx"]
        for i, r in rows.iterrows():
            if i == ref.name:
                continue
            ix = r["_idx"]
            d, lo, hi = stats.newcombe_interval(int(r["n_converged"]), int(r["n"]),
                                                int(ref["n_converged"]), int(ref["n"]), conf)
            lr = stats.logrank(times[ix], observed[ix], times[ri], observed[ri])
            table.loc[i, ["vs", "share_diff", "share_diff_lo", "share_diff_hi", "logrank_p"]] = \
                [f"{ref['rule']} ({ref['setting']})", d, lo, hi, lr.pvalue]
    return table


def best_settings(table: pd.DataFrame) -> pd.DataFrame:
    """The ``best`` rows of a ``compare_rules`` table."""
    out = table[table["best"]].reset_index(drop=True)
    out.attrs.update(table.attrs)
    return out


def rule_curves(df: pd.DataFrame, table: pd.DataFrame, at=(), conf: float = 0.95, max_panels: int = 9,
                max_lines: int = 6):
    """Kaplan-Meier curves of each rule at its best setting: one row of panels per context of
    ``table`` (up to ``max_panels`` contexts), the rules split over as many columns as keep each
    panel to ``max_lines`` lines (in the table's rule order, so a column holds the same rules in
    every row), each panel's legend outside it on the right."""
    from results import plots

    by, metric = table.attrs["by"], table.attrs["metric"]
    best = best_settings(table)
    contexts = list(best.groupby(by, dropna=False, sort=False)) if by else [((), best)]
    contexts = contexts[:max_panels]
    columns = _rule_columns(list(dict.fromkeys(best["rule"])), max_lines)
    cols = len(columns)
    fig, axes = plots.plt.subplots(len(contexts), cols, figsize=(8.6 * cols, 3.4 * len(contexts)),
                                   layout="constrained", squeeze=False, sharey=True)
    for (key, part), row in zip(contexts, axes):
        title = ", ".join(f"{c}={format_value(v)}" for c, v in zip(by, key if isinstance(key, tuple) else (key,)))
        for names, ax in zip(columns, row):
            labels = pd.Series(index=df.index, dtype=object)
            for _, r in part[part["rule"].isin(names)].iterrows():
                sel = df.index[_positions(df, by, r, table.attrs["rule"], table.attrs["settings"])]
                labels.loc[sel] = f"{r['rule']} ({r['setting']})"
            sub = df.loc[labels.notna()].assign(rule=labels[labels.notna()].astype(str))
            plots.km_curves(sub, ["rule"], metric, ax=ax, at=at, conf=conf,
                            title=title or f"Each rule at its best setting ({conf:.0%} band)")
            ax.set_ylabel(f"reached {metric} (KM)")
    if len(contexts) > 1 or cols > 1:
        fig.suptitle(f"Each training rule at its best setting: share of runs that reached {metric} "
                     f"({conf:.0%} band)")
    return fig


def _family(rule: str) -> str:
    """The rule's family for the figure's columns: its first word, ``irprop`` counted as ``rprop``."""
    word = re.match(r"[A-Za-z]*", str(rule)).group(0).lower()
    return word[1:] if word.startswith("irprop") else word


def _rule_columns(rules: list, max_lines: int) -> list[list]:
    """``rules`` packed into columns of at most ``max_lines``, a family (``_family``) kept in one
    column where it fits (first fit, in first-seen order)."""
    families: dict[str, list] = {}
    for r in rules:
        families.setdefault(_family(r), []).append(r)
    columns: list[list] = []
    for members in families.values():
        for i in range(0, len(members), max_lines):
            chunk = members[i:i + max_lines]
            room = [c for c in columns if len(c) + len(chunk) <= max_lines]
            if room:        # first fit
                room[0].extend(chunk)
            else:
                columns.append(list(chunk))
    return columns or [[]]


def _positions(df: pd.DataFrame, by, row, rule: str, settings) -> np.ndarray:
    """Boolean mask of the runs of one (context, rule, setting) row."""
    mask = np.array(df[rule].astype(object).eq(row["rule"]), dtype=bool)
    for c in by + list(settings):
        v = row[c]
        col = df[c].astype(object)
        hit = col.isna() if _null(v) else col.eq(v).fillna(False)
        mask = mask & np.array(hit, dtype=bool)
    return mask


def _null(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def display(table: pd.DataFrame, epochs_fmt=lambda v: "> budget" if math.isinf(v) else f"{v:.0f}") -> pd.DataFrame:
    """The best rows of a ``compare_rules`` table as text cells, for the report."""
    by = table.attrs["by"]
    rows = []
    for _, r in best_settings(table).iterrows():
        row = {c: format_value(r[c]) for c in by}
        row.update({
            "rule": r["rule"], "best setting": r["setting"], "n": f"{int(r['n'])}",
            "converged": f"{100 * r['converged_share']:.1f}% ({100 * r['share_lo']:.1f}–{100 * r['share_hi']:.1f}%)",
            "KM median": f"{epochs_fmt(r['km_median'])} ({epochs_fmt(r['km_median_lo'])}–{epochs_fmt(r['km_median_hi'])})",
            "epochs with restarts": epochs_fmt(r["restart_mean"]),
            "vs fastest": "fastest" if r["vs"] is None else
            f"{100 * r['share_diff']:+.1f}% share, log-rank p={r['logrank_p']:.2g}",
        })
        rows.append(row)
    return pd.DataFrame(rows)


def report_blocks(df: pd.DataFrame, metric: str, at=(), conf: float = 0.95) -> list[tuple]:
    """The report's "Training rules" section (empty when only one rule was run)."""
    if not rule_varies(df):
        return []
    table = compare_rules(df, metric, at=at, conf=conf)
    note = (f"Each rule at its best setting among the {len(table)} swept (settings: "
            f"{', '.join(table.attrs['settings']) or 'none'}; contexts: {', '.join(table.attrs['by']) or 'all runs'}), "
            "the best being the smallest Kaplan–Meier median. 'epochs with restarts' is the expected number of "
            "epochs to a success when a run that has not converged by train.epochs is restarted with a new seed. "
            "'vs fastest' compares each rule with the fastest rule of its context: difference of converged "
            "shares and the log-rank p-value.")
    return [("h2", "Training rules"), ("p", note), ("table", display(table)),
            ("img", "rules_km.png", rule_curves(df, table, at=at, conf=conf), "Kaplan-Meier curves per training rule")]


__all__ = ["RULE", "best_settings", "rule_first", "compare_rules", "context_columns", "display", "report_blocks",
           "restart_mean", "rule_curves", "rule_varies", "setting_columns", "setting_label"]
