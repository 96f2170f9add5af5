"""Grid files (TOML) -> a validated, lazily expanded :class:`~sweep.expand.Grid`.

Syntax::

    name = "xor-169"                 # required, [A-Za-z0-9_.-]+
    description = "What question this grid answers"
    [task]                           # fixed values: any key of sweep/schema.py, by section
    name = "xor"
    [model]
    hidden = [2]                     # one architecture; [] = no hidden layer; [20, 20] = two
    activation = "sigmoid"           # or one name per hidden layer: ["tanh", "relu"]
    [init]                           # explicit: weights = [[[w11, w12], [w21, w22]], [[v1, v2]]]
    scheme = "torch_default"         #   one [out][in] matrix per layer; biases = [[b1, b2], [c]];
    [train]                          #   shortcut_weights = [[s1, s2]]  (one [n_out][n_in] matrix)
    lr = 0.5
    [sweep]
    seeds = 2000                     # 0..1999; or [1, 5, 9]; or {start = 100, count = 50}; default 1
    "train.lr" = [0.1, 0.5, 1]       # an axis: always a list; axes multiply (Cartesian product)
    "model.hidden" = [[2], [3]]      # list-valued keys: a list of lists
    [[sweep.zip]]                    # keys that vary together (equal lengths): one axis
    "train.lr" = [0.1, 0.5]
    "train.momentum" = [0.9, 0.5]
    [[sweep.grids]]                  # optional union of sub-grids: each one is the [sweep]
    "train.optimizer" = ["sgd"]      #   axes (and seeds) overridden or extended by its own
    [[sweep.grids]]                  #   axes, zips ([[sweep.grids.zip]]) and seeds
    "train.optimizer" = ["momentum"]
    "train.momentum" = [0.5, 0.9]
    [output]
    dir = "results/xor-169"          # default "results/<name>", relative to the CWD
    chunk_size = 4096                # runs per kernel call (>= 1)
    [execution]
    backend = "local"                # local | dask
    threads = 0                      # 0 = all cores
    scheduler = ""                   # dask: tcp://HOST:PORT
    dask_local = 0                   # dask: start a LocalCluster of N workers
    retries = 2

Rules:

- An axis key is a full dotted key (quoted, ``"train.lr"``; unquoted dotted keys work too).
  Seeds are given only by ``seeds``. A key may be fixed in its section and also swept: the
  axis wins. A key may be on one axis only per sub-grid (plain or in one zip).
- A sub-grid axis replaces the [sweep] axis of the same key (a [sweep] zip must then be
  replaced whole); the sub-grid's new axes follow the [sweep] ones.
- Every value is checked against the schema (type, bounds, choices), then every *group*
  (distinct combination of group-role values) is checked as a whole: bce needs a sigmoid
  output, one activation per hidden layer, explicit init shapes match the architecture
  (``n_in``/``n_out`` from the task; a csv task is read, relative to the grid file's folder),
  ``init.biases`` iff ``model.bias``, ``init.shortcut_weights`` iff ``model.shortcut``,
  ``numpy_legacy`` needs no shortcut and seeds < 2**32.
- ``overrides`` are ``--set KEY=VALUE`` items: KEY is ``name``, ``description``,
  ``section.key`` (task/model/init/train/criteria/record/output/execution), ``sweep.seeds``
  or ``sweep.<dotted key>`` (an axis, e.g. ``sweep.train.lr=[0.1,0.2]``). VALUE is a TOML
  value, else a bare string. A fixed ``--set`` on a key that the grid sweeps is an error.

Every failure is a :class:`~sweep.errors.GridError` naming the file (and line when known)
or the ``--set`` item, the key, the value and what is allowed.
"""
from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # python < 3.11
    import tomli as tomllib

from sweep.errors import GridError
from sweep.expand import (LIST_KINDS, Axis, Grid, Group, Seeds, applies, build_subgrids,
                          make_groups)
from sweep.hashing import canonical_json
from sweep.schema import (BACKENDS, EXECUTION_KEYS, OUTPUT_KEYS, PARAM_BY_KEY, PARAMS, SECTIONS,
                          Param)
from sweep.tasks import make_task

