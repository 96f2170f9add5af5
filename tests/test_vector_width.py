"""The vector width and the op grouping change the speed of a specialised kernel, never its bits.

Each width is forced with ``MLP_SWEEP_VECTOR_WIDTH`` and each group size (values per grouped
op, ``codegen_tuning.group_size``) with ``MLP_SWEEP_GROUP``, in a fresh process (both are fixed
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
from kernels.codegen_tuning import group_size, vector_width
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
    (Network((8, 3, 8), ("sigmoid", "sigmoid")), TrainOptions(loss="mse", dtype="float32"), np.eye(8), np.eye(8)),
]
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
    out[f"{i}.name"] = kernel_name(spec)
np.savez(sys.argv[1], **out)
"""


def _run(width: int, tmp_path: Path, group: int | None = None, blocks: int | None = None) -> dict:
    path = tmp_path / f"w{width}g{group}b{blocks}.npz"
    env = dict(os.environ, MLP_SWEEP_VECTOR_WIDTH=str(width), PYTHONPATH=str(ROOT))
    for name, value in (("MLP_SWEEP_GROUP", group), ("MLP_SWEEP_BLOCKS", blocks)):
        env.pop(name, None)
        if value is not None:
            env[name] = str(value)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
def test_every_width_and_grouping_gives_the_same_bits(tmp_path):
    # (width, group, blocks per kernel group); 37 runs = 3 blocks, so two blocks per group
    # also trains a group with one block and an idle half
    settings = ((4, None, None), (8, None, None), (16, None, None), (16, 1, 1), (8, 8, 2))
    runs = {ws: _run(*ws[:1], tmp_path, *ws[1:]) for ws in settings}
    ref = runs[(16, None, None)]
    for (w, group, blocks), got in runs.items():
        for i in range(4):
            assert int(got[f"{i}.width"]) == w
            if group is not None:
                assert int(got[f"{i}.group"]) == group
            if blocks is not None:
                assert int(got[f"{i}.blocks"]) == blocks
        for key, want in ref.items():
            if key.endswith((".width", ".group", ".blocks", ".name")):
                continue
            assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
            # bit for bit, NaN included
            assert got[key].tobytes() == want.tobytes(), f"width {w}, group {group}, blocks {blocks} vs default differs in {key}"
    names = {(i, str(r[f"{i}.name"])) for r in runs.values() for i in range(4)}
    used = {(i, int(r[f"{i}.width"]), int(r[f"{i}.group"]), int(r[f"{i}.blocks"])) for r in runs.values()
            for i in range(4)}
    assert len(names) == len(used) > 4 * 3, "each (width, group) must be its own cached kernel"
    assert any(ref["0.epoch_acc100"] >= 0), "the comparison should include converging runs"


def test_a_bad_forced_width_is_a_clear_error(monkeypatch):
    from kernels.codegen_tuning import vector_width

    spec = Spec(sizes=(2, 2, 1), acts=(0, 0), bias=True, shortcut=False, loss=0, opt=0, schedule=0,
                batch_size=4, shuffle=False, acc_mode=0, n_patterns=4, dtype="float64", rec_out=False, lanes=16)
    monkeypatch.setenv("MLP_SWEEP_VECTOR_WIDTH", "3")
    with pytest.raises(ValueError, match=r"MLP_SWEEP_VECTOR_WIDTH='3'.*one of 2, 4, 8, 16"):
        vector_width(spec)
    monkeypatch.setenv("MLP_SWEEP_VECTOR_WIDTH", "8")
    assert vector_width(spec) == 8


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
    # the default fills GROUP_REGISTERS registers: 8 zmm = 64 doubles on AVX-512
    from kernels.isa import isa
    if isa() == "avx512":
        assert group_size(spec, 16) == 4 and group_size(spec, 8) == 8


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
