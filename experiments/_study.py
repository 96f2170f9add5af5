"""Shared helpers of the study scripts (``experiments/*_study.py`` and the classic studies).

A study script runs its grid with the tool (resuming an existing output), reads the runs back
with ``results.load`` and writes a findings document whose every number comes from that output.
This module holds what they share: running a grid, the binomial and Kaplan-Meier summaries a
document quotes, Markdown formatting and the provenance footer.

Statistics used (see ``results.stats``):

- a published epoch ``x`` is placed in the tool's distribution by the Kaplan-Meier estimate
  ``F(x) = P(T <= x)`` with its pointwise band: "x sits at the 100·F(x)th percentile" (a run that
  never converges counts as slower than every epoch);
- a rate ``k / n`` gets the Wilson score interval and the exact Clopper-Pearson interval
  (``scipy.stats.binomtest``); a published count ``k_pub / n_pub`` is compared with the tool's
  ``k / n`` by Fisher's exact test, a published rate without a count by the exact binomial test.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as ``python experiments/x.py`` from a checkout
    sys.path.insert(0, str(ROOT))

import results  # noqa: E402
from results import stats  # noqa: E402
from results.analysis import censored_times  # noqa: E402,F401  (re-exported for the scripts)


# --- running ------------------------------------------------------------------------------

def run_grid(grid: Path, out: str, overrides=()) -> None:
    """``sweep run GRID --out OUT --set ...`` (resumes); raises SystemExit on failure."""
    from sweep.cli import main as sweep_main

    argv = ["run", str(grid), "--out", out, "--no-progress"]
    for item in overrides:
        argv += ["--set", item]
    code = sweep_main(argv)
    if code != 0:
        raise SystemExit(f"sweep run {grid} failed (exit {code})")


# --- formatting -----------------------------------------------------------------------------

def pct(x: float, digits: int = 1) -> str:
    """``0.1234`` -> ``"12.3%"``; NaN -> ``"n/a"``."""
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def fmt_epoch(x) -> str:
    return "never (censored)" if not np.isfinite(x) else f"{x:.0f}"


def fmt_quantile(x, horizon=None) -> str:
    """A KM quantile: ``+inf`` (under that share of the runs converged) -> ``"> horizon"``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return f"> {horizon:,.0f}" if horizon is not None else "not reached"
    return f"{x:,.0f}"


def fmt_rate(x: float) -> str:
    """A small rate both ways: ``0.000667`` -> ``"0.067% (1 in 1,500)"``."""
    if not np.isfinite(x):
        return "n/a"
    if x <= 0:
        return "0%"
    digits = 1 if x >= 0.01 else 3
    return f"{100 * x:.{digits}f}% (1 in {1 / x:,.0f})"


def ci(lo: float, hi: float, fmt=pct) -> str:
    return f"{fmt(lo)}–{fmt(hi)}"


def table(df: pd.DataFrame, cols, headers) -> str:
    """A Markdown table of ``df[cols]`` (cells as ``str``) under ``headers``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def footer(script: str, out: str, manifest: dict) -> str:
    return f"""## Regenerate

```bash
pip install . && python experiments/{script}
```

It resumes an interrupted sweep in `{out}` and rewrites this file.
Run on: {manifest.get('host', '?')}, versions {manifest.get('versions', {})}.
"""


def write_doc(name: str, text: str) -> Path:
    path = HERE / name
    path.write_text(text)
    print(path)
    return path


# --- statistics -----------------------------------------------------------------------------

def binomial(k: int, n: int, conf: float = 0.95) -> dict:
    """``k`` of ``n``: the share with its Wilson and Clopper-Pearson (exact) intervals."""
    w_lo, w_hi = stats.wilson_interval(k, n, conf)
    if n > 0:
        cp = sps.binomtest(int(k), int(n)).proportion_ci(confidence_level=conf, method="exact")
        cp_lo, cp_hi = float(cp.low), float(cp.high)
    else:
        cp_lo = cp_hi = math.nan
    return dict(k=int(k), n=int(n), p=k / n if n else math.nan,
                wilson_lo=w_lo, wilson_hi=w_hi, cp_lo=cp_lo, cp_hi=cp_hi)


def binomial_text(b: dict, rate_fmt=pct) -> str:
    return (f"{b['k']:,} of {b['n']:,} = {rate_fmt(b['p'])} (Wilson 95% {ci(b['wilson_lo'], b['wilson_hi'], rate_fmt)}; "
            f"Clopper–Pearson {ci(b['cp_lo'], b['cp_hi'], rate_fmt)})")


def versus_count(k: int, n: int, k_pub: int, n_pub: int) -> float:
    """Two-sided Fisher exact p-value: is the tool's ``k/n`` the same rate as the published ``k_pub/n_pub``?"""
    return float(sps.fisher_exact([[k, n - k], [k_pub, n_pub - k_pub]]).pvalue)


