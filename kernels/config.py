"""Numba options for every kernel, in one place (as stumpy does).

- ``error_model="numpy"``: no zero-division branch in float divides; that branch blocks
  vectorisation.
- ``fastmath=False``: no reassociation or FMA contraction, so a lane computes the same bits
  in a vector body or a scalar one, and results do not depend on lane, block or thread.
  Explicit FMAs (``kernels.ops.prim.fma``) are exact IEEE operations and keep that property.
- ``cache=True``: compiled code is cached on disk next to the module (``__pycache__``).
"""
from __future__ import annotations

#: Runs per block: the innermost loop of every kernel runs over these lanes. A compile-time
#: constant so LLVM knows the trip count; 16 doubles = two AVX-512 registers.
LANES = 16

NJIT = dict(cache=True, error_model="numpy", fastmath=False, nogil=True)
NJIT_INLINE = dict(NJIT, inline="always")
NJIT_PARALLEL = dict(NJIT, parallel=True)

#: Forces the lanes per LLVM vector of every specialised kernel (2, 4, 8 or 16; a divisor of
#: LANES). Results never depend on it; only speed does. Read when a kernel is first loaded.
VECTOR_WIDTH_ENV = "MLP_SWEEP_VECTOR_WIDTH"

#: Lanes per vector of the specialised kernels, per ISA (``kernels.isa``), dtype and schedule
#: ("full", "online", "minibatch"): a list of ``(largest body cost, width)``, the first that fits
#: wins; the cost is ``Spec.cost()``, the rough size of the unrolled lane body (XOR 2-2-1 full
#: batch 168, online 336, 2-8-1 552, 2-16-1 1064, 4-bit parity 4-4-1 1440). Measured with
#: ``python -m sweep.bench.width`` (docs/specialised-kernels.md, "Vector width"): AVX-512 on a
#: Zen 5, AVX2 on a Zen 3. AVX2 float64: one ymm register a value in full batch and minibatch
#: (W = 4: 15-50% faster than 8 or 16 from XOR 2-4-1 on), two online (W = 8: the chain of
#: updates needs two independent vectors in flight; +15-25%); float32: one register (W = 8).
#: NEON and others are not measured: AVX2's earlier rule scaled to 128-bit registers.
_EVERY = ("full", "online", "minibatch")
_NARROW = ((600, 8), (None, 4))
VECTOR_WIDTHS = {
    "avx512": {"float64": dict.fromkeys(_EVERY, ((None, 16),)),
               "float32": dict.fromkeys(_EVERY, ((None, 16),))},
    "avx2": {"float64": {"full": ((None, 4),), "online": ((None, 8),), "minibatch": ((None, 4),)},
             "float32": dict.fromkeys(_EVERY, ((None, 8),))},
    "neon": {"float64": dict.fromkeys(_EVERY, _NARROW), "float32": dict.fromkeys(_EVERY, ((None, 8),))},
    "other": {"float64": dict.fromkeys(_EVERY, _NARROW), "float32": dict.fromkeys(_EVERY, ((None, 8),))},
}

#: Forces the blocks per kernel group of the specialised kernels (``codegen_tuning.blocks_per_group``).
BLOCKS_ENV = "MLP_SWEEP_BLOCKS"
#: Blocks per kernel group, per ISA, dtype and schedule ("full", "online", "minibatch"), as
#: ``(largest body cost, blocks)`` (the first that fits wins; cost as above). Two blocks pay
#: where one block's epoch is a chain of dependent updates (online, small nets: +25-40% at
#: XOR 2-2-1 to 2-16-1 on AVX-512, +60% on AVX2) and cost elsewhere (minibatch, full batch in
#: float64, 2-64-1 online); measured on a Zen 5, docs/specialised-kernels.md, "Kernel groups".
_ONLINE2 = ((2200, 2), (None, 1))
_ONE = ((None, 1),)
BLOCKS_PER_GROUP = {
    isa: {"float64": {"full": _ONE, "online": _ONLINE2, "minibatch": _ONE},
          "float32": {"full": ((200, 2), (None, 1)) if isa == "avx512" else _ONE, "online": _ONLINE2,
                      "minibatch": _ONE}}
    for isa in ("avx512", "avx2", "neon", "other")}

#: Forces the values per grouped op of the specialised kernels (``codegen_tuning.group_size``).
GROUP_ENV = "MLP_SWEEP_GROUP"
#: Vector registers one grouped op's values fill, per ISA (independent chains in flight).
GROUP_REGISTERS = {"avx512": 8, "avx2": 8, "neon": 8, "other": 8}

#: Forces the shape of the epoch's batches (``codegen_tuning.batch_mode``: unroll, peel, loop).
BATCHES_ENV = "MLP_SWEEP_BATCHES"
#: Largest unrolled lane body (``codegen_size.body_size``) of an online or minibatch epoch; above
#: it the batches run as a loop (the first one peeled when that fits). Measured on a Zen 5
#: (docs/specialised-kernels.md, "Loops over patterns and batches"): XOR 2-64-1 online sgd, 15k instructions,
#: compiles in 11.8 s unrolled and 5.6 s peeled, at the same speed; 2-64-1 online adam, 33k,
#: in 30 s unrolled and 11 s as a loop, at the same speed.
UNROLL_MAX_BODY = 12_000
#: Epochs of this many batches or more run as a loop whatever their size: the unrolled code
#: of 16 patterns outgrows the caches (4-bit parity 4-4-1 online: +33% as a loop).
LOOP_BATCHES = 16