__all__ = ["Grid", "Group", "load_grid", "parse_grid", "task_shape"]

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
TOP_KEYS = ("name", "description", *SECTIONS, "sweep", "output", "execution")
SWEEP_SPECIAL = ("seeds", "zip", "grids")
EXECUTION_DEFAULTS = {"backend": "local", "threads": 0, "scheduler": "", "dask_local": 0, "retries": 2}
MAX_SEED = 2**63 - 1
TASK_KEYS = tuple(k for k in PARAM_BY_KEY if k.startswith("task."))
#: Common other names for a key (the last part of the dotted key) -> our key.
ALIASES = {"learning_rate": "train.lr", "eta": "train.lr", "rate": "train.lr", "n_epochs": "train.epochs",
           "num_epochs": "train.epochs", "max_epochs": "train.epochs", "layers": "model.hidden",
           "hidden_sizes": "model.hidden", "hidden_layers": "model.hidden", "activations": "model.activation",
           "init": "init.scheme", "weight_init": "init.scheme", "alpha": "train.momentum",
           "batch": "train.batch_size", "seed": "sweep.seeds", "seeds": "sweep.seeds"}


# ------------------------------------------------------------------------------------------
# Error locations
# ------------------------------------------------------------------------------------------
class _Context:
    """Where things came from: the file (with a lazily built line index) or a ``--set`` item.

    Tables are named ``""`` (top level), ``"train"``, ``"sweep"``, ``"sweep.zip#1"``,
    ``"sweep.grids#2"``, ``"sweep.grids#2.zip#1"`` ... (1-based, in file order).
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")

    def __init__(self, path: str, text: str):
        self.path, self.text = path, text
        self.origin: dict[tuple[str, str], str] = {}
        self._index: dict[tuple[str, str], int] | None = None

    def _line(self, table: str, key: str) -> int | None:
        if self._index is None:
            self._index, current, n_zip, n_grid, n_gzip = {}, "", 0, 0, 0
            for n, line in enumerate(self.text.splitlines(), 1):
                m = self._HEADER.match(line)
                if m:
                    name = re.sub(r"[\s\"']", "", m.group(2))
                    if m.group(1) == "[[" and name == "sweep.zip":
                        n_zip += 1
                        current = f"sweep.zip#{n_zip}"
                    elif m.group(1) == "[[" and name == "sweep.grids":
                        n_grid, n_gzip = n_grid + 1, 0
                        current = f"sweep.grids#{n_grid}"
                    elif m.group(1) == "[[" and name == "sweep.grids.zip":
                        n_gzip += 1
                        current = f"sweep.grids#{n_grid}.zip#{n_gzip}"
                    else:
                        current = name
                    self._index.setdefault(("", name.split(".")[0]), n)  # a section's header line
                    continue
                m = self._KEY.match(line)
                if m:
                    self._index.setdefault((current, m.group(1).strip("\"'")), n)
        return self._index.get((table, key))

    def error(self, message: str, table: str = "", key: str | None = None) -> GridError:
        """A GridError located at ``key`` of ``table`` (``key`` relative to the table)."""
        dotted = key if table in ("", "sweep") or table.startswith("sweep.") else f"{table}.{key}"
        where = self.origin.get((table, key))
        if where is not None:
            return GridError(message, path=where, key=dotted)
        line = None
        if key is not None:
            line = self._line(table, key)
            if line is None and table in SECTIONS + ("output", "execution"):
                line = self._line("", f"{table}.{key}")  # written as a top-level dotted key
        return GridError(message, path=self.path, line=line, key=dotted)

    def error_at(self, message: str, dotted: str) -> GridError:
        """A GridError at wherever ``dotted`` (a schema key) was set: section, override or axis."""
        section, name = dotted.split(".", 1)
        for table, key in [(section, name), ("sweep", dotted)]:
            if (table, key) in self.origin:
                return self.error(message, table, key)
        for table, key in [(section, name), ("", dotted), ("sweep", dotted)]:
            if self._line(table, key) is not None:
                return self.error(message, table, key)
        tables = sorted({t for t, k in (self._index or {}) if k == dotted and t.startswith("sweep")})
        return self.error(message, tables[0], dotted) if tables else GridError(message, path=self.path, key=dotted)


def _suggest(bad: str, valid: list[str]) -> str:
    """``"; did you mean 'x'?"`` for a misspelt key, or ``""``."""
    name = bad.rsplit(".", 1)[-1]
    alias = ALIASES.get(name)
    same_name = [k for k in valid if k.rsplit(".", 1)[-1] == name and k != bad]
    close = difflib.get_close_matches(bad, valid, n=1, cutoff=0.6)
    if not close:  # compare the last parts: "train.lrate" vs "lr"
        tails = {k.rsplit(".", 1)[-1]: k for k in valid if k.startswith(bad.rsplit(".", 1)[0] + ".")}
        close = [tails[t] for t in difflib.get_close_matches(name, list(tails), n=1, cutoff=0.6)]
    for guess in ([alias] if alias else []) + same_name + close:
        return f"; did you mean '{guess}'?"
    return ""


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


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


def _parse_toml_value(text: str) -> Any:
    """A ``--set`` VALUE: a TOML value (``0.5``, ``[2, 3]``, ``true``, ``"x"``), else the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# ------------------------------------------------------------------------------------------
