"""Lazy expansion of a validated grid: sub-grids, mixed-radix run indices, groups, columns.

A grid is a union (concatenation) of sub-grids. A sub-grid is a Cartesian product of
axes; an axis is one swept key or one zip group (several keys that vary together); the
seeds are always the innermost axis. Inside a sub-grid the axes are ordered: axes that
hold a group-role key first (declaration order), then the others, then the seeds. Sub-grid
``s`` owns the run indices ``[offset_s, offset_s + n_s)``, and a run's index is its
offset plus the mixed-radix number of its axis positions (first axis most significant):

    local = ((p_0 * r_1 + p_1) * r_2 + ... + p_last) * n_seeds + p_seed

So each combination of group-axis positions (a "combo") owns one contiguous block of
``block = prod(other radices) * n_seeds`` runs, and a :class:`Group` (one distinct
normalised group-role config) is the union of its combos' blocks across sub-grids.
Nothing per run is stored: :meth:`Grid.columns` decodes the positions with numpy, so a
grid of 1e8 runs costs the memory of its axes.

Normalisation: a key whose ``applies`` rule is false becomes ``None``. Every key that
controls an ``applies`` rule is group-role, so within one combo the set of applicable keys
is fixed and the hashes of all constant keys can be summed once per combo.

Duplicates: overlapping sub-grids give several run indices with the same ``run_id``. They are
kept here (the index space stays a plain product); the runner runs each ``run_id`` once, and
``Grid.n_distinct`` counts them once. An axis whose key does not apply (``train.momentum`` under
``sgd``) would repeat runs too: it is refused at load (``sweep.grid.unused``).

The value types live in :mod:`sweep.grid.axes` (seeds, axes, sub-grids) and :mod:`sweep.grid.groups`
(normalisation, groups); this module holds :class:`Grid` (lazy per-run configs and columns)
and re-exports those names, so ``from sweep.grid.expand import Grid, Group, Seeds, ...`` works.
"""
from __future__ import annotations

import bisect
import itertools
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sweep.grid.axes import LIST_KINDS, Axis, Seeds, SubGrid, build_subgrids  # noqa: F401  (re-exported)
from sweep.grid.groups import GROUP_KEYS, Group, applies, make_groups, normalise, show  # noqa: F401  (re-exported)
from sweep.grid.hashing import INIT_KEY_KEYS, MASK64, RUN_ID_KEYS, seed_hashes, shuffle_keys, splitmix64, value_hash
from sweep.grid.schema import PARAM_BY_KEY, PARAMS

_DTYPES = {"int": np.int64, "float": np.float64, "bool": np.bool_}
_INIT_SET = frozenset(INIT_KEY_KEYS)
_RUN_SET = frozenset(RUN_ID_KEYS)  # record.* keys are not part of a run's identity
_SEED_BLOCK = 4096          # seeds hashed per cache block
_SEED_CACHE_BLOCKS = 512    # 2M seed hashes, 16 MB
_PIECE_CACHE = 4096         # per-combo hash sums and constant columns
_LOCK = threading.Lock()    # guards the caches when threads share a Grid

# The fast path relies on this: applicability only changes between groups.
assert all(PARAM_BY_KEY[p.applies[0]].role == "group" for p in PARAMS if p.applies)


def column_value(key: str, value: Any) -> Any:
    """A value as stored in a column: list values as compact JSON text, others unchanged."""
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return value



class _Piece:
    """Per-combo precomputation for :meth:`Grid.columns`: constants and per-axis-value hashes."""

    def __init__(self, fixed: dict, sub: SubGrid, f: int):
        norm = normalise(sub.combo_config(fixed, f))
        self.base = sub.offset + f * sub.block
        lane_keys = {k for a in sub.lane_axes for k in a.keys if applies(k, norm)}
        const = [k for k in PARAM_BY_KEY if k not in lane_keys]
        # object columns where the value is None, or a word in a number key (data_seed "per_run")
        self.consts = [(k, column_value(k, norm[k]), None if norm[k] is None or isinstance(norm[k], str)
                        else _DTYPES.get(PARAM_BY_KEY[k].kind))
                       for k in const]
        self.run_sum = sum(value_hash(k, norm[k]) for k in const if k in _RUN_SET) & MASK64
        self.init_sum = sum(value_hash(k, norm[k]) for k in const if k in _INIT_SET) & MASK64
        # lane axes: (size, run-hash per position, init-hash per position, [(key, column values)])
        self.axes = []
        for axis in sub.lane_axes:
            h_run = np.zeros(axis.size, dtype=np.uint64)
            h_init = np.zeros(axis.size, dtype=np.uint64)
            cols = []
            for j, k in enumerate(axis.keys):
                if k not in lane_keys:
                    continue
                h = np.array([value_hash(k, v[j]) for v in axis.values], dtype=np.uint64)
                if k in _RUN_SET:
                    h_run += h
                if k in _INIT_SET:
                    h_init += h
                dtype = _DTYPES.get(PARAM_BY_KEY[k].kind, object)
                vals = np.empty(axis.size, dtype=dtype)
                vals[:] = [column_value(k, v[j]) for v in axis.values]
                cols.append((k, vals))
            self.axes.append((axis.size, h_run, h_init, cols))


