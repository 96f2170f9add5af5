"""The hand-written generic kernel's results are frozen: the kernels that replaced it give them, bit for bit.

``tests/fixtures/generic_matrix.toml`` (issue 26 item 3) runs four nets the generic kernel took
(XOR 2-40-40-40-1, 4-bit parity 4-64-64-1, the 8-16-16-8 encoder, a 500-pattern CSV task
4-32-32-1) with sgd, momentum and adam (full, online, minibatch, shuffled and not), rprop and
quickprop, in float64 and float32, and a diverging cell. Its ``.parquet`` twins were written by
``kernels/train.py`` alone (``MLP_SWEEP_SPECIALISE=0``) at commit 87aa597, before that kernel was
retired. Today 12 of its 102 groups run a register schedule and 90 the memory schedule
(``kernels/codegen_epoch.py``); every metric bit, final parameter, final output and curve point,
matched by run_index, and the run ids must be what the generic kernel gave.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from bits import METRICS, same_bits  # tests/bits.py
from results.layout import layout_of
from sweep.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GRID = FIXTURES / "generic_matrix.toml"
N_RUNS = 208

pytestmark = pytest.mark.slow


def test_generic_matrix_is_bit_identical(tmp_path, monkeypatch):
    monkeypatch.delenv("MLP_SWEEP_SPECIALISE", raising=False)
    monkeypatch.delenv("MLP_SWEEP_MEMORY", raising=False)
    out = tmp_path / "out"
    assert main(["run", str(GRID), "--out", str(out), "--no-progress"]) == 0
    want = pq.read_table(FIXTURES / "generic_matrix.parquet").sort_by("run_index")
    got = ds.dataset(out, format="parquet").to_table().sort_by("run_index")
    assert got.num_rows == want.num_rows == N_RUNS
    assert got["run_index"].to_pylist() == want["run_index"].to_pylist()
    assert got["run_id"].to_pylist() == want["run_id"].to_pylist()     # run ids unchanged
    bad = [c for c in METRICS if not same_bits(got[c], want[c])]
    assert not bad, f"columns changed: {bad}"
    # the matrix still holds what it was made for: a diverged cell, both dtypes, rprop and quickprop
    assert any(got["diverged"].to_pylist())
    assert set(got["train.dtype"].to_pylist()) == {"float64", "float32"}
    assert {"rprop", "quickprop"} <= set(got["train.optimizer"].to_pylist())
    keys = [("run_id", "ascending"), ("epoch", "ascending")]
    want_c = pq.read_table(FIXTURES / "generic_matrix_curves.parquet").sort_by(keys)
    got_c = ds.dataset(layout_of(out).curves, format="parquet").to_table().sort_by(keys)
    assert got_c.num_rows == want_c.num_rows
    assert [c for c in ("run_id", "epoch", "loss", "mse") if not same_bits(got_c[c], want_c[c])] == []
