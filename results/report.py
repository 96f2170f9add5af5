"""A convergence report of one sweep directory: self-contained HTML plus a Markdown twin.

``write_report(DIR)`` writes ``DIR/_report/report.html`` (PNG figures embedded as base64
data URIs, so the one file can be mailed around) and ``DIR/_report/report.md`` with the
figures in ``report_files/*.png`` beside it. The ``_`` prefix keeps the report out of the
Parquet scan. Both hold the same blocks: the manifest's title and description, the
convergence table (Wilson shares, Kaplan-Meier quantiles), plain-language claims for the
epochs in ``at``, Kaplan-Meier curves, a heatmap of converged share over two swept axes, the
histogram of convergence epochs, the final-MSE distribution, and epoch_acc75 vs epoch_acc100;
where the runs have a held-out set, its section (``results.held_out_report``).
"""
from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from results import analysis, held_out_report, plots, rules
from results.curve_plot import loss_curve_figure
from results.errors import OutputError
from results.km_plot import km_figure, pooled_note
from results.layout import layout_of
from results.reader import analysis_view, load, load_curves, resolve_column, resolve_columns, warn_skipped
from results.run_facts import description_note, how_run
from results.sequential_report import stopping_blocks
from results.report_tables import claims_display, comparisons, convergence_display, epoch_text, span, with_ci
from results.schema import MILESTONE_COLUMNS
from results.styles import pct

DPI = 110
#: manifest entries listed under the title (when present)
MANIFEST_FACTS = ("status", "main_criterion", "grid_path", "grid_hash", "started", "finished", "host")


def default_metric(df: pd.DataFrame) -> str:
    """The manifest's ``main_criterion`` column (``test_<milestone>``: its ``test_epoch_*`` column), else the
    runs' single ``criteria.main``, else epoch_acc100."""
    main = df.attrs.get("manifest", {}).get("main_criterion")
    if main is None and "criteria.main" in df and df["criteria.main"].nunique() == 1:
        main = str(df["criteria.main"].dropna().iloc[0])
    col = MILESTONE_COLUMNS.get(main, main) if main else "epoch_acc100"
    if main and main.startswith("test_"):  # a milestone on the held-out set: test_acc100 -> test_epoch_acc100
        col = "test_" + MILESTONE_COLUMNS.get(main[len("test_"):], main[len("test_"):])
    return col if col in df else "epoch_acc100"


# --- formatting ---------------------------------------------------------------------------

def conditional_display(table: pd.DataFrame, at=()) -> pd.DataFrame:
    given, target = table.attrs["given"], table.attrs["target"]
    rows = []
    for _, r in table.iterrows():
        row = {f"{given} in": f"[{r['given_lo']:.0f}, {r['given_hi']:.0f})", "runs": f"{int(r['n']):,}",
               f"reached {target}": pct(r["target_share"]),
               "KM median epoch [CI]": with_ci(epoch_text(r["km_median"]), epoch_text(r["km_median_lo"]),
                                               epoch_text(r["km_median_hi"])),
               "KM p10–p90 epoch": span(epoch_text(r["km_p10"]), epoch_text(r["km_p90"])),
               "median lag": epoch_text(r["lag_median"])}
        for k in at:
            key = f"p_by_{analysis.at_key(k)}"
            row[f"P({target} by {k}) [CI]"] = with_ci(pct(r[key]), pct(r[key + "_lo"]), pct(r[key + "_hi"]))
        rows.append(row)
    return pd.DataFrame(rows)


