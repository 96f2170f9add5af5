"""``sweep compare DIR_A DIR_B --by KEY``: two sweeps' convergence, level by level of KEY.

For each level present in both: runs, converged shares, their difference with a 95% interval
(Newcombe), Kaplan-Meier medians, and a test for the shares and one for the epochs: paired
(McNemar mid-p; censoring-aware paired sign test) where the runs pair by seed and setting
(same initial weights), else unpaired (Fisher exact; log-rank). The footer names the tests.

Before comparing it refuses what would mislead (``results.dir_compare``): runs in both
directories (``--drop-shared`` leaves them out of B), more than one differing setting besides
``--by`` (``--allow-different KEY,...`` accepts the named ones); different epoch budgets are
compared at the smaller one; pooled axes are named. ``--json`` / ``--csv`` print the full table.
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
    p.add_argument("--allow-different", default="", metavar="KEY,...",
                   help="settings that may differ between A and B besides the one compared")
    p.add_argument("--drop-shared", action="store_true",
                   help="leave out of B the runs that are also in A (same run_id) instead of refusing")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the table and the checks' notes as JSON")
    fmt.add_argument("--csv", action="store_true", help="print the table as CSV (the notes as # lines first)")
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
    from results.dir_compare import compare_sweeps
    from results.reader import load

    a, b = load(args.dir_a), load(args.dir_b)
    for d, df in ((args.dir_a, a), (args.dir_b, b)):
        if df.empty:
            raise OutputError(f"{d}: the Parquet parts hold no runs")
    by = [c.strip() for c in args.by.split(",") if c.strip()]
    allow = [c.strip() for c in args.allow_different.split(",") if c.strip()]
    metric = args.metric or _metric(a)
    res = compare_sweeps(a, b, by, metric, allow=allow, drop_shared=args.drop_shared)
    t = res.table
    if args.json or args.csv:
        return _machine(args, a, b, res)
    print(f"A = {args.dir_a} ({len(a)} runs), B = {args.dir_b} ({len(b)} runs); milestone {t.attrs['metric']}")
    for note in res.notes():
        print(note)
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
    show["A first - B first [95% CI]"] = [
        "-" if d != d else f"{100 * d:+.0f} [{100 * lo:+.0f}, {100 * hi:+.0f}]"
        for d, lo, hi in zip(t["a_first_net"], t["a_first_net_lo"], t["a_first_net_hi"])]
    show["p (epochs)"] = t["time_pvalue"].map(_p)
    show["paired"] = ["yes" if v else "no" for v in t["paired"]]
    with pd.option_context("display.width", 250, "display.max_columns", 50, "display.max_rows", 500):
        print(show.to_string(index=False))
    tests = sorted({f"{s}; {e}" for s, e in zip(t["share_test"], t["time_test"])})
    print("tests: " + " | ".join(tests))
    print("intervals: " + " | ".join(sorted(set(t["share_interval"]))) + " for A-B (percentage points)"
          + ("; A first - B first: points of the pairs whose order is known, mid-p interval of the sign test"
             if t["paired"].any() else ""))
    reasons = sorted(set(t["pairing"]))
    print("pairing: " + " | ".join(reasons))
    if t.attrs["skipped"]:
        print("only in one sweep (skipped): " + ", ".join(t.attrs["skipped"]))
    return 0


def _machine(args, a, b, res) -> int:
    import json
    import sys

    t = res.table
    if args.csv:
        for note in res.notes():
            print(f"# {note}")
        t.to_csv(sys.stdout, index=False)
        return 0
    doc = {"a": str(args.dir_a), "b": str(args.dir_b), "runs_a": len(a), "runs_b": len(b),
           "metric": t.attrs.get("metric"), "by": t.attrs.get("by"), "notes": res.notes(),
           "horizon": res.horizon, "shared_runs": res.shared, "compared": res.compared,
           "allowed_different": res.allowed, "pooled": list(res.pooled),
           "skipped": t.attrs.get("skipped", []), "rows": json.loads(t.to_json(orient="records"))}
    print(json.dumps(doc, indent=1))
    return 0
