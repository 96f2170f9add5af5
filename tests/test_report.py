"""Reader, report and the report/claim commands on a small synthetic sweep directory."""
from __future__ import annotations

import base64
import io
import json
import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sweep.cli
from results.layout import layout_of
from results.reader import analysis_view, load, load_curves
from results.styles import pct
from results.report import write_report
from results.schema import CURVE_SCHEMA
from sweep.grid.columns import run_schema
from sweep.errors import OutputError

LRS = (0.5, 2.0)
HIDDEN = ([2], [3])
EPOCHS = 1000


def synthetic_table(n_per: int = 60, seed: int = 0) -> pa.Table:
    """Runs over lr x hidden with every schema column (config columns not set are null).

    Convergence epochs are log-normal, a share never converges (null epochs: censored at
    epochs_run) and a few lr=2 runs diverge early.
    """
    rng = np.random.default_rng(seed)
    schema = run_schema()
    cols: dict[str, list] = {name: [] for name in schema.names}
    i = 0
    for lr in LRS:
        for h in HIDDEN:
            for s in range(n_per):
                t = int(rng.lognormal(np.log(400 / lr), 0.7))
                diverged = lr == 2.0 and rng.random() < 0.1
                run = int(rng.integers(3, 50)) if diverged else EPOCHS
                reached = t <= run and rng.random() > 0.2
                a75 = int(t * rng.uniform(0.3, 0.9)) if reached else None
                values = {"run_id": 1000 + i, "run_index": i, "seed": s, "task.name": "xor",
                          "model.hidden": h, "model.hidden_label": json.dumps(h), "train.lr": lr, "train.epochs": EPOCHS, "criteria.main": "acc100",
                          "epochs_run": run, "converged": reached, "diverged": diverged,
                          "epoch_acc100": t if reached else None, "convergence_epoch": t if reached else None,
                          "epoch_acc75": a75,
                          "final_mse": float("nan") if diverged else (1e-3 if reached else 0.2) * rng.uniform(0.5, 2)}
                for name in cols:
                    cols[name].append(values.get(name))
                i += 1
    return pa.table(cols, schema=schema)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    table = synthetic_table()
    pq.write_table(table.slice(0, 100), d / "part-0-aaaa.parquet")
    pq.write_table(table.slice(100), d / "part-1-bbbb.parquet")
    layout = layout_of(d)
    layout.curves.mkdir(parents=True)
    layout.manifest.write_text(json.dumps(
        {"name": "xor-lr-hidden", "description": "XOR 2-H-1 over lr and width", "main_criterion": "acc100"}))
    curves = pa.table({"run_id": [1000, 1000, 1001], "epoch": [0, 10, 0], "loss": [0.3, 0.2, 0.31],
                       "mse": [0.3, 0.2, 0.31]}, schema=pa.schema(list(CURVE_SCHEMA)[:4]))   # written before
    # curves had accuracy and the held-out set's columns: a report reads such a directory as it is
    pq.write_table(curves, layout.curves / "part-0.parquet")
    return d, table


# --- reader ---------------------------------------------------------------------------------

def test_load_dtypes_and_manifest(sweep_dir):
    d, table = sweep_dir
    df = load(d)
    assert len(df) == table.num_rows
    pd.testing.assert_frame_equal(df, pd.read_parquet(d))  # the one table: read_parquet's
    assert str(df["epoch_acc100"].dtype) == "Int64"
    assert df["epoch_acc100"].isna().sum() == table["epoch_acc100"].null_count
    assert df["converged"].dtype == bool and df["diverged"].dtype == bool
    assert df["seed"].dtype == np.int64
    assert df.attrs["manifest"]["name"] == "xor-lr-hidden"
    # what the analysis groups by: the list column as its ordered label, the twin dropped
    view = analysis_view(df)
    assert isinstance(view["model.hidden"].dtype, pd.CategoricalDtype) and "model.hidden_label" not in view
    assert list(view["model.hidden"].cat.categories) == ["[2]", "[3]"]


def test_load_pushes_filters_and_columns(sweep_dir):
    d, table = sweep_dir
    df = load(d, filters=[("lr", "==", 0.5), ("hidden", "==", "[3]")], columns=["lr", "hidden", "epoch_acc100"])
    assert list(df.columns) == ["train.lr", "model.hidden", "epoch_acc100", "model.hidden_label"]
    assert len(df) == 60 and set(df["train.lr"]) == {0.5} and set(df["model.hidden_label"]) == {"[3]"}
    either = load(d, filters=[[("lr", "==", 0.5)], [("lr", "==", 2.0)]], columns=["seed"])
    assert len(either) == table.num_rows


def test_load_errors(tmp_path):
    with pytest.raises(OutputError, match="no Parquet parts"):
        load(tmp_path)
    with pytest.raises(OutputError, match="no such directory"):
        load(tmp_path / "missing")


def test_load_curves(sweep_dir):
    d, _ = sweep_dir
    c = load_curves(d, run_ids=[1000])
    assert c["epoch"].tolist() == [0, 10] and set(c["run_id"]) == {1000}


