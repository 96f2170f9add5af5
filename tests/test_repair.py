"""Self-repair on start: damaged parts quarantined and retrained, a damaged manifest rebuilt,
left-over temp files removed, reports that read what is readable; resume planned from part names."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from results.layout import layout_of
from results.writer import OutputDir
from sweep.cli import main
from sweep.run.done import DoneIndex, parse_part_name

GRID = """
name = "repair"
[task]
name = "xor"
[train]
loss = "bce"
epochs = 200
[record]
curve_points = 5
[sweep]
seeds = 30
"train.lr" = [0.5, 2.0]
"""


def _grid(tmp_path: Path, text: str = GRID) -> Path:
    p = tmp_path / "grid.toml"
    p.write_text(text)
    return p


def _run(grid: Path, out: Path, *extra: str) -> int:
    return main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "8", *extra])


def _rows(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values("run_id").reset_index(drop=True)


def _manifest(out: Path) -> Path:
    return layout_of(out).manifest


def _quarantine(out: Path) -> Path:
    return OutputDir(out).quarantine_dir


def _curves(out: Path) -> pd.DataFrame:
    return pd.read_parquet(layout_of(out).curves).sort_values(["run_id", "epoch"]).reset_index(drop=True)


@pytest.fixture
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("ref")
    grid = _grid(base)
    assert _run(grid, base / "out") == 0
    return _rows(base / "out"), _curves(base / "out")


def test_truncated_part_garbled_manifest_and_temp_file_repaired_on_resume(tmp_path, reference, capsys):
    grid, out = _grid(tmp_path), tmp_path / "out"
    assert _run(grid, out) == 0
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 8
    victim = parts[3]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])                        # a part cut short
    _manifest(out).write_bytes(os.urandom(300))             # a manifest of random bytes
    tmp = layout_of(out).tmp / f".{parts[5].name}.tmp-99999"
    tmp.write_bytes(b"half a part")                                   # a writer killed mid-write
    (layout_of(out).curves / f".{parts[5].name}.tmp-99999").write_bytes(b"x")
    parts[6].unlink()                                                 # a chunk that was in flight
    capsys.readouterr()

    assert _run(grid, out, "--chunk-size", "5") == 0                  # another chunk size: other part names
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "removed 2 temporary file(s)" in err
    assert "manifest.json is unreadable" in err and "rebuilt" in err
    assert f"{victim.name}: unreadable" in err and "trained again" in err
    assert f"curves/{parts[6].name}: its run part is missing" in err
    assert not tmp.exists()
    rows, curves = _rows(out), _curves(out)
    assert rows["run_id"].is_unique and len(rows) == 60
    pd.testing.assert_frame_equal(rows, reference[0])                 # every metric identical
    pd.testing.assert_frame_equal(curves, reference[1])
    q = sorted(p.name for p in _quarantine(out).iterdir())
    assert any(n.startswith("manifest.json.") for n in q)
    assert any(n.startswith(victim.name) for n in q)                  # moved, never deleted
    assert any(n.startswith(f"curves_{victim.name}") for n in q)
    manifest = json.loads(_manifest(out).read_text())
    assert manifest["status"] == "complete" and manifest["rebuilt"]
    assert [e["file"] for e in manifest["quarantined"]] == [victim.name]
    log = [json.loads(line) for line in (_quarantine(out) / "quarantine.log").read_text().splitlines()]
    assert {e["file"] for e in log} >= {"manifest.json", victim.name}
    # the next start has nothing to repair or train
    assert _run(grid, out) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "0 trained now, 60 already there" in captured.out


@pytest.mark.parametrize("damage", ["empty", "not-an-object", "garbage-json"])
def test_damaged_manifest_is_rebuilt(tmp_path, reference, damage, capsys):
    grid, out = _grid(tmp_path), tmp_path / "out"
    assert _run(grid, out) == 0
    _manifest(out).write_text({"empty": "", "not-an-object": "[1, 2]", "garbage-json": "{'a': "}[damage])
    assert _run(grid, out) == 0
    assert "rebuilt" in capsys.readouterr().err
    pd.testing.assert_frame_equal(_rows(out), reference[0])
    assert json.loads(_manifest(out).read_text())["n_done"] == 60


def test_part_whose_ids_do_not_match_its_name_is_quarantined(tmp_path, reference, capsys):
    grid, out = _grid(tmp_path), tmp_path / "out"
    assert _run(grid, out) == 0
    parts = sorted(out.glob("part-*.parquet"))
    a, b = parts[1], parts[2]
    tmp = a.with_name("swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)                         # two parts under each other's names
    capsys.readouterr()
    assert _run(grid, out) == 0
    err = capsys.readouterr().err
    assert f"{a.name}: its run_index column is not exactly" in err and b.name in err
    pd.testing.assert_frame_equal(_rows(out), reference[0])
    assert len(list(_quarantine(out).glob("part-*"))) == 2


def test_part_repeating_another_parts_runs_is_quarantined(tmp_path, reference, capsys):
    grid, out = _grid(tmp_path), tmp_path / "out"
    assert _run(grid, out) == 0
    # a resume with another chunk size wrote parts that overlap nothing; now copy one in twice
    first = sorted(out.glob("part-*.parquet"))[0]
    t = pq.read_table(first)
    name = parse_part_name(first.name)
    sub = t.slice(0, 4)
    mask = np.zeros(name.count, bool)
    mask[:4] = True
    from sweep.run.done import mask_digest
    pq.write_table(sub, out / f"part-{name.group:03d}-{name.start:012d}-{name.count}-{mask_digest(mask)}.parquet")
    capsys.readouterr()
    assert _run(grid, out) == 0
    assert "repeats runs that another part holds" in capsys.readouterr().err
    pd.testing.assert_frame_equal(_rows(out), reference[0])


def test_report_reads_what_is_readable_and_says_what_it_skipped(tmp_path, capsys):
    grid, out = _grid(tmp_path), tmp_path / "out"
    assert _run(grid, out) == 0
    victim = sorted(out.glob("part-*.parquet"))[2]
    victim.write_bytes(b"PAR1 garbage")
    _manifest(out).write_bytes(b"\xff\xfe\x00garbage")
    capsys.readouterr()
    assert main(["claim", str(out), "--at", "100", "--by", "all"]) == 0
    captured = capsys.readouterr()
    assert f"skipped {victim}" in captured.err and "manifest.json" in captured.err
    assert "Traceback" not in captured.err
    import results
    df = results.load(out)
    assert len(df) == 60 - pq.read_metadata(sorted((tmp_path / "out").glob("part-*.parquet"))[0]).num_rows
    assert len(df.attrs["skipped"]) == 2


def test_more_seeds_on_a_directory_of_another_layout_plans_by_run_id(tmp_path, capsys):
    """A grid that grew (more seeds) changes the run indices; its parts are kept and used by id."""
    out = tmp_path / "out"
    small = _grid(tmp_path, GRID.replace("seeds = 30", "seeds = 20"))
    assert _run(small, out) == 0
    big = tmp_path / "big.toml"
    big.write_text(GRID)
    capsys.readouterr()
    assert _run(big, out) == 0
    captured = capsys.readouterr()
    assert "20 trained now, 40 already there" in captured.out and "quarantine" not in captured.err
    rows = _rows(out)
    assert len(rows) == 60 and rows["run_id"].is_unique
    assert _run(big, out) == 0 and "0 trained now" in capsys.readouterr().out


def test_done_index_cuts_chunks_against_ranges_and_singles():
    d = DoneIndex([(10, 20), (0, 5), (18, 30)], [np.array([40, 42])])
    assert d.n_done == 5 + 20 + 2
    assert d.mask(30, 40) is None
    np.testing.assert_array_equal(np.flatnonzero(d.mask(3, 12)), [0, 1, 7, 8])
    np.testing.assert_array_equal(np.flatnonzero(d.mask(38, 45)), [2, 4])
    assert d.mask(0, 30).sum() == 25


def test_inserting_a_subgrid_before_others_loses_no_part(tmp_path, capsys):
    """Group numbering moves when a sub-grid is inserted: new chunks may carry old part names,
    and must not replace those parts (every run present once, none trained twice)."""
    base = GRID.replace('"train.lr" = [0.5, 2.0]\n', "")
    two = base + '[[sweep.grids]]\n"train.optimizer" = ["sgd"]\n[[sweep.grids]]\n"train.optimizer" = ["momentum"]\n'
    three = (base + '[[sweep.grids]]\n"train.optimizer" = ["sgd"]\n[[sweep.grids]]\n"train.optimizer" = ["adam"]\n'
             '"train.lr" = [0.01]\n[[sweep.grids]]\n"train.optimizer" = ["momentum"]\n')
    out = tmp_path / "out"
    assert _run(_grid(tmp_path, two), out) == 0
    before = _rows(out)
    assert _run(_grid(tmp_path, three), out) == 0
    after = _rows(out)
    assert len(after) == 90 and after["run_id"].is_unique
    pd.testing.assert_frame_equal(after[after.run_id.isin(before.run_id)].reset_index(drop=True)
                                  [["run_id", "final_loss", "epoch_acc100"]],
                                  before[["run_id", "final_loss", "epoch_acc100"]])
    capsys.readouterr()
    assert _run(_grid(tmp_path, three), out) == 0
    assert "0 trained now, 90 already there" in capsys.readouterr().out


def test_repair_with_a_relative_output_folder_keeps_the_quarantine_record(tmp_path, reference, capsys, monkeypatch):
    """The default layout, ``--out runs/NAME``, is relative while the quarantine folder is absolute:
    the repair must neither crash nor lose the ``quarantined`` record of the manifest."""
    monkeypatch.chdir(tmp_path)
    grid, out = _grid(tmp_path), Path("runs") / "repair"
    assert _run(grid, out) == 0
    victim = sorted(out.glob("part-*.parquet"))[3]
    victim.write_bytes(victim.read_bytes()[:100])
    capsys.readouterr()
    assert _run(grid, out) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{victim.name}: unreadable" in err and f"moved to repair.sweep/quarantine/{victim.name}." in err
    pd.testing.assert_frame_equal(_rows(out), reference[0])
    record = json.loads(_manifest(out).read_text())["quarantined"]
    assert [e["file"] for e in record] == [victim.name]
    assert record[0]["moved_to"].startswith(f"repair.sweep/quarantine/{victim.name}.")
    assert (tmp_path / "runs" / record[0]["moved_to"]).is_file()
