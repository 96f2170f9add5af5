"""The journal of verified parts (sweep/run/journal.py): a resume after kill -9 reads only the
parts written after the last journal entry, a torn line is harmless, a changed part is caught."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import sweep.run.repair as repair
from results.layout import layout_of
from results.writer import OutputDir
from sweep.cli import main
from sweep.run.journal import NAME, read_journal

GRID = """
name = "journal"
[task]
name = "xor"
[train]
epochs = 40
[sweep]
seeds = 24
"train.lr" = [0.5, 2.0]
"""


def _run(grid: Path, out: Path) -> int:
    return main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "8"])


def _journal(out: Path) -> Path:
    return layout_of(out).meta / NAME


@pytest.fixture
def killed(tmp_path, monkeypatch):
    """A sweep 'killed' after writing its parts: the manifest keeps what it said at the start
    (no verified part), as after a kill -9; the journal lists the parts."""
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "out"
    writes = []
    real = OutputDir.write_manifest

    def first_only(self, manifest):
        writes.append(1)
        if len(writes) == 1:
            real(self, manifest)

    with monkeypatch.context() as m:
        m.setattr(OutputDir, "write_manifest", first_only)
        assert _run(grid, out) == 0
    assert json.loads(layout_of(out).manifest.read_text())["verified_parts"] == {}
    ref = pd.read_parquet(out).sort_values("run_id").reset_index(drop=True)
    return grid, out, ref


def _count_checks(monkeypatch) -> list:
    calls = []
    real = repair.check_part

    def counted(grid, path, name):
        calls.append(path.name)
        return real(grid, path, name)

    monkeypatch.setattr(repair, "check_part", counted)
    return calls


def test_resume_after_kill_reads_the_journal_and_checks_no_journaled_part(killed, monkeypatch, capsys):
    grid, out, ref = killed
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert len(parts) == 6
    assert sorted(read_journal(OutputDir(out), _runs_hash(grid))) == parts
    calls = _count_checks(monkeypatch)
    assert _run(grid, out) == 0
    assert calls == []                                   # O(new parts): none is new
    assert "warning" not in capsys.readouterr().err
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert sorted(manifest["verified_parts"]) == parts
    assert all(len(v) == 3 for v in manifest["verified_parts"].values())   # digests kept
    pd.testing.assert_frame_equal(pd.read_parquet(out).sort_values("run_id").reset_index(drop=True), ref)


def test_without_the_journal_every_part_is_checked(killed, monkeypatch):
    grid, out, _ = killed
    _journal(out).unlink()
    calls = _count_checks(monkeypatch)
    assert _run(grid, out) == 0
    assert len(calls) == 6


def test_a_torn_last_line_and_garbage_lines_are_ignored(killed, monkeypatch, capsys):
    grid, out, ref = killed
    j = _journal(out)
    lines = j.read_bytes().split(b"\n")[:-1]
    torn = lines[-1][: len(lines[-1]) // 2]               # kill -9 in the middle of the last write
    j.write_bytes(b"\n".join(lines[:-1] + [b"\x00\xffnot json", b"[1, 2]", b'{"name": 5}']) + b"\n" + torn)
    calls = _count_checks(monkeypatch)
    assert _run(grid, out) == 0
    assert calls == [json.loads(lines[-1])["name"]]      # only the part whose line was torn
    assert "warning" not in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(out).sort_values("run_id").reset_index(drop=True), ref)


def test_a_journal_of_another_run_layout_is_ignored(killed, monkeypatch):
    grid, out, _ = killed
    j = _journal(out)
    lines = j.read_bytes().split(b"\n")
    lines[0] = json.dumps({"journal": 1, "runs_hash": "another"}).encode()
    j.write_bytes(b"\n".join(lines))
    calls = _count_checks(monkeypatch)
    assert _run(grid, out) == 0
    assert len(calls) == 6


def test_a_journaled_part_that_changed_since_is_checked_and_quarantined(killed, monkeypatch, capsys):
    grid, out, ref = killed
    parts = sorted(out.glob("part-*.parquet"))
    victim = parts[2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 3] ^= 0x10                             # same size, new mtime: changed since
    victim.write_bytes(bytes(data))
    truncated = parts[4]
    truncated.write_bytes(truncated.read_bytes()[:100])
    calls = _count_checks(monkeypatch)
    assert _run(grid, out) == 0
    assert sorted(calls) == sorted([victim.name, truncated.name])
    err = capsys.readouterr().err
    assert f"{victim.name}:" in err and f"{truncated.name}:" in err and "trained again" in err
    moved = [p.name for p in OutputDir(out).quarantine_dir.iterdir()]
    assert any(n.startswith(victim.name) for n in moved) and any(n.startswith(truncated.name) for n in moved)
    pd.testing.assert_frame_equal(pd.read_parquet(out).sort_values("run_id").reset_index(drop=True), ref)


def test_a_fresh_journal_after_each_start_holds_only_that_sessions_parts(killed, monkeypatch):
    grid, out, _ = killed
    parts = sorted(out.glob("part-*.parquet"))
    parts[0].unlink()                                     # its runs are trained again, once
    assert _run(grid, out) == 0
    entries = read_journal(OutputDir(out), _runs_hash(grid))
    assert list(entries) == [parts[0].name]
    st = parts[0].stat()
    assert entries[parts[0].name][:2] == [st.st_size, st.st_mtime_ns]


def _runs_hash(grid: Path) -> str:
    from sweep.grid.load import load_grid
    return load_grid(grid).runs_hash
