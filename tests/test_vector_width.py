"""The layout choices change the speed of a specialised kernel, never its bits.

Each width is forced with ``MLP_SWEEP_VECTOR_WIDTH``, each group size (values per grouped op,
``codegen_tuning.group_size``) with ``MLP_SWEEP_GROUP``, the blocks per kernel group with
``MLP_SWEEP_BLOCKS`` and the shape of the epoch's batches (``codegen_epoch``: unrolled, a
loop, a loop after the first) with ``MLP_SWEEP_BATCHES``, in a fresh process (all are fixed
when a kernel is first loaded); every field of ``TrainResult`` must be identical across them,
float64 and float32, and each setting must really be a kernel of its own.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kernels.codegen_emit import Spec

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys
import numpy as np
import kernels
from kernels import Network, TrainOptions, call_static
from kernels.codegen import eligible, kernel_name, make_spec
from kernels.codegen_tuning import batch_mode, group_size, memory_units, pattern_chunk, unit_chunk, vector_width
from kernels.config import LANES

X4 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
T4 = np.array([[0], [1], [1], [0]], float)
P = np.array([[(k >> b) & 1 for b in range(4)] for k in range(16)], float)
TP = (P.sum(1) % 2)[:, None]
CASES = [
    (Network((2, 3, 1), ("tanh", "sigmoid"), shortcut=True), TrainOptions(loss="mse", dtype="float64", curve_epochs=(0, 3, 50), record_final_params=True,
                                   record_final_outputs=True), X4, T4),
    (Network((2, 2, 1), ("sigmoid", "sigmoid")),
     TrainOptions(loss="bce", optimizer="momentum", schedule="online", shuffle=True, dtype="float32"), X4, T4),
    (Network((4, 4, 1), ("sigmoid", "sigmoid")),
     TrainOptions(loss="sse", optimizer="adam", schedule="minibatch", batch_size=4, dtype="float64"), P, TP),
    (Network((8, 3, 8), ("sigmoid", "sigmoid")), TrainOptions(loss="mse", dtype="float32", record_final_outputs=True),
     np.eye(8), np.eye(8)),
    (Network((2, 3, 1), ("tanh", "sigmoid"), shortcut=True),
     TrainOptions(loss="mse", optimizer="quickprop", schedule="online", dtype="float64", record_final_params=True,
                  record_final_outputs=True), X4, T4),
    (Network((4, 4, 1), ("sigmoid", "sigmoid")),
     TrainOptions(loss="bce", optimizer="irprop-", schedule="online", dtype="float32", weight_decay=1e-3), P, TP),
]
WIDE = [    # hidden layers of 8-12 units: with and without a remainder after the unit loop
    (Network((2, 9, 1), ("tanh", "sigmoid"), shortcut=True), TrainOptions(
        loss="mse", dtype="float64", curve_epochs=(0, 3, 50), record_final_params=True, record_final_outputs=True), X4, T4),
    (Network((2, 11, 1), ("sigmoid", "sigmoid")),
     TrainOptions(loss="bce", optimizer="momentum", schedule="online", shuffle=True, dtype="float32"), X4, T4),
    (Network((4, 9, 1), ("sigmoid", "sigmoid"), bias=False),
     TrainOptions(loss="sse", optimizer="adam", schedule="minibatch", batch_size=3, dtype="float64"), P, TP),
    (Network((8, 8, 8), ("sigmoid", "sigmoid")), TrainOptions(loss="mse", dtype="float32", record_final_outputs=True),
     np.eye(8), np.eye(8)),
    (Network((2, 10, 1), ("tanh", "sigmoid"), shortcut=True),
     TrainOptions(loss="mse", optimizer="quickprop", schedule="online", dtype="float64", record_final_params=True,
                  record_final_outputs=True, flat_spot=0.1), X4, T4),
    (Network((4, 12, 1), ("sigmoid", "sigmoid")),
     TrainOptions(loss="bce", optimizer="irprop-", schedule="online", dtype="float32", weight_decay=1e-3), P, TP),
    (Network((4, 9, 2), ("relu", "sigmoid")),
     TrainOptions(loss="mse", optimizer="rprop+", dtype="float64", record_final_params=True), P, np.hstack([TP, 1 - TP])),
]
if len(sys.argv) > 2:     # wider nets, for the unit loop (codegen_epoch, Plan.units)
    CASES = WIDE
n = 37
out = {}
for i, (net, opts, X, T) in enumerate(CASES):
    spec = make_spec(net, call_static(net, opts, X, T), X.shape[0], opts.dtype)
    assert eligible(spec), spec
    theta = kernels.init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    res = kernels.train(net, opts, X, T, theta, epochs=np.arange(n) * 7, lr=np.linspace(0.05, 2.0, n),
                        momentum=0.8, shuffle_keys=np.arange(n, dtype=np.uint64), early_stop=np.arange(n) % 3 == 0)
    for f, v in vars(res).items():
        if isinstance(v, np.ndarray):
            out[f"{i}.{f}"] = v
    out[f"{i}.width"] = vector_width(spec)
    out[f"{i}.group"] = group_size(spec, vector_width(spec))
    out[f"{i}.blocks"] = spec.lanes // LANES
    out[f"{i}.batches"] = batch_mode(spec)
    out[f"{i}.chunk"] = pattern_chunk(spec)
    out[f"{i}.units"] = unit_chunk(spec)
    out[f"{i}.memory"] = memory_units(spec)
    out[f"{i}.name"] = kernel_name(spec)
np.savez(sys.argv[1], **out)
"""


