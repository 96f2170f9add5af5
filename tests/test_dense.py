"""Dense skip connections (``Network(dense=True)``, grid ``model.dense``): every level feeds every
later level, Lang & Witbrock's (1988) two-spirals net. The twin (``tests/naive.py``,
``shortcut="dense"``) is checked against finite differences; the kernels (the memory schedule,
which renders skips into hidden levels) against the twin on a few hundred runs, over the memory
schedule's tiles and with a held-out set.
"""
from __future__ import annotations

import numpy as np
import pytest

import naive
from kernels import Network, TrainOptions, init_params, loss_and_grad, train

TOL = dict(rtol=1e-7, atol=1e-10)


def _net(sizes, out="sigmoid"):
    return Network(sizes, ("tanh",) * (len(sizes) - 2) + (out,), dense=True)


def test_layout_has_a_matrix_per_pair_of_levels_two_apart():
    net = _net((2, 5, 5, 5, 1))
    assert net.skips == ((2, 0), (3, 0), (3, 1), (4, 0), (4, 1), (4, 2))
    # Lang & Witbrock's 2-5-5-5-1: 83 parameters of the layered net plus 55 of the skips
    assert net.n_params == 83 - 2 + (5 * 2 + 5 * 2 + 5 * 5 + 2 + 5 + 5)
    assert net.n_params == naive.n_params(net.sizes, True, "dense")
    theta = np.arange(net.n_params, dtype=float)
    w, b, skips = net.unflatten(theta)
    np.testing.assert_array_equal(net.flatten(w, b, skips), theta)
    assert [s.shape for s in skips] == [(5, 2), (5, 2), (5, 5), (1, 2), (1, 5), (1, 5)]


def test_one_hidden_level_dense_is_the_shortcut():
    X, T = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]), np.array([[0.0], [1], [1], [0]])
    dense, short = _net((2, 3, 1)), Network((2, 3, 1), ("tanh", "sigmoid"), shortcut=True)
    theta = init_params(short, "uniform", np.arange(8, dtype=np.uint64), low=-1, high=1)
    a = train(dense, TrainOptions(), X, T, theta, epochs=50, lr=0.5)
    b = train(short, TrainOptions(), X, T, theta, epochs=50, lr=0.5)
    assert a.final_loss.tobytes() == b.final_loss.tobytes()


@pytest.mark.parametrize("sizes", [(2, 3, 4, 1), (3, 4, 3, 2, 2)])
def test_the_twins_dense_gradient_is_the_finite_difference_gradient(sizes):
    rng = np.random.default_rng(1)
    acts = ("tanh",) * (len(sizes) - 2) + ("sigmoid",)
    theta = rng.normal(size=naive.n_params(sizes, True, "dense"))
    X, T = rng.normal(size=(5, sizes[0])), rng.random((5, sizes[-1]))
    _, g = naive.naive_loss_and_grad(sizes, acts, True, "dense", "mse", theta, X, T)
    h, fd = 1e-6, np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        fd[j] = (naive.naive_loss_and_grad(sizes, acts, True, "dense", "mse", theta + e, X, T)[0]
                 - naive.naive_loss_and_grad(sizes, acts, True, "dense", "mse", theta - e, X, T)[0]) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_initial_parameters_match_the_twin():
    net = _net((2, 5, 5, 5, 1))
    keys = np.arange(6, dtype=np.uint64) * np.uint64(977)
    for scheme in ("torch_default", "glorot_uniform", "uniform"):
        got = init_params(net, scheme, keys, low=-0.5, high=0.5)
        for r, k in enumerate(keys):
            ref = naive.naive_init(net.sizes, True, "dense", scheme, int(k), low=-0.5, high=0.5)
            np.testing.assert_allclose(got[r], ref, rtol=1e-15, atol=0, err_msg=scheme)


CASES = [   # (id, sizes, loss, optimizer, schedule options)
    ("full-momentum-sse", (2, 4, 3, 1), "sse", "momentum", dict(schedule="full")),
    ("online-sgd-two-outputs", (2, 3, 3, 3, 2), "mse", "sgd", dict(schedule="online")),
    ("minibatch-adam-shuffled", (3, 5, 4, 1), "bce", "adam", dict(schedule="minibatch", batch_size=3, shuffle=True)),
    ("full-quickprop", (2, 4, 3, 1), "sse", "quickprop", dict(schedule="full")),
]


def _data(rng, sizes, n):
    X = rng.normal(size=(n, sizes[0]))
    return X, (rng.random((n, sizes[-1])) < 1 / (1 + np.exp(-X[:, :1] * X[:, 1:2]))).astype(float)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_dense_training_matches_the_twin(case):
    _, sizes, loss, opt, sched = case
    rng = np.random.default_rng(len(case[0]))
    X, T = _data(rng, sizes, 11)
    Xte, Tte = _data(rng, sizes, 7)
    net = _net(sizes)
    opts = TrainOptions(loss=loss, optimizer=opt, curve_epochs=(0, 2, 9), record_final_params=True, **sched)
    n = 64
    theta0 = init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    keys = np.arange(n, dtype=np.uint64) * np.uint64(2654435761)
    hp = dict(lr=np.linspace(0.02, 0.6, n), epochs=np.arange(n) % 23, momentum=0.8)
    res = train(net, opts, X, T, theta0, shuffle_keys=keys, X_test=Xte, T_test=Tte, **hp)
    for i in range(n):
        ref = naive.naive_train(sizes, net.activations, True, "dense", loss, opt, opts.schedule, theta0[i], X, T,
                                batch_size=opts.batch_size, shuffle=opts.shuffle, shuffle_key=int(keys[i]),
                                curve_epochs=(0, 2, 9), X_test=Xte, T_test=Tte,
                                lr=hp["lr"][i], epochs=hp["epochs"][i], momentum=0.8)
        msg = f"{case[0]} run {i}"
        np.testing.assert_allclose(res.final_params[i], ref["final_params"], **TOL, err_msg=msg)
        np.testing.assert_allclose(res.final_loss[i], ref["final_loss"], **TOL, err_msg=msg)
        np.testing.assert_allclose(res.test["final_loss"][i], ref["test_final_loss"], **TOL, err_msg=msg)
        np.testing.assert_allclose(res.curve_loss[i], ref["curve_loss"], **TOL, err_msg=msg)
        assert res.epoch_acc75[i] == ref["epoch_acc75"], msg


@pytest.mark.parametrize("tile", ["1", "4", "8"])
def test_every_tile_of_the_memory_schedule_gives_the_same_bits(tile, monkeypatch):
    rng = np.random.default_rng(3)
    sizes = (2, 5, 5, 5, 1)
    X, T = _data(rng, sizes, 13)
    net = _net(sizes)
    opts = TrainOptions(loss="sse", optimizer="momentum", schedule="minibatch", batch_size=6)
    theta0 = init_params(net, "uniform", np.arange(20, dtype=np.uint64), low=-0.5, high=0.5)
    base = train(net, opts, X, T, theta0, epochs=30, lr=0.01)
    monkeypatch.setenv("MLP_SWEEP_MEMORY", tile)
    other = train(net, opts, X, T, theta0, epochs=30, lr=0.01)
    assert base.final_loss.tobytes() == other.final_loss.tobytes()


def test_the_hand_written_passes_refuse_a_dense_net():
    net = _net((2, 3, 3, 1))
    theta = np.zeros((1, net.n_params))
    with pytest.raises(ValueError, match="does not support skip connections into or out of hidden levels"):
        loss_and_grad(net, "mse", theta, np.zeros((2, 2)), np.zeros((2, 1)))
