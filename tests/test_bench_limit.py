"""The benchmark's machine limit (sweep.bench.limit): its measurements and its cost model."""
from __future__ import annotations

import numpy as np
import pytest

from sweep.bench import limit as L


@pytest.mark.parametrize("dtype,width", [("float64", 8), ("float64", 16), ("float32", 16)])
def test_measured_sigmoid_is_the_sigmoid(dtype, width):
    x = np.linspace(-30, 30, 2048).astype(dtype)
    buf = x.copy()
    L._sigmoid_kernel(dtype, width)(buf, 1)
    want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    ulp = np.finfo(dtype).eps
    np.testing.assert_allclose(buf.astype(np.float64), want, rtol=4 * ulp, atol=1e-300)


def test_clock_and_sigmoid_cycles_are_plausible():
    clock = L.measure_clock_hz(repeats=10)
    assert 0.3e9 < clock < 8e9
    c64 = L.measure_sigmoid_cycles("float64", clock, repeats=10)
    c32 = L.measure_sigmoid_cycles("float32", clock, repeats=10)
    assert 0.05 < c64 < 200 and 0.02 < c32 < 200


def test_cost_model_counts():
    # XOR 2-2-1 with biases: P = 9, 3 units, 4 patterns, 1 output
    s, f = L.cost_per_network_epoch((2, 2, 1), 4, "full")
    assert s == 4 * 3
    assert f == 4 * 2 * 9 + 4 * (4 * 9 + 4 * 3) + 4 * 6 + 2 * 9
    s_on, f_on = L.cost_per_network_epoch((2, 2, 1), 4, "online")
    assert s_on == 2 * s and f_on == f + 4 * 2 * 9 + 3 * 2 * 9     # a second forward, 4 updates
    m = {"clock_hz": 3e9, "sigmoid_cycles": {"float64": 2.0, "float32": 1.0}, "doubles_per_register": 4,
         "fma_pipes": 2}
    one = L.limit(m, (2, 2, 1), 4, "full", "float64", 1)
    assert one == pytest.approx(3e9 / (12 * 2.0 + f / 8))
    assert L.limit(m, (2, 2, 1), 4, "full", "float64", 2) == pytest.approx(2 * one)
    assert L.limit(m, (2, 2, 1), 4, "online", "float64", 1) < one
    assert L.limit(m, (2, 2, 1), 4, "full", "float32", 1) > one
    # AMD Zen: two FADD pipes besides the two FMA pipes take the adds
    zen = dict(m, add_pipes=2)
    assert L.limit(zen, (2, 2, 1), 4, "full", "float64", 1) == pytest.approx(3e9 / (12 * 2.0 + f / 16))


def test_measured_fp_rate_is_plausible_and_the_kernel_computes_its_chains():
    buf = np.full(16 * 8, 0.5)
    L._fp_kernel("float64", 8, 16, rounds=3)(buf, 2)
    want = 0.5
    for _ in range(6):
        want = want * 0.999 + 0.001
    assert np.all(buf == want)          # each round a mul then an add, in every lane of every chain
    clock = L.measure_clock_hz(repeats=10)
    rate = L.measure_fp_rate("float64", clock, repeats=5)
    assert 0.05 < rate < 8              # vector operations per cycle, a loaded machine included


def test_measured_fp_rate_caps_the_pipes():
    s, f = L.cost_per_network_epoch((2, 2, 1), 4, "full")
    m = {"clock_hz": 3e9, "sigmoid_cycles": {"float64": 2.0, "float32": 1.0}, "doubles_per_register": 4,
         "fma_pipes": 2}
    slow = dict(m, fp_rate={"float64": 1.5, "float32": 1.5})
    assert L.limit(slow, (2, 2, 1), 4, "full", "float64", 1) == pytest.approx(3e9 / (s * 2.0 + f / (4 * 1.5)))
    fast = dict(m, fp_rate={"float64": 2.6, "float32": 2.6})     # noise above the pipes: the pipes
    assert L.limit(fast, (2, 2, 1), 4, "full", "float64", 1) == pytest.approx(L.limit(m, (2, 2, 1), 4, "full", "float64", 1))


def test_add_pipes_by_cpu():
    from kernels import isa
    assert isa.add_pipes("znver3") == isa.add_pipes("znver5") == 2
    assert isa.add_pipes("skylake-avx512") == isa.add_pipes("apple-m1") == 0