# Sweep axes
# ------------------------------------------------------------------------------------------
def _flatten(table: dict, prefix: str = "") -> dict:
    """Nested tables -> dotted keys (``train.lr = [..]`` unquoted in [sweep]); ``seeds``/``zip``/``grids`` kept."""
    out = {}
    for k, v in table.items():
        if isinstance(v, dict) and not (prefix == "" and k in SWEEP_SPECIAL):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _seeds(v: Any, ctx: _Context, table: str) -> Seeds:
    usage = "seeds must be a count (seeds = 2000), a list ([1, 5, 9]) or {start = 100, count = 50}"
    if type(v) is int:
        if v < 1:
            raise ctx.error(f"seeds = {v}: the seed count must be >= 1", table, "seeds")
        return Seeds(0, v)
    if isinstance(v, dict):
        if set(v) != {"start", "count"} or type(v["start"]) is not int or type(v["count"]) is not int:
            raise ctx.error(f"seeds = {_short(v)}: {usage}", table, "seeds")
        if v["start"] < 0 or v["count"] < 1 or v["start"] + v["count"] - 1 > MAX_SEED:
            raise ctx.error(f"seeds = {_short(v)}: need start >= 0, count >= 1, seeds < 2**63", table, "seeds")
        return Seeds(v["start"], v["count"])
    if isinstance(v, list) and v and all(type(s) is int and 0 <= s <= MAX_SEED for s in v):
        if len(set(v)) != len(v):
            raise ctx.error(f"seeds = {_short(v)} lists a seed twice", table, "seeds")
        return Seeds(values=tuple(v))
    raise ctx.error(f"seeds = {_short(v)}: {usage} (seeds are integers in 0..2**63-1)", table, "seeds")


def _axis_values(k: str, v: Any, ctx: _Context, table: str) -> list:
    """The checked values of one swept key."""
    if k == "seed":
        raise ctx.error("'seed' is not an axis key; give the seeds with seeds = N (or a list) in [sweep]", table, k)
    p = PARAM_BY_KEY.get(k)
    if p is None:
        raise ctx.error(f"unknown sweep axis '{k}' = {_short(v)}{_suggest(k, list(PARAM_BY_KEY) + ['seeds'])}; "
                        "axes are dotted schema keys such as \"train.lr\"", table, k)
    if not isinstance(v, list):
        raise ctx.error(f"sweep axis '{k}' = {_short(v)} must be a list of values, e.g. \"{k}\" = [{_short(v)}]; "
                        f"to fix one value, set it in [{k.split('.')[0]}]", table, k)
    if not v:
        raise ctx.error(f"sweep axis '{k}' is an empty list: the grid would have no runs", table, k)
    if p.kind in LIST_KINDS and not all(isinstance(x, list) for x in v):
        raise ctx.error(f"sweep axis '{k}' = {_short(v)}: each value of {k} is itself a list, so the axis is a "
                        "list of lists, e.g. \"model.hidden\" = [[2], [3], [2, 2]]", table, k)
    values = [_value(p, x, ctx, table, k) for x in v]
    texts = [canonical_json(x) for x in values]
    if len(set(texts)) != len(texts):
        dup = next(t for t in texts if texts.count(t) > 1)
        raise ctx.error(f"sweep axis '{k}' lists the value {dup} twice", table, k)
    return values


