"""The value types a grid is built from: the seed axis, swept axes and sub-grids.

Holds :class:`Seeds` (a range or an explicit list of seeds), :class:`Axis` (one swept key,
or several zipped keys that vary together), :class:`SubGrid` (a product of axes times the
seeds, owning a contiguous block of run indices) and :func:`build_subgrids` (orders each
sub-grid's axes, group axes first, and lays the sub-grids end to end). The run-index
layout is described in :mod:`sweep.grid.expand`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sweep.grid.schema import PARAM_BY_KEY

LIST_KINDS = ("int_list", "matrix_list", "vector_list")


@dataclass(frozen=True)
class Seeds:
    """The seed axis: ``start .. start+count-1``, or an explicit tuple ``values``."""

    start: int = 0
    count: int = 1
    values: tuple[int, ...] | None = None

    @property
    def n(self) -> int:
        return self.count if self.values is None else len(self.values)

    @cached_property
    def _array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.int64)

    def at(self, pos: np.ndarray) -> np.ndarray:
        """Seed values (int64) at positions ``pos`` (int64 array)."""
        return pos + self.start if self.values is None else self._array[pos]

    def max(self) -> int:
        return self.start + self.count - 1 if self.values is None else max(self.values)

    def canonical(self) -> Any:
        return {"start": self.start, "count": self.count} if self.values is None else list(self.values)

    def describe(self) -> str:
        if self.values is None:
            return f"seeds {self.start}..{self.start + self.count - 1} ({self.count})"
        head = ", ".join(map(str, self.values[:5])) + (", ..." if len(self.values) > 5 else "")
        return f"seeds [{head}] ({len(self.values)})"


@dataclass(frozen=True)
class Axis:
    """One swept key, or one zip group: ``values[i]`` holds one value per key in ``keys``."""

    keys: tuple[str, ...]
    values: tuple[tuple, ...]

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def is_group(self) -> bool:
        return any(PARAM_BY_KEY[k].role == "group" for k in self.keys)

    @property
    def name(self) -> str:
        return self.keys[0] if len(self.keys) == 1 else "zip(" + ", ".join(self.keys) + ")"

    def canonical(self) -> dict:
        return {"keys": list(self.keys), "values": [list(v) for v in self.values]}


@dataclass(frozen=True)
class SubGrid:
    """A product of ``axes`` (group axes first) times ``seeds``, at run indices ``offset + [0, n_runs)``."""

    index: int
    axes: tuple[Axis, ...]
    seeds: Seeds
    offset: int

    @cached_property
    def n_group_axes(self) -> int:
        return sum(a.is_group for a in self.axes)

    @property
    def group_axes(self) -> tuple[Axis, ...]:
        return self.axes[:self.n_group_axes]

    @property
    def lane_axes(self) -> tuple[Axis, ...]:
        return self.axes[self.n_group_axes:]

    @cached_property
    def block(self) -> int:
        """Runs per combo of group-axis positions."""
        return math.prod(a.size for a in self.lane_axes) * self.seeds.n

    @cached_property
    def n_combos(self) -> int:
        return math.prod(a.size for a in self.group_axes)

    @property
    def n_runs(self) -> int:
        return self.n_combos * self.block

    def combo_config(self, fixed: dict, f: int) -> dict:
        """``fixed`` overlaid with the group-axis values of combo ``f`` (not normalised)."""
        cfg = dict(fixed)
        for axis in reversed(self.group_axes):
            f, pos = divmod(f, axis.size)
            cfg.update(zip(axis.keys, axis.values[pos]))
        return cfg

    def canonical(self) -> dict:
        return {"axes": [a.canonical() for a in self.axes], "seeds": self.seeds.canonical()}


def build_subgrids(specs: list[tuple[list[Axis], Seeds]]) -> tuple[SubGrid, ...]:
    """Order each spec's axes (group axes first, stable) and lay the sub-grids end to end."""
    subs, offset = [], 0
    for i, (axes, seeds) in enumerate(specs):
        ordered = tuple([a for a in axes if a.is_group] + [a for a in axes if not a.is_group])
        sub = SubGrid(i, ordered, seeds, offset)
        subs.append(sub)
        offset += sub.n_runs
    return tuple(subs)