def _run(width: int, tmp_path: Path, group: int | None = None, blocks: int | None = None,
         batches: str | None = None, chunk: int | None = None, units: int | None = None, wide: bool = False,
         memory: int | None = None, patterns: int | None = None) -> dict:
    path = tmp_path / f"w{width}g{group}b{blocks}{batches}c{chunk}u{units}m{memory}p{patterns}{wide}.npz"
    env = dict(os.environ, MLP_SWEEP_VECTOR_WIDTH=str(width), PYTHONPATH=str(ROOT))
    for name, value in (("MLP_SWEEP_GROUP", group), ("MLP_SWEEP_BLOCKS", blocks), ("MLP_SWEEP_BATCHES", batches),
                        ("MLP_SWEEP_PATTERN_CHUNK", chunk), ("MLP_SWEEP_UNITS", units),
                        ("MLP_SWEEP_MEMORY", memory), ("MLP_SWEEP_MEMORY_PATTERNS", patterns)):
        env.pop(name, None)
        if value is not None:
            env[name] = str(value)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), *(["wide"] if wide else [])], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


N_CASES = 6
SETTING_KEYS = (".width", ".group", ".blocks", ".batches", ".chunk", ".units", ".memory", ".name")


def _assert_same_bits(ref: dict, got: dict, what: str) -> None:
    for key, want in ref.items():
        if key.endswith(SETTING_KEYS):
            continue
        assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
        # bit for bit, NaN included
        assert got[key].tobytes() == want.tobytes(), f"{what} vs default differs in {key}"


@pytest.mark.slow
def test_every_width_and_grouping_gives_the_same_bits(tmp_path):
    # (width, group, blocks per kernel group); 37 runs = 3 blocks, so two blocks per group
    # also trains a group with one block and an idle half
    settings = ((4, None, None), (8, None, None), (16, None, None), (16, 1, 1), (8, 8, 2))
    runs = {ws: _run(*ws[:1], tmp_path, *ws[1:]) for ws in settings}
    ref = runs[(16, None, None)]
    for (w, group, blocks), got in runs.items():
        for i in range(N_CASES):
            assert int(got[f"{i}.width"]) == w
            if group is not None:
                assert int(got[f"{i}.group"]) == group
            if blocks is not None:
                assert int(got[f"{i}.blocks"]) == blocks
        _assert_same_bits(ref, got, f"width {w}, group {group}, blocks {blocks}")
    names = {(i, str(r[f"{i}.name"])) for r in runs.values() for i in range(N_CASES)}
    used = {(i, int(r[f"{i}.width"]), int(r[f"{i}.group"]), int(r[f"{i}.blocks"])) for r in runs.values()
            for i in range(N_CASES)}
    assert len(names) == len(used) > N_CASES * 3, "each (width, group) must be its own cached kernel"
    assert any(ref["0.epoch_acc100"] >= 0), "the comparison should include converging runs"


