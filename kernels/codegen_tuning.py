"""The plan of a specialised kernel (``kernels.codegen_plan.Plan``), per target ISA and configuration.

``plan(spec)`` gathers the choices below into the frozen plan that emission takes
(``codegen_ir.make_lane_loop``, ``codegen_emit.emit_module``); ``size(spec)`` is the size of the
body it gives (``codegen_size.body_size``). Tuning -> plan -> emission: this module imports the
emitters (through ``codegen_size``), never the other way round.

- ``vector_width(spec)``: lanes per LLVM vector (W);
- ``group_size(spec, W)``: values per grouped op (``codegen_ir._Body.grouped``);
- ``blocks_per_group(spec)``: blocks of ``LANES`` runs one kernel call trains together;
- ``batch_mode(spec)``: the epoch's batches unrolled, as a loop, or a loop after the first,
  and ``pattern_chunk(spec)``: the evaluation unrolled or a loop (``kernels.codegen_epoch``);
- ``unit_chunk(spec)``: the hidden layer unrolled or a loop over its units (``kernels.codegen_epoch``, ``Plan.units``);
- ``memory_units(spec)``: the memory schedule (``kernels.codegen_epoch``) for bodies the register
  schedules cannot hold (``MAX_BODY``), and its units per loop iteration;
- ``llvm_options(spec)``: LLVM codegen options for its compile (``kernels.codegen``).

Each reads its table in ``kernels.config`` (measured: docs/specialised-kernels.md) unless an
environment variable forces it, and none changes a result bit, only the speed. All are part
of a kernel's cache key (``kernels.codegen.kernel_name``; ``blocks_per_group`` through
``Spec.lanes``).
"""
from __future__ import annotations

import os

from kernels.bundles import FULL
from kernels.codegen_plan import MODES, Plan
from kernels.codegen_size import body_size
from kernels.config import (MAX_BODY, MEMORY_ENV, MEMORY_MAX_BODY, MEMORY_PATTERNS_ENV, MEMORY_PATTERNS_FULL, MEMORY_UNITS, BATCHES_ENV, BLOCKS_ENV, BLOCKS_PER_GROUP, CHUNK_ENV, EVAL_CHUNK, GROUP_ENV,
                            GROUP_REGISTERS, LOOP_BATCHES, POST_RA_CPUS, POST_RA_MAX_BODY, UNITS_ENV,
                            UNITS_MAX_PATTERNS, UNITS_MIN_BODY, UNITS_MIN_HIDDEN, UNITS_VALUES_BATCH,
                            UNITS_VALUES_FULL, UNROLL_MAX_BODY, VECTOR_WIDTH_ENV, VECTOR_WIDTHS)
from kernels import isa as target_isa      # isa() and target() looked up at each call: tests replace them
from kernels.isa import REGISTER_BITS


def plan(spec) -> Plan:
    """The plan of ``spec``'s kernel: every choice below, as the environment forces them or as
    the tables of ``kernels.config`` give them."""
    return _plan(spec)


def size(spec, mode=None, chunk=None, units=None, memory=None) -> int:
    """LLVM instructions in the lane body of ``spec`` (``codegen_size.body_size``), its batches in
    ``mode`` (default ``batch_mode(spec)``), its evaluation loop over ``chunk`` patterns (default
    ``pattern_chunk(spec)``), its hidden layer a loop over ``units`` units (default
    ``unit_chunk(spec)``; 0: unrolled), in the memory schedule with ``memory`` units per
    iteration (default ``memory_units(spec)``; 0: the register schedules); the vector width and
    group size of ``plan(spec)``."""
    return body_size(spec, _plan(spec, mode, chunk, units, memory))


def _plan(spec, mode=None, chunk=None, units=None, memory=None) -> Plan:
    width = vector_width(spec)
    memory = memory_units(spec) if memory is None else memory
    if memory:
        return Plan(width, group_size(spec, width), "loop", 0, 0, memory, memory_patterns(spec, memory))
    units = unit_chunk(spec) if units is None else units
    if units:       # the unit loop has neither an evaluation loop nor a choice of batches
        mode, chunk = "loop", 0
    else:
        chunk = pattern_chunk(spec) if chunk is None else chunk
        mode = mode or batch_mode(spec)
    return Plan.of(width, group_size(spec, width), mode, chunk, units)


def _forced(env: str, allowed, what: str):
    """The value ``$env`` forces (one of ``allowed``: ints or names), or None when it is unset."""
    text = os.environ.get(env, "").strip()
    if not text:
        return None
    value = int(text) if text.isdigit() and isinstance(allowed[0], int) else text
    if value not in allowed:
        raise ValueError(f"{env}={text!r}: {what} must be one of {', '.join(map(str, allowed))}")
    return value


def _first_fit(rules, cost: int) -> int:
    """The value of the first ``(largest cost or None, value)`` rule that ``cost`` fits."""
    return next(value for limit, value in rules if limit is None or cost <= limit)


