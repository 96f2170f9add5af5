"""Compare two sweeps' run tables (``sweep compare A B --by KEY``) without misleading.

``compare_sweeps(a, b, by, metric)`` runs ``results.comparison.compare_by`` after four checks,
each reported in ``SweepComparison`` (and printed by the CLI):

- **shared runs**: a ``run_id`` in both tables is one computation counted twice; the samples
  overlap and are not independent. Refused (``AnalysisError``) unless ``drop_shared``, which
  compares A with B's other runs.
- **epoch budgets**: when the runs' budgets (``train.epochs``, else the largest ``epochs_run``)
  differ, both tables are cut at the smaller budget ``h``: a milestone reached after ``h`` counts
  as not reached by ``h`` (right-censored at ``h``), ``epochs_run`` becomes ``min(epochs_run, h)``
  and ``train.epochs`` ``min(train.epochs, h)``. Shares and medians then answer "by epoch h".
- **other settings**: config columns outside ``by`` whose values differ between A and B. One is
  what the comparison is about (``compared``); more than one is refused unless all but one are
  named in ``allow``, since a difference in results could come from any of them. A setting that
  applies on one side only (``train.momentum``, n/a without momentum) follows from another
  difference and is listed, not counted.
- **pooled axes**: config columns outside ``by`` that vary within A or within B; each level's
  comparison pools their runs (paired tests still pair by seed and these columns).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from results.analysis import AnalysisError, config_columns
from results.comparison import compare_by
from results.reader import ColumnError, analysis_view, resolve_column, resolve_columns


@dataclass(frozen=True)
class SweepComparison:
    table: pd.DataFrame
    shared: int = 0                         # runs in both (dropped from B when allowed)
    budgets: tuple = (np.nan, np.nan)       # A's and B's largest epoch budget
    horizon: float | None = None            # the common budget both were cut at (None: equal)
    differing: dict = field(default_factory=dict)   # column -> (A's values, B's values)
    compared: list = field(default_factory=list)    # the differing column(s) not in allow
    allowed: list = field(default_factory=list)     # differing columns the user accepted
    pooled: dict = field(default_factory=dict)      # column -> (levels in A, levels in B)
    implied: list = field(default_factory=list)     # differing columns that apply on one side only

    def notes(self) -> list[str]:
        """One line per check, for the CLI and the JSON output."""
        out = []
        if self.shared:
            out.append(f"shared runs: {self.shared} runs of B are also in A (same run_id) and were left out of B")
        if self.horizon is not None:
            a, b = self.budgets
            out.append(f"epoch budgets differ (A {a:.0f}, B {b:.0f}): both compared at {self.horizon:.0f} epochs; "
                       f"a milestone reached later counts as not reached by {self.horizon:.0f} (censored there)")
        for c in self.compared:
            va, vb = self.differing[c]
            out.append(f"compared setting: {c} (A {_text(va)}, B {_text(vb)})")
        if not self.compared:
            out.append("compared setting: none (A and B have the same settings)")
        for c in self.allowed:
            va, vb = self.differing[c]
            out.append(f"also differs (--allow-different): {c} (A {_text(va)}, B {_text(vb)})")
        for c in self.implied:
            va, vb = self.differing[c]
            out.append(f"applies on one side only: {c} (A {_text(va)}, B {_text(vb)})")
        if self.pooled:
            out.append("pooled within each level: " + ", ".join(
                f"{c} ({na} values in A, {nb} in B)" for c, (na, nb) in self.pooled.items()))
        return out


def _text(values: list) -> str:
    return ", ".join(values[:6]) + (f", ... ({len(values)})" if len(values) > 6 else "")


def _values(df: pd.DataFrame, col: str) -> list[str]:
    if col not in df:
        return ["(absent)"]
    s = df[col].astype(object)
    return sorted({"n/a" if v is None or v is pd.NA or v != v else f"{v:g}" if isinstance(v, float) else str(v)
                   for v in s})


def _budget(df: pd.DataFrame) -> float:
    col = "train.epochs" if "train.epochs" in df else "epochs_run"
    return float(df[col].to_numpy(np.float64, na_value=np.nan).max()) if len(df) else np.nan


def cut_at(df: pd.DataFrame, metric: str, horizon: float) -> pd.DataFrame:
    """The runs as if trained for at most ``horizon`` epochs (milestones after it censored there)."""
    out = df.copy()
    for col in {metric, "convergence_epoch", *[c for c in df if c.startswith("epoch_")]} & set(df.columns):
        late = (out[col] > horizon).fillna(False).to_numpy(bool)
        out.loc[late, col] = pd.NA
    for col in ("epochs_run", "train.epochs"):
        if col in out:
            out[col] = out[col].clip(upper=int(horizon))
    if "converged" in out and "convergence_epoch" in out:
        out["converged"] = out["convergence_epoch"].notna().to_numpy(bool)
    return out


def compare_sweeps(a: pd.DataFrame, b: pd.DataFrame, by, metric: str, allow=(), drop_shared: bool = False,
                   conf: float = 0.95) -> SweepComparison:
    """Check, align and compare two sweeps level by level of ``by`` (see the module docstring)."""
    a, b = analysis_view(a), analysis_view(b)
    by = resolve_columns(a, by)
    resolve_columns(b, by)
    metric = resolve_column(a, metric)
    shared = np.isin(b["run_id"].to_numpy(), a["run_id"].to_numpy()) if "run_id" in a and "run_id" in b \
        else np.zeros(len(b), bool)
    if shared.any():
        if not drop_shared:
            raise AnalysisError(f"{int(shared.sum())} runs are in both A and B (same run_id: the same computation); "
                                "overlapping samples cannot be compared as independent. Compare different sweeps, "
                                "or pass --drop-shared to compare A with B's other runs")
        b = b[~shared]
        if b.empty:
            raise AnalysisError("every run of B is also in A: with --drop-shared nothing is left to compare")
    budgets = (_budget(a), _budget(b))
    horizon = None
    if budgets[0] != budgets[1]:
        horizon = min(budgets)
        a, b = cut_at(a, metric, horizon), cut_at(b, metric, horizon)
    cols = [c for c in dict.fromkeys(config_columns(a) + config_columns(b)) if c not in by]
    differing = {c: (_values(a, c), _values(b, c)) for c in cols}
    differing = {c: v for c, v in differing.items() if v[0] != v[1]}
    allowed = []
    for k in allow:
        try:
            allowed.append(resolve_column(cols, k))
        except ColumnError as exc:
            why = str(exc) if "did you mean" in str(exc) else f"no setting {k!r} in A or B"
            raise AnalysisError(f"--allow-different {k}: {why} (settings that differ: "
                                f"{', '.join(differing) or 'none'})") from None
    allowed = [k for k in allowed if k in differing]
    # a setting that applies on one side only (train.momentum under momentum) follows another difference
    implied = [c for c, (va, vb) in differing.items() if c not in allowed
               and (va == ["n/a"] or vb == ["n/a"])]
    rest = [c for c in differing if c not in allowed and c not in implied]
    if len(rest) > 1:
        listed = "; ".join(f"{c} (A {_text(differing[c][0])}, B {_text(differing[c][1])})" for c in rest)
        raise AnalysisError(f"A and B differ in more than one setting besides --by: {listed}. A difference in "
                            f"results could come from any of them; accept all but the one compared with "
                            f"--allow-different {','.join(rest[1:])}")
    pooled = {c: (len(_values(a, c)), len(_values(b, c))) for c in cols}
    pooled = {c: n for c, n in pooled.items() if max(n) > 1}
    table = compare_by(a, b, by, metric, conf)
    return SweepComparison(table, int(shared.sum()), budgets, horizon, differing, rest, allowed, pooled, implied)


__all__ = ["SweepComparison", "compare_sweeps", "cut_at"]
