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
    "fits_train_not_test": "results.held_out", "generalisation": "results.held_out",
    "held_out_convergence": "results.held_out", "value_summary": "results.held_out",
    "with_test_set": "results.held_out", "train_test_figure": "results.train_test_plot",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'results' has no attribute {name!r}")


def __dir__():
    return __all__