def _axes(flat: dict, ctx: _Context, table: str) -> tuple[list[Axis], Seeds | None]:
    """The axes (declaration order) and seeds of [sweep] or one [[sweep.grids]] table."""
    axes, seeds, seen = [], None, {}

    def claim(key: str, where: str) -> None:
        if key in seen:
            raise ctx.error(f"'{key}' is swept twice in one grid ({seen[key]} and {where}); "
                            "a key may be on one axis only", where, key)
        seen[key] = where

    for k, v in flat.items():
        if k == "seeds":
            seeds = _seeds(v, ctx, table)
        elif k == "grids":
            if table != "sweep":
                raise ctx.error("[[sweep.grids]] cannot be nested", table, k)
        elif k == "zip":
            if not (isinstance(v, list) and v and all(isinstance(z, dict) for z in v)):
                raise ctx.error(f"'zip' must be an array of tables: [[{table.split('#')[0]}.zip]]", table, k)
            for j, z in enumerate(v, 1):
                zt = f"{table}.zip#{j}"
                cols = {zk: _axis_values(zk, zv, ctx, zt) for zk, zv in _flatten(z).items() if zk != "seeds"}
                if "seeds" in z:
                    raise ctx.error("seeds cannot be zipped; they are always the innermost axis", zt, "seeds")
                if not cols:
                    raise ctx.error("a zip needs axis keys (\"train.lr\" = [...]), this one is empty", table, k)
                if len({len(c) for c in cols.values()}) > 1:
                    sizes = ", ".join(f"{zk} has {len(c)}" for zk, c in cols.items())
                    raise ctx.error(f"zipped axes must have equal lengths: {sizes}", zt, next(iter(cols)))
                rows = list(zip(*cols.values()))
                if len({canonical_json(r) for r in rows}) != len(rows):
                    raise ctx.error("a zip lists the same combination of values twice", zt, next(iter(cols)))
                for zk in cols:
                    claim(zk, zt)
                axes.append(Axis(tuple(cols), tuple(rows)))
        else:
            claim(k, table)
            axes.append(Axis((k,), tuple((x,) for x in _axis_values(k, v, ctx, table))))
    return axes, seeds


def _merge(base: list[Axis], own: list[Axis], ctx: _Context, table: str) -> list[Axis]:
    """Base axes not redefined by the sub-grid, then the sub-grid's own axes."""
    mine = {k for a in own for k in a.keys}
    kept = []
    for axis in base:
        hit = [k for k in axis.keys if k in mine]
        if hit and len(hit) < len(axis.keys):
            raise ctx.error(f"this sub-grid sweeps {hit[0]}, which [sweep] zips with "
                            f"{', '.join(k for k in axis.keys if k not in mine)}; redefine the whole zip", table, hit[0])
        if not hit:
            kept.append(axis)
    return kept + own


