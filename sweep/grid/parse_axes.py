"""Parsing the [sweep] table (and each [[sweep.grids]] table) into axes and seeds.

Holds ``_flatten`` (nested tables -> dotted keys), ``_seeds`` (the ``seeds`` value ->
:class:`~sweep.grid.axes.Seeds`), ``_axis_values`` (one swept key's checked values: a list, or an axis function such as
``"logspace(-2, 0, 5)"``, :mod:`sweep.grid.axis_functions`), ``_axes``
(a table's plain and zipped axes, in declaration order, and its seeds) and ``_merge`` (a
sub-grid's axes over the [sweep] ones). The grid-file syntax is in :mod:`sweep.grid.load`.
"""
from __future__ import annotations

from typing import Any

from sweep.grid.axis_functions import FORMS, expand, is_call
from sweep.grid.axes import LIST_KINDS, Axis, Seeds
from sweep.grid.hashing import canonical_json
from sweep.grid.locate import _Context, _short, _suggest
from sweep.grid.schema import PARAM_BY_KEY
from sweep.grid.stopping import is_sequential, parse_seed_rule
from sweep.grid.validate import _value

SWEEP_SPECIAL = ("seeds", "zip", "grids", "resolve")
MAX_SEED = 2**63 - 1


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
    usage = ("seeds must be a count (seeds = 2000), a list ([1, 5, 9]) or {start = 100, count = 50}, "
             "or sequential: {until = \"resolved\", min = 200, max = 100000, step = 200}")
    if is_sequential(v):  # a stopping rule (sweep.grid.stopping): the seed space is 0..max-1
        if table != "sweep":
            raise ctx.error("sequential seeds ({until = \"resolved\"}) are set in [sweep] only, "
                            "for the whole grid", table, "seeds")
        return Seeds(0, parse_seed_rule(v, ctx, table)[1])
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
    if is_call(v):  # "logspace(-2, 0, 5)": an axis function (sweep.grid.axis_functions)
        try:
            v = expand(v, p.kind)
        except ValueError as exc:
            raise ctx.error(f"sweep axis '{k}' = {v!r}: {exc}; the forms are {FORMS}", table, k) from None
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
        elif k == "resolve":
            if table != "sweep":
                raise ctx.error("[sweep.resolve] is set in [sweep] only, for the whole grid", table, k)
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

