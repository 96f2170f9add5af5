"""The plan of a specialised kernel: how its one epoch is laid out as code.

Tuning (``kernels.codegen_tuning``) computes a ``Plan`` from a ``Spec``; emission
(``kernels.codegen_ir``, ``codegen_epoch``) and size counting
(``kernels.codegen_size``) take it as given. So the modules import one way: tuning -> size ->
emission -> plan. No field changes a result bit, only speed and compile time; all of them are
part of a kernel's cache key (``kernels.codegen.kernel_name``) and are written into its
generated module.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The shapes of the epoch's batches of updates (``kernels.codegen_epoch``).
MODES = ("unroll", "peel", "loop")


@dataclass(frozen=True)
class Plan:
    """How one lane body is emitted.

    - ``width``: lanes per LLVM vector (W; the body runs ``spec.lanes // W`` times per epoch);
    - ``group``: values per grouped op (``codegen_ir._Body.grouped``);
    - ``mode``: the epoch's batches unrolled, a loop after the first, or a loop (``MODES``);
    - ``chunk``: patterns per iteration of the evaluation loop, 0 for an unrolled evaluation;
    - ``units``: hidden units per iteration of the unit loop (``codegen_epoch``), 0 for the
      parameters in registers. With a unit loop ``chunk`` is 0 and ``mode`` "loop"
      (``Plan.of`` normalises them).
    - ``memory``: hidden units per iteration of the memory schedule (``codegen_epoch``: every
      state that grows in memory, every dimension a loop), 0 for the register schedules above
      (then ``mode``, ``chunk`` and ``units`` are unused: "loop", 0, 0).

    - ``patterns``: patterns per block of the memory schedule (0: ``memory``, as many as units).

    Neither ``memory`` nor ``units``: the register schedule (``registers``).
    """

    width: int
    group: int
    mode: str = "unroll"
    chunk: int = 0
    units: int = 0
    memory: int = 0
    patterns: int = 0

    @classmethod
    def of(cls, width: int, group: int, mode: str, chunk: int, units: int) -> "Plan":
        """The plan with these choices, ``chunk`` and ``mode`` set aside by a unit loop."""
        if units:
            return cls(width, group, "loop", 0, units)
        return cls(width, group, mode, chunk, 0)

    @property
    def registers(self) -> bool:
        """The parameters, the optimizer's slots, the activations, deltas and gradient sums in SSA
        values (``codegen_registers``), every dimension unrolled but the evaluation's patterns
        (``chunk``) and the batches (``mode``)."""
        return not self.memory and not self.units

    def loops(self) -> tuple:
        """The loop choices as the kernel's cache key spells them."""
        if self.memory:
            return ("memory", self.memory, self.patterns or self.memory)
        return ("units", self.units) if self.units else (self.mode, self.chunk)
