"""One work unit: a chunk of runs of one group -> one kernel call -> Arrow tables.

``execute_chunk`` is a pure function of the grid, the group plan and the chunk's run
indices, so any backend (local threads, a Dask worker, a retry) computes the same rows.
"""
from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

import kernels
from kernels import Network, TrainOptions, log_spaced_epochs
from kernels.api import milestone_code
from kernels.ops import HYPER, kernel_optimizer
from results.schema import CURVE_SCHEMA
from sweep.run.arrow_columns import all_none, codes_of
from sweep.grid.columns import CONFIG_COLUMNS, config_arrays, config_segments, run_schema
from sweep.grid.schema import CRITERIA, HYPER_KEYS, PARAM_BY_KEY, TEST_CRITERIA
from sweep.grid.tasks import make_datasets, per_run, run_config, shape_config

MAIN_CODES = {name: milestone_code(name) for name in CRITERIA + TEST_CRITERIA}


def held_out_args(X_test, T_test) -> dict:
    """``kernels.train``'s held-out arguments (none without a held-out set)."""
    return {} if X_test is None else dict(X_test=X_test, T_test=T_test)


@dataclass(frozen=True)
class GroupPlan:
    """What every chunk of one group shares: network, options, dataset, explicit parameters."""

    index: int
    key: str
    label: str
    config: dict
    network: Network
    options: TrainOptions
    X: np.ndarray
    T: np.ndarray
    explicit_theta: np.ndarray | None
    record: dict
    X_test: np.ndarray | None = None     # the held-out set, evaluated every epoch (None: none)
    T_test: np.ndarray | None = None
    base_dir: str = "."                  # a CSV task's files are relative to it

    @property
    def held_out(self) -> dict:
        """``kernels.train``'s held-out arguments (none without a held-out set)."""
        return held_out_args(self.X_test, self.T_test)


@dataclass(frozen=True)
class Chunk:
    """Runs ``start..stop-1`` of group ``group`` (``mask`` selects the pending ones, or all)."""

    group: int
    start: int
    stop: int
    mask: np.ndarray | None = None

    @property
    def n_runs(self) -> int:
        return int(self.stop - self.start if self.mask is None else self.mask.sum())

    @property
    def name(self) -> str:
        """A stable id of the runs it holds, usable in file names and as a Dask key."""
        digest = "all" if self.mask is None else hashlib.blake2b(
            np.packbits(self.mask).tobytes(), digest_size=4).hexdigest()
        return f"{self.group:03d}-{self.start:012d}-{self.stop - self.start}-{digest}"


@dataclass(frozen=True)
class ChunkResult:
    chunk: Chunk
    table: pa.Table
    curves: pa.Table | None
    kernel_s: float
    total_s: float
    network_epochs: int


def network_for(cfg: dict, n_in: int, n_out: int) -> Network:
    hidden = list(cfg["model.hidden"])
    act = cfg["model.activation"]
    acts = list(act) if isinstance(act, (list, tuple)) else [act] * len(hidden)
    return Network(sizes=(n_in, *hidden, n_out), activations=(*acts, cfg["model.output"]),
                   bias=bool(cfg["model.bias"]), shortcut=bool(cfg["model.shortcut"]), dense=bool(cfg["model.dense"]))


def plan_group(index: int, group, base_dir: str | Path, max_epochs: int) -> GroupPlan:
    """Build the shared part of a group's kernel calls from its (normalised) config."""
    cfg = group.config
    X, T, X_test, T_test = make_datasets(shape_config(cfg), base_dir)   # "per_run": every run's shapes
    net = network_for(cfg, X.shape[1], T.shape[1])
    record = {k: bool(cfg[f"record.{k}"]) for k in ("initial_params", "final_params", "final_outputs")}
    opts = TrainOptions(
        loss=cfg["train.loss"], optimizer=kernel_optimizer(cfg["train.optimizer"], cfg["train.rprop_variant"]),
        schedule=cfg["train.schedule"], flat_spot=float(cfg["train.flat_spot"]),
        weight_decay=float(cfg["train.weight_decay"]),
        batch_size=int(cfg["train.batch_size"] or 1), shuffle=bool(cfg["train.shuffle"]),
        dtype=cfg["train.dtype"], accuracy=cfg["criteria.accuracy"] or "auto", curve_epochs=log_spaced_epochs(max_epochs, int(cfg["record.curve_points"])),
        record_final_params=record["final_params"], record_final_outputs=record["final_outputs"])
    explicit = None
    if cfg["init.scheme"] == "explicit":
        explicit = net.flatten(cfg["init.weights"], cfg["init.biases"], cfg["init.shortcut_weights"])
    return GroupPlan(index, group.key, group.label, dict(cfg), net, opts, X, T, explicit, record, X_test, T_test,
                     str(base_dir))