@pytest.mark.slow
def test_every_shape_of_the_epochs_loops_gives_the_same_bits(tmp_path):
    # batches unrolled, a loop after the first batch, a loop (codegen_epoch, Plan.mode); cases 1, 2, 4, 5
    # are online or minibatch (1 shuffled, so "peel" is "loop" there); then the evaluation as
    # a loop over chunks of 3 patterns (cases 2, 3 and 5: 16 and 8 patterns, so a remainder
    # unrolled after the loop; 3 records its outputs, and its full-batch gradient sums loop)
    # (the parameters in registers: the full-batch cases would otherwise run the unit loop)
    runs = {mode: _run(16 if mode != "peel" else 8, tmp_path, batches=mode, chunk=0, units=0)
            for mode in ("unroll", "peel", "loop")}
    runs["chunk"] = _run(16, tmp_path, chunk=3, units=0)
    for mode, got in runs.items():
        _assert_same_bits(runs["unroll"], got, f"batches {mode}")
    assert [int(runs["chunk"][f"{i}.chunk"]) for i in range(N_CASES)] == [0, 0, 3, 3, 0, 3]
    assert str(runs["chunk"]["2.batches"]) == "loop"
    for i in (2, 4, 5):
        assert [str(runs[m][f"{i}.batches"]) for m in ("unroll", "peel", "loop")] == ["unroll", "peel", "loop"]
        assert len({str(runs[m][f"{i}.name"]) for m in runs}) == (3 if i == 4 else 4), "each shape: its own kernel"
    assert str(runs["peel"]["1.batches"]) == "loop"
    assert str(runs["unroll"]["0.batches"]) == str(runs["loop"]["0.batches"]) == "unroll"   # full batch
    assert any(runs["unroll"]["4.epoch_acc100"] >= 0), "the comparison should include converging runs"


@pytest.mark.slow
def test_the_hidden_layer_as_a_loop_gives_the_same_bits(tmp_path):
    # the unit loop (codegen_epoch, Plan.units) against the parameters in registers: one unit per
    # iteration on the six cases above (hidden layers of 2-4 units), 2 and 4 on wider nets,
    # most with a remainder after the loop (full batch, shuffled online, minibatch with a short last
    # batch, recorded outputs, two outputs, no bias, shortcut, flat spot, weight decay)
    narrow = {u: _run(16, tmp_path, units=u) for u in (0, 1)}
    _assert_same_bits(narrow[0], narrow[1], "one unit per iteration")
    wide = {u: _run(8, tmp_path, units=u, wide=True) for u in (0, 2, 4)}
    for u in (2, 4):
        _assert_same_bits(wide[0], wide[u], f"{u} units per iteration")
        assert [int(wide[u][f"{i}.units"]) for i in range(7)] == [u] * 7
    assert [int(narrow[1][f"{i}.units"]) for i in range(N_CASES)] == [1] * N_CASES
    assert len({str(r[f"{i}.name"]) for r in wide.values() for i in range(7)}) == 21, "each: its own kernel"
    assert any(wide[0]["4.epoch_acc100"] >= 0), "the comparison should include converging runs"


