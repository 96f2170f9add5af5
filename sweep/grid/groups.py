"""Groups: runs that share every group-role value, and the config rules that define them.

Holds :func:`applies` and :func:`normalise` (a key whose ``applies`` rule is false becomes
``None``; an unset key with a per-task default gets it), :func:`show` (a short human form of a
value), :class:`Group` and :func:`make_groups` (a grid's groups, in order of first run index). See :mod:`sweep.grid.expand`
for how groups map onto run indices.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sweep.grid.axes import SubGrid
from sweep.grid.hashing import canonical_json
from sweep.grid.schema import PARAM_BY_KEY, PARAMS, TASK_DEFAULTS, group_keys

GROUP_KEYS = group_keys()


def applies(key: str, config: dict) -> bool:
    """Whether ``key``'s ``applies`` rule holds for ``config`` (keys without a rule always apply)."""
    rule = PARAM_BY_KEY[key].applies
    return rule is None or config[rule[0]] in rule[1]


def normalise(config: dict) -> dict:
    """A copy of ``config`` with every key whose ``applies`` rule is false set to ``None``, and each
    unset key with a per-task default (``schema.TASK_DEFAULTS``: ``task.noise``, ``task.targets``) filled;
    ``task.data_seed`` of a CSV task applies only to its ``task.test_fraction`` split."""
    out = dict(config)
    for p in PARAMS:
        if p.applies and out[p.applies[0]] not in p.applies[1]:
            out[p.key] = None
        elif out[p.key] is None and p.key in TASK_DEFAULTS:
            out[p.key] = TASK_DEFAULTS[p.key].get(out["task.name"])
    if out["task.name"] == "csv" and not out["task.test_fraction"]:
        out["task.data_seed"] = None     # a CSV file's only random choice is its split
    return out


def show(value: Any) -> str:
    """A short human form of a value (labels and messages)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list) else repr(value)



@dataclass(frozen=True)
class Group:
    """Runs that share every group-role value, hence one kernel configuration.

    config: group-role key -> normalised value (``None`` where it does not apply).
    ranges: ``(start, stop)`` run-index ranges, ascending, never straddling a sub-grid.
    key: 8 hex chars of sha256 of the canonical config (stable across grids; file names).
    label: the values that differ between this grid's groups, e.g. ``model.hidden=[2] train.loss=bce``.
    """

    key: str
    config: dict
    ranges: tuple[tuple[int, int], ...]
    label: str
    subgrids: tuple[int, ...]

    @property
    def n_runs(self) -> int:
        return sum(b - a for a, b in self.ranges)


def make_groups(fixed: dict, subgrids: tuple[SubGrid, ...]) -> tuple[tuple[Group, ...], list[str]]:
    """Groups (in order of first run index) and warnings (none so far: an axis that would repeat
    runs is refused by ``sweep.grid.unused.check_axes`` before this runs)."""
    found: dict[str, tuple[dict, list, set]] = {}
    warnings = []
    for sub in subgrids:
        for f in range(sub.n_combos):
            norm = normalise(sub.combo_config(fixed, f))
            gcfg = {k: norm[k] for k in GROUP_KEYS}
            cfg, ranges, subs = found.setdefault(canonical_json(gcfg), (gcfg, [], set()))
            start = sub.offset + f * sub.block
            if ranges and ranges[-1][1] == start and sub.index in subs:
                ranges[-1] = (ranges[-1][0], start + sub.block)
            else:
                ranges.append((start, start + sub.block))
            subs.add(sub.index)
    varying = [k for k in GROUP_KEYS if len({canonical_json(c[k]) for c, _, _ in found.values()}) > 1]
    keys = {text: hashlib.sha256(text.encode()).hexdigest() for text in found}
    width = 8 if len({h[:8] for h in keys.values()}) == len(keys) else 16  # collision guard
    groups = []
    for text, (cfg, ranges, subs) in found.items():
        label = " ".join(f"{k}={show(cfg[k])}" for k in varying if cfg[k] is not None) or "all"
        groups.append(Group(keys[text][:width], cfg, tuple(ranges), label, tuple(sorted(subs))))
    return tuple(groups), warnings
