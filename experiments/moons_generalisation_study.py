"""Regenerate experiments/moons_generalisation.md from the tool's own output.

    python experiments/moons_generalisation_study.py     # 3,000 runs of 1,000 epochs

Test accuracy against hidden width and noise on two moons (100 training points, 1,000 held-out
points, every run its own dataset). Runs ``sweep run`` on experiments/moons_generalisation.toml
(resuming), then writes every number of the findings document from the runs: test accuracy and
the generalisation gap per cell with intervals (``results.generalisation``), the share that fits
the training set but not the test set (``results.fits_train_not_test``), the best test epoch
against the final one, paired width comparisons, and the training-vs-test curves figure
(``results.train_test_figure``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _study as S  # noqa: E402
from results import stats  # noqa: E402

GRID = S.HERE / "moons_generalisation.toml"
NOISE, WIDTH = "task.noise", "model.hidden"  # after analysis_view: "[2]", "[4]", ...
BY = [NOISE, WIDTH]


def width_of(label) -> int:
    return int(str(label).strip("[]"))


def pt(x: float) -> str:
    """A difference of accuracies in percentage points: ``0.0123`` -> ``"+1.2"``."""
    return "n/a" if not np.isfinite(x) else f"{100 * x:+.1f}"


def mci(m, lo, hi, fmt=S.pct) -> str:
    return f"{fmt(m)} ({fmt(lo)} to {fmt(hi)})" if fmt is pt else f"{fmt(m)} ({S.ci(lo, hi, fmt)})"


def order(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(_w=df[WIDTH].astype(str).map(width_of)).sort_values([NOISE, "_w"], kind="stable")


def cell_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (noise, width): the generalisation summary, the fits-train-not-test shares and
    the best-vs-final test accuracy (early-stopping potential), as numbers."""
    gen = S.results.generalisation(df, by=BY)
    ftn = S.results.fits_train_not_test(df, by=BY)
    gain = S.results.value_summary(df, "es_gain", by=BY)
    best_ep = S.results.value_summary(df, "test_best_epoch", by=BY)
    best_acc = S.results.value_summary(df, "test_best_accuracy", by=BY)
    t = gen.merge(ftn[BY + ["n_fit", "n_fit_not_test", "share", "share_lo", "share_hi", "share_of_fit",
                            "share_of_fit_lo", "share_of_fit_hi"]], on=BY)
    t = t.merge(gain[BY + ["median", "mean", "mean_lo", "mean_hi"]].rename(
        columns=lambda c: c if c in BY else f"gain_{c}"), on=BY)
    t = t.merge(best_ep[BY + ["median", "median_lo", "median_hi", "p25", "p75"]].rename(
        columns=lambda c: c if c in BY else f"best_epoch_{c}"), on=BY)
    t = t.merge(best_acc[BY + ["mean", "mean_lo", "mean_hi"]].rename(
        columns=lambda c: c if c in BY else f"best_acc_{c}"), on=BY)
    return order(t)


def paired(df: pd.DataFrame, noise: float, a: str, b: str) -> tuple[float, float, float, int]:
    """Mean (with Student's t interval) over seeds of test accuracy at width ``b`` minus width ``a``
    at one noise level: seed s trains both widths on the same data (``data_seed = "per_run"``)."""
    g = df[df[NOISE] == noise]
    x = g[g[WIDTH] == a].set_index("seed")["test_final_accuracy"]
    y = g[g[WIDTH] == b].set_index("seed")["test_final_accuracy"]
    d = (y - x).dropna()
    m, lo, hi = stats.mean_interval(d.to_numpy(np.float64))
    return m, lo, hi, int(d.size)