@pytest.mark.slow
def test_the_memory_schedule_gives_the_same_bits(tmp_path):
    # the memory schedule (codegen_epoch: parameters, activations, deltas and gradient sums in
    # memory, every dimension a loop) against the register schedules (forced):
    # 1 and 4 units per iteration (most layers with a remainder after the loop), on the narrow
    # cases and the wide ones (full batch, shuffled online, minibatch with a short last batch,
    # recorded outputs, two outputs, no bias, shortcut, flat spot, weight decay, every rule)
    for wide, n in ((False, N_CASES), (True, 7)):
        default = _run(16, tmp_path, wide=wide, memory=0)       # the register schedules
        assert [int(default[f"{i}.memory"]) for i in range(n)] == [0] * n
        for u, p in ((1, None), (4, None), (2, 1), (2, 8)):     # units per tile, patterns per block
            got = _run(16, tmp_path, wide=wide, memory=u, patterns=p)
            _assert_same_bits(default, got, f"memory schedule, {u} units per iteration, {p} patterns per block")
            assert [int(got[f"{i}.memory"]) for i in range(n)] == [u] * n
    assert any(default["4.epoch_acc100"] >= 0), "the comparison should include converging runs"


def test_a_bad_forced_width_is_a_clear_error(monkeypatch):
    from kernels.codegen_tuning import vector_width

    spec = Spec(sizes=(2, 2, 1), acts=(0, 0), bias=True, shortcut=False, loss=0, opt=0, schedule=0,
                batch_size=4, shuffle=False, acc_mode=0, n_patterns=4, dtype="float64", rec_out=False, lanes=16)
    monkeypatch.setenv("MLP_SWEEP_VECTOR_WIDTH", "3")
    with pytest.raises(ValueError, match=r"MLP_SWEEP_VECTOR_WIDTH='3'.*one of 2, 4, 8, 16"):
        vector_width(spec)
    monkeypatch.setenv("MLP_SWEEP_VECTOR_WIDTH", "8")
    assert vector_width(spec) == 8


def test_the_default_width_follows_the_isa_and_the_schedule(monkeypatch):
    import dataclasses

    import kernels.isa
    from kernels.codegen_tuning import vector_width

    monkeypatch.delenv("MLP_SWEEP_VECTOR_WIDTH", raising=False)
    full = Spec(sizes=(2, 2, 1), acts=(0, 0), bias=True, shortcut=False, loss=0, opt=0, schedule=0,
                batch_size=4, shuffle=False, acc_mode=0, n_patterns=4, dtype="float64", rec_out=False, lanes=16)
    online = dataclasses.replace(full, schedule=1, batch_size=1)
    minibatch = dataclasses.replace(full, schedule=2, batch_size=2)
    f32 = dataclasses.replace(online, dtype="float32")
    expected = {"avx512": (16, 16, 16, 16), "avx2": (4, 8, 4, 8)}   # docs/specialised-kernels.md
    for name, widths in expected.items():
        monkeypatch.setattr(kernels.isa, "isa", lambda name=name: name)
        assert tuple(vector_width(s) for s in (full, online, minibatch, f32)) == widths, name


