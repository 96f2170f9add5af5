"""--dry-run's cost model (``sweep.run.estimate``): per run, per chunk and per part, main thread
and writer overlapping; calibrated on two chunks with the epochs capped and scaled back."""
from __future__ import annotations

import pytest

from sweep.cli.run import _CappedEpochs
from sweep.grid.load import parse_grid
from sweep.run.estimate import GroupCost, _line, calibrate
from sweep.run.runner import make_plans


def test_a_chunk_cost_is_shared_by_its_runs():
    cost = GroupCost(kernel_run=1e-6, other_run=1e-6, other_chunk=0.02, write_row=0.5e-6, write_part=0.01)
    # 10^8 zero-epoch-like runs in chunks of 4096: the fixed costs of 24,415 chunks, not 10^8 / 64
    assert cost.seconds(10**8, 4096) == pytest.approx(10**8 * 2e-6 + 24415 * 0.02)
    # the writer is the longer thread: the group takes its time (the two overlap)
    slow_writer = GroupCost(1e-7, 1e-7, 0.001, 3e-6, 0.05)
    assert slow_writer.seconds(65536 * 10, 65536) == pytest.approx(65536 * 10 * 3e-6 + 10 * 0.05)
    # the kernel's part scales with the runs' epochs, the rest does not
    scaled = GroupCost(1e-6, 1e-6, 0.0, 0.0, 0.0, scale=5.0)
    assert scaled.seconds(1000, 1000) == pytest.approx(1000 * 6e-6)


def test_line_through_two_chunk_sizes():
    assert _line(64, 0.010, 256, 0.016) == (pytest.approx(0.006 / 192), pytest.approx(0.008))
    assert _line(64, 0.010, 256, 0.009) == (0.0, 0.010)      # noise: no negative slope
    assert _line(64, 0.010, 64, 0.010) == (pytest.approx(0.010 / 64), 0.0)  # a group of 64 runs


def test_calibrate_scales_capped_epochs():
    grid = parse_grid('name = "e"\n[train]\nepochs = 500\n[sweep]\nseeds = 300\n')
    capped = _CappedEpochs(grid, 100)
    [plan] = make_plans(grid)
    cost, res = calibrate(capped, grid, plan, 0, grid.n_runs, n=16)
    assert res.table.num_rows == 64 and cost.scale == pytest.approx(5.0)
    assert min(cost.kernel_run, cost.other_run, cost.other_chunk, cost.write_row, cost.write_part) >= 0
    assert cost.kernel_run > 0 and cost.write_row + cost.write_part > 0