def findings(df: pd.DataFrame, t: pd.DataFrame, epochs: int) -> str:
    out = []
    widths = sorted(set(t[WIDTH]), key=width_of)
    best_lines, narrow_lines, narrow_lo = [], [], []
    for noise, g in t.groupby(NOISE, sort=True):
        b = g.loc[g["test_final_accuracy_mean"].idxmax()]
        wide = g[g[WIDTH] == widths[-1]].iloc[0]
        m, lo, hi, n = paired(df, noise, b[WIDTH], widths[-1])
        if b[WIDTH] != widths[-1]:
            m, lo, hi, n = paired(df, noise, b[WIDTH], widths[-1])
            best_lines.append(f"noise {noise:g}: best mean test accuracy at {b[WIDTH]}: "
                              f"{mci(b['test_final_accuracy_mean'], b['test_final_accuracy_mean_lo'], b['test_final_accuracy_mean_hi'])}; "
                              f"{widths[-1]} minus {b[WIDTH]}, paired over {n} seeds: {mci(m, lo, hi, pt)} points")
        else:
            nxt = g[g[WIDTH] != widths[-1]].loc[lambda x: x["test_final_accuracy_mean"].idxmax()]
            m, lo, hi, n = paired(df, noise, nxt[WIDTH], widths[-1])
            best_lines.append(f"noise {noise:g}: best mean test accuracy at the widest net, {b[WIDTH]}: "
                              f"{mci(b['test_final_accuracy_mean'], b['test_final_accuracy_mean_lo'], b['test_final_accuracy_mean_hi'])}; "
                              f"{widths[-1]} minus the next best, {nxt[WIDTH]}, paired over {n} seeds: {mci(m, lo, hi, pt)} points")
        m2, lo2, hi2, n2 = paired(df, noise, widths[0], widths[1])
        narrow_lo.append(lo2)
        narrow_lines.append(f"noise {noise:g}: {widths[1]} minus {widths[0]} {mci(m2, lo2, hi2, pt)} points ({n2} seeds)")
    out.append("**Test accuracy by width** (mean over runs with Student's t interval; paired differences over seeds, "
               "which share their dataset):\n" + "\n".join(f"  - {x}" for x in best_lines))
    under = all(lo > 0 for lo in narrow_lo)
    out.append(("**The narrowest net underfits**: " if under else "**The narrowest net against the next width**: ")
               + "; ".join(narrow_lines) + ".")
    gap_lines, widening, widest = [], True, []
    for noise, g in t.groupby(NOISE, sort=True):
        lo_w, hi_w = g.iloc[0], g.iloc[-1]
        widening &= bool(hi_w["gap_accuracy_mean_lo"] > lo_w["gap_accuracy_mean_hi"])
        widest.append(hi_w["gap_accuracy_mean"])
        gap_lines.append(f"noise {noise:g}: {lo_w[WIDTH]} {mci(lo_w['gap_accuracy_mean'], lo_w['gap_accuracy_mean_lo'], lo_w['gap_accuracy_mean_hi'], pt)}, "
                         f"{hi_w[WIDTH]} {mci(hi_w['gap_accuracy_mean'], hi_w['gap_accuracy_mean_lo'], hi_w['gap_accuracy_mean_hi'], pt)}")
    trend = [w for w, ok in (("width", widening), ("noise", bool(np.all(np.diff(widest) > 0)))) if ok]
    out.append("**The generalisation gap** (training minus test accuracy, mean in points with its interval)"
               + (f" grows with {' and '.join(trend)}" if trend else "") + ": " + "; ".join(gap_lines) + ".")
    fit = t.loc[t["share"].idxmax()]
    n_test = int(df["task.n_test"].iloc[0])
    fitted = df[(df["final_accuracy"] >= 1.0) & (df["test_final_accuracy"] < 1.0)]
    wrong = np.rint((1.0 - fitted["test_final_accuracy"].to_numpy(np.float64)) * n_test)
    missed = stats.sample_quantile(wrong, 0.5)[0] if wrong.size else np.nan
    missed90 = stats.sample_quantile(wrong, 0.9)[0] if wrong.size else np.nan
    n_fit_all = int(t["n_fit"].sum())
    n_ftn_all = int(t["n_fit_not_test"].sum())
    out.append(f"**Fitting the training set, missing test points**: {n_fit_all:,} of {int(t['n_test'].sum()):,} runs "
               f"end with every training point right; {n_ftn_all:,} of them ({S.pct(n_ftn_all / n_fit_all if n_fit_all else np.nan)}) "
               f"are below 100% on the test set. The share of all runs that fit the training set but not the test set "
               f"is highest at noise {fit[NOISE]:g}, {fit[WIDTH]} ({S.pct(fit['share'])}, {S.ci(fit['share_lo'], fit['share_hi'])}). "
               f"Such a run misses a median of {missed:.0f} of the {n_test} test points (p90 {missed90:.0f}): whether it counts "
               "depends on the test set's size as much as on the net.")
    g, s = t.loc[t["gain_mean"].idxmax()], t.loc[t["gain_mean"].idxmin()]
    out.append(f"**Early-stopping potential**: the mean gain of the best test accuracy over the final one ranges from "
               f"{pt(s['gain_mean'])} points (noise {s[NOISE]:g}, {s[WIDTH]}) to {pt(g['gain_mean'])} "
               f"(noise {g[NOISE]:g}, {g[WIDTH]}, {pt(g['gain_mean_lo'])} to {pt(g['gain_mean_hi'])}), an upper bound "
               f"since the best epoch is picked on the test set itself. The median epoch of the best test accuracy "
               f"ranges from {t['best_epoch_median'].min():,.0f} to {t['best_epoch_median'].max():,.0f} of {epochs:,} "
               "across the cells.")
    return "\n".join(f"- {x}" for x in out)


