"""Datasets ("tasks"): inputs X (n_patterns, n_in) and targets T (n_patterns, n_out).

- xor, and, or, nand: the four patterns (0,0), (0,1), (1,0), (1,1) in that order.
- parity: all 2^N bit patterns (N = task.bits), in binary counting order; target = odd parity.
- encoder: the N-M-N encoder, X = T = identity(N) (one-hot in, one-hot out).
- targets = "onehot": a binary target t becomes two outputs [1-t, t] (seed 000's [1,0]/[0,1]).
- csv: a header-less numeric file; the last ``task.n_outputs`` columns are the targets.
- spirals, moons, circles, blobs, xor_noisy, teacher, sine: generated from ``task.data_seed`` and
  their keys (``sweep.grid.datasets``, formulas in docs/conventions.md); the two-class ones take
  ``targets = "onehot"`` too.

``task.data_seed = "per_run"``: each run's dataset is drawn with its own seed as ``data_seed``
(:func:`run_config`), so cells that differ in other keys see the same datasets seed by seed (a
paired design) and a cell's seeds see as many datasets.

Held-out sets (:func:`make_datasets`): ``task.n_test`` patterns of a generated task (a second
draw from its distribution), or for a CSV task a second file (``task.test_path``) or a split of
the file (``task.test_fraction``, drawn from ``task.data_seed``: :func:`split`).
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from sweep.errors import GridError
from sweep.grid.datasets import SPLIT, data_key, generate, stream, uniform
from sweep.grid.schema import GENERATED_TASKS

PER_RUN = "per_run"


def per_run(config: dict) -> bool:
    """Whether ``config``'s runs each draw their own dataset (``task.data_seed = "per_run"``)."""
    return config.get("task.data_seed") == PER_RUN


def run_config(config: dict, seed: int) -> dict:
    """The task config of the run with ``seed``: ``"per_run"`` becomes ``data_seed = seed``."""
    return {**config, "task.data_seed": int(seed)} if per_run(config) else config


def shape_config(config: dict) -> dict:
    """A config whose dataset has the shapes of every run's (``"per_run"``: the dataset of seed 0)."""
    return run_config(config, 0)


_GATES = {
    "xor": lambda a, b: a ^ b,
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "nand": lambda a, b: 1 - (a & b),
}


def make_task(config: dict, base_dir: str | Path = ".") -> tuple[np.ndarray, np.ndarray]:
    """(X, T) float64, the training set of a run config with ``task.*`` keys (dotted keys)."""
    return make_datasets(config, base_dir)[:2]


def make_datasets(config: dict, base_dir: str | Path = ".") -> tuple:
    """``(X, T, X_test, T_test)`` float64: the training set and the held-out set (``None, None``
    when the config has none)."""
    name = config["task.name"]
    if name == "csv":
        X, T = load_csv(Path(base_dir) / config["task.path"], int(config["task.n_outputs"]))
        if config.get("task.test_path"):
            Xte, Tte = load_csv(Path(base_dir) / config["task.test_path"], int(config["task.n_outputs"]),
                                key="task.test_path")
            if Xte.shape[1] != X.shape[1]:
                raise GridError(f"task.test_path: {config['task.test_path']!r} has {Xte.shape[1] + Tte.shape[1]} "
                                f"columns but task.path has {X.shape[1] + T.shape[1]}; the held-out file needs "
                                f"the same columns", key="task.test_path")
            return X, T, Xte, Tte
        if config.get("task.test_fraction"):
            return split(X, T, float(config["task.test_fraction"]), int(config.get("task.data_seed") or 0))
        return X, T, None, None
    X, T = _make_train(config, base_dir)
    if name in GENERATED_TASKS and config.get("task.n_test"):
        Xte, Tte = generate(config, held_out=True)
        return X, T, Xte, _targets(config, Tte)
    return X, T, None, None


def split(X, T, fraction: float, data_seed: int) -> tuple:
    """A CSV file's held-out split: ``round(fraction * n)`` rows held out, the rows with the
    smallest ``uniform(stream(data_key("csv", data_seed), SPLIT), i)`` (row i; ties by row), both
    parts in file order; ``(X, T, X_test, T_test)``."""
    n = X.shape[0]
    n_test = int(round(fraction * n))
    if not 1 <= n_test < n:
        raise GridError(f"task.test_fraction = {fraction:g} of {n} rows holds out {n_test}; it must leave at "
                        f"least one row in each set", key="task.test_fraction")
    u = uniform(stream(data_key("csv", data_seed), SPLIT), n)
    held = np.zeros(n, bool)
    held[np.argsort(u, kind="stable")[:n_test]] = True
    return X[~held], T[~held], X[held], T[held]


def _targets(config: dict, T: np.ndarray) -> np.ndarray:
    return np.concatenate([1 - T, T], axis=1) if config.get("task.targets") == "onehot" else T


def _make_train(config: dict, base_dir) -> tuple[np.ndarray, np.ndarray]:
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
    elif name in GENERATED_TASKS:
        X, T = generate(config)
        return X, _targets(config, T)
    else:
        raise GridError(f"task.name = {name!r} is not a known task")
    X = bits.astype(np.float64)
    if config.get("task.targets") == "onehot":
        T = np.stack([1 - t, t], axis=1).astype(np.float64)
    else:
        T = t[:, None].astype(np.float64)
    return X, T


def load_csv(path: Path, n_outputs: int, key: str = "task.path") -> tuple[np.ndarray, np.ndarray]:
    """Read a header-less numeric CSV; clear GridError (naming ``key``) for a missing, ragged or
    non-numeric file."""
    path = Path(path)
    if not path.exists():
        raise GridError(f"{key}: no such file {str(path)!r}", key=key)
    if not path.is_file():  # a FIFO would block, /dev/zero never end
        raise GridError(f"{key}: {str(path)!r} is not a regular file (a directory, FIFO or device); "
                        f"a header-less CSV file of numbers is expected", key=key)
    try:
        with path.open(encoding="utf-8") as fh:
            rows = _read_rows(path, fh, key)
    except UnicodeDecodeError as exc:
        raise GridError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start} of a line); a header-less "
                        f"CSV of numbers in UTF-8 (or ASCII) is expected", key=key) from None
    if not rows:
        raise GridError(f"{path}: the CSV file is empty", key=key)
    data = np.array(rows)
    if data.shape[1] <= n_outputs:
        raise GridError(f"{path}: {data.shape[1]} columns leave no inputs for task.n_outputs = {n_outputs}",
                        key="task.n_outputs")
    return data[:, :-n_outputs].copy(), data[:, -n_outputs:].copy()


def _read_rows(path: Path, fh, key: str) -> list[list[float]]:
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
                            f"numbers is expected)", key=key) from None
        bad = [i for i, v in enumerate(rows[-1], 1) if not math.isfinite(v)]
        if bad:
            raise GridError(f"{path}:{lineno}: column {bad[0]} is {cells[bad[0] - 1].strip()!r}, not a finite "
                            f"number; NaN and inf would make every run diverge", key=key)
        if len(rows[-1]) != len(rows[0]):
            raise GridError(f"{path}:{lineno}: {len(rows[-1])} columns, expected {len(rows[0])}", key=key)
    return rows


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
