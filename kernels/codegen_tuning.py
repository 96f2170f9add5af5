"""The layout choices of a specialised kernel, per target ISA and configuration.

- ``vector_width(spec)``: lanes per LLVM vector (W);
- ``group_size(spec, W)``: values per grouped op (``codegen_ir._Body.grouped``);
- ``blocks_per_group(spec)``: blocks of ``LANES`` runs one kernel call trains together.

Each reads its table in ``kernels.config`` (measured: docs/specialised-kernels.md) unless an
environment variable forces it, and none changes a result bit, only the speed. All three are
part of a kernel's cache key (``kernels.codegen.kernel_name``; ``blocks_per_group`` through
``Spec.lanes``).
"""
from __future__ import annotations

import os

from kernels.bundles import FULL


def _forced(env: str, allowed, what: str):
    """The value ``$env`` forces (an int in ``allowed``), or None when it is unset."""
    text = os.environ.get(env, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) not in allowed:
        raise ValueError(f"{env}={text!r}: {what} must be one of {', '.join(map(str, allowed))}")
    return int(text)


def _first_fit(rules, cost: int) -> int:
    """The value of the first ``(largest cost or None, value)`` rule that ``cost`` fits."""
    return next(value for limit, value in rules if limit is None or cost <= limit)


def vector_width(spec):
    """Lanes per LLVM vector for ``spec``: ``$MLP_SWEEP_VECTOR_WIDTH`` if set, else the entry of
    ``kernels.config.VECTOR_WIDTHS`` for the target ISA (``kernels.isa``), the dtype and the
    size of the lane body (``Spec.cost()``; measurements: docs/specialised-kernels.md). Wider
    vectors keep more independent work in flight for small bodies; narrower ones spill fewer
    registers for large ones. The width never changes the results."""
    from kernels.config import VECTOR_WIDTH_ENV, VECTOR_WIDTHS
    from kernels.isa import isa
    allowed = [w for w in (2, 4, 8, 16, 32) if w <= spec.lanes and spec.lanes % w == 0]
    forced = _forced(VECTOR_WIDTH_ENV, allowed, f"the vector width (lanes per block: {spec.lanes})")
    if forced is not None:
        return forced
    return min(_first_fit(VECTOR_WIDTHS[isa()][spec.dtype], spec.cost()), spec.lanes)


def blocks_per_group(spec):
    """Blocks of ``LANES`` runs a specialised kernel trains together (``spec.lanes`` is then
    that many times ``LANES``): ``$MLP_SWEEP_BLOCKS`` if set, else the entry of
    ``kernels.config.BLOCKS_PER_GROUP`` for the target ISA, the dtype, the schedule and the
    size of the lane body. With two, the lane loop runs over two groups of lanes whose epochs
    are independent, so the CPU overlaps the end of one (the chain of online updates) with the
    start of the next. Never changes the results; a block of the group waits for the other's
    last epoch."""
    from kernels.config import BLOCKS_ENV, BLOCKS_PER_GROUP
    from kernels.isa import isa
    forced = _forced(BLOCKS_ENV, (1, 2, 4), "the blocks per kernel group")
    if forced is not None:
        return forced
    kind = "full" if spec.schedule == FULL else "online" if spec.batch_size == 1 else "minibatch"
    return _first_fit(BLOCKS_PER_GROUP[isa()][spec.dtype][kind], spec.cost())


def group_size(spec, width):
    """Values per grouped op (``_Body.grouped``): ``$MLP_SWEEP_GROUP`` if set, else as many as
    fill ``GROUP_REGISTERS`` vector registers of the target ISA (a power of two, at least 1).
    Never changes the results."""
    from kernels.config import GROUP_ENV, GROUP_REGISTERS
    from kernels.isa import REGISTER_BITS, isa
    forced = _forced(GROUP_ENV, (1, 2, 4, 8, 16), "the group size")
    if forced is not None:
        return forced
    kind = isa()
    bits = 64 if spec.dtype == "float64" else 32
    n, regs = 1, GROUP_REGISTERS[kind] * REGISTER_BITS[kind]
    while 2 * n * width * bits <= regs:
        n *= 2
    return n