def versus_rate(k: int, n: int, p0: float) -> float:
    """Two-sided exact binomial p-value of ``k`` of ``n`` against a published rate ``p0``."""
    return float(sps.binomtest(int(k), int(n), p0).pvalue)


def km(df: pd.DataFrame, metric: str):
    """The Kaplan-Meier fit (``results.stats.KMFit``) of ``metric``'s first epoch over ``df``'s runs."""
    t, o = censored_times(df, metric)
    return stats.km_fit(t, o)


def percentile_of(df: pd.DataFrame, metric: str, epoch: float) -> dict:
    """Where a published ``epoch`` falls among ``df``'s runs: KM ``F(epoch)`` (percentile/100) and band,
    the KM median with its interval, and the share of runs that never reached ``metric``."""
    fit = km(df, metric)
    p, lo, hi = fit.prob_by(epoch)
    med = fit.quantile(0.5)
    return dict(epoch=epoch, p=p, lo=lo, hi=hi, n=fit.n, n_events=fit.n_events,
                horizon=float(df["epochs_run"].max()) if len(df) else math.nan,
                median=med[0], median_lo=med[1], median_hi=med[2],
                never=1 - fit.n_events / fit.n if fit.n else math.nan)


def percentile_text(r: dict) -> str:
    if not np.isfinite(r["p"]):
        return f"not estimable (no run was watched for {r['epoch']:,.0f} epochs)"
    return (f"{r['epoch']:,.0f} sits at percentile {100 * r['p']:.1f} (95% CI {100 * r['lo']:.1f}–"
            f"{100 * r['hi']:.1f}) of the {r['n']:,} runs' first epochs; KM median {median_text(r)}")


def median_text(r: dict) -> str:
    return quantile_ci(r["median"], r["median_lo"], r["median_hi"], r.get("horizon"))


def quantile_ci(q, lo, hi, horizon=None) -> str:
    """``"302 (297–308)"``; a quantile not reached within ``horizon`` epochs: ``"> 20,000 (not reached)"``."""
    if isinstance(q, float) and math.isinf(q):
        if isinstance(lo, float) and math.isinf(lo):
            return f"{fmt_quantile(q, horizon)} (not reached)"
        return f"{fmt_quantile(q, horizon)} (not reached; lower 95% limit {fmt_quantile(lo, horizon)})"
    return f"{fmt_quantile(q, horizon)} ({fmt_quantile(lo, horizon)}–{fmt_quantile(hi, horizon)})"


def fmt_p(p: float) -> str:
    """A p-value: two significant digits, ``< 1e-300`` where it underflows."""
    return "< 1e-300" if p < 1e-300 else f"{p:.2g}"


def p_text(p: float) -> str:
    """``"p = 0.32"`` or ``"p < 1e-300"``."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def signed_ci(d: float, lo: float, hi: float) -> str:
    """A difference of shares with its interval: ``"-27.0% (-28.7% to -25.3%)"``."""
    return f"{100 * d:+.1f}% ({100 * lo:+.1f}% to {100 * hi:+.1f}%)"


def select(df: pd.DataFrame, **where) -> pd.DataFrame:
    """``results.select`` with keyword columns: ``select(df, **{"model.hidden": "[2]"})``."""
    return results.select(df, where)


def save_km(df: pd.DataFrame, by: list[str], metric: str, name: str, title: str) -> str:
    """Kaplan-Meier curves of ``metric`` per group of ``by`` as ``experiments/<name>``; returns the link."""
    from results import plots

    fig = plots.km_curves(df, by, metric, title=title)
    path = HERE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plots.plt.close(fig)
    return name
