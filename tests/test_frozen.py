"""Results are frozen: the kernels give, bit for bit, what main gave before they were rebuilt.

``tests/fixtures/frozen_matrix.toml`` covers every activation, loss, optimizer, schedule, init,
dtype, shortcut, parity, encoder and a diverging cell; its ``.parquet`` twins were written by
main at commit 3bd4568 (hand-written generic and IR kernels). Both kernel paths must still give
every metric bit, parameter, output, curve point and run id.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from sweep.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GRID = FIXTURES / "frozen_matrix.toml"
METRICS = ("run_id", "seed", "epochs_run", "final_loss", "final_mse", "final_accuracy", "min_loss",
           "converged", "convergence_epoch", "epoch_acc75", "epoch_acc100", "epoch_fahlman",
           "epoch_tss", "epoch_loss", "diverged", "final_params", "final_outputs")

pytestmark = pytest.mark.slow


def _same(a, b) -> bool:
    """Bit equality of two pyarrow columns (NaN equal to NaN of the same bits, nulls aligned)."""
    a, b = a.combine_chunks(), b.combine_chunks()
    if a.type != b.type and not (str(a.type).startswith("list") and str(b.type).startswith("list")):
        return False
    if str(a.type).startswith("list"):
        if pc.list_value_length(a).to_pylist() != pc.list_value_length(b).to_pylist():
            return False
        a, b = pc.list_flatten(a), pc.list_flatten(b)
    if a.null_count or b.null_count:
        if a.is_null().to_pylist() != b.is_null().to_pylist():
            return False
        a, b = a.drop_null(), b.drop_null()
    va, vb = a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False)
    if va.dtype.kind == "f":
        return va.dtype == vb.dtype and np.array_equal(va.view(np.uint64 if va.itemsize == 8 else np.uint32),
                                                       vb.view(np.uint64 if vb.itemsize == 8 else np.uint32))
    return np.array_equal(va, vb)


@pytest.mark.parametrize("specialise", ["1", "0"], ids=["specialised", "generic"])
def test_frozen_matrix_is_bit_identical(tmp_path, monkeypatch, specialise):
    monkeypatch.setenv("MLP_SWEEP_SPECIALISE", specialise)
    out = tmp_path / "out"
    assert main(["run", str(GRID), "--out", str(out), "--no-progress"]) == 0
    want = pq.read_table(FIXTURES / "frozen_matrix.parquet").sort_by("run_index")
    got = ds.dataset(out, format="parquet").to_table().sort_by("run_index")
    assert got.num_rows == want.num_rows == 432
    assert got["run_index"].to_pylist() == want["run_index"].to_pylist()
    bad = [c for c in METRICS if not _same(got[c], want[c])]
    assert not bad, f"columns changed: {bad}"
    want_c = pq.read_table(FIXTURES / "frozen_matrix_curves.parquet")
    got_c = ds.dataset(out / "_curves", format="parquet").to_table()
    keys = [("run_id", "ascending"), ("epoch", "ascending")]
    want_c, got_c = want_c.sort_by(keys), got_c.sort_by(keys)
    assert [c for c in ("run_id", "epoch", "loss", "mse") if not _same(got_c[c], want_c[c])] == []
