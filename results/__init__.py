"""Parquet schema, writer and reader, analysis, statistics, plots and reports.

The analysis API for pandas::

    import results
    df = results.load("runs/xor-169", filters=[("train.lr", "==", 0.5)])
    results.convergence(df, by=["lr", "hidden"], metric="epoch_acc100", at=[169])

Names load lazily, so ``sweep run`` (which needs only the schema and writer) does not pay
for importing scipy and matplotlib.
"""
from importlib import import_module

_EXPORTS = {
    "claim": "results.analysis", "compare": "results.comparison", "compare_by": "results.comparison", "convergence": "results.analysis",
    "milestone_conditional": "results.analysis", "select": "results.analysis",
    "load": "results.reader", "load_curves": "results.reader", "read_manifest": "results.reader",
    "resolve_column": "results.reader", "write_report": "results.report",
    "compare_rules": "results.rules", "survival": "results.views", "swept": "results.views",
    "analysis_view": "results.reader",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'results' has no attribute {name!r}")


def __dir__():
    return __all__
