"""A chunk's config columns built per run of equal config (``config_segments``) are the arrays
the per-run path builds, down to the Parquet bytes: any grid shape, any chunk, masked or not."""
from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweep.grid.columns import CONFIG_COLUMNS, config_arrays, config_segments
from sweep.grid.load import parse_grid

GRIDS = {
    "union": """
[train]
optimizer = "momentum"
[sweep]
seeds = 200
"train.lr" = [0.1, 0.5, 1]
"model.hidden" = [[2], [3]]
[[sweep.zip]]
"train.loss" = ["mse", "sse"]
"train.epochs" = [100, 200]
[[sweep.grids]]
"train.momentum" = [0.5, 0.9]
[[sweep.grids]]
"train.optimizer" = ["adam"]
"train.beta1" = [0.8, 0.9, 0.95]
seeds = {start = 7, count = 150}
""",
    "lists and text": """
[sweep]
seeds = 100
"model.activation" = ["sigmoid", "tanh", "relu"]
"model.hidden" = [[2], [8], [2, 2]]
"train.schedule" = ["full", "online"]
"criteria.main" = ["acc100", "fahlman"]
""",
    "many seeds": """
[sweep]
seeds = 5000
"train.lr" = [0.25, 0.5]
""",
}


def parquet_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf, compression="none")
    return buf.getvalue()


def chunks(n_runs: int, rng) -> list[tuple[int, int, np.ndarray | None]]:
    """Whole ranges of several sizes and masked ones (a random half, one long block)."""
    out = [(0, n_runs, None)]
    for size in (64, 700, 4096):
        a = int(rng.integers(0, max(1, n_runs - size)))
        out.append((a, min(n_runs, a + size), None))
    a, b = 0, min(n_runs, 3000)
    out.append((a, b, rng.random(b - a) < 0.5))
    block = np.zeros(b - a, bool)
    block[100:1700] = True
    out.append((a, b, block))
    return out


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_segments_give_the_per_run_arrays(name):
    grid = parse_grid(f'name = "seg"\n{GRIDS[name]}')
    rng = np.random.default_rng(0)
    used = 0
    for a, b, mask in chunks(grid.n_runs, rng):
        cols = grid.columns(a, b)
        if mask is not None:
            cols = {k: v[mask] for k, v in cols.items()}
        segments = config_segments(grid, cols["run_index"])
        if segments is None:
            continue
        used += 1
        starts, lengths = segments
        assert lengths.sum() == len(cols["run_index"]) and (lengths > 0).all()
        per_run = config_arrays(cols, grid)
        per_segment = config_arrays({k: cols[k][starts] for k in CONFIG_COLUMNS}, grid, lengths)
        assert list(per_segment) == list(per_run)
        for key in per_run:
            assert per_segment[key].equals(per_run[key]), (name, a, b, key)
            assert per_segment[key].type == per_run[key].type
        assert parquet_bytes(per_segment) == parquet_bytes(per_run)
    assert used >= 3


def test_short_segments_take_the_per_run_path():
    grid = parse_grid('name = "s"\n[sweep]\nseeds = 2\n"train.lr" = [0.1, 0.2, 0.3, 0.4, 0.5]\n')
    assert config_segments(grid, grid.columns(0, grid.n_runs)["run_index"]) is None
    assert config_segments(grid, np.zeros(0, np.int64)) is None
