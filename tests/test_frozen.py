"""Results are frozen: the kernels give, bit for bit, what main gave before they were rebuilt.

``tests/fixtures/frozen_matrix.toml`` covers every activation, loss, optimizer, schedule, init,
dtype, shortcut, parity, encoder and a diverging cell; its ``.parquet`` twins were written by
main at commit 3bd4568 (hand-written generic and IR kernels, identity version 1 with record.*
on, layout 1). The default schedules and the memory schedule must still give every metric bit, parameter, output and curve
point, matched by run_index and seed (run ids changed on purpose: identity version 2 leaves
record.* out); the fixture's version-1 ids must still be computed exactly, and a directory
laid out as before must still resume.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from bits import METRICS, same_bits  # tests/bits.py
from kernels.config import NUMERICS_VERSION
from results.layout import layout_of
from results.reader import load
from sweep.cli import main
from sweep.grid.load import load_grid
from sweep.grid.hashing import run_id_v1_of
from sweep.grid.identity import ids_from_table

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GRID = FIXTURES / "frozen_matrix.toml"

pytestmark = pytest.mark.slow


def _fixture():
    return pq.read_table(FIXTURES / "frozen_matrix.parquet").sort_by("run_index")


@pytest.mark.parametrize("specialise", ["1", "0"], ids=["default", "memory"])   # "0": the memory schedule
def test_frozen_matrix_is_bit_identical(tmp_path, monkeypatch, specialise):
    monkeypatch.setenv("MLP_SWEEP_SPECIALISE", specialise)
    out = tmp_path / "out"
    assert main(["run", str(GRID), "--out", str(out), "--no-progress"]) == 0
    want = _fixture()
    got = ds.dataset(out, format="parquet").to_table().sort_by("run_index")
    assert got.num_rows == want.num_rows == 432
    assert got["run_index"].to_pylist() == want["run_index"].to_pylist()
    assert got["seed"].to_pylist() == want["seed"].to_pylist()
    bad = [c for c in METRICS if not same_bits(got[c], want[c])]
    assert not bad, f"columns changed: {bad}"
    # identity: the new ids are the version-2 ids of the fixture's own configs
    new_ids = got["run_id"].to_numpy()
    assert np.array_equal(ids_from_table(want, 2), new_ids)
    old_ids = want["run_id"].to_numpy()
    assert not np.intersect1d(old_ids, new_ids).size  # record.* was on: every id moved
    # curves: the fixture's are keyed by version-1 ids; map them to the new ids by run_index
    want_c = pq.read_table(FIXTURES / "frozen_matrix_curves.parquet")
    order = np.argsort(old_ids)
    mapped = new_ids[order[np.searchsorted(old_ids, want_c["run_id"].to_numpy(), sorter=order)]]
    want_c = want_c.set_column(0, want_c.schema.field("run_id"), pa.array(mapped, pa.uint64()))
    got_c = ds.dataset(layout_of(out).curves, format="parquet").to_table()
    keys = [("run_id", "ascending"), ("epoch", "ascending")]
    want_c, got_c = want_c.sort_by(keys), got_c.sort_by(keys)
    assert [c for c in ("run_id", "epoch", "loss", "mse") if not same_bits(got_c[c], want_c[c])] == []


def test_version1_ids_are_still_computed_exactly():
    want = _fixture()
    # from the stored rows (how directories written before are resumed) ...
    assert np.array_equal(ids_from_table(want, 1), want["run_id"].to_numpy())
    # ... and from the grid, with the slow reference
    grid = load_grid(GRID)
    for i in (0, 1, 100, 250, 431):
        assert run_id_v1_of(grid.run_config(i)) == want["run_id"][i].as_py()


def test_directory_written_before_resumes_in_its_own_layout(tmp_path, capsys):
    old = tmp_path / "old"
    (old / "_curves").mkdir(parents=True)
    shutil.copy(FIXTURES / "frozen_matrix.parquet", old / "part-000-000000000000-432-all.parquet")
    shutil.copy(FIXTURES / "frozen_matrix_curves.parquet", old / "_curves" / "part-000-000000000000-432-all.parquet")
    manifest = {"name": "frozen-matrix", "schema_version": 1, "status": "complete", "n_runs": 432}
    (old / "_manifest.json").write_text(json.dumps(manifest))
    assert layout_of(old).version == 1
    argv = ["run", str(GRID), "--out", str(old), "--no-progress"]
    # written before the numerics version was recorded: version 1, refused by these kernels (2) ...
    assert main(argv) == 2
    assert "numerics version 1" in capsys.readouterr().err
    # ... though its runs are the same bits under version 2 (test above): recorded as such, it resumes
    (old / "_manifest.json").write_text(json.dumps({**manifest, "numerics_version": NUMERICS_VERSION}))
    assert main(argv) == 0
    assert "0 trained now, 432 already there" in capsys.readouterr().out
    # recording less is the same runs: nothing to train (the version-1 ids had record.* in them)
    assert main(argv + ["--set", "record.curve_points=0", "--set", "record.final_params=false"]) == 0
    assert "0 trained now, 432 already there" in capsys.readouterr().out
    # one more seed: only the new runs, written as the directory was (ids v1, schema 1, _curves/)
    assert main(argv + ["--set", "sweep.seeds=13"]) == 0
    assert "36 trained now, 432 already there" in capsys.readouterr().out
    manifest = json.loads((old / "_manifest.json").read_text())
    assert manifest["identity_version"] == 1 and manifest["layout_version"] == 1
    assert not layout_of(old).runs.with_name("old.sweep").exists()
    new_parts = [p for p in old.glob("part-*.parquet") if not p.name.startswith("part-000-000000000000-432")]
    added = ds.dataset(new_parts, format="parquet").to_table()
    assert added.num_rows == 36 and added.schema.field("model.hidden").type == pa.string()
    assert np.array_equal(ids_from_table(added, 1), added["run_id"].to_numpy())
    curve_ids = set(ds.dataset(old / "_curves", format="parquet").to_table()["run_id"].to_pylist())
    assert set(added["run_id"].to_pylist()) <= curve_ids
    df = load(old)
    assert len(df) == 468 and list(df["model.hidden"].cat.categories)[:3] == ["[]", "[1]", "[2]"]
    assert main(argv + ["--set", "sweep.seeds=13"]) == 0
    assert "0 trained now, 468 already there" in capsys.readouterr().out
