"""Nothing recompiles for new hyper-parameters, shapes or options: one signature per dtype.

Architecture, loss, optimizer, schedule and the per-run hyper-parameters all reach the kernels
as arrays or integer codes, so the only thing that may add a signature is the float dtype.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import types

import kernels
from kernels import Network, TrainOptions, init_params, loss_and_grad, train

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_T = np.array([[0], [1], [1], [0]], dtype=np.float64)


def float_dtypes(sig) -> frozenset:
    """The float dtypes of the array arguments of one compiled signature (inside bundles too)."""
    out = set()
    for t in sig:
        if isinstance(t, types.BaseTuple):
            out |= float_dtypes(tuple(t))
        elif isinstance(t, types.Array) and isinstance(t.dtype, types.Float):
            out.add(str(t.dtype))
    return frozenset(out)


def signature_counts():
    return {d.py_func.__name__: len(d.signatures) for d in kernels.DISPATCHERS}


def exercise(dtype, variant):
    """Every entry point once; ``variant`` changes everything that is not a dtype."""
    if variant == 0:
        net = Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid"))
        opts = TrainOptions(loss="mse", optimizer="sgd", schedule="full", dtype=dtype)
        hp = dict(lr=0.5, epochs=20)
        n, X, T = 3, XOR_X, XOR_T
    else:
        net = Network(sizes=(3, 4, 2, 2), activations=("relu", "tanh", "linear"), bias=False, shortcut=True)
        opts = TrainOptions(loss="sse", optimizer="adam", schedule="minibatch", batch_size=2, shuffle=True,
                            dtype=dtype, curve_epochs=(0, 5, 30), record_final_params=True,
                            record_final_outputs=True)
        n = 37
        hp = dict(lr=np.linspace(0.001, 0.1, n), epochs=np.arange(n), momentum=0.5, beta1=np.full(n, 0.8),
                  beta2=0.99, eps=1e-6, leaky_slope=0.2, early_stop=np.arange(n) % 2 == 0,
                  main=np.array(["acc75", "tss"] * 18 + ["loss"]), tss_below=0.5, loss_below=0.1,
                  shuffle_keys=np.arange(n, dtype=np.uint64))
        rng = np.random.default_rng(0)
        X, T = rng.normal(size=(5, 3)), np.eye(2)[rng.integers(0, 2, 5)]
        # read-only inputs, as pandas / pyarrow hand them out: Numba types those apart
        X.setflags(write=False)
        T.setflags(write=False)
    scheme = ("uniform", "torch_default")[variant]
    bounds = (-1.0, 1.0) if variant == 0 else (np.full(n, -1.0), np.full(n, 1.0))  # scalars, then per run
    theta0 = init_params(net, scheme, np.arange(n, dtype=np.uint64), low=bounds[0], high=bounds[1])
    train(net, opts, X, T, theta0, specialise=False, **hp)   # the memory schedule
    train(net, opts, X, T, theta0, **hp)                     # the one generated for this configuration
    loss_and_grad(net, opts.loss, theta0, X, T, dtype=dtype)
    return net, opts, X, T, theta0, hp


def test_one_signature_per_dtype_and_no_recompile():
    assert len(kernels.DISPATCHERS) >= 1
    for dtype in ("float64", "float32"):
        exercise(dtype, 0)
        after_first = signature_counts()
        exercise(dtype, 1)
        assert signature_counts() == after_first, f"{dtype}: new hyper-parameters or shapes recompiled"
    for d in kernels.DISPATCHERS:
        assert len(d.signatures) >= 1, d.py_func.__name__
        keys = [float_dtypes(sig) for sig in d.signatures]
        assert len(keys) == len(set(keys)), f"{d.py_func.__name__} has several signatures for one dtype: {d.signatures}"
        assert len(d.signatures) <= 2, d.signatures    # float64 and float32 at most


def test_generated_kernel_compiles_once():
    """The kernel generated for one configuration has one signature, whatever the hyper-parameters."""
    codegen = pytest.importorskip("kernels.codegen")
    if not hasattr(codegen, "specialised_train_blocks"):
        pytest.skip("no generated kernels")
    from kernels import call_static
    net = Network(sizes=(2, 3, 1), activations=("tanh", "sigmoid"), bias=True, shortcut=True)
    opts = TrainOptions(loss="mse", optimizer="momentum", schedule="online", shuffle=True)
    args = (net, call_static(net, opts, XOR_X, XOR_T), 4, "float64")
    theta0 = init_params(net, "torch_default", np.arange(40, dtype=np.uint64))
    X_ro = XOR_X.copy()
    X_ro.setflags(write=False)
    train(net, opts, XOR_X, XOR_T, theta0[:3], lr=0.1, epochs=5, shuffle_keys=np.arange(3, dtype=np.uint64))
    kernel = codegen.specialised_train_blocks(*args)
    if kernel is None:
        pytest.skip("this configuration is not specialised")
    dispatcher = kernel.train_range
    assert len(dispatcher.signatures) == 1
    train(net, opts, X_ro, XOR_T, theta0, lr=np.linspace(0.01, 1, 40), epochs=np.arange(40), momentum=0.5,
          early_stop=True, main="tss", shuffle_keys=np.arange(40, dtype=np.uint64) + np.uint64(2**63))
    assert codegen.specialised_train_blocks(*args).train_range is dispatcher
    assert len(dispatcher.signatures) == 1, dispatcher.signatures
