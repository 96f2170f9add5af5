"""The register file of a lane body: rows of the block state held as SSA values.

One definition of the epoch's passes (``kernels.codegen_epoch``) reads and writes its state by
row of ``sf`` (``codegen_emit.Layout``). Under the memory schedule every row is memory. Under the
register schedule (``Plan.registers``) the rows of the parameters and the optimizer's slots
(``TH``, ``SLOT``: persistent) and the passes' scratch rows (activations, logits, deltas, gradient
sums: ``Layout.AM``.., rows past ``NF`` that exist only here) are SSA values; under the unit
loop (``Plan.units``) the output level's scratch rows are. A load gives the value last stored, a
store replaces it, and ``flush`` writes the persistent rows back at the end of the epoch. Which
rows a pass touches is the same either way, so a schedule is the same definition with its state
in registers or in memory: the same operations on the same values.

Every index into a register row is a Python int (its dimension unrolled); a loop (``loop``)
carries the register file in phis, so a row written in a loop must hold a value before it (the
parameters are loaded first: ``preload``). Rows first written inside a loop are dropped after it.
"""
from __future__ import annotations


class RegisterFile:
    """The persistent rows ``lo <= row < hi`` of ``spans`` and the ``scratch`` rows (a set, and
    every row from ``virtual`` on) as SSA values."""

    def __init__(self, g, spans=(), scratch=frozenset(), virtual=1 << 62):
        self.g, self.spans, self.scratch, self.virtual = g, tuple(spans), scratch, virtual
        self.values = {}        # row (or a dataset element's key) -> its value
        self.dirty = set()      # persistent rows to write back

    def holds(self, row) -> bool:
        """Whether ``row`` is a register row. A row computed at run time (an int64 SSA value) is
        memory: the plan never loops over a register dimension (``codegen_epoch.dims``)."""
        return isinstance(row, int) and (self._scratch(row) or any(lo <= row < hi for lo, hi in self.spans))

    def _scratch(self, row) -> bool:
        return row >= self.virtual or row in self.scratch

    def load(self, row, load):
        """The value of register row ``row``; ``load()`` reads it from memory the first time."""
        v = self.values.get(row)
        if v is None:
            if self._scratch(row):
                raise AssertionError(f"scratch row {row} read before it is written")
            v = self.values[row] = load()
        return v

    def store(self, row, val):
        self.values[row] = val
        if not self._scratch(row):
            self.dirty.add(row)

    def memo(self, key, make):
        """A dataset element (``key``: array and index), loaded once while it dominates its uses."""
        v = self.values.get(key)
        if v is None:
            v = self.values[key] = make()
        return v

    def loop(self, state, first, n_iter, step, count=None):
        """``_Gen.loop`` carrying the register file's values in phis beside ``state``."""
        keys = list(self.values)
        n = len(state)
        dirty = set(self.dirty)

        def inner(it, cur):
            self.values.update(zip(keys, cur[n:]))
            new = list(step(it, list(cur[:n])))
            lost = (self.dirty - dirty) - set(keys)
            if lost:
                raise AssertionError(f"register rows {sorted(lost)[:4]} first written in a loop")
            return new + [self.values[k] for k in keys]

        counted = None if count is None else (lambda cur: list(count(cur[:n])) + [self.values[k] for k in keys])
        out = self.g.loop(list(state) + [self.values[k] for k in keys], first, n_iter, inner, counted)
        self.values = dict(zip(keys, out[n:]))
        return out[:n]

    def flush(self, store):
        """Write every register row of ``sf`` stored to since the epoch's start back (``store(row, value)``)."""
        for row in sorted(self.dirty):
            store(row, self.values[row])
        self.dirty.clear()