# --- report ---------------------------------------------------------------------------------

def md_rows(md: str, marker: str) -> list[dict]:
    """The rows of the first Markdown table whose header holds ``marker``."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|") and marker in line)
    cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
    head = cells(lines[start])
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(head, cells(line))))
    return rows


def test_report_files_images_and_numbers(sweep_dir, tmp_path):
    d, table = sweep_dir
    html_path, md_path = write_report(d, out=tmp_path / "r.html", at=(169, 400))
    assert html_path.exists() and md_path.exists()
    html_text, md = html_path.read_text(), md_path.read_text()
    assert "<h1>Convergence report: xor-lr-hidden</h1>" in html_text

    # every embedded PNG decodes, and so does every PNG the Markdown links to
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html_text)
    assert len(embedded) >= 5
    for b64 in embedded:
        img = mpimg.imread(io.BytesIO(base64.b64decode(b64)), format="png")
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    assert len(linked) == len(embedded)
    for rel in linked:
        assert mpimg.imread(md_path.parent / rel).shape[0] > 200

    # the convergence table against counts taken straight from the Arrow table
    rows = md_rows(md, "| runs | reached [95% CI] |")
    assert len(rows) == 4
    t = table.to_pydict()
    for row in rows:
        sel = [i for i in range(table.num_rows)
               if t["train.lr"][i] == float(row["train.lr"]) and t["model.hidden_label"][i] == row["model.hidden"]]
        reached = sum(t["epoch_acc100"][i] is not None for i in sel)
        by169 = sum(t["epoch_acc100"][i] is not None and t["epoch_acc100"][i] <= 169 for i in sel)
        assert row["runs"] == str(len(sel))
        assert row["reached [95% CI]"].split(" [")[0] == pct(reached / len(sel))
        if row["train.lr"] == "0.5":  # no early censoring there: P(by 169) is the plain share
            assert row["P(by 169) [95% CI]"].split(" [")[0] == pct(by169 / len(sel))
    # the claims: one table, a row per group and claimed epoch, P as in the convergence table
    claims = md_rows(md, "| claim: by epoch |")
    assert len(claims) == 8 and {c["claim: by epoch"] for c in claims} == {"169", "400"}
    for c in claims:
        same = next(r for r in rows if (r["train.lr"], r["model.hidden"]) == (c["train.lr"], c["model.hidden"]))
        assert c["P(reached by then) [95% CI]"] == same[f"P(by {c['claim: by epoch']}) [95% CI]"]
    assert "With train.lr" not in md  # no sentence per cell
    # neighbouring lr levels compared within each width; the synthetic seeds pair the runs
    comp = md_rows(md, "| paired by seed |")
    assert len(comp) == 2 and all(c["paired by seed"] == "yes" for c in comp)
    assert "McNemar mid-p" in md and "KM median epoch" in md


def test_report_default_location(sweep_dir):
    d, _ = sweep_dir
    html_path, md_path = write_report(d, by=["lr"], at=())
    assert html_path == layout_of(d).report / "report.html"
    assert (layout_of(d).report / "report_files" / "km.png").exists()
    assert len(load(d)) == 240  # the report is not picked up as data


# --- commands -------------------------------------------------------------------------------

@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setattr(sweep.cli, "COMMAND_MODULES", ("sweep.cli.report",))
    return sweep.cli.main


def test_cli_report_and_claim(sweep_dir, tmp_path, cli, capsys):
    d, _ = sweep_dir
    assert cli(["report", str(d), "--out", str(tmp_path / "x.html"), "--by", "lr,hidden", "--at", "169"]) == 0
    assert str(tmp_path / "x.html") in capsys.readouterr().out
    assert cli(["claim", str(d), "--metric", "epoch_acc100", "--at", "169"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "P(reached by then) [95% CI]" in lines[0] and "KM median epoch" in lines[0]
    assert len([line for line in lines[1:] if re.match(r"\s*(0\.5|2(\.0)?|\[[23]\])\s", line)]) == 4
    # the claim's KM median is the report's and the run summary's estimator
    from results.analysis import convergence
    med = convergence(load(d), ["model.hidden", "train.lr"], "epoch_acc100")
    assert all(f"{v:,.0f}" in out for v in med["km_median"] if v == v and v != float("inf"))


@pytest.mark.parametrize("argv", [
    pytest.param(["report", "{tmp}/missing"], id="missing-dir"),
    pytest.param(["report", "{tmp}"], id="empty-dir"),
    pytest.param(["claim", "{sweep}", "--at", "169", "--by", "nosuch"], id="unknown-column"),
    pytest.param(["claim", "{sweep}", "--at", "169", "--metric", "epoch_nope"], id="unknown-metric"),
])
def test_cli_failures_exit_2(argv, sweep_dir, tmp_path, cli, capsys):
    argv = [a.format(tmp=tmp_path, sweep=sweep_dir[0]) for a in argv]
    assert cli(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")
