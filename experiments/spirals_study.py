"""Regenerate experiments/spirals.md from the tool's own output.

    python experiments/spirals_study.py     # 1,800 runs of up to 50,000 epochs

Lang & Witbrock's two spirals, their 2-5-5-5-1 tanh net (every layer connected to every later layer,
``model.dense``): backprop with
momentum and Quickprop, epochs to fit the training set (40-20-40). Runs ``sweep run`` on
experiments/spirals.toml (resuming), then writes every number of the findings document from the
runs: Kaplan-Meier percentiles of the epochs to fit with their intervals, the share fitted by
20,000 and by 50,000 epochs with Wilson intervals, and where the published figures sit.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _study as S  # noqa: E402

GRID = S.HERE / "spirals.toml"
METRIC = "epoch_fahlman"
BY = ["train.optimizer", "train.lr"]
RULE = {"momentum": "backprop + momentum 0.9", "quickprop": "Quickprop"}
#: published epochs to fit, as recalled (NOT checked against the papers: see the document)
PUBLISHED = {"momentum": (20000, "Lang & Witbrock 1988, backprop with momentum, about 20,000 epochs (recalled)"),
             "quickprop": (8000, "Fahlman & Lebiere 1990, Quickprop, about 8,000 epochs (recalled)")}
BY_EPOCHS = (20000, 50000)
QUANTILES = (0.10, 0.25, 0.50)


def n_weights(n_in: int, hidden: list[int], n_out: int, every_layer: bool) -> int:
    """Weights and biases of an MLP with biases: with the input-to-output shortcut only
    (``every_layer=False``, the tool's ``model.shortcut``), or with every layer connected to every
    later one (Lang & Witbrock's net)."""
    sizes = [n_in, *hidden, n_out]
    total = 0
    for i in range(1, len(sizes)):
        fan_in = sum(sizes[:i]) if every_layer else sizes[i - 1]
        total += sizes[i] * (fan_in + 1)
    return total + (0 if every_layer else n_in * n_out)


def progress(g: pd.DataFrame, curves: pd.DataFrame, at: int) -> dict:
    """Training accuracy at the recorded epoch nearest ``at`` against the last one, run by run:
    that epoch, both medians, the median change and the share of runs that gained."""
    c = curves[curves["run_id"].isin(g["run_id"].to_numpy(np.uint64))]
    recorded = np.unique(c["epoch"].to_numpy())
    e = int(recorded[np.abs(recorded - at).argmin()])
    wide = c.pivot_table(index="run_id", columns="epoch", values="accuracy")
    a, z = wide[e], wide[recorded.max()]
    d = (z - a).dropna()
    med = lambda x: S.stats.sample_quantile(x.to_numpy(np.float64), 0.5)[0]  # noqa: E731  (the lower median, as elsewhere)
    return dict(epoch=e, last=int(recorded.max()), at=med(a), end=med(z), change=med(d), gained=float((d > 0).mean()))


def cell_row(g: pd.DataFrame, epochs: int, curves: pd.DataFrame) -> dict:
    fit = S.km(g, METRIC)
    t, o = S.censored_times(g, METRIC)
    row = dict(rule=RULE.get(g["train.optimizer"].iloc[0], g["train.optimizer"].iloc[0]),
               lr=f"{g['train.lr'].iloc[0]:g}", n=f"{len(g):,}")
    for k in BY_EPOCHS:
        b = S.binomial(int((o & (t <= k)).sum()), len(g))
        row[f"by{k}"] = f"{b['k']} ({S.pct(b['p'])}; {S.ci(b['wilson_lo'], b['wilson_hi'])})"
    for q in QUANTILES:
        row[f"q{q}"] = S.quantile_ci(*fit.quantile(q), epochs)
    acc = S.results.value_summary(g, "final_accuracy").iloc[0]
    row["acc"] = f"{S.pct(acc['median'])} ({S.ci(acc['median_lo'], acc['median_hi'])})"
    row["iqr"] = f"{S.pct(acc['p25'])} / {S.pct(acc['p75'])}"
    row["max"] = S.pct(float(g["final_accuracy"].max()))
    pr = progress(g, curves, BY_EPOCHS[0])
    row["prog"] = (f"{S.pct(pr['at'])} → {S.pct(pr['end'])}; {100 * pr['change']:+.1f} points; "
                   f"{S.pct(pr['gained'])} gained")
    a75 = S.km(g, "epoch_acc75")
    row["acc75"] = f"{S.pct(a75.n_events / a75.n)}; {S.quantile_ci(*a75.quantile(0.5), epochs)}"
    return row


def published_rows(main: pd.DataFrame, epochs: int) -> list[dict]:
    rows = []
    for (opt, lr), g in main.groupby(BY, sort=True):
        x, source = PUBLISHED[opt]
        r = S.percentile_of(g, METRIC, x)
        rows.append(dict(rule=RULE[opt], lr=f"{lr:g}", pub=f"{x:,}", source=source,
                         where=f"{100 * r['p']:.1f} ({100 * r['lo']:.1f}–{100 * r['hi']:.1f})",
                         med=S.median_text(r), never=S.pct(r["never"])))
    return rows


def findings(main: pd.DataFrame, scan: pd.DataFrame, epochs: int, curves: pd.DataFrame) -> str:
    out = []
    t, o = S.censored_times(main, METRIC)
    total = S.binomial(int(o.sum()), len(main))
    per_rule = []
    for opt, g in main.groupby("train.optimizer", sort=True):
        tt, oo = S.censored_times(g, METRIC)
        b = S.binomial(int(oo.sum()), len(g))
        per_rule.append(f"{RULE[opt]}: {S.binomial_text(b)}")
    if total["k"] == 0:
        out.append(f"**No run fitted the training set within {epochs:,} epochs**: 0 of {total['n']:,} runs in the "
                   f"main cells ({'; '.join(per_rule)}). Every run is censored at {epochs:,}, so every "
                   "Kaplan-Meier percentile of the epochs to fit is only bounded below (> "
                   f"{epochs:,}), and the published single numbers cannot be placed inside the tool's distribution: "
                   "in this net they would sit at percentile 0 (table below).")
    else:
        out.append(f"**{S.binomial_text(total)} of the main cells' runs fitted the training set within {epochs:,} "
                   f"epochs**: {'; '.join(per_rule)}.")
    if len(scan):
        ts, os_ = S.censored_times(scan, METRIC)
        scan_lrs = ", ".join(f"{RULE[o_]} lr {lr:g}" for (o_, lr), _ in scan.groupby(BY, sort=True))
        out.append(f"The learning-rate scan ({scan_lrs}; {scan.groupby(BY).size().iloc[0]:,} seeds each) "
                   f"fitted {int(os_.sum())} of {len(scan):,} runs.")
    acc = S.results.value_summary(main, "final_accuracy", by=BY)
    best = acc.loc[acc["median"].idxmax()]
    worst = acc.loc[acc["median"].idxmin()]
    if best["median"] == worst["median"]:      # every cell's median run ends the same (all right, when most fit)
        unfit = main[main[METRIC].isna()]["final_accuracy"].to_numpy(np.float64)
        tail = (f"; the {len(unfit):,} runs that never fitted end at a median of "
                f"{S.pct(S.stats.sample_quantile(unfit, 0.5)[0])} right (p10 "
                f"{S.pct(np.quantile(unfit, 0.1))})" if len(unfit) else "")
        out.append(f"**Where the runs end**: the median final training accuracy is {S.pct(best['median'])} in every "
                   f"main cell{tail}.")
    else:
        out.append(f"**Where the runs end**: the median final training accuracy is highest for "
                   f"{RULE[best['train.optimizer']]} lr {best['train.lr']:g} ({S.pct(best['median'])}, "
                   f"{S.ci(best['median_lo'], best['median_hi'])}) and lowest for {RULE[worst['train.optimizer']]} "
                   f"lr {worst['train.lr']:g} ({S.pct(worst['median'])}); the best single run of all "
                   f"{len(main) + len(scan):,} ends at {S.pct(float(pd.concat([main, scan])['final_accuracy'].max()))} of "
                   f"the {int(round(1 / np.diff(np.unique(main['final_accuracy'])).min())) if main['final_accuracy'].nunique() > 1 else '?'} "
                   "points right (chance is 50%).")
    a75 = S.km(main, "epoch_acc75")
    out.append(f"**Reaching 75% right**: {S.pct(a75.n_events / a75.n)} of the main cells' runs reach 75% training "
               f"accuracy within {epochs:,} epochs (KM median pooled over the main cells "
               f"{S.quantile_ci(*a75.quantile(0.5), epochs)} epochs; per cell in the table).")
    pr = progress(main, curves, BY_EPOCHS[0])
    out.append(f"**Still learning at the cap?** Over the main cells the median training accuracy goes from "
               f"{S.pct(pr['at'])} at epoch {pr['epoch']:,} to {S.pct(pr['end'])} at {pr['last']:,}; the median run "
               f"changes by {100 * pr['change']:+.1f} points and {S.pct(pr['gained'])} of the runs gain over that "
               "stretch (per cell in the table).")
    return "\n".join(f"- {x}" for x in out)


def figure(df: pd.DataFrame, curves: pd.DataFrame) -> str:
    """Median and p10-p90 band of the training accuracy per cell (the curves' ``accuracy`` column)."""
    from matplotlib.ticker import PercentFormatter
    from results import curve_plot, plots

    main = df[df["cell"] == "main"]
    fig = curve_plot.loss_curve_figure(main, curves, by=BY, value="accuracy")
    for ax in fig.axes:  # accuracy, not a loss: a linear axis in percent
        ax.set_yscale("linear")
        ax.set_ylim(0.4, 1.0)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("training accuracy")
    fig.suptitle("Two spirals: training accuracy per cell, median and p10-p90 band over runs (40-20-40 needs 100%)")
    name = "spirals_files/accuracy.png"
    path = S.docs_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plots.plt.close(fig)
    return name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/spirals", help="sweep output directory")
    args = ap.parse_args(argv)
    S.run_grid(GRID, args.out)
    df = S.results.load(args.out)
    manifest = df.attrs.get("manifest", {})
    epochs = int(df["train.epochs"].max())
    sizes = df.groupby(BY)["seed"].transform("size")
    # the main cells have the most seeds (with --quick every cell has the same: no scan cells then)
    df["cell"] = np.where(sizes == sizes.max(), "main", "scan")
    main_df, scan = df[df["cell"] == "main"], df[df["cell"] == "scan"]
    n_main, n_scan = int(sizes.max()), int(sizes.min())
    early = int((df[METRIC].isna() & (df["epochs_run"] < epochs)).sum())
    n_pts = int(round(1 / np.diff(np.unique(df["final_accuracy"])).min())) if df["final_accuracy"].nunique() > 1 else 0

    curves = S.results.load_curves(args.out)
    pe = progress(main_df, curves, BY_EPOCHS[0])

    def rows(part):
        return [cell_row(g, epochs, curves) for _, g in part.groupby(BY, sort=True)]

    keys = ["rule", "lr", "n", *(f"by{k}" for k in BY_EPOCHS), *(f"q{q}" for q in QUANTILES), "acc75", "acc", "iqr", "max", "prog"]
    head = ["rule", "lr", "runs", *(f"fitted by {k:,} (%; Wilson 95%)" for k in BY_EPOCHS),
            *(f"KM p{100 * q:g} epochs (95% CI)" for q in QUANTILES),
            "reached 75% right; KM median epoch (95% CI)", "final training accuracy: median (95% CI)",
            "p25 / p75", "best run", f"training accuracy, median at epoch {pe['epoch']:,} → {pe['last']:,}; median change per run; "
            "runs that gained"]
    t_main = S.table(pd.DataFrame(rows(main_df)), keys, head)
    t_scan = S.table(pd.DataFrame(rows(scan), columns=keys), keys, head) if len(scan) else ""
    t_pub = S.table(pd.DataFrame(published_rows(main_df, epochs)), ["rule", "lr", "pub", "source", "where", "med", "never"],
                    ["rule", "lr", "published epochs", "source", "percentile of the published figure among the tool's "
                     "runs (95% CI)", "tool's KM median epochs (95% CI)", f"runs not fitted by {epochs:,}"])
    fig = figure(df, curves)
    hidden = [int(h) for h in str(df["model.hidden_label"].iloc[0]).strip("[]").split(",")] \
        if "model.hidden_label" in df else [5, 5, 5]
    ours, theirs = n_weights(2, hidden, 1, False), n_weights(2, hidden, 1, True)
    lrs = {o: ", ".join(f"{v:g}" for v in sorted(set(main_df.loc[main_df["train.optimizer"] == o, "train.lr"])))
           for o in RULE}
    scan_lrs = {o: ", ".join(f"{v:g}" for v in sorted(set(scan.loc[scan["train.optimizer"] == o, "train.lr"])))
                for o in RULE}
    scan_text = (f" A scan of lr {scan_lrs['momentum']} (momentum) and {scan_lrs['quickprop']} (Quickprop) with "
                 f"{n_scan:,} seeds each\n  checks that choice." if len(scan) else "")
    text = f"""# Two spirals (Lang & Witbrock 1988): epochs to fit, backprop with momentum vs Quickprop

*Generated by `python experiments/spirals_study.py` from `{args.out}` ({len(df):,} runs); do not edit by hand.*

**Question.** Lang & Witbrock's two-spirals problem is the classic hard benchmark of the late
1980s: the papers give one number of epochs to learn it per training rule. What distribution stands
behind those single numbers: how often, and in how many epochs, does a 2-5-5-5-1 net fit the
{n_pts} training points with backprop with momentum and with Quickprop? Grid: [spirals.toml](spirals.toml).

## What the papers reported, and what they left unstated

Recalled, not checked (the papers cannot be read from this machine): Lang & Witbrock, "Learning to
tell two spirals apart" (Proceedings of the 1988 Connectionist Models Summer School) trained a
2-5-5-5-1 net **with every layer connected to every later layer** by backprop with momentum in about
20,000 epochs; Fahlman & Lebiere, "The Cascade-Correlation learning architecture" (NIPS 2, 1990)
quote about 8,000 epochs for Quickprop on the same net. We do not recall how many runs those
figures average, their initial weight range, learning rates, output units and targets, or how a
run that never fitted was counted, so the settings below are the tool's choices.

## Settings of the grid, and why

- **Their net.** `model.dense = true` connects every layer to every later layer: the 2-{'-'.join(map(str, hidden))}-1
  tanh net has {theirs} weights and biases, as Lang & Witbrock's (the layered net with only an
  input-to-output shortcut would have {ours}).
- Lang & Witbrock's points exactly ({n_pts} = 2 × {n_pts // 2}, three turns, no noise), targets 0/1 on a
  sigmoid output, hidden units tanh with biases, weights and biases uniform in
  [{df['init.low'].iloc[0]:g}, {df['init.high'].iloc[0]:g}], sse loss summed over the patterns, full batch.
- Fitted = Fahlman's 40-20-40 criterion (every output within 0.4 of its target); a run stops
  there, or at {epochs:,} epochs.
- Backprop with momentum 0.9 at lr {lrs['momentum']}; Quickprop (mu 1.75, weight decay 1e-4, no
  flat-spot offset) at epsilon {lrs['quickprop']}: the best two learning rates of each rule in a small pilot
  (24 seeds a setting, 30,000 epochs; not shipped); {n_main:,} seeds per cell.{scan_text}
- A run that never fits costs all {epochs:,} epochs, hence {n_main:,} seeds per cell rather than
  thousands. Training loss and accuracy are recorded at {curves['epoch'].nunique() - 1} log-spaced epochs
  (`record.curve_points`).

## Findings

{findings(main_df, scan, epochs, curves)}

## Per cell ({n_main:,} seeds each)

Shares fitted count a run as fitted when it met the criterion at or before that epoch ({early or "no"}
run{"" if early == 1 else "s"} stopped unfitted before {epochs:,} by diverging{", so the share is a plain binomial share" if early == 0 else ""}).
Kaplan-Meier percentiles "> {epochs:,}" are not reached within the cap.

{t_main}

## The published figures against the tool's runs

{t_pub}

![Training accuracy per cell]({fig})

{f"## Learning-rate scan ({n_scan:,} seeds each){chr(10)}{chr(10)}{t_scan}{chr(10)}" if len(scan) else ""}
{S.footer("spirals_study.py", args.out, manifest)}"""
    S.write_doc("spirals.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
