"""The machine's estimated limit for a workload (``sweep bench``'s "limit" columns).

Per network-epoch a sigmoid (or tanh) MLP trained by plain SGD costs, per run (one SIMD lane):

- ``S`` sigmoids: ``passes * n_patterns * units`` (units = hidden + output; ``passes`` is 1 for
  full batch, whose evaluation pass is also the training pass, 2 for online and minibatch);
- ``F`` other floating-point operations (every one a separate IEEE mul or add: the kernels
  contract nothing), per pattern ``2 P`` per forward pass (a mul and an add per weight),
  ``4 P`` for the backward pass (the gradient's mul-add per weight, the deltas' mul-add per
  weight), ``4`` per unit (delta and derivative), ``6`` per output (error, squared error and the
  loss and accuracy bookkeeping), and ``2 P`` per update (``lr * g``, subtract).

The limit is ``threads * clock / (S * c_sig + F / (lanes * rate))`` network-epochs per second:
``c_sig`` is the *measured* cost in cycles of one lane of the vectorised sigmoid exactly as the
specialised kernels emit it (``kernels.codegen_llvm`` tracing ``kernels.ops``' sigmoid), at
the vector width where it is cheapest (one, two or four registers a value: the machine's
limit, whatever width the kernels chose), ``lanes`` the lanes of one register at the host's FMA width
(``kernels.isa``: 8 doubles on AVX-512, 4 on AVX2, 2 on NEON; twice as many floats) and
``rate`` the *measured* vector FP operations per cycle of independent mul and add chains emitted
as the kernels emit them (a mul then an add, never contracted; ``measure_fp_rate``), at most the
FP pipes (``kernels.isa.FMA_PIPES``, plus ``kernels.isa.add_pipes``: AMD Zen's two FADD pipes,
which take the adds while the FMA pipes take the muls). The nominal pipes alone overstate what a
core sustains: on a Golden Cove Xeon the integer clock is 3.9-4.0 GHz but 512-bit FP code runs
1.75-1.84 operations per such cycle, not 2 (AVX-512 runs at a lower clock). The clock is measured
too: a dependent chain of integer add and xor (one cycle each). Loads, stores, selects and the loop are not
counted, so a kernel can at best approach the limit. A tanh unit costs the measured cycles of the
kernels' vectorised tanh (``tanh_cycles``, measured the same way) instead of the sigmoid's.
"""
from __future__ import annotations

import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_CHAIN = 1 << 20   # ~1 ms: short enough to fit between other processes' time slices


@njit(cache=True)
def _chain(n, k, j):
    x = 0
    for _ in range(n):
        x = (x + j) ^ k   # two 1-cycle ops on the critical path, both on registers
    return x


def measure_clock_hz(repeats: int = 50) -> float:
    """Cycles per second of one core, from a dependent chain of 2 * _CHAIN one-cycle ops (best of
    many short tries: on a shared machine the best one ran without being descheduled). The add's
    operand is a register: Intel's Golden Cove and later cores execute an add of an immediate at
    rename, in no cycle, so ``x + 1`` measured twice the clock there (6.9 GHz on a 3.5 GHz Xeon)."""
    _chain(10, 3, 1)
    best = min(_timed(lambda: _chain(_CHAIN, 12345, 1)) for _ in range(repeats))
    return 2 * _CHAIN / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _sigmoid_kernel(dtype: str, width: int, activation: str = "sigmoid"):
    from kernels.codegen_llvm import F, _Gen
    from kernels.ops import ACTIVATIONS

    sig = ACTIVATIONS[activation]

    @intrinsic
    def sig_block(typingctx, buf, i):
        def codegen(context, builder, signature, args):
            ptr = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0]).data
            g = _Gen(builder, dtype, width)
            addr = builder.gep(ptr, [args[1]], inbounds=True)
            z = F(g, g.vload(addr, g.ft, "sf"))
            g.vstore(sig.forward(z, g.c(0.01)).v, addr, g.ft, "sf")
            return context.get_dummy_value()
        return types.void(buf, i), codegen

    @njit
    def run(buf, reps):
        n = buf.shape[0]
        for _ in range(reps):
            for i in range(0, n, width):
                sig_block(buf, i)

    return run


def measure_sigmoid_cycles(dtype: str, clock_hz: float, width: int | None = None, repeats: int = 50,
                           activation: str = "sigmoid") -> float:
    """Cycles per lane of the kernels' vectorised sigmoid (or ``activation``; in L1: 2,048 values,
    updated in place), at ``width`` lanes per vector, or the least over one, two and four registers."""
    if width is None:
        return min(measure_sigmoid_cycles(dtype, clock_hz, w, repeats, activation) for w in _widths(dtype))
    run = _sigmoid_kernel(dtype, width, activation)
    buf = np.linspace(-4, 4, 2048).astype(dtype)
    run(buf, 1)
    reps = 200
    best = min(_timed(lambda: run(buf, reps)) for _ in range(repeats))
    return best * clock_hz / (reps * buf.size)


