"""Reports say how the sweep was run: overrides, effective values, seeds, epochs, versions, and a
description that the overrides contradict is marked."""
from __future__ import annotations

import json

import pandas as pd

from results.run_facts import description_note, how_run

GRID_TEXT = '''name = "x"
description = "Does XOR reach 100% in 20,000 epochs over 2000 seeds?"
[train]
epochs = 20000
lr = 0.5
[sweep]
seeds = 2000
"train.lr" = [0.1, 0.5]
'''


def runs(manifest: dict) -> pd.DataFrame:
    df = pd.DataFrame({"seed": [0, 1, 2, 0, 1, 2], "train.lr": [0.1] * 3 + [0.5] * 3,
                       "train.epochs": [5000] * 6, "train.loss": ["bce"] * 6, "epochs_run": [5000] * 6})
    df.attrs["manifest"] = manifest
    return df


MANIFEST = {"description": "Does XOR reach 100% in 20,000 epochs over 2000 seeds?", "grid_text": GRID_TEXT,
            "overrides": ["sweep.seeds=3", "train.epochs=5000"], "numerics_version": 2, "identity_version": 2,
            "versions": {"mlp_sweep": "0.1.0", "numba": "0.68.1"}}


def test_how_run_lists_overrides_effective_values_seeds_and_versions():
    facts = how_run(runs(MANIFEST))
    assert facts[0] == "overrides: sweep.seeds=3, train.epochs=5000"
    assert "train.lr (swept): 0.1, 0.5" in facts and "train.epochs (overridden): 5000" in facts
    assert "seeds: 3 per setting (seed 0..2)" in facts
    assert "versions: numerics 2, identity 2" in facts and "software: mlp_sweep 0.1.0, numba 0.68.1" in facts
    assert not any("train.loss" in f for f in facts)  # neither swept nor overridden


def test_description_contradicted_by_overrides_is_marked():
    note = description_note(MANIFEST)
    assert note.startswith("This description is the grid file's and is contradicted by the overrides")
    assert "sweep.seeds = 2000 in the grid file, 3 in this run" in note
    assert "train.epochs = 20000 in the grid file, 5000 in this run" in note
    # an override the description does not quote, or no override at all: nothing to mark
    assert description_note({**MANIFEST, "overrides": ["train.lr=0.5"]}) is None
    assert description_note({**MANIFEST, "overrides": []}) is None
    assert how_run(runs({}))[0] == "overrides: none"


def test_claim_json_and_csv(tmp_path, capsys):
    from sweep.cli import main
    grid = tmp_path / "g.toml"
    grid.write_text(GRID_TEXT.replace('lr = 0.5\n', 'loss = "bce"\n').replace("[train]", '[task]\nname = "xor"\n[train]'))
    out = tmp_path / "runs"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "sweep.seeds=4", "train.epochs=300"]) == 0
    capsys.readouterr()
    assert main(["claim", str(out), "--at", "100", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["how_run"][0] == "overrides: sweep.seeds=4, train.epochs=300" and len(doc["rows"]) == 2
    df = pd.read_parquet(out)
    for row in doc["rows"]:
        sub = df[df["train.lr"] == row["train.lr"]]
        assert row["n"] == 4 and row["p_by"] == (sub["epoch_acc100"] <= 100).sum() / 4  # nothing censored by 100
    assert main(["claim", str(out), "--at", "100", "--csv"]) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert list(table["n"]) == [4, 4] and "sentence" in table


def test_a_sequential_report_states_the_half_width_used_not_the_descriptions():
    """Issue 28 item 3: the file says +/- 1 point, the run used sweep.resolve.halfwidth=0.03."""
    from results.sequential_report import stopping_summary

    text = ('name = "s"\ndescription = "each cell until its 95% interval is +/- 1 percentage point"\n'
            '[sweep]\nseeds = {until = "resolved", min = 200, max = 1000, step = 200}\n'
            '[sweep.resolve]\nmetric = "epoch_acc100"\nat = 169\nhalfwidth = 0.01\n')
    man = {"description": "each cell until its 95% interval is +/- 1 percentage point", "grid_text": text,
           "overrides": ["sweep.resolve.halfwidth=0.03"]}
    assert description_note(man) == ("This description is the grid file's and is contradicted by the overrides: "
                                     "sweep.resolve.halfwidth = 0.01 in the grid file, 0.03 in this run.")
    assert description_note({**man, "overrides": ["sweep.resolve.halfwidth=0.01"],
                             "description": "within 3 points"}) is None
    section = {"description": "sequential seeds: ...", "rule": {"kind": "share", "target": 0.03}}
    assert "Target half-width: ±3 percentage points (halfwidth = 0.03)." in stopping_summary(section)
    median = {"rule": {"kind": "median", "target": 5.0}}
    assert "Target half-width: ±5 epochs." in stopping_summary(median)
