"""Grid validation: single values against the schema, and each group's config as a whole.

Holds ``_value`` (one value checked against its :class:`~sweep.grid.schema.Param`: type, bounds,
choices; normalised, numbers in float kinds as ``float``), :func:`task_shape` (a task's
``(n_in, n_out)``, reading a csv task) and ``_check_group`` (the cross-key rules on one
group: task.targets allowed for the task, bce needs targets in [0, 1] and a sigmoid output, one
activation per hidden layer, explicit init shapes match the architecture, ``numpy_legacy`` needs no
shortcut and seeds < 2**32).
"""
from __future__ import annotations

import math
from typing import Any

from sweep.errors import GridError
from sweep.grid.groups import Group
from sweep.grid.hashing import canonical_json
from sweep.grid.locate import _Context, _short
from sweep.grid.schema import (BINARY_TASKS, FULL_BATCH_OPTIMIZERS, OPTIMIZERS, PARAM_BY_KEY, TASK_TARGETS,
                               Param)
from sweep.grid.tasks import PER_RUN, make_task, shape_config

TASK_KEYS = tuple(k for k in PARAM_BY_KEY if k.startswith("task."))


# ------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------
def _number(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


def _matrix(x: Any) -> bool:
    return (isinstance(x, list) and bool(x) and all(isinstance(r, list) and r and all(map(_number, r)) for r in x)
            and len({len(r) for r in x}) == 1)


_KIND_TEXT = {
    "int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a string",
    "int_list": "a list of positive integers, e.g. [2] or [20, 20] ([] = none)",
    "str_or_list": "a name or a list of names (one per hidden layer)",
    "matrix_list": "a list of matrices, one [out][in] list of equal-length rows per layer",
    "vector_list": "a list of lists of numbers, one vector per layer",
}


def _value(p: Param, v: Any, ctx: _Context, table: str, key: str) -> Any:
    """``v`` checked against ``p`` and normalised (float kinds as float, numbers in lists as float)."""
    def bad(what: str) -> GridError:
        return ctx.error(f"{p.key} = {_short(v)} {what}", table, key)

    kind = p.kind
    if p.key == "task.data_seed" and v == PER_RUN:
        return v
    if p.key == "task.data_seed" and isinstance(v, str):
        raise bad(f"is not allowed; use an integer >= 0 (one dataset shared by every seed of a cell) or "
                  f"{PER_RUN!r} (each run's dataset drawn with its seed as data_seed)")
    if kind == "int" and type(v) is not int:
        raise bad(f"must be {_KIND_TEXT[kind]}")
    if kind == "float":
        if type(v) not in (int, float) or not math.isfinite(v):
            raise bad(f"must be {_KIND_TEXT[kind]}")
        v = float(v)
    if kind in ("int", "float"):
        if p.minimum is not None and (v <= p.minimum if p.exclusive_min else v < p.minimum):
            raise bad(f"must be {'>' if p.exclusive_min else '>='} {p.minimum:g}")
        if p.maximum is not None and v > p.maximum:
            raise bad(f"must be <= {p.maximum:g}")
        return v
    if kind == "bool" and type(v) is not bool or kind == "str" and not isinstance(v, str):
        raise bad(f"must be {_KIND_TEXT[kind]}")
    if kind == "int_list" and not (isinstance(v, list) and all(type(x) is int and x >= 1 for x in v)):
        raise bad(f"must be {_KIND_TEXT[kind]}")
    if kind in ("str", "str_or_list"):
        names = v if isinstance(v, list) else [v]
        if not all(isinstance(x, str) for x in names):
            raise bad(f"must be {_KIND_TEXT[kind]}")
        wrong = [x for x in names if p.choices and x not in p.choices]
        if wrong:
            what = "is not allowed" if not isinstance(v, list) else f"has {wrong[0]!r}, which is not allowed"
            raise bad(f"{what}; choose one of: {', '.join(p.choices)}")
    if kind == "matrix_list":
        if p.key == "init.shortcut_weights" and isinstance(v, list) and len(v) == 1 and _matrix(v[0]):
            v = v[0]  # a list holding the one shortcut matrix: unwrap
        one = p.key == "init.shortcut_weights"
        if not (_matrix(v) if one else isinstance(v, list) and all(map(_matrix, v))):
            raise bad("must be one [n_out][n_in] matrix (a list of equal-length rows of numbers)" if one
                      else f"must be {_KIND_TEXT[kind]}")
        return [[float(x) for x in r] for r in v] if one else [[[float(x) for x in r] for r in m] for m in v]
    if kind == "vector_list":
        if not (isinstance(v, list) and all(isinstance(r, list) and r and all(map(_number, r)) for r in v)):
            raise bad(f"must be {_KIND_TEXT[kind]}")
        return [[float(x) for x in r] for r in v]
    return list(v) if isinstance(v, list) else v


# ------------------------------------------------------------------------------------------
# Tasks: input/output sizes
# ------------------------------------------------------------------------------------------
def task_shape(config: dict, base_dir: str = ".", _cache: dict | None = None) -> tuple[int, int]:
    """``(n_in, n_out)`` of a group's task, from the same ``sweep.grid.tasks.make_task`` the runner uses.

    A csv task is read here (relative to ``base_dir``), so a missing, ragged or non-numeric
    file fails before any work; ``GridError`` from ``make_task`` passes through.
    """
    if config["task.name"] == "csv" and not config["task.path"]:
        raise GridError("task.name = 'csv' needs task.path (a CSV file, relative to the grid file)")
    config = shape_config(config)
    key = canonical_json([base_dir] + [config.get(k) for k in TASK_KEYS])
    cache = {} if _cache is None else _cache
    if key not in cache:
        X, T = make_task(config, base_dir)
        cache[key] = (X.shape[1], T.shape[1])
    return cache[key]


def _check_group(g: Group, grid_subs, ctx: _Context, base_dir: str, cache: dict, many: bool) -> None:
    """Cross-key rules on one group's config (group-role keys, normalised)."""
    c = g.config
    where = f" (in the group {g.label})" if many else ""

    def fail(msg: str, key: str) -> GridError:
        return ctx.error_at(msg + where, key)

    task, targets = c["task.name"], c["task.targets"]
    allowed = TASK_TARGETS.get(task, ("binary", "onehot") if task in BINARY_TASKS else ())
    if targets is not None and targets not in allowed:
        raise fail(f"task.targets = {targets!r} is not allowed with task.name = {task!r}; choose one of: "
                   f"{', '.join(allowed)}", "task.targets")
    if c["train.loss"] == "bce" and (task == "sine" or targets == "regression"):
        raise fail(f"train.loss = 'bce' needs targets in [0, 1] but task.name = {task!r} has continuous "
                   f"targets{' (task.targets = regression)' if targets else ''}; use train.loss = 'mse' or 'sse'",
                   "train.loss")
    if c["train.loss"] == "bce" and c["model.output"] != "sigmoid":
        raise fail(f"train.loss = 'bce' requires model.output = 'sigmoid' (got {c['model.output']!r})", "train.loss")
    if c["train.optimizer"] in FULL_BATCH_OPTIMIZERS and c["train.schedule"] != "full":
        raise fail(f"train.optimizer = {c['train.optimizer']!r} is a full-batch rule (each step compares "
                   f"the whole-dataset gradient with the previous epoch's) but train.schedule = {c['train.schedule']!r}; "
                   f"allowed: train.schedule = 'full', or train.optimizer one of "
                   f"{', '.join(o for o in OPTIMIZERS if o not in FULL_BATCH_OPTIMIZERS)}", "train.schedule")
    hidden, act = c["model.hidden"], c["model.activation"]
    if isinstance(act, list) and len(act) != len(hidden):
        raise fail(f"model.activation = {act} has {len(act)} names but model.hidden = {hidden} has "
                   f"{len(hidden)} hidden layers; give one name per layer, or one name for all", "model.activation")
    if c["task.test_path"] and c["task.test_fraction"]:
        raise fail(f"task.test_path = {c['task.test_path']!r} and task.test_fraction = {c['task.test_fraction']:g} "
                   f"both name a held-out set; give one", "task.test_fraction")
    try:
        n_in, n_out = task_shape(c, base_dir, cache)
    except GridError as exc:
        text = str(exc).removeprefix("<grid>: ")   # make_task's: no location
        key = exc.key if exc.key in ("task.test_path", "task.test_fraction", "task.n_outputs") else (
            "task.path" if c["task.path"] else "task.name")
        text = text.removeprefix(f"{key}: ")
        raise fail(f"{key} = {c[key]!r}: {text}" if key != "task.name" and not text.startswith(key) else text,
                   key) from None
    if c["criteria.accuracy"] == "argmax" and n_out < 2:
        raise fail(f"criteria.accuracy = 'argmax' needs several outputs but the task has {n_out}; use 'side' "
                   f"(or 'auto'), or task.targets = 'onehot'", "criteria.accuracy")
    scheme = c["init.scheme"]
    if scheme == "numpy_legacy":
        if c["model.shortcut"] or c["model.dense"]:
            raise fail("init.scheme = 'numpy_legacy' requires model.shortcut = false and model.dense = false",
                       "init.scheme")
        if max(grid_subs[s].seeds.max() for s in g.subgrids) >= 2**32:
            raise fail("init.scheme = 'numpy_legacy' seeds np.random, which needs seeds < 2**32", "init.scheme")
    if scheme != "explicit":
        return
    if c["model.dense"]:
        raise fail("init.scheme = 'explicit' does not support model.dense (its skip matrices have no grid key); "
                   "use a drawn scheme such as 'uniform'", "init.scheme")
    sizes = [n_in, *hidden, n_out]
    arch = "-".join(map(str, sizes))
    weights = c["init.weights"]
    if weights is None:
        raise fail(f"init.scheme = 'explicit' needs init.weights (one [out][in] matrix per layer for {arch})",
                   "init.scheme")
    shapes = [[len(m), len(m[0])] for m in weights]
    want = [[sizes[i + 1], sizes[i]] for i in range(len(sizes) - 1)]
    if shapes != want:
        raise fail(f"init.weights has shapes {shapes} ([out][in] per layer) but the network {arch} needs {want}",
                   "init.weights")
    biases = c["init.biases"]
    if c["model.bias"] and biases is None:
        raise fail(f"init.biases is required with model.bias = true (vectors of sizes {sizes[1:]})", "init.scheme")
    if not c["model.bias"] and biases is not None:
        raise fail("init.biases is given but model.bias = false", "init.biases")
    if biases is not None and [len(b) for b in biases] != sizes[1:]:
        raise fail(f"init.biases has sizes {[len(b) for b in biases]} but the network {arch} needs {sizes[1:]}",
                   "init.biases")
    sw = c["init.shortcut_weights"]
    if c["model.shortcut"] and sw is None:
        raise fail(f"init.shortcut_weights is required with model.shortcut = true ([{n_out}][{n_in}])",
                   "init.scheme")
    if not c["model.shortcut"] and sw is not None:
        raise fail("init.shortcut_weights is given but model.shortcut = false", "init.shortcut_weights")
    if sw is not None and [len(sw), len(sw[0])] != [n_out, n_in]:
        raise fail(f"init.shortcut_weights has shape [{len(sw)}][{len(sw[0])}] but needs [{n_out}][{n_in}]",
                   "init.shortcut_weights")