def _fp_kernel(dtype: str, width: int, chains: int, rounds: int = 64):
    """``x_k = x_k * 0.999 + 0.001`` for ``chains`` independent vectors of ``width`` lanes, ``rounds``
    times per call (each mul and add one instruction per register, as in the kernels)."""
    from kernels.codegen_llvm import F, _Gen

    @intrinsic
    def fp_block(typingctx, buf):
        def codegen(context, builder, signature, args):
            ptr = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0]).data
            g = _Gen(builder, dtype, width)
            addrs = [builder.gep(ptr, [ir.Constant(ir.IntType(64), k * width)], inbounds=True) for k in range(chains)]
            xs = [F(g, g.vload(a, g.ft, "sf")) for a in addrs]
            m, c = g.c(0.999), g.c(0.001)
            for _ in range(rounds):
                xs = [x * m + c for x in xs]
            for a, x in zip(addrs, xs):
                g.vstore(x.v, a, g.ft, "sf")
            return context.get_dummy_value()
        return types.void(buf), codegen

    @njit
    def run(buf, reps):
        for _ in range(reps):
            fp_block(buf)

    return run


def measure_fp_rate(dtype: str, clock_hz: float, repeats: int = 20) -> float:
    """Vector FP operations per cycle, in registers of the host's FMA width (``_widths``' first):
    the most of 16 independent chains of one register a value and 8 of two (enough in flight
    for any latency; each 2 operations a round: a mul and an add)."""
    one, rounds, reps = _widths(dtype)[0], 64, 2000
    best_rate = 0.0
    for width, chains in ((one, 16), (2 * one, 8)):
        run = _fp_kernel(dtype, width, chains, rounds)
        buf = np.ones(chains * width, dtype)
        run(buf, 1)
        best = min(_timed(lambda: run(buf, reps)) for _ in range(repeats))
        ops = reps * rounds * chains * 2 * width / one
        best_rate = max(best_rate, ops / (best * clock_hz))
    return best_rate


def _widths(dtype: str) -> tuple[int, ...]:
    """Lanes of one, two and four of the host's vector registers (at most ``LANES``)."""
    from kernels import isa
    from kernels.config import LANES
    one = isa.doubles_per_register(isa.isa()) * (1 if dtype == "float64" else 2)
    return tuple(w for w in (one, 2 * one, 4 * one) if w <= LANES)


def measure_machine() -> dict:
    """The measured figures the limits need (a few seconds)."""
    from kernels import isa

    clock = measure_clock_hz()
    kind = isa.isa()
    return {"isa": kind, "isa_text": isa.describe(), "clock_hz": clock, "fma_pipes": isa.FMA_PIPES[kind],
            "add_pipes": isa.add_pipes(isa.target()[0]),
            "doubles_per_register": isa.doubles_per_register(kind),
            "sigmoid_cycles": {dt: measure_sigmoid_cycles(dt, clock) for dt in ("float64", "float32")},
            "fp_rate": {dt: measure_fp_rate(dt, clock) for dt in ("float64", "float32")},
            "tanh_cycles": {dt: measure_sigmoid_cycles(dt, clock, activation="tanh") for dt in ("float64", "float32")}}


def cost_per_network_epoch(sizes, n_patterns: int, schedule: str, batch_size: int = 1) -> tuple[int, int]:
    """(sigmoids, other flops) per network-epoch (module docstring)."""
    n_params = sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))   # with biases
    units = sum(sizes[1:])
    n_out = sizes[-1]
    full = schedule == "full"
    passes = 1 if full else 2
    updates = 1 if full else -(-n_patterns // (1 if schedule == "online" else max(1, batch_size)))
    sigmoids = passes * n_patterns * units
    flops = (passes * n_patterns * 2 * n_params + n_patterns * (4 * n_params + 4 * units)
             + n_patterns * n_out * 6 + updates * 2 * n_params)
    return sigmoids, flops


def limit(machine: dict, sizes, n_patterns: int, schedule: str, dtype: str, threads: int,
          batch_size: int = 1, acts=None) -> float:
    """Estimated network-epochs per second this machine can reach on this workload (``acts``: each
    layer's activation, sigmoid or tanh; default every layer a sigmoid)."""
    sigmoids, flops = cost_per_network_epoch(sizes, n_patterns, schedule, batch_size)
    lanes = machine["doubles_per_register"] * (2 if dtype == "float32" else 1)
    pipes = machine["fma_pipes"] + machine.get("add_pipes", 0)
    rate = min(pipes, machine.get("fp_rate", {}).get(dtype, pipes))     # nominal without a measurement
    per_unit = machine["sigmoid_cycles"][dtype]
    if acts is not None and any(a != "sigmoid" for a in acts):   # the units' mean cost
        cost = {"sigmoid": per_unit, "tanh": machine["tanh_cycles"][dtype]}
        per_unit = sum(n * cost[a] for n, a in zip(sizes[1:], acts)) / sum(sizes[1:])
    cycles = sigmoids * per_unit + flops / (lanes * rate)
    return threads * machine["clock_hz"] / cycles
