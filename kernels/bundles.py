"""The typed bundles the training kernels take, instead of long positional signatures.

Every per-run array is lane-last: ``(n_blocks, ..., LANES)`` with ``LANES`` runs per block.

- ``Data``: the dataset, shared by every run. ``X (n_patterns, n_in)``, ``T (n_patterns, n_out)``
  in the run dtype, ``tidx (n_patterns,)`` int64 the one-hot target's index (argmax accuracy);
  the held-out set the same way, ``Xte (n_test, n_in)``, ``Tte``, ``tidxte`` (``n_test`` may be 0).
- ``Net``: the architecture's int64 layout arrays (``kernels.network.Network.layout``):
  ``sizes (n_layers+1,)``, ``acts (n_layers,)`` activation codes, ``w_off``/``b_off (n_layers,)``
  parameter offsets (-1: no bias), ``unit_off (n_layers+1,)`` first unit of each level in ``A``.
- ``Static``: int64 scalars shared by a call: op codes, schedule, batch size, flags, ``s_off``
  (-1: no shortcut).
- ``Runs``: per-run inputs. ``theta (n_blocks, P, L)`` initial parameters (final ones on return),
  ``hyper (n_blocks, N_HYPER, L)`` (rows ``kernels.ops.hyper.ROW``), ``lane_int (n_blocks,
  N_LANE_INT, L)`` (rows ``kernels.ops.hyper.IROW``: epochs, main criterion code, early stop),
  ``skey (n_blocks, L)`` uint64 shuffle keys.
- ``Outputs``: ``run (n_blocks, L)`` epochs run, ``ms (n_blocks, N_MILESTONES, L)`` first epoch of
  each milestone (-1: not met), ``fin (n_blocks, N_FINAL, L)`` float64 final metrics (rows
  ``FINAL``), ``div (n_blocks, L)`` uint8 diverged, ``curve (n_blocks, n_curve, N_CURVE, L)`` the
  rows ``CURVE`` at the curve epochs (NaN elsewhere), ``out (n_blocks, n_patterns, n_out, L)``
  final outputs (zero-sized unless recorded); on the held-out set, ``test (n_blocks, N_TEST, L)``
  float64 (rows ``TEST``: its final loss, mse and accuracy, its best accuracy) and ``test_ms
  (n_blocks, N_MILESTONES + 1, L)`` the first epoch of each milestone on it, then the epoch its
  best accuracy was first reached (NaN and -1 without a held-out set).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Training schedules, in code order (``Static.schedule``; full batch reuses the evaluation pass).
SCHEDULES = ("full", "online", "minibatch")
FULL = SCHEDULES.index("full")

#: Rows of ``Outputs.fin``.
FINAL = ("final_loss", "final_mse", "final_accuracy", "min_loss")
FIN_LOSS, FIN_MSE, FIN_ACC, FIN_MIN = range(len(FINAL))
N_FINAL = len(FINAL)
#: Rows of ``Outputs.curve``: the training set's loss, mse and accuracy, the held-out set's loss
#: and accuracy.
CURVE = ("loss", "mse", "accuracy", "test_loss", "test_accuracy")
N_CURVE = len(CURVE)
#: Rows of ``Outputs.test``.
TEST = ("test_loss", "test_mse", "test_accuracy", "test_best_accuracy")
TEST_LOSS, TEST_MSE, TEST_ACC, TEST_BEST = range(len(TEST))
N_TEST = len(TEST)


class Data(NamedTuple):
    X: np.ndarray
    T: np.ndarray
    tidx: np.ndarray
    Xte: np.ndarray
    Tte: np.ndarray
    tidxte: np.ndarray


class Net(NamedTuple):
    sizes: np.ndarray
    acts: np.ndarray
    w_off: np.ndarray
    b_off: np.ndarray
    unit_off: np.ndarray


class Static(NamedTuple):
    loss: int
    opt: int
    schedule: int
    batch_size: int
    shuffle: int
    acc_mode: int
    s_off: int
    flat: int          # Fahlman's flat-spot offset is on
    decay: int         # weight decay is on
    rec_out: int       # record the final outputs


class Runs(NamedTuple):
    theta: np.ndarray
    hyper: np.ndarray
    lane_int: np.ndarray
    skey: np.ndarray


class Outputs(NamedTuple):
    run: np.ndarray
    ms: np.ndarray
    fin: np.ndarray
    div: np.ndarray
    curve: np.ndarray
    out: np.ndarray
    test: np.ndarray
    test_ms: np.ndarray