#: Forces the patterns per iteration of the evaluation loop (``codegen_tuning.pattern_chunk``;
#: 0: unrolled).
CHUNK_ENV = "MLP_SWEEP_PATTERN_CHUNK"
#: Patterns per iteration of the evaluation loop of bodies over UNROLL_MAX_BODY (4: enough
#: values to group, ``codegen_ir._Body.grouped``).
EVAL_CHUNK = 4

#: Forces the hidden units per iteration of the unit loop (``codegen_tuning.unit_chunk``; 0: none).
UNITS_ENV = "MLP_SWEEP_UNITS"
#: The unit loop (``kernels.codegen_epoch``, ``Plan.units``) runs the epoch of every one-hidden-layer net of at
#: most UNITS_MAX_PATTERNS patterns (each pattern of a unit is unrolled in the loop's body) in
#: full batch, and in online and minibatch from UNITS_MIN_HIDDEN hidden units (or a body over
#: UNITS_MIN_BODY instructions) on: measured on a Zen 5 (docs/specialised-kernels.md, "Loop over
#: hidden units"), it is 8-45% faster than the unrolled epoch there (XOR 2-2-1 full +15%,
#: 2-16-1 and 2-64-1 full and online +20-45%, parity 4-4-1 full and 8-3-8 +8%; XOR 2-4-1 full
#: -3%), and 10-20% slower online below 8 units.
UNITS_MAX_PATTERNS = 16
UNITS_MIN_HIDDEN = 16
UNITS_MIN_BODY = 12_000
#: Values (units x patterns of a batch) per iteration the unit loop aims at, full batch and
#: otherwise: enough independent activations in flight (at most 8 units).
UNITS_VALUES_FULL = 8
UNITS_VALUES_BATCH = 4

#: Largest lane body (``codegen_tuning.size``) of the register schedules (parameters or a
#: pattern's activations in SSA values); above it the memory schedule runs
#: (``kernels.codegen_epoch``: every state that grows in memory, every dimension a loop).
MAX_BODY = 9_000
#: Forces the memory schedule and its hidden units per loop iteration
#: (``codegen_tuning.memory_units``; 0: the register schedules wherever they fit).
MEMORY_ENV = "MLP_SWEEP_MEMORY"
#: Tiles of the memory schedule (``codegen_epoch``: T patterns x T units, T x T independent sums
#: in flight), largest first: the largest whose body is at most MEMORY_MAX_BODY instructions.
#: T = 4 was measured slower than T = 2 on every row that runs this schedule (idle Golden Cove
#: Xeon, AVX-512, one process per setting: moons 2-32-1 minibatch 32 +29%, teacher 50-4-1 online
#: +9%, spirals 2-20-20-1 full +5%, XOR 2-40-40-40-1 online +6%; docs/benchmarks.md).
MEMORY_UNITS = (2, 1)
#: Forces the memory schedule's patterns per block (``codegen_tuning.memory_patterns``).
MEMORY_PATTERNS_ENV = "MLP_SWEEP_MEMORY_PATTERNS"
#: Patterns per block of the memory schedule in full batch, and the most patterns a dataset of one
#: block has online or in minibatches (its first batch then reuses the evaluation's forward pass);
#: else as many as units per tile. In full batch:
#: half the blocks of T = 2, so half the passes of the gradient sums through memory. Measured on
#: an idle Golden Cove Xeon (AVX-512, 2 threads, one process per setting, two rounds): 4-bit
#: parity 4-64-64-1 111-113 k -> 118-128 k network-epochs/s, two spirals 2-20-20-1 72-88 k ->
#: 80-95 k; 8 and 16 were slower (96-102 k on parity).
MEMORY_PATTERNS_FULL = 4
MEMORY_MAX_BODY = 8_000

#: Lane bodies above this many instructions compile without the post-RA scheduler, on the CPUs
#: whose LLVM scheduling model enables it (``codegen_tuning.llvm_options``): AMD Zen. Below it
#: the scheduler pays (XOR 2-2-1 to 2-64-1 full batch: 5-20% faster with it).
POST_RA_MAX_BODY = 15_000
POST_RA_CPUS = ("znver",)

#: Version of the kernels' arithmetic: bump it when any op's operations change (a polynomial, an
#: order of summation, a constant), i.e. whenever the same configuration may give other bits.
#: Recorded in every run manifest; ``sweep run`` refuses to resume a directory written with
#: another (``sweep.run.numerics``). Directories without the field were written by version 1.
#: 2: exp reaches its IEEE limits (inf above 709.78, subnormals then 0 below -708.4; it was clamped
#: to [-708, 709]), so a saturated sigmoid is exactly 0 and its slope exactly 0, and tanh z = z for
#: |z| < 2^-27. Only runs with a pre-activation beyond those bounds change.
NUMERICS_VERSION = 2
