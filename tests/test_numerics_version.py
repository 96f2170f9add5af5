"""The numerics version: recorded in the manifest; a directory of other numerics is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import sweep.run.numerics
from kernels.config import NUMERICS_VERSION
from results.layout import layout_of
from sweep.cli import main

GRID = """
name = "numerics"
[task]
name = "xor"
[model]
hidden = [2]
[train]
epochs = 50
[sweep]
seeds = {seeds}
"""


def _grid(tmp_path: Path, seeds: int) -> Path:
    p = tmp_path / "grid.toml"
    p.write_text(GRID.format(seeds=seeds))
    return p


def _snapshot(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_manifest_records_the_numerics_version(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(_grid(tmp_path, 20)), "--out", str(out), "--no-progress"]) == 0
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert manifest["numerics_version"] == NUMERICS_VERSION == 2


def test_other_numerics_are_refused_with_exit_2_and_nothing_changes(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_grid(tmp_path, 20)), "--out", str(out), "--no-progress"]) == 0
    mpath = layout_of(out).manifest
    manifest = json.loads(mpath.read_text())
    manifest["numerics_version"] = 3           # as if written by a later release
    mpath.write_text(json.dumps(manifest))
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["run", str(_grid(tmp_path, 40)), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "numerics version 3" in err and f"numerics version {NUMERICS_VERSION}" in err
    assert str(out) in err and "Traceback" not in err
    assert _snapshot(out) == before            # no part trained, manifest untouched
    assert len(pd.read_parquet(out)) == 20


def test_a_manifest_without_the_field_is_version_1(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    with monkeypatch.context() as m:           # as written by a version-1 release
        m.setattr(sweep.run.numerics, "current", lambda: 1)
        assert main(["run", str(_grid(tmp_path, 20)), "--out", str(out), "--no-progress"]) == 0
        mpath = layout_of(out).manifest
        manifest = json.loads(mpath.read_text())
        del manifest["numerics_version"]       # written before the field existed
        mpath.write_text(json.dumps(manifest))
        assert main(["run", str(_grid(tmp_path, 30)), "--out", str(out), "--no-progress"]) == 0
        assert len(pd.read_parquet(out)) == 30
        manifest = json.loads(mpath.read_text())
        assert manifest["numerics_version"] == 1   # the resumed session records it
        del manifest["numerics_version"]
        mpath.write_text(json.dumps(manifest))
    # ... and these kernels (version 2: exp reaches its IEEE limits) refuse it
    capsys.readouterr()
    assert main(["run", str(_grid(tmp_path, 40)), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "numerics version 1" in err and "numerics version 2" in err and "Traceback" not in err
    assert len(pd.read_parquet(out)) == 30