def _filled(cols: dict, key: str, default: float) -> np.ndarray:
    """A numeric column with non-applicable (None) entries replaced by a neutral value."""
    v = cols[key]
    if v.dtype == object:  # the key does not apply in this group: (normally) every entry is None
        if all_none(v):
            return np.full(len(v), default, dtype=np.float64)
        mask = np.equal(v, None)
        out = np.full(len(v), default, dtype=np.float64)
        out[~mask] = v[~mask].astype(np.float64)
        return out
    return v


def _hyper(cols: dict) -> dict:
    """The kernels' per-run hyper-parameters from the chunk's columns (``schema.HYPER_KEYS``);
    keys that do not apply to a run take the kernels' defaults (never read by its optimizer)."""
    return {name: _filled(cols, key, HYPER[name]) for name, key in HYPER_KEYS.items()
            if key in cols and name not in ("flat_spot", "weight_decay")}


def _chunk_columns(grid, chunk: Chunk) -> dict:
    """The chunk's pending runs' columns; a sparse mask (e.g. several cells' seed blocks far
    apart) is decoded segment by segment instead of over its whole span."""
    if chunk.mask is None:
        return grid.columns(chunk.start, chunk.stop)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], chunk.mask.view(np.int8), [0]])))
    if edges.size == 0 or edges.size // 2 > 64 or 2 * chunk.n_runs > chunk.mask.size:
        return {k: v[chunk.mask] for k, v in grid.columns(chunk.start, chunk.stop).items()}
    parts = [grid.columns(chunk.start + a, chunk.start + b) for a, b in zip(edges[::2], edges[1::2])]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def execute_chunk(grid, plan: GroupPlan, chunk: Chunk) -> ChunkResult:
    """Train the chunk's pending runs and return their rows (see results.schema)."""
    t0 = time.perf_counter()
    cols = _chunk_columns(grid, chunk)
    n = len(cols["run_id"])
    net = plan.network
    if plan.explicit_theta is not None:
        theta0 = np.broadcast_to(plan.explicit_theta, (n, net.n_params)).copy()
    else:
        theta0 = kernels.init_params(
            net, plan.config["init.scheme"], cols["init_key"], seeds=cols["seed"],
            **{k: _filled(cols, f"init.{k}", PARAM_BY_KEY[f"init.{k}"].default) for k in ("low", "high", "std", "scale")})
    t1 = time.perf_counter()
    if per_run(plan.config):
        res = _train_per_run(plan, cols, theta0)
        cols = {**cols, "task.data_seed": cols["seed"]}     # the dataset each run drew
    else:
        res = _train(plan, (plan.X, plan.T, plan.X_test, plan.T_test), cols, _hyper(cols), theta0, slice(None))
    kernel_s = time.perf_counter() - t1
    table = _run_table(cols, res, plan, theta0, grid)
    curves = _curve_table(cols["run_id"], res, plan.options.curve_epochs) if plan.options.curve_epochs else None
    return ChunkResult(chunk, table, curves, kernel_s, time.perf_counter() - t0,
                       int(res.epochs_run.sum()))


def _train(plan: GroupPlan, data: tuple, cols: dict, hyper: dict, theta0: np.ndarray, idx):
    """``kernels.train`` on the runs ``idx`` of the chunk with ``data = (X, T, X_test, T_test)``
    (``hyper``: the chunk's ``_hyper(cols)``)."""
    X, T, X_test, T_test = data
    return kernels.train(
        plan.network, plan.options, X, T, theta0[idx], epochs=cols["train.epochs"][idx].astype(np.int64),
        early_stop=cols["train.early_stop"][idx].astype(np.int64),
        main=codes_of(cols["criteria.main"][idx], MAIN_CODES), shuffle_keys=cols["shuffle_key"][idx],
        **held_out_args(X_test, T_test), **{k: v[idx] for k, v in hyper.items()})


def _train_per_run(plan: GroupPlan, cols: dict, theta0: np.ndarray):
    """``task.data_seed = "per_run"``: one kernel call per dataset (the runs of a seed share
    one), every call the same compiled kernel; the results in the chunk's run order."""
    seeds, hyper = cols["seed"], _hyper(cols)       # the chunk's hyper-parameters: built once
    parts = []
    for seed in np.unique(seeds):
        idx = np.flatnonzero(seeds == seed)
        data = make_datasets(run_config(plan.config, int(seed)), plan.base_dir)
        parts.append((idx, _train(plan, data, cols, hyper, theta0, idx)))
    return _merged(parts, len(seeds))