def md_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (all cells as text, ``|`` escaped)."""
    esc = lambda v: str(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(c) for c in df.columns) + " |",
             "|" + "|".join(" --- " for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<div class='t'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


CSS = """body{font-family:system-ui,sans-serif;max-width:1340px;margin:1.5em auto;padding:0 1em;color:#222}
div.t{overflow-x:auto;margin:0.6em 0}table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #d0d0d0;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;font-weight:600}tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;display:block;margin:0.6em 0}p.note{color:#555;font-size:13px;max-width:1100px}
ul{font-size:14px}h2{margin-top:1.4em;font-size:1.25em}"""


# --- document -----------------------------------------------------------------------------

def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plots.plt.close(fig)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _titled(fig, pooled: str):
    """Say what a figure pools in its title (every run of the directory)."""
    ax = fig.axes[0]
    ax.set_title(f"{ax.get_title()}\n(all runs, {pooled})", fontsize=10)
    return fig


def _curves(path, df: pd.DataFrame):
    """The loss curves of the runs in ``df``, or None when none were recorded."""
    if not layout_of(path).curves.is_dir():
        return None
    try:
        curves = load_curves(path)
    except OutputError:
        return None
    return curves if len(curves) else None


def _blocks(df: pd.DataFrame, path, by: list[str], metric: str, at, conf: float) -> list[tuple]:
    """The report as a list of ("h1"|"h2"|"p"|"ul"|"table"|"img", ...) blocks."""
    man = df.attrs.get("manifest", {})
    n = len(df)
    blocks = [("h1", f"Convergence report: {man.get('name') or Path(path).name}")]
    if man.get("description"):
        note = description_note(man)
        blocks.append(("p", str(man["description"]) + (f" [{note}]" if note else "")))
    facts = [f"{n} runs read from {path}", f"milestone analysed: {metric}",
             f"grouped by: {', '.join(by) if by else '(all runs pooled)'}"]
    if isinstance(man.get("n_runs"), int) and man["n_runs"] != n:
        facts.append(f"note: the grid has {man['n_runs']} runs; {n} are in this directory")
    for key in MANIFEST_FACTS:
        if isinstance(man.get(key), (str, int, float)):
            value = man[key]
            if key.endswith("hash"):
                value = str(value)[:12]
            elif key == "grid_path":       # the file's name: the folder is the writing machine's
                key, value = "grid file", Path(str(value)).name
            facts.append(f"{key}: {value}")
    blocks.append(("ul", facts))
    blocks += [("h2", "How this sweep was run"), ("ul", how_run(df))]
    blocks.append(("p", f"A run that has not reached {metric} is right-censored at its epochs_run: it counts "
                        "in the runs, and the Kaplan–Meier (KM) estimates treat it as 'later than epochs_run', "
                        "never as missing; every median here is the KM median. Diverged runs that had not reached "
                        "it are censored where they stopped. '> E' means the quantile is not reached within E "
                        "epochs. Shares use Wilson intervals."))

    table = analysis.convergence(df, by, metric, at=at, conf=conf)
    blocks += [("h2", "Convergence by setting"), ("table", convergence_display(table, at))]
    blocks += stopping_blocks(man)
    if at:
        claims = analysis.claim(df, metric, at, by=by, conf=conf)
        blocks += [("h2", "Claims: reached by epoch " + ", ".join(map(str, at)) + "?"),
                   ("p", "P = Kaplan–Meier probability of having reached the milestone by the claimed epoch, "
                         "which is also the claim's percentile among all runs' convergence epochs (a run that "
                         "never converges counts as later than every epoch); then the share among converged "
                         "runs only, and the share that never reached it within its epochs."),
                   ("table", claims_display(claims))]
    cmp, tests = comparisons(df, by, metric, conf)
    if not cmp.empty:
        blocks += [("h2", f"Neighbouring {cmp.attrs['axis']} levels compared"),
                   ("table", cmp),
                   ("p", "Tests used: " + " | ".join(tests) + ". Runs with the same seed and the same setting "
                         "apart from the compared column start from the same weights (paired by design): "
                         "McNemar mid-p for the shares, a censoring-aware paired sign test for the epochs. "
                         "Unpaired groups: Fisher's exact test and the log-rank test. Δ: percentage points, with "
                         "Tango's score interval when paired (it excludes 0 when McNemar's score test "
                         "rejects) and Newcombe's hybrid score interval when not.")]

    blocks += [("h2", "Kaplan–Meier curves"),
               ("img", "km.png", km_figure(df, by, metric, at=at, conf=conf), "Kaplan-Meier curves")]
    blocks += rules.report_blocks(df, metric, at=at, conf=conf)  # when train.optimizer varies
    curves = _curves(path, df)
    if curves is not None:
        blocks += [("h2", "Loss curves"),
                   ("img", "loss_curves.png", loss_curve_figure(df, curves, by), "loss curves")]
    blocks += held_out_report.report_blocks(df, curves, by, metric, at=at, conf=conf)  # held-out set only
    axes = by[:2] if len(by) >= 2 else analysis.varying_columns(df, max_columns=2)
    if len(axes) == 2:
        blocks += [("h2", "Converged share over two swept axes"),
                   ("img", "heatmap.png", plots.share_heatmap(df, axes[0], axes[1], metric), "heatmap")]
    pooled = pooled_note(df, []) or "one setting"
    blocks += [("h2", "Convergence epochs"),
               ("img", "epochs.png", _titled(plots.epoch_histogram(df, metric, at=at), pooled),
                "histogram of convergence epochs"),
               ("h2", "Final MSE"),
               ("img", "final_mse.png", _titled(plots.final_mse_distribution(df), pooled), "final MSE distribution")]
    if {"epoch_acc75", "epoch_acc100"} <= set(df.columns):
        targets = at if metric == "epoch_acc100" else ()
        cond = analysis.milestone_conditional(df, "epoch_acc75", "epoch_acc100", bins=8, at=targets, conf=conf)
        blocks += [("h2", "Does an early epoch_acc75 predict epoch_acc100?"),
                   ("img", "milestones.png", _titled(plots.milestone_scatter(df, at=targets), pooled),
                    "acc75 vs acc100"),
                   ("p", f"epoch_acc100 among runs binned by their epoch_acc75 ({cond.attrs['n_given_censored']} "
                         "runs never reached epoch_acc75 and are left out)."),
                   ("table", conditional_display(cond, targets))]
    return blocks


def _render(blocks, files_dir: Path) -> tuple[str, str]:
    h = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(blocks[0][1])}</title>"
         f"<style>{CSS}</style></head><body>"]
    md = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2"):
            h.append(f"<{kind}>{html.escape(rest[0])}</{kind}>")
            md.append(("# " if kind == "h1" else "## ") + rest[0])
        elif kind == "p":
            h.append(f"<p class='note'>{html.escape(rest[0])}</p>")
            md.append(rest[0])
        elif kind == "ul":
            h.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in rest[0]) + "</ul>")
            md.append("\n".join(f"- {x}" for x in rest[0]))
        elif kind == "table":
            h.append(html_table(rest[0]))
            md.append(md_table(rest[0]))
        elif kind == "img":
            name, fig, alt = rest
            data = _png(fig)
            _write_atomic(files_dir / name, data)
            h.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>")
            md.append(f"![{alt}]({files_dir.name}/{name})")
    h.append("</body></html>")
    return "\n".join(h), "\n\n".join(md) + "\n"


def write_report(path, by=None, out=None, metric: str | None = None, at=(),
                 conf: float = 0.95) -> tuple[Path, Path]:
    """Render the report of sweep directory ``path``; returns ``(html_path, md_path)``.

    by: group columns (short names allowed; default: up to three config columns that vary);
    out: the HTML path (default ``path/_report/report.html``; the ``.md`` and its
    ``<stem>_files/`` go beside it); metric: milestone column (default: the manifest's main
    criterion); at: epochs for the ``P(by k)`` columns and claims (none unless named: a claim
    is the user's, not a default).
    """
    df = analysis_view(load(path))
    warn_skipped(df)
    if df.empty:
        raise OutputError(f"{path}: the Parquet parts hold no runs")
    metric = default_metric(df) if metric is None else resolve_column(df, metric)
    by = rules.rule_first(df, analysis.varying_columns(df)) if by is None else resolve_columns(df, by)
    at = analysis.at_list(at)
    html_path = Path(out) if out else layout_of(path).report / "report.html"
    if html_path.suffix.lower() != ".html":
        html_path = html_path.with_suffix(".html")
    md_path = html_path.with_suffix(".md")
    files_dir = html_path.parent / f"{html_path.stem}_files"
    try:
        files_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{files_dir}: cannot create the report folder: {exc}") from exc
    text_html, text_md = _render(_blocks(df, path, by, metric, at, conf), files_dir)
    _write_atomic(html_path, text_html.encode())
    _write_atomic(md_path, text_md.encode())
    return html_path, md_path
