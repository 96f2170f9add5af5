"""A flipped bit in a part is found: every page carries a CRC-32, the footer's names, types and
metadata a digest of their own, and the manifest the digest of each part's bytes. A damaged part
is quarantined and its runs trained again, as a truncated one is (docs/reliability.md)."""
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
from sweep.grid.load import load_grid
from sweep.run.done import check_part, parse_part_name
from sweep.run.repair import scan_and_repair

GRID = """
name = "flips"
[task]
name = "xor"
[train]
epochs = 60
[sweep]
seeds = 24
"train.lr" = [0.5, 2.0]
"""
N_FLIPS = 200


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    base = tmp_path_factory.mktemp("flips")
    grid = base / "grid.toml"
    grid.write_text(GRID)
    out = base / "out"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "16"]) == 0
    return grid, out, pd.read_parquet(out).sort_values("run_id").reset_index(drop=True)


def _positions(size: int) -> np.ndarray:
    """N_FLIPS bit positions spread evenly over the file: pages, footer and trailer."""
    return np.linspace(0, size * 8 - 1, N_FLIPS).astype(np.int64)


def _flipped(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def _manifest(out: Path) -> dict:
    return json.loads(layout_of(out).manifest.read_text())


def test_every_flipped_bit_of_a_recorded_part_is_quarantined(swept):
    grid_path, out, _ = swept
    grid = load_grid(grid_path)
    part = sorted(out.glob("part-*.parquet"))[1]
    assert len(_manifest(out)["verified_parts"][part.name]) == 3       # size, mtime, digest
    data, st = part.read_bytes(), part.stat()
    missed, by_digest = [], 0
    for bit in _positions(len(data)):
        part.write_bytes(_flipped(data, bit))
        os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # written later than recorded
        with OutputDir(out) as o:
            scan = scan_and_repair(o, grid)
        if part.name in {p.name for p in scan.parts}:
            missed.append(int(bit))
        else:
            assert any(w.startswith(f"{part.name}: ") and "trained again" in w for w in scan.warnings)
            by_digest += any("its bytes changed since it was written" in w for w in scan.warnings)
        part.write_bytes(data)
        os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert missed == [] and by_digest > 0    # some flips change nothing read: only the digest sees them
    assert len(list(OutputDir(out).quarantine_dir.glob(f"{part.name}.*"))) == N_FLIPS   # each moved, none deleted


def test_a_flipped_bit_without_a_recorded_digest_is_found_or_changes_nothing_read(swept):
    """A part written after the manifest's last write (a kill -9) has no digest there: the pages'
    CRC-32 and the footer's own digest find a flip, or it changes no value, name, type or metadata."""
    grid_path, out, _ = swept
    grid = load_grid(grid_path)
    part = sorted(out.glob("part-*.parquet"))[2]
    data, original = part.read_bytes(), pq.read_table(part)
    copy = out.parent / "copy" / part.name
    copy.parent.mkdir(exist_ok=True)
    found = harmless = 0
    for bit in _positions(len(data)):
        copy.write_bytes(_flipped(data, bit))
        problem, _ = check_part(grid, copy, parse_part_name(copy.name))
        if problem is not None:
            found += 1
            continue
        assert pq.read_table(copy).equals(original, check_metadata=True), f"bit {bit} changed what is read"
        harmless += 1
    assert found + harmless == N_FLIPS and found > N_FLIPS // 2


def test_sweep_run_retrains_a_part_with_a_flipped_bit_in_final_loss(swept, tmp_path, capsys):
    grid_path, ref_out, reference = swept
    out = tmp_path / "out"
    assert main(["run", str(grid_path), "--out", str(out), "--no-progress", "--chunk-size", "16"]) == 0
    part = sorted(out.glob("part-*.parquet"))[0]
    meta = pq.read_metadata(part)
    col = meta.schema.names.index("final_loss")
    chunk = meta.row_group(0).column(col)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(part.read_bytes())
    data[start + chunk.total_compressed_size - 3] ^= 0x10                # inside final_loss's page
    part.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["run", str(grid_path), "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"{part.name}: unreadable" in err and "crc" in err.lower() and "trained again" in err
    pd.testing.assert_frame_equal(pd.read_parquet(out).sort_values("run_id").reset_index(drop=True), reference)
    assert [e["file"] for e in _manifest(out)["quarantined"]] == [part.name]


def test_a_flipped_page_bit_is_found_by_its_crc_when_no_digest_was_recorded(swept, tmp_path, capsys):
    grid_path, _, reference = swept
    out = tmp_path / "out"
    assert main(["run", str(grid_path), "--out", str(out), "--no-progress", "--chunk-size", "16"]) == 0
    manifest = _manifest(out)
    manifest["verified_parts"] = {}                                     # as after a kill -9
    layout_of(out).manifest.write_text(json.dumps(manifest))
    part = sorted(out.glob("part-*.parquet"))[0]
    meta = pq.read_metadata(part)
    chunk = meta.row_group(0).column(meta.schema.names.index("final_loss"))
    data = bytearray(part.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size - 3] ^= 0x10
    part.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["run", str(grid_path), "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"{part.name}: unreadable" in err and "crc" in err.lower()
    pd.testing.assert_frame_equal(pd.read_parquet(out).sort_values("run_id").reset_index(drop=True), reference)
