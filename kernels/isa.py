"""The instruction set the kernels are compiled for: what picks the vector width.

Numba compiles for the host CPU unless ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` say otherwise,
so the ISA is read the way Numba reads its target (``numba.core.codegen``): those settings first,
llvmlite's host CPU name and features otherwise. Forcing an AVX2 target on an AVX-512 machine
(``NUMBA_CPU_NAME=znver3 NUMBA_CPU_FEATURES=...,-avx512f``) therefore also selects the AVX2 widths.

``isa()`` is one of:

- ``"avx512"``: x86 with AVX-512F (32 zmm registers of 8 doubles / 16 floats);
- ``"avx2"``: x86 with AVX2 and FMA (16 ymm registers of 4 doubles / 8 floats);
- ``"neon"``: 64-bit ARM (AdvSIMD: 32 registers of 2 doubles / 4 floats);
- ``"other"``: anything else LLVM targets (treated as 128-bit vectors).

The kernels' results do not depend on it: every op is written with explicit FMAs and no
fast-math, so a wider or narrower vector computes the same bits lane by lane.
"""
from __future__ import annotations

import functools
import platform

#: Register width in bits and number of vector registers, per ISA.
REGISTER_BITS = {"avx512": 512, "avx2": 256, "neon": 128, "other": 128}
N_REGISTERS = {"avx512": 32, "avx2": 16, "neon": 32, "other": 16}
#: Vector FP pipes that take an FMA (or a mul or an add) each cycle: 2 on Zen 2-5, Intel
#: Skylake-X and later, Neoverse N1/V1 have 2 (V1: 4 of 128 bits, counted as 2 of 256 there);
#: a model figure for the benchmark's limit, not a measurement.
FMA_PIPES = {"avx512": 2, "avx2": 2, "neon": 2, "other": 2}
#: CPUs (LLVM names, by prefix) with FP add pipes besides those: AMD Zen 1-5 have 2 FMA/MUL and
#: 2 FADD pipes, so its adds and its muls (about half each of the kernels' other flops) issue
#: side by side; Intel's adds share the FMA ports.
ADD_PIPES = {"znver": 2}


def add_pipes(cpu_name: str) -> int:
    """The separate FP add pipes of ``cpu_name`` (0 where adds share the FMA pipes)."""
    return next((n for prefix, n in ADD_PIPES.items() if cpu_name.startswith(prefix)), 0)


def _features_from_string(text: str) -> dict[str, bool]:
    """``"+avx2,-avx512f"`` (LLVM's feature string) -> ``{"avx2": True, "avx512f": False}``."""
    out = {}
    for item in text.split(","):
        item = item.strip()
        if len(item) > 1 and item[0] in "+-":
            out[item[1:]] = item[0] == "+"
    return out


def target() -> tuple[str, dict[str, bool]]:
    """(CPU name, feature flags) Numba compiles for."""
    from numba.core import config
    import llvmlite.binding as ll

    name = config.CPU_NAME or ll.get_host_cpu_name()
    if config.CPU_FEATURES is not None:
        feats = _features_from_string(config.CPU_FEATURES)
    else:
        feats = {k: bool(v) for k, v in ll.get_host_cpu_features().items()}
    return str(name), feats


def classify(cpu_name: str, features: dict[str, bool], machine: str | None = None) -> str:
    """The ISA class of a target (see the module docstring)."""
    machine = (machine or platform.machine()).lower()
    if features.get("avx512f"):
        return "avx512"
    if features.get("avx2") and features.get("fma"):
        return "avx2"
    if machine in ("arm64", "aarch64") or features.get("neon") or cpu_name.startswith(("apple-", "neoverse")):
        return "neon"
    return "other"


@functools.lru_cache(maxsize=None)
def isa() -> str:
    """The ISA class of the target Numba compiles for in this process."""
    name, feats = target()
    return classify(name, feats)


def doubles_per_register(name: str | None = None) -> int:
    return REGISTER_BITS[name or isa()] // 64


def describe() -> str:
    """One line for reports: ``avx512 (znver5, 512-bit vectors)``."""
    name, _ = target()
    kind = isa()
    return f"{kind} ({name}, {REGISTER_BITS[kind]}-bit vectors)"
