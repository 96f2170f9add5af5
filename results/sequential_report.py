"""How each cell of a sequential sweep stopped, from the manifest's ``"sequential"`` section
(written by ``sweep.run.sequential``): a table for ``sweep report`` and ``sweep claim``."""
from __future__ import annotations

import math

import pandas as pd


def _fmt(v, share: bool) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.2f}%" if share else f"{v:g}"


def stopping_table(section: dict) -> pd.DataFrame:
    """One row per cell: runs used, the rule's statistic with its interval and half-width, how it stopped."""
    rule = section.get("rule", {})
    share = rule.get("kind") == "share"
    rows = []
    for c in section.get("cells", []):
        how = {"resolved": "resolved", "max": f"hit max ({rule.get('max')})"}.get(c["status"], "not finished")
        rows.append({"cell": c["cell"], "runs": c["runs"], "estimate": _fmt(c["estimate"], share),
                     "interval": f"{_fmt(c['lo'], share)} – {_fmt(c['hi'], share)}",
                     "half-width": _fmt(c["halfwidth"], share), "stopped": how})
    return pd.DataFrame(rows, columns=["cell", "runs", "estimate", "interval", "half-width", "stopped"])


def target_text(rule: dict) -> str:
    """The half-width the run stopped at, in the table's units, from the manifest's rule (the grid
    file's description may quote another: an override such as ``sweep.resolve.halfwidth=0.03``)."""
    target = rule.get("target")
    if not isinstance(target, (int, float)):
        return ""
    if rule.get("kind") == "share":
        return f"Target half-width: ±{100 * target:g} percentage points (halfwidth = {target:g}). "
    return f"Target half-width: ±{target:g} epochs. "


def stopping_summary(section: dict) -> str:
    """The rule, the half-width it used, and how many cells resolved or hit max with how many runs."""
    return (f"{section.get('description', 'sequential seeds')}. {target_text(section.get('rule', {}))}"
            f"{section.get('n_resolved', 0)} of "
            f"{section.get('n_cells', 0)} cells resolved, {section.get('n_max', 0)} hit max, "
            f"{section.get('runs_used', 0):,} runs used (status: {section.get('status', '?')}). "
            "Intervals: exact (Clopper-Pearson) for shares, Kaplan-Meier for medians; their coverage "
            "under this stopping rule is in docs/sequential.md.")


def stopping_blocks(manifest: dict) -> list[tuple]:
    """Report blocks (see ``results.report``) for a sequential sweep; [] for a fixed one."""
    section = manifest.get("sequential")
    if not isinstance(section, dict):
        return []
    return [("h2", "How each cell stopped (sequential seeds)"), ("p", stopping_summary(section)),
            ("table", stopping_table(section))]
