"""``sweep report DIR`` (HTML + Markdown report) and ``sweep claim DIR`` (how typical is a claim).

``--by`` takes comma-separated columns (short names like ``lr,hidden`` work); without it both
commands group by the config columns that vary in the sweep (at most three), and
``--by all`` pools every run.
"""
from __future__ import annotations

import argparse

import pandas as pd

from sweep.errors import OutputError
from sweep.run.checks import epoch_number


def _by(text: str | None):
    if text is None:
        return None  # automatic: the varying config columns
    if text.strip().lower() in ("", "all", "none"):
        return []
    return [c.strip() for c in text.split(",") if c.strip()]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write an HTML report (figures embedded) and a Markdown twin of a sweep",
        description="Convergence table, Kaplan-Meier curves, heatmap, histograms and claims for one sweep directory.")
    p.add_argument("dir", help="sweep output directory (holds part-*.parquet)")
    p.add_argument("--by", help="comma-separated group columns (default: the varying config columns; 'all' pools)")
    p.add_argument("--out", help="HTML file to write (default: DIR.sweep/report/report.html, or DIR/_report/ for a directory written before; the .md goes beside it)")
    p.add_argument("--metric", help="milestone column, e.g. epoch_acc100 or acc100 (default: the main criterion)")
    p.add_argument("--at", type=epoch_number, nargs="+", default=[], metavar="K",
                   help="epochs for the P(converged by K) columns and claims (default: none; a claim is yours to name)")
    p.set_defaults(func=run_report)

    c = subparsers.add_parser(
        "claim", help="how typical is 'METRIC reached by epoch K'? (Kaplan-Meier, censoring-aware)",
        description="For each group: P(metric <= K) with its CI, K's percentile among runs, and a sentence.")
    c.add_argument("dir", help="sweep output directory (holds part-*.parquet)")
    c.add_argument("--metric", default="epoch_acc100", help="milestone column (default: epoch_acc100)")
    c.add_argument("--at", type=epoch_number, nargs="+", required=True, metavar="K", help="claimed epoch(s)")
    c.add_argument("--by", help="comma-separated group columns (default: the varying config columns; 'all' pools)")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the claim table and how the sweep was run as JSON")
    fmt.add_argument("--csv", action="store_true", help="print the claim table as CSV")
    c.set_defaults(func=run_claim)


def run_report(args: argparse.Namespace) -> int:
    from results.report import write_report  # matplotlib loads only for this command

    html_path, md_path = write_report(args.dir, by=_by(args.by), out=args.out, metric=args.metric, at=args.at)
    print(html_path)
    print(md_path)
    return 0


def run_claim(args: argparse.Namespace) -> int:
    from results.analysis import claim, convergence, varying_columns
    from results.reader import analysis_view, load, warn_skipped
    from results.rules import rule_first
    from results.report_tables import claims_display, epoch_text

    df = analysis_view(load(args.dir))
    warn_skipped(df)
    if df.empty:
        raise OutputError(f"{args.dir}: the Parquet parts hold no runs")
    by = _by(args.by)
    by = rule_first(df, varying_columns(df)) if by is None else by
    table = claim(df, args.metric, args.at, by=by)
    if args.json or args.csv:
        return _claim_machine(args, df, table)
    show = claims_display(table)
    # the same Kaplan-Meier median as the run summary and the report, one per group
    med = convergence(df, by=table.attrs["by"], metric=table.attrs["metric"])
    per_group = {tuple(map(str, r[table.attrs["by"]])): epoch_text(r["km_median"], r["epochs_max"])
                 for _, r in med.iterrows()}
    show["KM median epoch"] = [per_group[tuple(map(str, r[table.attrs["by"]]))] for _, r in table.iterrows()]
    with pd.option_context("display.width", 250, "display.max_columns", 50, "display.max_rows", 500):
        print(show.to_string(index=False))
    print(f"\nP: Kaplan-Meier probability that {table.attrs['metric']} is reached by the claimed epoch "
          "(also the claim's percentile among all runs, never-converging runs counting as later than every "
          "epoch); KM median epoch: censoring-aware, as in the run summary and the report.")
    section = df.attrs.get("manifest", {}).get("sequential")
    if isinstance(section, dict):  # sequential seeds: how each cell stopped
        from results.sequential_report import stopping_summary, stopping_table
        print()
        print(stopping_summary(section))
        with pd.option_context("display.width", 200, "display.max_colwidth", 80, "display.max_rows", 500):
            print(stopping_table(section).to_string(index=False))
    return 0


def _claim_machine(args, df, table) -> int:
    import json
    import sys

    from results.run_facts import how_run

    if args.csv:
        table.to_csv(sys.stdout, index=False)
        return 0
    doc = {"dir": str(args.dir), "metric": table.attrs["metric"], "by": table.attrs["by"],
           "conf": table.attrs["conf"], "how_run": how_run(df), "rows": json.loads(table.to_json(orient="records"))}
    print(json.dumps(doc, indent=1))
    return 0
