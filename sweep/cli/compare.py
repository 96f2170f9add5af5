"""``sweep compare DIR_A DIR_B --by KEY``: two sweeps' convergence, level by level of KEY.

For each level present in both: runs, converged shares, their difference with a 95% interval
(Newcombe), Kaplan-Meier medians, and a test for the shares and one for the epochs: paired
(McNemar mid-p; censoring-aware paired sign test) where the runs pair by seed and setting
(same initial weights), else unpaired (Fisher exact; log-rank). The footer names the tests.
"""
from __future__ import annotations

import math

import pandas as pd

from sweep.errors import OutputError


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare two sweep directories' convergence by a column",
                       description="Converged shares and Kaplan-Meier median epochs of DIR_A vs DIR_B per "
                                   "level of --by, with paired tests where the runs pair by seed.")
    p.add_argument("dir_a", help="first sweep directory (A)")
    p.add_argument("dir_b", help="second sweep directory (B)")
    p.add_argument("--by", required=True, help="comma-separated columns to compare level by level (short names work)")
    p.add_argument("--metric", help="milestone column (default: A's main criterion, else convergence_epoch)")
    p.set_defaults(func=run)


def _metric(df) -> str:
    from results.schema import MILESTONE_COLUMNS
    main = df.attrs.get("manifest", {}).get("main_criterion")
    return MILESTONE_COLUMNS.get(main, "convergence_epoch") if main else "convergence_epoch"


def _epoch(v, horizon) -> str:
    return "-" if v != v else (f"> {horizon:.0f}" if math.isinf(v) else f"{v:.0f}")


def _p(v) -> str:
    return "-" if v != v else (f"{v:.2g}" if v < 0.001 else f"{v:.3f}")


def run(args) -> int:
    from results.comparison import compare_by
    from results.reader import load, resolve_columns

    a, b = load(args.dir_a), load(args.dir_b)
    for d, df in ((args.dir_a, a), (args.dir_b, b)):
        if df.empty:
            raise OutputError(f"{d}: the Parquet parts hold no runs")
    by = [c.strip() for c in args.by.split(",") if c.strip()]
    resolve_columns(b, by)  # a typo in B's terms gets its own "did you mean"
    metric = args.metric or _metric(a)
    t = compare_by(a, b, by, metric)
    print(f"A = {args.dir_a} ({len(a)} runs), B = {args.dir_b} ({len(b)} runs); milestone {t.attrs['metric']}")
    if t.empty:
        print("no level of " + ", ".join(t.attrs["by"]) + " is in both sweeps")
        return 0
    show = pd.DataFrame({c: t[c].astype(str) for c in t.attrs["by"]})
    show["n A/B"] = [f"{x}/{y}" for x, y in zip(t["n_a"], t["n_b"])]
    show["converged A"] = [f"{100 * v:.1f}%" for v in t["share_a"]]
    show["converged B"] = [f"{100 * v:.1f}%" for v in t["share_b"]]
    show["A-B [95% CI]"] = [f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
                            for d, lo, hi in zip(t["share_diff"], t["share_diff_lo"], t["share_diff_hi"])]
    show["p (shares)"] = t["share_pvalue"].map(_p)
    show["KM median epoch A"] = [_epoch(v, h) for v, h in zip(t["km_median_a"], t["epochs_max_a"])]
    show["KM median epoch B"] = [_epoch(v, h) for v, h in zip(t["km_median_b"], t["epochs_max_b"])]
    show["p (epochs)"] = t["time_pvalue"].map(_p)
    show["paired"] = ["yes" if v else "no" for v in t["paired"]]
    with pd.option_context("display.width", 250, "display.max_columns", 50, "display.max_rows", 500):
        print(show.to_string(index=False))
    tests = sorted({f"{s}; {e}" for s, e in zip(t["share_test"], t["time_test"])})
    print("tests: " + " | ".join(tests))
    reasons = sorted(set(t["pairing"]))
    print("pairing: " + " | ".join(reasons))
    if t.attrs["skipped"]:
        print("only in one sweep (skipped): " + ", ".join(t.attrs["skipped"]))
    return 0