def _merged(parts: list, n: int):
    """One ``TrainResult`` of ``n`` runs from ``(run positions, result)`` parts."""
    def merge(values):
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values]) for k in first}
        if not isinstance(first, np.ndarray):
            return first
        out = np.empty((n, *first.shape[1:]), first.dtype)
        for (idx, _), v in zip(parts, values):
            out[idx] = v
        return out

    first = parts[0][1]
    return dataclasses.replace(first, **{f.name: merge([getattr(r, f.name) for _, r in parts])
                                         for f in dataclasses.fields(first)})


def _nullable_epoch(a: np.ndarray) -> pa.Array:
    return pa.array(a, type=pa.int64(), mask=a < 0)


def _list_column(mat: np.ndarray) -> pa.Array:
    n, width = mat.shape[0], int(np.prod(mat.shape[1:]))
    flat = pa.array(np.ascontiguousarray(mat, dtype=np.float64).reshape(-1))
    return pa.ListArray.from_arrays(pa.array(np.arange(0, n * width + 1, width, dtype=np.int32)), flat)


def _run_table(cols: dict, res, plan: GroupPlan, theta0: np.ndarray, grid) -> pa.Table:
    arrays = {
        "run_id": pa.array(cols["run_id"], pa.uint64()),
        "run_index": pa.array(cols["run_index"], pa.int64()),
        "seed": pa.array(cols["seed"], pa.int64()),
    }
    # runs of equal config: built once each ("per_run": every run its own data_seed)
    segments = None if per_run(plan.config) else config_segments(grid, cols["run_index"])
    if segments is None:
        arrays.update(config_arrays(cols, grid))
    else:
        starts, lengths = segments
        arrays.update(config_arrays({k: cols[k][starts] for k in CONFIG_COLUMNS}, grid, lengths))
    arrays.update({
        "epochs_run": pa.array(res.epochs_run, pa.int64()),
        "final_loss": pa.array(res.final_loss), "final_mse": pa.array(res.final_mse),
        "final_accuracy": pa.array(res.final_accuracy), "min_loss": pa.array(res.min_loss),
        "converged": pa.array(res.converged), "convergence_epoch": _nullable_epoch(res.convergence_epoch),
        "epoch_acc75": _nullable_epoch(res.epoch_acc75), "epoch_acc100": _nullable_epoch(res.epoch_acc100),
        "epoch_fahlman": _nullable_epoch(res.epoch_fahlman), "epoch_tss": _nullable_epoch(res.epoch_tss),
        "epoch_loss": _nullable_epoch(res.epoch_loss), "diverged": pa.array(res.diverged),
    })
    if res.test is not None:
        t = res.test
        arrays.update({f"test_{k}": _nullable_epoch(v) if "epoch" in k else pa.array(v) for k, v in t.items()})
        arrays["gap_accuracy"] = pa.array(res.final_accuracy - t["final_accuracy"])
        arrays["gap_loss"] = pa.array(t["final_loss"] - res.final_loss)
    if plan.record["initial_params"]:
        arrays["initial_params"] = _list_column(theta0)
    if plan.record["final_params"]:
        arrays["final_params"] = _list_column(res.final_params)
    if plan.record["final_outputs"]:
        arrays["final_outputs"] = _list_column(res.final_outputs)
    schema = run_schema()  # one schema for every part: optional list columns are null unless recorded
    n = len(cols["run_id"])
    return pa.Table.from_arrays([arrays[f.name] if f.name in arrays else pa.nulls(n, f.type)
                                 for f in schema], schema=schema)


def _curve_table(run_ids: np.ndarray, res, curve_epochs) -> pa.Table:
    """The curves' rows (the epochs each run reached); test columns null without a held-out set."""
    n, k = res.curve_loss.shape
    keep = ~np.isnan(res.curve_loss).reshape(-1)
    test = res.test is not None
    values = [res.curve_loss, res.curve_mse, res.curve_accuracy, res.curve_test_loss, res.curve_test_accuracy]
    return pa.Table.from_arrays([
        pa.array(np.repeat(run_ids, k)[keep], pa.uint64()),
        pa.array(np.tile(np.asarray(curve_epochs, np.int64), n)[keep]),
        *(pa.array(v.reshape(-1)[keep]) if test or i < 3 else pa.nulls(int(keep.sum()), pa.float64())
          for i, v in enumerate(values)),
    ], schema=CURVE_SCHEMA)