@dataclass(frozen=True, eq=False)
class Grid:
    """A validated, lazily expanded sweep (build it with ``sweep.grid.load.load_grid``).

    fixed: every key's value from the sections (defaults filled, before axes and normalisation).
    canonical / hash: JSON of everything validated (incl. overrides) and its sha256.
    runs_hash: sha256 of the part that defines the runs and their order (params + sweep); use it
        to decide whether an output directory holds "the same grid" (description, [output]
        and [execution] may change between resumes).
    """

    name: str
    description: str
    path: str
    text: str
    overrides: tuple[str, ...]
    base_dir: str
    fixed: dict
    subgrids: tuple[SubGrid, ...]
    group_list: tuple[Group, ...]
    output: dict
    execution: dict
    canonical: str
    hash: str
    runs_hash: str
    warnings: tuple[str, ...] = ()
    stopping: Any = None  # a sweep.grid.stopping.StopRule for sequential seeds, else None
    _cache: dict = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict:  # pickled for distributed workers: without the caches
        return {**self.__dict__, "_cache": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)  # frozen: bypass __setattr__

    @property
    def n_runs(self) -> int:
        return sum(s.n_runs for s in self.subgrids)

    @property
    def n_distinct(self) -> int:
        """Distinct runs (run_ids): ``n_runs`` less the runs an overlapping sub-grid repeats (an axis
        that would repeat runs is refused at load, ``sweep.grid.unused``). Reads the run_ids of the
        groups that more than one sub-grid reaches (groups that differ only in ``record.*`` count as one)."""
        if len(self.subgrids) == 1:
            return self.n_runs
        with _LOCK:
            n = self._cache.get("n_distinct")
        if n is None:
            same: dict[str, list] = {}
            for g in self.group_list:
                ident = json.dumps({k: v for k, v in g.config.items() if k in _RUN_SET}, sort_keys=True)
                same.setdefault(ident, []).append(g)
            n = 0
            for gs in same.values():
                if len(gs) == 1 and len(gs[0].subgrids) == 1:
                    n += gs[0].n_runs
                else:
                    n += np.unique(np.concatenate([self.columns(a, b)["run_id"] for g in gs for a, b in g.ranges])).size
            with _LOCK:
                self._cache["n_distinct"] = n
        return n

    @property
    def main_criterion(self) -> str | None:
        """``criteria.main`` when one value holds for the whole grid, else ``None``."""
        values = set()
        for sub in self.subgrids:
            axis = next((a for a in sub.axes if "criteria.main" in a.keys), None)
            values |= {v[axis.keys.index("criteria.main")] for v in axis.values} if axis else {self.fixed["criteria.main"]}
        return values.pop() if len(values) == 1 else None

    def groups(self) -> list[Group]:
        return list(self.group_list)

    def resolve(self, path: str) -> str:
        """A path from the grid (``task.path``) made absolute, relative to the grid file's folder."""
        return os.path.normpath(os.path.join(self.base_dir, path))

    # -- single runs ------------------------------------------------------------------
    def _locate(self, i: int) -> SubGrid:
        if not 0 <= i < self.n_runs:
            raise IndexError(f"run index {i} outside 0..{self.n_runs - 1}")
        offsets = [s.offset for s in self.subgrids]
        return self.subgrids[bisect.bisect_right(offsets, i) - 1]

    def run_config(self, i: int) -> dict:
        """Run ``i``'s normalised config: ``{"seed": s, key: value for every schema key}``."""
        sub = self._locate(i)
        rest, seed_pos = divmod(i - sub.offset, sub.seeds.n)
        cfg = dict(self.fixed)
        for axis in reversed(sub.axes):
            rest, pos = divmod(rest, axis.size)
            cfg.update(zip(axis.keys, axis.values[pos]))
        return {"seed": int(sub.seeds.at(np.int64(seed_pos))), **normalise(cfg)}

    # -- columns ------------------------------------------------------------------------
    def columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Per-run arrays for run indices ``[start, stop)``.

        Keys: ``run_index`` (int64), ``seed`` (int64), ``run_id``, ``init_key``,
        ``shuffle_key`` (uint64), and every schema key: float64 / int64 / bool arrays for
        scalar kinds, object arrays of str for str kinds (list values as compact JSON text,
        e.g. ``"[2]"``), and an object array of ``None`` where the key does not apply.
        Fast path: a range inside one group range (one combo); other ranges are split at
        combo boundaries and concatenated. Cost: about 0.1 us per run warm, plus
        ~0.6 us per seed the first time it is hashed (see tests/test_expand.py).
        """
        if not 0 <= start <= stop <= self.n_runs:
            raise IndexError(f"run range [{start}, {stop}) outside 0..{self.n_runs}")
        parts, i = [], start
        while i < stop:
            sub = self._locate(i)
            f = (i - sub.offset) // sub.block
            end = min(stop, sub.offset + (f + 1) * sub.block)
            parts.append(self._piece_columns(sub, f, i, end))
            i = end
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return {k: v[:0] for k, v in self._piece_columns(self.subgrids[0], 0, 0, 1).items()}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _piece(self, sub: SubGrid, f: int) -> _Piece:
        key = ("piece", sub.index, f)
        with _LOCK:
            piece = self._cache.get(key)
        if piece is None:
            piece = _Piece(self.fixed, sub, f)
            with _LOCK:
                if len(self._cache) > _PIECE_CACHE:
                    self._cache.clear()  # rare: only grids with thousands of combos
                self._cache[key] = piece
        return piece

    def _seed_hash(self, sub: SubGrid, seed_pos: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """``h("seed", s)`` per run, from cached blocks (each seed is hashed about once)."""
        if sub.seeds.values is not None:
            key = ("explicit-seeds", sub.index)
            with _LOCK:
                table = self._cache.get(key)
            if table is None:
                table = seed_hashes(sub.seeds.values)
                with _LOCK:
                    self._cache[key] = table
            return table[seed_pos]
        lo, hi = int(seeds.min()) // _SEED_BLOCK, int(seeds.max()) // _SEED_BLOCK
        with _LOCK:
            blocks = self._cache.setdefault("seed-blocks", OrderedDict())
            have = {b: blocks.get(b) for b in range(lo, hi + 1)}
        for b, arr in have.items():
            if arr is None:
                have[b] = seed_hashes(range(b * _SEED_BLOCK, (b + 1) * _SEED_BLOCK))
        with _LOCK:
            for b, arr in have.items():
                blocks[b] = arr
                blocks.move_to_end(b)
            while len(blocks) > _SEED_CACHE_BLOCKS:
                blocks.popitem(last=False)
        table = have[lo] if lo == hi else np.concatenate([have[b] for b in range(lo, hi + 1)])
        return table[seeds - lo * _SEED_BLOCK]

    def _piece_columns(self, sub: SubGrid, f: int, a: int, b: int) -> dict[str, np.ndarray]:
        piece = self._piece(sub, f)
        n = b - a
        run_index = np.arange(a, b, dtype=np.int64)
        rest, seed_pos = np.divmod(run_index - piece.base, sub.seeds.n)
        seeds = sub.seeds.at(seed_pos)
        h_seed = self._seed_hash(sub, seed_pos, seeds)
        with np.errstate(over="ignore"):  # uint64 sums wrap mod 2**64 by design
            run_sum = h_seed + np.uint64(piece.run_sum)
            init_sum = h_seed + np.uint64(piece.init_sum)
            out = {}
            for size, h_run, h_init, cols in reversed(piece.axes):
                rest, pos = np.divmod(rest, size)
                run_sum += h_run[pos]
                init_sum += h_init[pos]
                for k, vals in cols:
                    out[k] = vals[pos]
        init_key = splitmix64(init_sum)
        result = {"run_index": run_index, "seed": seeds, "run_id": splitmix64(run_sum),
                  "init_key": init_key, "shuffle_key": shuffle_keys(init_key)}
        for k, value, dtype in piece.consts:
            arr = np.empty(n, dtype=dtype if dtype is not None else object)  # object: already None
            if value is not None:
                arr.fill(value)  # fill(), not np.full: 25x faster for object arrays
            out[k] = arr
        result.update((k, out[k]) for k in PARAM_BY_KEY)
        return result

    # -- summary ------------------------------------------------------------------------
    def describe(self, max_groups: int = 20) -> str:
        """A short multi-line summary: sub-grids with their axes and sizes, groups and run counts."""
        lines = [f"{self.name}: {self.description}" if self.description else self.name,
                 f"  {self.n_runs:,} runs in {len(self.group_list)} group(s), {len(self.subgrids)} sub-grid(s)"
                 + (f" ({self.n_distinct:,} distinct: overlapping sub-grids)" if self.n_distinct != self.n_runs else "")]
        for sub in self.subgrids:
            factors = [f"{a.name} ({a.size})" for a in sub.axes] + [sub.seeds.describe()]
            lines.append(f"  sub-grid {sub.index + 1} (runs {sub.offset:,}..{sub.offset + sub.n_runs - 1:,}): "
                         + " x ".join(factors) + f" = {sub.n_runs:,}")
        lines.append("  groups:")
        for g in self.group_list[:max_groups]:
            lines.append(f"    {g.key}  {g.n_runs:>12,} runs  {g.label}")
        if len(self.group_list) > max_groups:
            lines.append(f"    ... {len(self.group_list) - max_groups} more")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def product_configs(fixed: dict, sub: SubGrid):
    """Slow reference (tests): every run's normalised config of ``sub``, in run-index order."""
    for positions in itertools.product(*[range(a.size) for a in sub.axes], range(sub.seeds.n)):
        cfg = dict(fixed)
        for axis, pos in zip(sub.axes, positions):
            cfg.update(zip(axis.keys, axis.values[pos]))
        yield {"seed": int(sub.seeds.at(np.int64(positions[-1]))), **normalise(cfg)}
