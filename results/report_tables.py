"""The report's tables, formatted compactly: one cell per estimate with its interval.

- ``convergence_display``: per group, runs, share reached with its Wilson interval, the
  Kaplan-Meier median epoch with its interval, the KM p10-p90 range, ``P(by k)``, diverged;
- ``claims_display``: the claims "reached by epoch k" as one table (a row per group and k);
- ``comparisons``: neighbouring levels of the first group column compared within each
  setting of the others, with the tests used (paired by seed where the design pairs runs).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from results import analysis
from results.comparison import compare_frames
from results.paired import is_init_column
from results.styles import levels, pct, value_text


def epoch_text(v, horizon=None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):  # quantile not reached within the runs' epochs
        return f"> {horizon:,.0f}" if horizon is not None and np.isfinite(horizon) else "not reached"
    return f"{v:,.0f}"


def with_ci(value: str, lo: str, hi: str) -> str:
    return value if lo == hi == value else f"{value} [{lo}–{hi}]"


def span(lo: str, hi: str) -> str:
    return lo if lo == hi else f"{lo}–{hi}"


def p_text(p) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return f"{p:.1g}" if p < 0.001 else f"{p:.3f}"


def convergence_display(table: pd.DataFrame, at=()) -> pd.DataFrame:
    """The ``analysis.convergence`` table with one formatted cell per estimate."""
    by = table.attrs.get("by", [])
    ci = f"{table.attrs.get('conf', 0.95):.0%} CI"
    rows = []
    for _, r in table.iterrows():
        h = r["epochs_max"]
        ep = lambda v: epoch_text(v, h)  # noqa: E731
        row = {c: value_text(r[c]) for c in by}
        row.update({
            "runs": f"{int(r['n']):,}",
            f"reached [{ci}]": with_ci(pct(r["converged_share"]), pct(r["share_lo"]), pct(r["share_hi"])),
            f"KM median epoch [{ci}]": with_ci(ep(r["km_median"]), ep(r["km_median_lo"]), ep(r["km_median_hi"])),
            "KM p10–p90 epoch": span(ep(r["km_p10"]), ep(r["km_p90"])),
        })
        for k in at:
            key = f"p_by_{analysis.at_key(k)}"
            row[f"P(by {k}) [{ci}]"] = with_ci(pct(r[key]), pct(r[key + "_lo"]), pct(r[key + "_hi"]))
        row["diverged"] = f"{int(r['n_diverged']):,}"
        rows.append(row)
    return pd.DataFrame(rows)


def claims_display(table: pd.DataFrame) -> pd.DataFrame:
    """``analysis.claim`` as one table: a row per group and claimed epoch."""
    by = table.attrs.get("by", [])
    ci = f"{table.attrs.get('conf', 0.95):.0%} CI"
    rows = []
    for _, r in table.iterrows():
        row = {c: value_text(r[c]) for c in by}
        row.update({
            "claim: by epoch": f"{r['at']:,}", "runs": f"{int(r['n']):,}",
            f"P(reached by then) [{ci}]": with_ci(pct(r["p_by"]), pct(r["p_by_lo"]), pct(r["p_by_hi"])),
            "share of converged runs by then": pct(r["share_of_converged"]),
            "never reached": pct(r["never_share"]),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def comparisons(df: pd.DataFrame, by: list[str], metric: str, conf: float = 0.95,
                max_rows: int = 30) -> tuple[pd.DataFrame, list[str]]:
    """Neighbouring levels of one column of ``by`` within each setting of the others: the first
    column that does not change the initial weights (so seeds pair the runs), else ``by[0]``.
    Returns the table and the distinct test descriptions used (for the note under it)."""
    if not by:
        return pd.DataFrame(), []
    axis = next((c for c in by if not is_init_column(c)), by[0])
    others = [c for c in by if c != axis]
    order = levels(df[axis])
    if len(order) < 2:
        return pd.DataFrame(), []
    rows, tests = [], set()
    for key, idx in analysis.group_rows(df, others):
        sub = df.iloc[idx]
        for a, b in zip(order, order[1:]):
            da, db = sub[(sub[axis] == a).to_numpy(bool)], sub[(sub[axis] == b).to_numpy(bool)]
            if da.empty or db.empty:
                continue
            r = compare_frames(db, da, metric, conf)
            h = max(r["epochs_max_a"], r["epochs_max_b"])
            tests.add(f"{r['share_test']}; {r['time_test']}")
            rows.append({
                **{c: value_text(v) for c, v in zip(others, key)},
                axis.split(".")[-1]: f"{value_text(a)} → {value_text(b)}",
                "reached": f"{pct(r['share_b'])} → {pct(r['share_a'])}",
                "Δ reached [95% CI]": f"{100 * r['share_diff']:+.1f} [{100 * r['share_diff_lo']:+.1f}, "
                                       f"{100 * r['share_diff_hi']:+.1f}] pts",
                "p (reached)": p_text(r["share_pvalue"]),
                "KM median epoch": f"{epoch_text(r['km_median_b'], h)} → {epoch_text(r['km_median_a'], h)}",
                "p (epochs)": p_text(r["time_pvalue"]),
                "paired by seed": "yes" if r["paired"] else f"no: {r['pairing_short']}",
            })
            if len(rows) >= max_rows:
                break
        if len(rows) >= max_rows:
            break
    out = pd.DataFrame(rows)
    out.attrs["axis"] = axis
    return out, sorted(tests)