def vector_width(spec):
    """Lanes per LLVM vector for ``spec``: ``$MLP_SWEEP_VECTOR_WIDTH`` if set, else the entry of
    ``kernels.config.VECTOR_WIDTHS`` for the target ISA (``kernels.isa``), the dtype, the
    schedule and the size of the lane body (``Spec.cost()``; measurements: docs/specialised-kernels.md). Wider
    vectors keep more independent work in flight for small bodies; narrower ones spill fewer
    registers for large ones. The width never changes the results."""
    allowed = [w for w in (2, 4, 8, 16, 32) if w <= spec.lanes and spec.lanes % w == 0]
    forced = _forced(VECTOR_WIDTH_ENV, allowed, f"the vector width (lanes per block: {spec.lanes})")
    if forced is not None:
        return forced
    return min(_first_fit(VECTOR_WIDTHS[target_isa.isa()][spec.dtype][_kind(spec)], spec.cost()), spec.lanes)


def _kind(spec) -> str:
    """"full", "online" or "minibatch": the schedule as the tuning tables key it."""
    return "full" if spec.schedule == FULL else "online" if spec.batch_size == 1 else "minibatch"


def blocks_per_group(spec):
    """Blocks of ``LANES`` runs a specialised kernel trains together (``spec.lanes`` is then
    that many times ``LANES``): ``$MLP_SWEEP_BLOCKS`` if set, else the entry of
    ``kernels.config.BLOCKS_PER_GROUP`` for the target ISA, the dtype, the schedule and the
    size of the lane body. With two, the lane loop runs over two groups of lanes whose epochs
    are independent, so the CPU overlaps the end of one (the chain of online updates) with the
    start of the next. Never changes the results; a block of the group waits for the other's
    last epoch."""
    forced = _forced(BLOCKS_ENV, (1, 2, 4), "the blocks per kernel group")
    if forced is not None:
        return forced
    return _first_fit(BLOCKS_PER_GROUP[target_isa.isa()][spec.dtype][_kind(spec)], spec.cost())


def group_size(spec, width):
    """Values per grouped op (``_Body.grouped``): ``$MLP_SWEEP_GROUP`` if set, else as many as
    fill ``GROUP_REGISTERS`` vector registers of the target ISA (a power of two, at least 1).
    Never changes the results."""
    forced = _forced(GROUP_ENV, (1, 2, 4, 8, 16), "the group size")
    if forced is not None:
        return forced
    kind = target_isa.isa()
    bits = 64 if spec.dtype == "float64" else 32
    n, regs = 1, GROUP_REGISTERS[kind] * REGISTER_BITS[kind]
    while 2 * n * width * bits <= regs:
        n *= 2
    return n


def batch_mode(spec) -> str:
    """How the epoch's batches of an online or minibatch ``spec`` are emitted
    (``kernels.codegen_plan.MODES``): ``$MLP_SWEEP_BATCHES`` if set, else ``"unroll"`` when
    the unrolled body is at most ``UNROLL_MAX_BODY`` instructions and the epoch has fewer than
    ``LOOP_BATCHES`` batches, else ``"peel"`` when that body fits, else ``"loop"``
    (measurements: docs/specialised-kernels.md, "Loops over patterns and batches"). Never changes the
    results. Full batch, and epochs of one batch, are always ``"unroll"``."""
    n_batches = spec.n_patterns // max(1, spec.batch_size)
    if spec.schedule == FULL or n_batches < 2:
        return "unroll"
    mode = _forced(BATCHES_ENV, MODES, "the shape of the epoch's batches")
    chunked = pattern_chunk(spec) > 0
    if mode is None and chunked:
        mode = "loop"       # an epoch too large to unroll its evaluation
    if mode is None:
        if n_batches < LOOP_BATCHES and size(spec, "unroll", units=0, memory=0) <= UNROLL_MAX_BODY:
            mode = "unroll"
        else:
            mode = "peel" if not spec.shuffle and size(spec, "peel", units=0, memory=0) <= UNROLL_MAX_BODY else "loop"
    # a shuffled first batch is loaded, and a looped evaluation has no forward pass to reuse
    return "loop" if mode == "peel" and (spec.shuffle or chunked) else mode


def pattern_chunk(spec) -> int:
    """Patterns per iteration of the evaluation loop (``codegen_epoch``, ``Plan.chunk``), 0 for
    an unrolled evaluation: ``$MLP_SWEEP_PATTERN_CHUNK`` if set, else ``EVAL_CHUNK`` when the
    body with its evaluation unrolled (and its batches as a loop) is over ``UNROLL_MAX_BODY``
    instructions. 0 unless the loop runs at least twice. Never changes the results."""
    chunk = _forced(CHUNK_ENV, (0, 1, 2, 3, 4, 8), "the patterns per evaluation loop iteration")
    if chunk is None:
        chunk = EVAL_CHUNK if spec.n_patterns >= 2 * EVAL_CHUNK and size(spec, "loop", 0, units=0, memory=0) > UNROLL_MAX_BODY else 0
    return chunk if chunk and spec.n_patterns >= 2 * chunk else 0


