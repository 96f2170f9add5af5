"""Parquet schema, writer and reader, analysis, statistics, plots and reports.

The analysis API for pandas::

    import results
    df = results.load("runs/xor-169", filters=[("train.lr", "==", 0.5)])
    results.convergence(df, by=["lr", "hidden"], metric="epoch_acc100", at=[169])
"""
from results.analysis import claim, compare, convergence, milestone_conditional, select
from results.reader import load, load_curves, read_manifest, resolve_column
from results.report import write_report

__all__ = [
    "claim", "compare", "convergence", "load", "load_curves", "milestone_conditional",
    "read_manifest", "resolve_column", "select", "write_report",
]
