"""Datasets ("tasks"): inputs X (n_patterns, n_in) and targets T (n_patterns, n_out).

- xor, and, or, nand: the four patterns (0,0), (0,1), (1,0), (1,1) in that order.
- parity: all 2^N bit patterns (N = task.bits), in binary counting order; target = odd parity.
- encoder: the N-M-N encoder, X = T = identity(N) (one-hot in, one-hot out).
- targets = "onehot": a binary target t becomes two outputs [1-t, t] (seed 000's [1,0]/[0,1]).
- csv: a header-less numeric file; the last ``task.n_outputs`` columns are the targets.
- spirals, moons, circles, blobs, xor_noisy, teacher, sine: generated from ``task.data_seed`` and
  their keys (``sweep.grid.datasets``, formulas in docs/conventions.md); the two-class ones take
  ``targets = "onehot"`` too.
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from sweep.errors import GridError
from sweep.grid.datasets import generate
from sweep.grid.schema import GENERATED_TASKS

_GATES = {
    "xor": lambda a, b: a ^ b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "nand": lambda a, b: 1 - (a & b),
}


def make_task(config: dict, base_dir: str | Path = ".") -> tuple[np.ndarray, np.ndarray]:
    """(X, T) float64 for a run config with ``task.*`` keys (dotted keys)."""
    name = config["task.name"]
    if name in _GATES:
        bits = np.array(list(itertools.product((0, 1), repeat=2)), dtype=np.int64)
        t = np.array([_GATES[name](a, b) for a, b in bits], dtype=np.int64)
    elif name == "parity":
        bits = np.array(list(itertools.product((0, 1), repeat=int(config["task.bits"]))), dtype=np.int64)
        t = bits.sum(axis=1) % 2
    elif name == "encoder":
        eye = np.eye(int(config["task.size"]))
        return eye, eye.copy()
    elif name == "csv":
        return load_csv(Path(base_dir) / config["task.path"], int(config["task.n_outputs"]))
    elif name in GENERATED_TASKS:
        X, T = generate(config)
        if config.get("task.targets") == "onehot":
            T = np.concatenate([1 - T, T], axis=1)
        return X, T
    else:
        raise GridError(f"task.name = {name!r} is not a known task")
    X = bits.astype(np.float64)
    if config.get("task.targets") == "onehot":
        T = np.stack([1 - t, t], axis=1).astype(np.float64)
    else:
        T = t[:, None].astype(np.float64)
    return X, T


def load_csv(path: Path, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Read a header-less numeric CSV; clear GridError for a missing, ragged or non-numeric file."""
    path = Path(path)
    if not path.exists():
        raise GridError(f"task.path: no such file {str(path)!r}", key="task.path")
    if not path.is_file():  # a FIFO would block, /dev/zero never end
        raise GridError(f"task.path: {str(path)!r} is not a regular file (a directory, FIFO or device); "
                        f"a header-less CSV file of numbers is expected", key="task.path")
    try:
        with path.open(encoding="utf-8") as fh:
            rows = _read_rows(path, fh)
    except UnicodeDecodeError as exc:
        raise GridError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start} of a line); a header-less "
                        f"CSV of numbers in UTF-8 (or ASCII) is expected", key="task.path") from None
    if not rows:
        raise GridError(f"{path}: the CSV file is empty", key="task.path")
    data = np.array(rows)
    if data.shape[1] <= n_outputs:
        raise GridError(f"{path}: {data.shape[1]} columns leave no inputs for task.n_outputs = {n_outputs}",
                        key="task.n_outputs")
    return data[:, :-n_outputs].copy(), data[:, -n_outputs:].copy()


def _read_rows(path: Path, fh) -> list[list[float]]:
    """The rows of numbers; the first line that is not numbers, finite, or as long as the first raises."""
    rows: list[list[float]] = []
    for lineno, line in enumerate(fh, 1):
        if not line.strip():
            continue
        cells = line.split(",")
        try:
            rows.append([float(v) for v in cells])
        except ValueError:  # the file's text is not echoed: task.path may name any file
            col = next(i for i, v in enumerate(cells, 1) if not _is_float(v))
            raise GridError(f"{path}:{lineno}: column {col} is not a number (a header-less CSV of "
                            f"numbers is expected)", key="task.path") from None
        bad = [i for i, v in enumerate(rows[-1], 1) if not math.isfinite(v)]
        if bad:
            raise GridError(f"{path}:{lineno}: column {bad[0]} is {cells[bad[0] - 1].strip()!r}, not a finite "
                            f"number; NaN and inf would make every run diverge", key="task.path")
        if len(rows[-1]) != len(rows[0]):
            raise GridError(f"{path}:{lineno}: {len(rows[-1])} columns, expected {len(rows[0])}", key="task.path")
    return rows


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
