"""Grid files (TOML) -> a validated, lazily expanded :class:`~sweep.grid.expand.Grid`.

Syntax::

    name = "xor-169"                 # required, [A-Za-z0-9_.-]+
    description = "What question this grid answers"
    [task]                           # fixed values: any key of sweep/grid/schema.py, by section
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
    dir = "runs/xor-169"          # default "runs/<name>", relative to the CWD
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

This module holds the entry points (:func:`load_grid`, :func:`parse_grid`), the ``--set``
overrides and the top-level, [output] and [execution] checks. The rest lives in:
:mod:`sweep.grid.parse_axes` ([sweep] -> axes and seeds), :mod:`sweep.grid.validate` (values, groups,
:func:`task_shape`), :mod:`sweep.grid.locate` (error locations) and :mod:`sweep.grid.expand` (the
lazily expanded :class:`Grid`); the names listed in ``__all__`` stay importable from here.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # python < 3.11
    import tomli as tomllib

from sweep.grid.axes import Seeds, build_subgrids
from sweep.errors import GridError
from sweep.grid.expand import Grid
from sweep.grid.checks import MAX_CHUNK_SIZE, check_grid
from sweep.grid.groups import Group, make_groups
from sweep.grid.hashing import canonical_json
from sweep.grid.locate import ALIASES, _Context, _short, _suggest  # noqa: F401  (ALIASES: re-export)
from sweep.grid.overrides import shown
from sweep.grid.parse_axes import MAX_SEED, SWEEP_SPECIAL, _axes, _flatten, _merge  # noqa: F401  (MAX_SEED: re-export)
from sweep.grid.stopping import check_rule_against_runs, is_sequential, parse_resolve, parse_seed_rule
from sweep.grid.schema import BACKENDS, EXECUTION_KEYS, OUTPUT_KEYS, PARAM_BY_KEY, PARAMS, SECTIONS
from sweep.grid.unused import check_axes, unused_fixed
from sweep.grid.validate import TASK_KEYS, _check_group, _value, task_shape  # noqa: F401  (TASK_KEYS: re-export)

__all__ = ["Grid", "Group", "load_grid", "parse_grid", "task_shape"]

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
TOP_KEYS = ("name", "description", *SECTIONS, "sweep", "output", "execution")
EXECUTION_DEFAULTS = {"backend": "local", "threads": 0, "scheduler": "", "dask_local": 0, "retries": 2}


def _parse_toml_value(text: str) -> Any:
    """A ``--set`` VALUE: a TOML value (``0.5``, ``[2, 3]``, ``true``, ``"x"``), else the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


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
        where = shown(item)      # as the user typed it: "--set K=V" or the bare word "K=V"
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise GridError("expected KEY=VALUE, e.g. train.lr=0.5", path=where)
        value = _parse_toml_value(text.strip())
        section, _, name = key.partition(".")
        if key in ("name", "description"):
            table, name = "", key
        elif key.startswith("sweep.resolve.") and isinstance(sweep.setdefault("resolve", {}), dict):
            sweep["resolve"][key.split(".", 2)[2]] = value  # checked with [sweep.resolve]
            ctx.origin[("sweep.resolve", key.split(".", 2)[2])] = where
            continue
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
    output = _settings(raw, "output", OUTPUT_KEYS, {"dir": f"runs/{name}", "chunk_size": 4096}, ctx)
    if output["chunk_size"] < 1 or not output["dir"]:
        raise ctx.error("[output] needs chunk_size >= 1 and a non-empty dir", "output", "chunk_size")
    if output["chunk_size"] > MAX_CHUNK_SIZE:
        raise ctx.error(f"[output] chunk_size = {output['chunk_size']:,} is above {MAX_CHUNK_SIZE:,}, the most "
                        f"runs one kernel call may hold in memory", "output", "chunk_size")
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
    rule = _stop_rule(sweep, grids, fixed, specs, ctx)
    for key, where in fixed_overrides.items():
        if any(key in a.keys for axes, _ in specs for a in axes):
            flag = "--set " if where.startswith("--set ") else ""
            raise GridError(f"{key} is a sweep axis in this grid, so a fixed value would be ignored; "
                            f"use {flag}sweep.{key}=VALUE", path=where, key=key)

    subgrids = build_subgrids(specs)
    check_axes(ctx, fixed, subgrids)
    groups, warnings = make_groups(fixed, subgrids)
    base_dir = os.path.dirname(os.path.abspath(path)) if os.path.isfile(path) else os.getcwd()
    csv_cache: dict = {}
    for g in groups:
        _check_group(g, subgrids, ctx, base_dir, csv_cache, len(groups) > 1)
    warnings += unused_fixed(ctx, explicit, fixed_overrides, fixed, groups)

    check_grid(ctx, name, fixed, subgrids, groups, execution)
    runs = {"params": fixed, "sweep": [s.canonical() for s in subgrids]}
    if rule is not None:  # the rule's settings stay out of runs_hash (and of every run_id)
        runs["sweep"] = [{**c, "seeds": "sequential"} for c in runs["sweep"]]
    canonical = canonical_json({"name": name, "description": description, **runs,
                                "output": output, "execution": execution,
                                **({"stopping": rule.canonical()} if rule else {})})
    return Grid(name=name, description=description, path=path, text=text, overrides=tuple(str(o) for o in overrides),
                base_dir=base_dir, fixed=fixed, subgrids=subgrids, group_list=groups, output=output,
                execution=execution, canonical=canonical, hash=hashlib.sha256(canonical.encode()).hexdigest(),
                runs_hash=hashlib.sha256(canonical_json(runs).encode()).hexdigest(), warnings=tuple(warnings),
                stopping=rule)


def _stop_rule(sweep: dict, grids, fixed: dict, specs, ctx: _Context):
    """The grid's :class:`~sweep.grid.stopping.StopRule`, or None for a fixed seed list."""
    if not is_sequential(sweep.get("seeds")):
        if "resolve" in sweep:
            raise ctx.error("[sweep.resolve] needs sequential seeds: seeds = {until = \"resolved\", min = 200, "
                            "max = 100000, step = 200}", "sweep", "seeds" if "seeds" in sweep else "resolve")
        return None
    for i, g in enumerate(grids or (), 1):
        if "seeds" in g:
            raise ctx.error("a [[sweep.grids]] table cannot set seeds when [sweep] has sequential seeds",
                            f"sweep.grids#{i}", "seeds")
    rule = parse_resolve(sweep.get("resolve"), parse_seed_rule(sweep["seeds"], ctx, "sweep"), ctx)
    values = {}
    for key in ("train.epochs", "train.early_stop", "criteria.main"):
        values[key] = set()
        for axes, _ in specs:  # per sub-grid: the axis values, else the fixed value
            axis = next((a for a in axes if key in a.keys), None)
            values[key] |= {v[axis.keys.index(key)] for v in axis.values} if axis else {fixed[key]}
    check_rule_against_runs(rule, values, ctx)
    return rule