def test_a_bad_forced_group_is_a_clear_error(monkeypatch):
    from kernels.codegen_tuning import group_size

    spec = Spec(sizes=(2, 2, 1), acts=(0, 0), bias=True, shortcut=False, loss=0, opt=0, schedule=0,
                batch_size=4, shuffle=False, acc_mode=0, n_patterns=4, dtype="float64", rec_out=False, lanes=16)
    monkeypatch.setenv("MLP_SWEEP_GROUP", "3")
    with pytest.raises(ValueError, match=r"MLP_SWEEP_GROUP='3'.*one of 1, 2, 4, 8, 16"):
        group_size(spec, 8)
    monkeypatch.delenv("MLP_SWEEP_GROUP")
    from kernels.codegen_tuning import blocks_per_group
    monkeypatch.setenv("MLP_SWEEP_BLOCKS", "3")
    with pytest.raises(ValueError, match=r"MLP_SWEEP_BLOCKS='3'.*one of 1, 2, 4"):
        blocks_per_group(spec)
    monkeypatch.delenv("MLP_SWEEP_BLOCKS")
    from kernels.codegen_tuning import batch_mode
    online = Spec(sizes=(2, 2, 1), acts=(0, 0), bias=True, shortcut=False, loss=0, opt=0, schedule=1,
                  batch_size=1, shuffle=False, acc_mode=0, n_patterns=4, dtype="float64", rec_out=False, lanes=16)
    monkeypatch.setenv("MLP_SWEEP_BATCHES", "unrolled")
    with pytest.raises(ValueError, match=r"MLP_SWEEP_BATCHES='unrolled'.*one of unroll, peel, loop"):
        batch_mode(online)
    monkeypatch.delenv("MLP_SWEEP_BATCHES")
    # the default fills GROUP_REGISTERS registers: 8 zmm = 64 doubles on AVX-512
    from kernels.isa import isa
    if isa() == "avx512":
        assert group_size(spec, 16) == 4 and group_size(spec, 8) == 8


def test_the_unit_loop_is_chosen_by_the_rule_and_forced_clearly(monkeypatch):
    from kernels.codegen_tuning import unit_chunk

    def spec(sizes, schedule=0, batch_size=4, n_patterns=4):
        return Spec(sizes=sizes, acts=(0,) * (len(sizes) - 1), bias=True, shortcut=False, loss=0, opt=0,
                    schedule=schedule, batch_size=batch_size, shuffle=False, acc_mode=0, n_patterns=n_patterns,
                    dtype="float64", rec_out=False, lanes=16)
    monkeypatch.delenv("MLP_SWEEP_UNITS", raising=False)
    # full batch: units for 8 activations per iteration (XOR's 4 patterns: 2 units, parity's 16: 1)
    assert [unit_chunk(spec((2, h, 1))) for h in (2, 3, 4, 64, 300)] == [1, 1, 2, 2, 2]
    assert unit_chunk(spec((4, 4, 1), n_patterns=16, batch_size=16)) == 1
    # online: from 16 units, 4 per iteration; two hidden layers or over 16 patterns: never
    assert [unit_chunk(spec((2, h, 1), 1, 1)) for h in (2, 8, 15, 16, 64)] == [0, 0, 0, 4, 4]
    assert unit_chunk(spec((2, 8, 8, 1))) == 0
    assert unit_chunk(spec((5, 8, 1), n_patterns=32, batch_size=32)) == 0
    monkeypatch.setenv("MLP_SWEEP_UNITS", "3")
    with pytest.raises(ValueError, match=r"MLP_SWEEP_UNITS='3'.*one of 0, 1, 2, 4, 8"):
        unit_chunk(spec((2, 8, 1)))
    monkeypatch.setenv("MLP_SWEEP_UNITS", "4")
    assert unit_chunk(spec((2, 8, 1), 1, 1)) == 4 and unit_chunk(spec((2, 7, 1))) == 0   # the loop runs twice
    monkeypatch.setenv("MLP_SWEEP_UNITS", "0")
    assert unit_chunk(spec((2, 64, 1))) == 0


def test_isa_follows_numbas_target():
    from kernels import isa

    assert isa.classify("znver5", {"avx512f": True, "avx2": True, "fma": True}, "x86_64") == "avx512"
    assert isa.classify("znver3", {"avx512f": False, "avx2": True, "fma": True}, "x86_64") == "avx2"
    assert isa.classify("apple-m1", {"neon": True}, "arm64") == "neon"
    assert isa.classify("x86-64", {"sse2": True}, "x86_64") == "other"
    assert isa._features_from_string("+avx2,-avx512f,+fma") == {"avx2": True, "avx512f": False, "fma": True}
    # in a process told to compile for AVX2, the kernels see AVX2
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="+avx,+avx2,+fma,+sse4.2,-avx512f",
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", "from kernels.isa import isa; print(isa())"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "avx2", out.stderr
