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


def vector_width(spec):
    """Lanes per LLVM vector for ``spec``: ``$MLP_SWEEP_VECTOR_WIDTH`` if set, else the entry of
    ``kernels.config.VECTOR_WIDTHS`` for the target ISA (``kernels.isa``), the dtype and the
    size of the lane body (``Spec.cost()``; measurements: docs/specialised-kernels.md). Wider
    vectors keep more independent work in flight for small bodies; narrower ones spill fewer
    registers for large ones. The width never changes the results."""
    from kernels.config import VECTOR_WIDTH_ENV, VECTOR_WIDTHS
    forced = os.environ.get(VECTOR_WIDTH_ENV, "").strip()
    if forced:
        allowed = [w for w in (2, 4, 8, 16, 32) if w <= spec.lanes and spec.lanes % w == 0]
        if not forced.isdigit() or int(forced) not in allowed:
            raise ValueError(f"{VECTOR_WIDTH_ENV}={forced!r}: the vector width must be one of "
                             f"{', '.join(map(str, allowed))} (lanes per block: {spec.lanes})")
        return int(forced)
    from kernels.isa import isa
    cost = spec.cost()
    for limit, width in VECTOR_WIDTHS[isa()][spec.dtype]:
        if limit is None or cost <= limit:
            return min(width, spec.lanes)
    return min(8, spec.lanes)


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
    forced = os.environ.get(BLOCKS_ENV, "").strip()
    if forced:
        if forced not in ("1", "2", "4"):
            raise ValueError(f"{BLOCKS_ENV}={forced!r}: the blocks per kernel group must be 1, 2 or 4")
        return int(forced)
    kind = "full" if spec.schedule == FULL else "online" if spec.batch_size == 1 else "minibatch"
    cost = spec.cost()
    for limit, n in BLOCKS_PER_GROUP[isa()][spec.dtype][kind]:
        if limit is None or cost <= limit:
            return n
    return 1


def group_size(spec, width):
    """Values per grouped op (``_Body.grouped``): ``$MLP_SWEEP_GROUP`` if set, else as many as
    fill ``GROUP_REGISTERS`` vector registers of the target ISA (a power of two, at least 1).
    Never changes the results."""
    from kernels.config import GROUP_ENV, GROUP_REGISTERS
    from kernels.isa import REGISTER_BITS, isa
    forced = os.environ.get(GROUP_ENV, "").strip()
    if forced:
        if not forced.isdigit() or int(forced) not in (1, 2, 4, 8, 16):
            raise ValueError(f"{GROUP_ENV}={forced!r}: the group size must be one of 1, 2, 4, 8, 16")
        return int(forced)
    kind = isa()
    bits = 64 if spec.dtype == "float64" else 32
    n, regs = 1, GROUP_REGISTERS[kind] * REGISTER_BITS[kind]
    while 2 * n * width * bits <= regs:
        n *= 2
    return n