# ------------------------------------------------------------------------------------------
# Tasks: input/output sizes
# ------------------------------------------------------------------------------------------
def task_shape(config: dict, base_dir: str = ".", _cache: dict | None = None) -> tuple[int, int]:
    """``(n_in, n_out)`` of a group's task, from the same ``sweep.tasks.make_task`` the runner uses.

    A csv task is read here (relative to ``base_dir``), so a missing, ragged or non-numeric
    file fails before any work; ``GridError`` from ``make_task`` passes through.
    """
    if config["task.name"] == "csv" and not config["task.path"]:
        raise GridError("task.name = 'csv' needs task.path (a CSV file, relative to the grid file)")
    key = canonical_json([base_dir] + [config[k] for k in TASK_KEYS])
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

    if c["train.loss"] == "bce" and c["model.output"] != "sigmoid":
        raise fail(f"train.loss = 'bce' requires model.output = 'sigmoid' (got {c['model.output']!r})", "train.loss")
    hidden, act = c["model.hidden"], c["model.activation"]
    if isinstance(act, list) and len(act) != len(hidden):
        raise fail(f"model.activation = {act} has {len(act)} names but model.hidden = {hidden} has "
                   f"{len(hidden)} hidden layers; give one name per layer, or one name for all", "model.activation")
    try:
        n_in, n_out = task_shape(c, base_dir, cache)
    except GridError as exc:
        text = str(exc).removeprefix("<grid>: ").removeprefix("task.path: ")  # make_task's: no location
        raise fail(f"task.path = {c['task.path']!r}: {text}" if c["task.path"] else text,
                   "task.path" if c["task.path"] else "task.name") from None
    scheme = c["init.scheme"]
    if scheme == "numpy_legacy":
        if c["model.shortcut"]:
            raise fail("init.scheme = 'numpy_legacy' requires model.shortcut = false", "init.scheme")
        if max(grid_subs[s].seeds.max() for s in g.subgrids) >= 2**32:
            raise fail("init.scheme = 'numpy_legacy' seeds np.random, which needs seeds < 2**32", "init.scheme")
    if scheme != "explicit":
        return
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


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------
def load_grid(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Grid:
    """Read and validate the grid file at ``path`` (see the module docstring for the syntax)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GridError("grid file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError(f"cannot read the grid file: {exc}", path=str(path)) from None
    return parse_grid(text, str(path), overrides)


def _apply_overrides(raw: dict, sweep: dict, overrides, ctx: _Context) -> dict[str, str]:
    """Write ``--set`` items into the raw tables; returns fixed schema key -> its ``--set`` text."""
    fixed = {}
    valid = ["name", "description", "sweep.seeds", *PARAM_BY_KEY, *(f"sweep.{k}" for k in PARAM_BY_KEY),
             *(f"output.{k}" for k in OUTPUT_KEYS), *(f"execution.{k}" for k in EXECUTION_KEYS)]
    for item in overrides:
        where = f"--set {item}"
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise GridError("expected KEY=VALUE, e.g. --set train.lr=0.5", path=where)
        value = _parse_toml_value(text.strip())
        section, _, name = key.partition(".")
        if key in ("name", "description"):
            table, name = "", key
        elif section == "sweep" and (name in SWEEP_SPECIAL or name in PARAM_BY_KEY):
            table = "sweep"
        elif (section in SECTIONS and key in PARAM_BY_KEY or section == "output" and name in OUTPUT_KEYS
              or section == "execution" and name in EXECUTION_KEYS):
            table = section
            if key in PARAM_BY_KEY:
                fixed[key] = where
        else:
            raise GridError(f"unknown key '{key}'{_suggest(key, valid)}", path=where, key=key)
        target = sweep if table == "sweep" else raw if table == "" else raw.setdefault(table, {})
        if not isinstance(target, dict):
            raise GridError(f"[{table}] in the grid file is not a table", path=where, key=key)
        target[name] = value
        ctx.origin[(table, name)] = where
    return fixed


def _table(raw: dict, name: str, ctx: _Context) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ctx.error(f"'{name}' must be a table ([{name}]), got {_short(value)}", "", name)
    return value


def _settings(raw: dict, section: str, kinds: dict, defaults: dict, ctx: _Context) -> dict:
    """[output] / [execution]: known keys, right types, defaults filled."""
    out = dict(defaults)
    for k, v in _table(raw, section, ctx).items():
        if k not in kinds:
            valid = [f"{section}.{x}" for x in kinds]
            raise ctx.error(f"unknown key '{section}.{k}' = {_short(v)}{_suggest(f'{section}.{k}', valid)}; "
                            f"valid keys in [{section}]: {', '.join(kinds)}", section, k)
        if kinds[k] == "int" and (type(v) is not int or v < 0):
            raise ctx.error(f"{section}.{k} = {_short(v)} must be an integer >= 0", section, k)
        if kinds[k] == "str" and not isinstance(v, str):
            raise ctx.error(f"{section}.{k} = {_short(v)} must be a string", section, k)
        out[k] = v
    return out


def parse_grid(text: str, path: str = "<grid>", overrides: list[str] | tuple[str, ...] = ()) -> Grid:
    """Validate grid-file ``text`` (``path`` names it in errors and anchors relative task paths)."""
    overrides = tuple(overrides)
    ctx = _Context(path, text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(m.group(1)) if m else (text.count("\n") + 1 if "end of document" in str(exc) else None)
        raise GridError(f"invalid TOML: {exc}", path=path, line=line) from None
    sweep = _flatten(_table(raw, "sweep", ctx))
    fixed_overrides = _apply_overrides(raw, sweep, overrides, ctx)

    for k, v in raw.items():
        if k not in TOP_KEYS:
            kind = "section" if isinstance(v, dict) else "key"
            raise ctx.error(f"unknown top-level {kind} '{k}' = {_short(v)}"
                            f"{_suggest(k, list(TOP_KEYS) + list(PARAM_BY_KEY))}; valid: {', '.join(TOP_KEYS)}", "", k)
    name = raw.get("name")
    if name is None:
        raise ctx.error("name is required (name = \"xor-169\", letters, digits, '_', '.', '-')")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ctx.error(f"name = {_short(name)} must be a string of letters, digits, '_', '.', '-'", "", "name")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ctx.error(f"description = {_short(description)} must be a string", "", "description")

    fixed, explicit = {}, set()
    for p in PARAMS:
        fixed[p.key] = p.default if p.default is None else _value(p, p.default, ctx, "", p.key)
    for section in SECTIONS:
        for k, v in _table(raw, section, ctx).items():
            key = f"{section}.{k}"
            if key not in PARAM_BY_KEY:
                names = ", ".join(x.split(".", 1)[1] for x in PARAM_BY_KEY if x.startswith(section + "."))
                raise ctx.error(f"unknown key '{key}' = {_short(v)}{_suggest(key, list(PARAM_BY_KEY))}; "
                                f"valid keys in [{section}]: {names}", section, k)
            fixed[key] = _value(PARAM_BY_KEY[key], v, ctx, section, k)
            explicit.add(key)
    output = _settings(raw, "output", OUTPUT_KEYS, {"dir": f"results/{name}", "chunk_size": 4096}, ctx)
    if output["chunk_size"] < 1 or not output["dir"]:
        raise ctx.error("[output] needs chunk_size >= 1 and a non-empty dir", "output", "chunk_size")
    execution = _settings(raw, "execution", EXECUTION_KEYS, EXECUTION_DEFAULTS, ctx)
    if execution["backend"] not in BACKENDS:
        raise ctx.error(f"execution.backend = {execution['backend']!r} is not allowed; choose one of: "
                        f"{', '.join(BACKENDS)}", "execution", "backend")

    base_axes, base_seeds = _axes(sweep, ctx, "sweep")
    grids = sweep.get("grids")
    if grids is None:
        specs = [(base_axes, base_seeds or Seeds())]
    elif not (isinstance(grids, list) and grids and all(isinstance(g, dict) for g in grids)):
        raise ctx.error("'grids' must be an array of tables: [[sweep.grids]]", "sweep", "grids")
    else:
        specs = []
        for i, g in enumerate(grids, 1):
            own, seeds = _axes(_flatten(g), ctx, f"sweep.grids#{i}")
            specs.append((_merge(base_axes, own, ctx, f"sweep.grids#{i}"), seeds or base_seeds or Seeds()))
    for key, where in fixed_overrides.items():
        if any(key in a.keys for axes, _ in specs for a in axes):
            raise GridError(f"{key} is a sweep axis in this grid, so a fixed value would be ignored; "
                            f"use --set sweep.{key}=[VALUE]", path=where, key=key)

    subgrids = build_subgrids(specs)
    groups, warnings = make_groups(fixed, subgrids)
    base_dir = os.path.dirname(os.path.abspath(path)) if os.path.isfile(path) else os.getcwd()
    csv_cache: dict = {}
    for g in groups:
        _check_group(g, subgrids, ctx, base_dir, csv_cache, len(groups) > 1)
    for key in sorted(explicit):
        p = PARAM_BY_KEY[key]
        if p.applies and not any(applies(key, g.config) for g in groups):
            warnings.append(f"{key} is set but never applies (only when {p.applies[0]} is one of "
                            f"{', '.join(p.applies[1])})")

    runs = {"params": fixed, "sweep": [s.canonical() for s in subgrids]}
    canonical = canonical_json({"name": name, "description": description, **runs,
                                "output": output, "execution": execution})
    return Grid(name=name, description=description, path=path, text=text, overrides=overrides,
                base_dir=base_dir, fixed=fixed, subgrids=subgrids, group_list=groups, output=output,
                execution=execution, canonical=canonical, hash=hashlib.sha256(canonical.encode()).hexdigest(),
                runs_hash=hashlib.sha256(canonical_json(runs).encode()).hexdigest(), warnings=tuple(warnings))
