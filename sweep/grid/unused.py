"""Keys a run ignores: a swept axis that changes nothing is an error, a fixed key a warning.

A key with an ``applies`` rule (``sweep.grid.schema``) is ``None`` in every run where the rule is
false: ``train.lr`` under ``rprop`` (whose ops declare no ``lr`` in their ``hyper``),
``train.momentum`` under ``sgd``, ``train.batch_size`` under a full-batch schedule. A ``record.*``
key is not part of a run's identity. Sweeping such a key would give several run indices the same
run_id, which the runner trains once: "400 runs" that are 200. So:

- :func:`check_axes`: in every sub-grid and every setting of the keys that decide applicability,
  the values of each axis (size > 1) must give distinct runs; else a :class:`GridError` naming the
  axis, the rule that ignores it and what to do (sweep it in a ``[[sweep.grids]]`` table where it
  applies, or drop it).
- :func:`unused_fixed`: a fixed key set explicitly that applies to no run of the grid. From the grid
  file it is a warning (a file may be run with ``--set`` overrides that leave some of its settings
  unused, as ``experiments/fahlman1988_study.py`` does); from a ``--set`` item it is an error, unless
  its value is the default.
"""
from __future__ import annotations

from sweep.errors import GridError
from sweep.grid.groups import applies, show
from sweep.grid.hashing import RUN_ID_KEYS, canonical_json
from sweep.grid.schema import HYPER_KEYS, OPTIMIZER_HYPER, PARAM_BY_KEY, PARAMS

#: The keys that decide whether another key applies (all group-role: fixed within a combo).
CONTROLLERS = tuple(dict.fromkeys(p.applies[0] for p in PARAMS if p.applies))
_IDENTITY = frozenset(RUN_ID_KEYS)


def why_ignored(key: str, config: dict) -> str:
    """Why ``key`` does not change a run with ``config`` (where it does not apply or is no identity)."""
    if key not in _IDENTITY:
        return f"{key} is not part of a run's identity (what a run records does not change what it computes)"
    ctl, allowed = PARAM_BY_KEY[key].applies
    if ctl == "train.optimizer":
        uses = [HYPER_KEYS[h] for h in OPTIMIZER_HYPER[config[ctl]]]
        return f"optimizer {config[ctl]} does not use {key} (it reads {', '.join(uses) or 'no hyper-parameter'})"
    return f"{key} applies only when {ctl} is {' or '.join(map(show, allowed))}, not {show(config[ctl])}"


def _todo(key: str, sub, several: bool) -> str:
    if key not in _IDENTITY:
        return f"set {key} in [{key.split('.')[0]}] instead"
    ctl, allowed = PARAM_BY_KEY[key].applies
    values = ", ".join(f'"{v}"' for v in allowed)
    if any(ctl in a.keys for a in sub.axes):
        return (f"sweep {key} only where it applies: a [[sweep.grids]] table with \"{ctl}\" = [{values}] "
                f"and this axis{', ' if several else ''}")
    return f"drop the axis, or set {ctl} to {_one_of(allowed)}"


def _one_of(values) -> str:
    return show(values[0]) if len(values) == 1 else "one of " + ", ".join(map(show, values))


def _projection(axis, values: tuple, config: dict) -> tuple:
    """What of one axis position reaches the run's identity under ``config`` (this position applied)."""
    return tuple(canonical_json(v) if k in _IDENTITY and applies(k, config) else None
                 for k, v in zip(axis.keys, values))


def check_axes(ctx, fixed: dict, subgrids) -> None:
    """Raise a located :class:`GridError` for the first axis whose values would repeat runs."""
    for sub in subgrids:
        contexts = {}
        for f in range(sub.n_combos):
            cfg = sub.combo_config(fixed, f)
            contexts.setdefault(tuple(canonical_json(cfg[c]) for c in CONTROLLERS), cfg)
        for cfg in contexts.values():
            for axis in sub.axes:
                if axis.size < 2:
                    continue
                seen, ignored = set(), []
                for vals in axis.values:
                    c = {**cfg, **dict(zip(axis.keys, vals))}
                    proj = _projection(axis, vals, c)
                    if proj in seen and not ignored:
                        ignored = [(k, c) for k, p in zip(axis.keys, proj) if p is None]
                    seen.add(proj)
                if ignored:
                    raise _axis_error(ctx, sub, axis, len(seen), ignored, len(subgrids) > 1)


def _axis_error(ctx, sub, axis, n_distinct: int, ignored: list, several: bool) -> GridError:
    key, c = ignored[0]
    values = ", ".join(show(v[0]) if len(v) == 1 else "(" + ", ".join(map(show, v)) + ")" for v in axis.values)
    where = f"sub-grid {sub.index + 1}: " if several else ""
    message = (f"{where}sweep axis {axis.name} = [{values}] changes nothing here: {why_ignored(key, c)}, so its "
               f"{axis.size} values would train only {n_distinct} distinct run{'s' * (n_distinct > 1)} (same run_id); "
               f"{_todo(key, sub, several)}")
    name = axis.keys[0]
    if ("sweep", name) in ctx.origin:
        return ctx.error(message, "sweep", name)
    ctx._line("", "")  # builds the file's index
    tables = [t for t, k in (ctx._index or {}) if k == name and t.startswith("sweep")]
    own = [t for t in tables if t.startswith(f"sweep.grids#{sub.index + 1}")] if several else []
    table = (own or sorted(tables) or ["sweep"])[0]
    return ctx.error(message, table, name)


def unused_fixed(ctx, explicit: set, overrides: dict, fixed: dict, groups) -> list[str]:
    """Warnings for keys set in the grid file that apply to no run; raises for such a ``--set`` item."""
    warnings = []
    for key in sorted(explicit):
        p = PARAM_BY_KEY[key]
        if not p.applies or any(applies(key, g.config) for g in groups):
            continue
        reason = why_ignored(key, groups[0].config)
        if key in overrides and fixed[key] != p.default:
            raise GridError(f"{key} = {show(fixed[key])} is used by no run of this grid: {reason}; "
                            f"drop it, or also set {p.applies[0]} to {_one_of(p.applies[1])}", path=overrides[key], key=key)
        warnings.append(f"{key} is set but never applies: {reason}")
    return warnings