def unit_chunk(spec) -> int:
    """Hidden units per iteration of the unit loop (``codegen_epoch``, ``Plan.units``), 0 for the epoch with its
    parameters in registers: ``$MLP_SWEEP_UNITS`` if set, else, for a net of one hidden layer and
    at most ``UNITS_MAX_PATTERNS`` patterns, in full batch or from ``UNITS_MIN_HIDDEN`` units (or
    a body over ``UNITS_MIN_BODY`` instructions) on, the fewest units (a power of two, at most 8)
    that give ``UNITS_VALUES_FULL`` (``UNITS_VALUES_BATCH``) activations of a batch per
    iteration (docs/specialised-kernels.md, "Loop over hidden units"). 0 unless the loop runs
    at least twice and the net fits (one hidden layer, at most ``UNITS_MAX_PATTERNS``
    patterns), forced or not. Never changes the results."""
    fits = spec.n_layers == 2 and spec.n_patterns <= UNITS_MAX_PATTERNS
    units = _forced(UNITS_ENV, (0, 1, 2, 4, 8), "the hidden units per unit loop iteration")
    if units is None:
        units = _default_units(spec) if fits else 0
    return units if units and fits and spec.sizes[1] >= 2 * units else 0


def _default_units(spec) -> int:
    hidden, full = spec.sizes[1], spec.schedule == FULL
    if not full and hidden < UNITS_MIN_HIDDEN:
        cost = spec.cost()       # body_size is 1-5 times it: trace only in between
        if 5 * cost <= UNITS_MIN_BODY:
            return 0
        if cost <= UNITS_MIN_BODY:
            if size(spec, units=0, memory=0) <= UNITS_MIN_BODY:
                return 0
    batch = spec.n_patterns if full else max(1, spec.batch_size)
    target = UNITS_VALUES_FULL if full else UNITS_VALUES_BATCH
    units = 1
    while units * batch < target and 4 * units <= hidden and units < 8:
        units *= 2
    return units


def memory_units(spec) -> int:
    """Hidden units per iteration of the memory schedule (``kernels.codegen_epoch``), 0 for the
    register schedules: for a ``spec.memory`` (or when the register schedules' body is over
    ``MAX_BODY`` instructions: deep or wide nets on many patterns), ``$MLP_SWEEP_MEMORY`` if set,
    else the largest tile of ``MEMORY_UNITS`` whose body fits ``MEMORY_MAX_BODY`` (compile time);
    else ``$MLP_SWEEP_MEMORY`` if set (0: the register schedules), else 0.
    Never changes the results."""
    forced = _forced(MEMORY_ENV, (0, 1, 2, 4, 8), "the hidden units per memory-schedule iteration")
    if spec.memory:         # asked for by the caller (``kernels.train(..., specialise=False)``)
        return forced or _tile(spec)
    if forced is not None:
        return forced
    if spec.cost() <= 4 * MAX_BODY and size(spec, memory=0) <= MAX_BODY:     # cheap bound first
        return 0
    return _tile(spec)


def memory_patterns(spec, tile) -> int:
    """Patterns per block of the memory schedule with ``tile`` units per tile:
    ``$MLP_SWEEP_MEMORY_PATTERNS`` if set, else ``MEMORY_PATTERNS_FULL`` in full batch (fewer blocks,
    so fewer passes of every gradient sum through ``GR``: 4-bit parity 4-64-64-1 +10-25%, two
    spirals 2-20-20-1 +8-11%; docs/specialised-kernels.md) and for a dataset of at most that many
    patterns (one block: the first batch reuses the evaluation's forward pass, ``codegen_epoch._batches``),
    else ``tile``. Never changes the results."""
    forced = _forced(MEMORY_PATTERNS_ENV, (1, 2, 4, 8, 16), "the patterns per memory-schedule block")
    if forced is not None:
        return forced
    if spec.schedule == FULL:
        return max(tile, MEMORY_PATTERNS_FULL)
    return max(tile, spec.n_patterns) if spec.n_patterns <= MEMORY_PATTERNS_FULL else tile


def _tile(spec) -> int:
    """The largest tile of ``MEMORY_UNITS`` whose body is at most ``MEMORY_MAX_BODY``, else the smallest."""
    return next((t for t in MEMORY_UNITS if size(spec, memory=t) <= MEMORY_MAX_BODY), MEMORY_UNITS[-1])


def llvm_options(spec) -> dict:
    """LLVM options (name: bool) to compile ``spec`` with: for a lane body over
    ``POST_RA_MAX_BODY`` instructions, on a CPU whose LLVM scheduling model runs the post-RA
    scheduler (``POST_RA_CPUS``), that scheduler off. It is quadratic in a basic block's
    size and gains nothing there: XOR 2-64-1 online quickprop compiles in 7.3 s instead of 11 s
    at the same speed (docs/specialised-kernels.md, "Loops over patterns and batches"). Never changes the results."""
    if not target_isa.target()[0].startswith(POST_RA_CPUS) or size(spec) <= POST_RA_MAX_BODY:
        return {}
    return {"post-RA-scheduler": False}