def figures(df: pd.DataFrame, out: str) -> list[tuple[float, str]]:
    """One training-vs-test curves figure per noise level, a colour per width."""
    from results import plots

    curves = S.results.load_curves(out)
    made = []
    for noise in sorted(set(df[NOISE])):
        part = order(df[df[NOISE] == noise]).drop(columns="_w")
        fig = S.results.train_test_figure(part, curves, by=[WIDTH], max_cells=6)
        name = f"moons_generalisation_files/train_test_noise{noise:g}.png"
        path = S.docs_dir() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80)
        plots.plt.close(fig)
        made.append((noise, name))
    return made


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/moons_generalisation", help="sweep output directory")
    args = ap.parse_args(argv)
    S.run_grid(GRID, args.out)
    raw = S.results.load(args.out)
    manifest = raw.attrs.get("manifest", {})
    df = S.results.analysis_view(raw)  # model.hidden as "[2]" ... "[32]", ordered by width
    df["es_gain"] = df["test_best_accuracy"] - df["test_final_accuracy"]
    epochs = int(df["train.epochs"].max())
    t = cell_table(df)
    seeds = int(t["n"].min())
    n_train, n_test = int(df["task.n_train"].iloc[0]), int(df["task.n_test"].iloc[0])
    rows = []
    for _, r in t.iterrows():
        rows.append(dict(
            noise=f"{r[NOISE]:g}", width=r[WIDTH], n=f"{int(r['n']):,}",
            fit=f"{S.pct(r['n_fit'] / r['n_test'])}",
            acc=mci(r["test_final_accuracy_median"], r["test_final_accuracy_median_lo"], r["test_final_accuracy_median_hi"]),
            iqr=f"{S.pct(r['test_final_accuracy_p25'])} / {S.pct(r['test_final_accuracy_p75'])}",
            mean=mci(r["test_final_accuracy_mean"], r["test_final_accuracy_mean_lo"], r["test_final_accuracy_mean_hi"]),
            gap=mci(r["gap_accuracy_mean"], r["gap_accuracy_mean_lo"], r["gap_accuracy_mean_hi"], pt),
            gloss=f"{r['gap_loss_median']:.3f} ({r['gap_loss_median_lo']:.3f} to {r['gap_loss_median_hi']:.3f})",
            ftn=f"{S.pct(r['share'])} ({S.ci(r['share_lo'], r['share_hi'])})",
            best=mci(r["best_acc_mean"], r["best_acc_mean_lo"], r["best_acc_mean_hi"]),
            gain=mci(r["gain_mean"], r["gain_mean_lo"], r["gain_mean_hi"], pt),
            ep=f"{r['best_epoch_median']:,.0f} ({r['best_epoch_median_lo']:,.0f}–{r['best_epoch_median_hi']:,.0f}); "
               f"{r['best_epoch_p25']:,.0f} / {r['best_epoch_p75']:,.0f}"))
    cells = pd.DataFrame(rows)
    t_acc = S.table(cells, ["noise", "width", "n", "fit", "acc", "iqr", "mean", "gap", "gloss", "ftn"],
                    ["noise", "hidden", "runs", "fit the training set", "test accuracy: median (95% CI)", "p25 / p75",
                     "mean (95% CI)", "accuracy gap, points: mean (95% CI)", "loss gap: median (95% CI)",
                     "fit training, not test (Wilson 95%)"])
    t_es = S.table(cells, ["noise", "width", "mean", "best", "gain", "ep"],
                   ["noise", "hidden", "final test accuracy: mean (95% CI)", "best test accuracy: mean (95% CI)",
                    "best minus final, points: mean (95% CI)", "epoch of the best: median (95% CI); p25 / p75"])
    figs = figures(df, args.out)
    fig_md = "\n\n".join(f"![Training and test curves at noise {n:g}]({name})" for n, name in figs)
    widths = ", ".join(sorted(set(t[WIDTH]), key=width_of))
    noises = ", ".join(f"{v:g}" for v in sorted(set(t[NOISE])))
    text = f"""# Generalisation on two moons: test accuracy against hidden width and noise

*Generated by `python experiments/moons_generalisation_study.py` from `{args.out}` ({len(df):,} runs); do not edit by hand.*

**Question.** With {n_train} training points, how does a one-hidden-layer net's accuracy on fresh
points move with its width and with the noise of the data; how far apart are training and test
accuracy; how often does a run fit every training point yet miss test points; and would stopping
at the best test epoch have helped? Grid: [moons_generalisation.toml](moons_generalisation.toml).

## Settings of the grid, and why

- `moons` (scikit-learn's `make_moons` construction), {n_train} training points and a held-out set of
  {n_test:,} points drawn afresh from the same distribution (`task.n_test`), Gaussian noise std in {{{noises}}}.
- 2-H-1, tanh hidden units with biases, sigmoid output, H in {{{widths}}}, PyTorch's default
  initialisation, bce loss, Adam (lr {df['train.lr'].iloc[0]:g}), full batch, {epochs:,} epochs
  **without early stopping** (`train.early_stop = false`), so that a run keeps training past the
  point where it fits the training set and the test curve shows what that does.
- {seeds:,} seeds per cell. **`task.data_seed = "per_run"`**: every run draws its own training and test
  set with its seed (`moons` puts its points at evenly spaced angles, so the draw is the Gaussian
  noise added to them). With {n_train} points the particular training sample matters as much as the
  initial weights, and a single fixed dataset would answer a question about that sample only; with
  a dataset per run the spread below includes the dataset draw. Seed s draws the same points for
  every width at one noise level (and the same standard normal draws at every noise level), so
  widths are compared seed by seed (paired differences below).
- Accuracy: the output on its target's side of 0.5 (`criteria.accuracy = "auto"` on a single output).
  "Fit the training set" = final training accuracy 100%. The accuracy gap is training minus test
  accuracy, the loss gap test minus training bce, both at the final epoch.

## Findings

{findings(df, t, epochs)}

## Test accuracy and the gap per cell ({seeds:,} runs each)

Medians with their order-statistic interval, means with Student's t interval; the last column is
the share of all runs that end with every training point right and some test point wrong.

{t_acc}

## Early-stopping potential: the best test epoch against the last

The best test accuracy of a run is its maximum over all {epochs:,} epochs, chosen on the test set
itself: an optimistic bound on what early stopping with a separate validation set could gain.

{t_es}

## Training and test curves

Median and interquartile band over each width's runs; training solid, test dashed.

{fig_md}

{S.footer("moons_generalisation_study.py", args.out, manifest)}"""
    S.write_doc("moons_generalisation.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
