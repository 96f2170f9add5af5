"""The NumPy twin checked against things it did not produce.

Finite differences, published tutorial numbers (seeds 001 and 004), known SplitMix64 outputs,
and the optimizers' textbook forms written out again here.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import naive  # tests/naive.py (pytest puts tests/ on sys.path, as in stumpy)
from kernels.ops import ACTIVATIONS as _ACTIVATIONS, LOSSES as _LOSSES

# Every registered op (tests/test_registries.py fails when the twin does not know one).
ACTIVATIONS = _ACTIVATIONS.names()
LOSSES = _LOSSES.names()
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_T = np.array([[0], [1], [1], [0]], dtype=np.float64)

# Seed 004: w1..w3 = [bias, x1, x2 -> h1], w4..w6 = [bias, x1, x2 -> h2], w7..w9 = [bias, h1, h2 -> out].
SEED004_W = dict(w1=0.42572141, w2=0.73539729, w3=0.38338077, w4=0.81458374, w5=0.8680032,
                 w6=0.97945663, w7=0.89319435, w8=0.20971517, w9=0.74182765)
#: Our layout for (2, 2, 1) with bias: W1 row-major (h1<-x1, h1<-x2, h2<-x1, h2<-x2), b1, W2, b2.
SEED004_ORDER = ("w2", "w3", "w5", "w6", "w1", "w4", "w8", "w9", "w7")
SEED004_Y = np.array([0.82261865, 0.84215617, 0.84269835, 0.85314043])  # (0,0), (0,1), (1,0), (1,1)
SEED004_GRAD = dict(w7=0.2400684312, w8=0.1452057555, w9=0.166387927, w1=0.012033, w4=0.03788282,
                    w2=0.0, w3=0.0, w5=0.0, w6=0.0)


def seed004_theta():
    return np.array([SEED004_W[name] for name in SEED004_ORDER])


def fd_cases():
    """Every activation x loss x shortcut (bce only with a sigmoid output)."""
    for act, loss, shortcut in itertools.product(ACTIVATIONS, LOSSES, (False, True)):
        if loss == "bce" and act != "sigmoid":
            continue
        yield pytest.param(act, loss, shortcut, id=f"{act}-{loss}-{'sc' if shortcut else 'nosc'}")


def fd_problem(act, loss, shortcut, seed=0):
    """A 3-4-3-2 net whose hidden layers use ``act`` (the output too, unless bce)."""
    rng = np.random.default_rng(seed)
    sizes = (3, 4, 3, 2)
    out = "sigmoid" if loss == "bce" else act
    activations = (act, act, out)
    P = naive.n_params(sizes, True, shortcut)
    theta = rng.normal(0.0, 0.8, P)
    X = rng.normal(0.0, 1.0, (5, 3))
    T = rng.uniform(0.0, 1.0, (5, 2))
    return sizes, activations, theta, X, T


def finite_difference(f, theta, h=1e-6):
    g = np.zeros_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        g[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act,loss,shortcut", list(fd_cases()))
def test_gradient_matches_finite_differences(act, loss, shortcut):
    sizes, activations, theta, X, T = fd_problem(act, loss, shortcut)
    # keep away from the relu kinks, where the derivative is one-sided
    zs, _ = naive.naive_forward_all(sizes, activations, True, shortcut, theta, X, 0.1)
    assert min(np.min(np.abs(z)) for z in zs[1:]) > 1e-4

    def E(th):
        return naive.naive_loss_and_grad(sizes, activations, True, shortcut, loss, th, X, T, 0.1)[0]

    E0, g = naive.naive_loss_and_grad(sizes, activations, True, shortcut, loss, theta, X, T, 0.1)
    assert E0 == pytest.approx(E(theta))
    np.testing.assert_allclose(g, finite_difference(E, theta), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("sizes,bias,shortcut", [((2, 1), True, False), ((2, 1), False, True),
                                                 ((1, 1, 1), False, False), ((4, 2, 3, 4), True, True)])
def test_gradient_layouts(sizes, bias, shortcut):
    rng = np.random.default_rng(1)
    activations = ("tanh",) * (len(sizes) - 2) + ("sigmoid",)
    theta = rng.normal(0, 1, naive.n_params(sizes, bias, shortcut))
    X = rng.normal(0, 1, (3, sizes[0]))
    T = rng.uniform(0, 1, (3, sizes[-1]))

    def E(th):
        return naive.naive_loss_and_grad(sizes, activations, bias, shortcut, "sse", th, X, T)[0]

    _, g = naive.naive_loss_and_grad(sizes, activations, bias, shortcut, "sse", theta, X, T)
    np.testing.assert_allclose(g, finite_difference(E, theta), rtol=1e-6, atol=1e-8)


def test_bce_loss_is_cross_entropy():
    rng = np.random.default_rng(2)
    sizes, activations = (2, 3, 2), ("tanh", "sigmoid")
    theta = rng.normal(0, 1, naive.n_params(sizes, True, False))
    X, T = rng.normal(0, 1, (4, 2)), rng.uniform(0, 1, (4, 2))
    Y = naive.naive_forward(sizes, activations, True, False, theta, X)
    expected = -np.mean(T * np.log(Y) + (1 - T) * np.log(1 - Y))
    E, _ = naive.naive_loss_and_grad(sizes, activations, True, False, "bce", theta, X, T)
    assert E == pytest.approx(expected, rel=1e-12)


def test_losses_relate_to_each_other():
    rng = np.random.default_rng(3)
    sizes, activations = (2, 3, 2), ("relu", "linear")
    theta = rng.normal(0, 1, naive.n_params(sizes, True, False))
    X, T = rng.normal(0, 1, (5, 2)), rng.uniform(0, 1, (5, 2))
    Es, gs = naive.naive_loss_and_grad(sizes, activations, True, False, "sse", theta, X, T)
    Em, gm = naive.naive_loss_and_grad(sizes, activations, True, False, "mse", theta, X, T)
    # mse = tss / (n_p n_out) = 2 sse / (n_p n_out)
    assert Em == pytest.approx(2 * Es / 10, rel=1e-12)
    np.testing.assert_allclose(gm, 2 * gs / 10, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Seed 004: forward values and hand-derived gradients of the tutorial
# ---------------------------------------------------------------------------------------------
def test_seed004_forward():
    Y = naive.naive_forward((2, 2, 1), ("sigmoid", "sigmoid"), True, False, seed004_theta(), XOR_X)
    np.testing.assert_allclose(Y[:, 0], SEED004_Y, atol=1e-8)


def test_seed004_hidden_activations():
    _, acts = naive.naive_forward_all((2, 2, 1), ("sigmoid", "sigmoid"), True, False, seed004_theta(), XOR_X)
    np.testing.assert_allclose(acts[1][0], [0.60485152, 0.69308541], atol=1e-8)


def test_seed004_gradient():
    E, g = naive.naive_loss_and_grad((2, 2, 1), ("sigmoid", "sigmoid"), True, False, "mse",
                                     seed004_theta(), XOR_X[:1], np.zeros((1, 1)))
    assert E == pytest.approx(0.82261865 ** 2, abs=1e-8)
    expected = np.array([SEED004_GRAD[name] for name in SEED004_ORDER])
    np.testing.assert_allclose(g, expected, atol=2e-8)


def test_seed004_flatten():
    W = [np.array([[SEED004_W["w2"], SEED004_W["w3"]], [SEED004_W["w5"], SEED004_W["w6"]]]),
         np.array([[SEED004_W["w8"], SEED004_W["w9"]]])]
    b = [np.array([SEED004_W["w1"], SEED004_W["w4"]]), np.array([SEED004_W["w7"]])]
    theta = naive.flatten((2, 2, 1), True, False, W, b)
    np.testing.assert_array_equal(theta, seed004_theta())
    W2, b2, S2 = naive.unflatten((2, 2, 1), True, False, theta)
    assert S2 is None
    for a, c in zip(W + b, W2 + b2):
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------------------------------------
# Seed 001: numpy_legacy with seed 314
# ---------------------------------------------------------------------------------------------
def test_seed001_numpy_legacy_weights():
    theta = naive.naive_init((2, 2, 1), True, False, "numpy_legacy", seed=314)
    W, b, _ = naive.unflatten((2, 2, 1), True, False, theta)
    np.testing.assert_allclose(W[0].T, [[0.91687358, 0.58854191], [0.26504775, 0.78320538]], atol=1e-8)
    np.testing.assert_allclose(b[0], [0.91800106, 0.82735501], atol=1e-8)
    np.testing.assert_allclose(W[1].T, [[0.72795148], [0.26048042]], atol=1e-8)
    np.testing.assert_allclose(b[1], [0.9117634], atol=1e-8)


def test_numpy_legacy_scale_and_range():
    a = naive.naive_init((3, 4, 2), True, False, "numpy_legacy", seed=7, low=-2.0, high=-1.0)
    b = naive.naive_init((3, 4, 2), True, False, "numpy_legacy", seed=7, low=-2.0, high=-1.0, scale=3.0)
    assert a.shape == (naive.n_params((3, 4, 2), True, False),)
    assert np.all((a >= -2.0) & (a < -1.0))
    np.testing.assert_array_equal(b, 3.0 * a)


# ---------------------------------------------------------------------------------------------
# Random streams
# ---------------------------------------------------------------------------------------------
def test_splitmix64_known_values():
    # The reference SplitMix64 generator seeded with 0 outputs 0xE220A8397B1DCDAF,
    # 0x6E789E6AA1B965F4, 0x06C45D188009454F: its state advances by the golden gamma.
    gamma = 0x9E3779B97F4A7C15
    assert naive.splitmix64(0) == 0xE220A8397B1DCDAF
    assert naive.splitmix64(gamma) == 0x6E789E6AA1B965F4
    assert naive.splitmix64(2 * gamma % 2**64) == 0x06C45D188009454F


def test_uniform_range_and_moments():
    u = np.array([naive.uniform(12345, c) for c in range(20000)])
    assert np.all((u >= 0) & (u < 1))
    assert abs(u.mean() - 0.5) < 0.01
    assert abs(u.var() - 1 / 12) < 0.005
    assert naive.uniform(2**64 - 1, 2**64 - 1) == naive.uniform(-1, -1)


def test_permutation_is_permutation_and_varies():
    perms = [tuple(naive.naive_permutation(99, e, 7)) for e in range(1, 30)]
    for p in perms:
        assert sorted(p) == list(range(7))
    assert len(set(perms)) > 20
    assert list(naive.naive_permutation(99, 1, 1)) == [0]
    assert tuple(naive.naive_permutation(99, 3, 7)) == perms[2]


def test_permutation_counters():
    # i = 1 is the last swap: j = floor(uniform(key, (e << 32) + 1) * 2)
    key, e = 5, 4
    j = math.floor(naive.uniform(key, (e << 32) + 1) * 2)
    perm = naive.naive_permutation(key, e, 2)
    assert list(perm) == ([1, 0] if j == 0 else [0, 1])


@pytest.mark.parametrize("scheme", ["uniform", "normal", "glorot_uniform", "torch_default"])
def test_init_schemes(scheme):
    sizes, key = (3, 5, 2), 2024
    theta = naive.naive_init(sizes, True, True, scheme, key, low=-0.5, high=2.0, std=0.3, scale=1.0)
    scaled = naive.naive_init(sizes, True, True, scheme, key, low=-0.5, high=2.0, std=0.3, scale=-2.5)
    np.testing.assert_allclose(scaled, -2.5 * theta, rtol=1e-15)
    W, b, S = naive.unflatten(sizes, True, True, theta)
    u = np.array([naive.uniform(key, j) for j in range(theta.size)])
    if scheme == "uniform":
        np.testing.assert_allclose(theta, -0.5 + 2.5 * u, rtol=1e-15)
    elif scheme == "normal":
        u1 = np.array([naive.uniform(key, 2 * j) for j in range(theta.size)])
        u2 = np.array([naive.uniform(key, 2 * j + 1) for j in range(theta.size)])
        np.testing.assert_allclose(theta, 0.3 * np.sqrt(-2 * np.log(1 - u1)) * np.cos(2 * np.pi * u2), rtol=1e-13)
    elif scheme == "glorot_uniform":
        for l, Wl in enumerate(W, start=1):
            assert np.all(np.abs(Wl) <= math.sqrt(6 / (sizes[l - 1] + sizes[l])))
        assert np.all(np.abs(S) <= math.sqrt(6 / (3 + 2)))
        assert all(np.all(bl == 0) for bl in b)
        r = math.sqrt(6 / (3 + 5))
        np.testing.assert_allclose(W[0].reshape(-1), -r + 2 * r * u[:15], rtol=1e-15)
    else:
        for l, (Wl, bl) in enumerate(zip(W, b), start=1):
            r = 1 / math.sqrt(sizes[l - 1])
            assert np.all(np.abs(Wl) <= r) and np.all(np.abs(bl) <= r)
        assert np.all(np.abs(S) <= 1 / math.sqrt(3))
        r = 1 / math.sqrt(5)   # layer 2's weights start after W1 (15) and b1 (5)
        np.testing.assert_allclose(W[1].reshape(-1), -r + 2 * r * u[20:30], rtol=1e-15)


def test_normal_init_moments():
    theta = naive.naive_init((50, 40, 1), False, False, "normal", 77, std=2.0)
    assert abs(theta.mean()) < 0.1
    assert abs(theta.std() - 2.0) < 0.1


# ---------------------------------------------------------------------------------------------
# Training: optimizers and schedules written out again, independently
# ---------------------------------------------------------------------------------------------
NET = dict(sizes=(2, 3, 1), activations=("tanh", "sigmoid"), bias=True, shortcut=True)


def _theta0(seed=0):
    return naive.naive_init(NET["sizes"], True, True, "uniform", seed, low=-1.0, high=1.0)


def _grad(theta, X, T, loss="sse"):
    return naive.naive_loss_and_grad(NET["sizes"], NET["activations"], True, True, loss, theta, X, T)[1]


def test_momentum_is_the_1986_rule():
    lr, alpha, epochs = 0.3, 0.8, 25
    theta = _theta0()
    dw = np.zeros_like(theta)
    for _ in range(epochs):
        dw = -lr * _grad(theta, XOR_X, XOR_T) + alpha * dw   # Rumelhart, Hinton & Williams (1986)
        theta = theta + dw
    res = naive.naive_train(**NET, loss="sse", optimizer="momentum", schedule="full", theta0=_theta0(),
                            X=XOR_X, T=XOR_T, lr=lr, epochs=epochs, momentum=alpha)
    np.testing.assert_allclose(res["final_params"], theta, rtol=1e-11, atol=1e-13)


def test_sgd_online_order_and_minibatch_equivalences():
    lr = 0.5
    theta = _theta0(1)
    for _ in range(3):
        for p in range(4):
            theta = theta - lr * _grad(theta, XOR_X[p:p + 1], XOR_T[p:p + 1])
    common = dict(**NET, loss="sse", optimizer="sgd", theta0=_theta0(1), X=XOR_X, T=XOR_T, lr=lr, epochs=3)
    online = naive.naive_train(**common, schedule="online")
    mb1 = naive.naive_train(**common, schedule="minibatch", batch_size=1)
    full = naive.naive_train(**common, schedule="full")
    mb4 = naive.naive_train(**common, schedule="minibatch", batch_size=4)
    mb9 = naive.naive_train(**common, schedule="minibatch", batch_size=9)
    np.testing.assert_allclose(online["final_params"], theta, rtol=1e-13)
    np.testing.assert_array_equal(online["final_params"], mb1["final_params"])
    np.testing.assert_array_equal(full["final_params"], mb4["final_params"])
    np.testing.assert_array_equal(full["final_params"], mb9["final_params"])


def test_minibatch_last_batch_is_smaller_and_shuffled_order():
    lr, key = 0.2, 31337
    X = np.vstack([XOR_X, XOR_X[:1] + 0.5])
    T = np.vstack([XOR_T, [[1.0]]])
    theta = _theta0(2)
    for e in range(1, 4):
        perm = naive.naive_permutation(key, e, 5)
        for batch in (perm[0:2], perm[2:4], perm[4:5]):
            theta = theta - lr * _grad(theta, X[batch], T[batch], "mse")
    res = naive.naive_train(**NET, loss="mse", optimizer="sgd", schedule="minibatch", theta0=_theta0(2),
                            X=X, T=T, lr=lr, epochs=3, batch_size=2, shuffle=True, shuffle_key=key)
    np.testing.assert_allclose(res["final_params"], theta, rtol=1e-13)


def test_adam_first_step_is_lr_sign_g():
    lr = 1e-3
    theta0 = _theta0(3)
    g = _grad(theta0, XOR_X, XOR_T, "mse")
    assert np.all(np.abs(g) > 1e-5)
    res = naive.naive_train(**NET, loss="mse", optimizer="adam", schedule="full", theta0=theta0,
                            X=XOR_X, T=XOR_T, lr=lr, epochs=1)
    np.testing.assert_allclose(res["final_params"] - theta0, -lr * np.sign(g), rtol=1e-3)


def test_adam_two_steps_written_out():
    lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-6
    theta = _theta0(4)
    m = v = 0.0
    for t in (1, 2, 3, 4):   # online: 4 updates in one epoch, t counts updates
        p = t - 1
        g = _grad(theta, XOR_X[p:p + 1], XOR_T[p:p + 1])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        theta = theta - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    res = naive.naive_train(**NET, loss="sse", optimizer="adam", schedule="online", theta0=_theta0(4),
                            X=XOR_X, T=XOR_T, lr=lr, epochs=1, beta1=b1, beta2=b2, eps=eps)
    np.testing.assert_allclose(res["final_params"], theta, rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# Training: metrics, milestones, stopping
# ---------------------------------------------------------------------------------------------
def test_metrics_of_a_trained_xor():
    theta0 = naive.naive_init((2, 2, 1), True, False, "numpy_legacy", seed=314)
    res = naive.naive_train((2, 2, 1), ("sigmoid", "sigmoid"), True, False, "sse", "sgd", "full", theta0,
                            XOR_X, XOR_T, lr=2.0, epochs=3000, curve_epochs=(0, 1, 10, 3000, 4000))
    Y = naive.naive_forward((2, 2, 1), ("sigmoid", "sigmoid"), True, False, res["final_params"], XOR_X)
    np.testing.assert_array_equal(res["final_outputs"], Y)
    assert res["epochs_run"] == 3000 and not res["diverged"]
    assert res["final_loss"] == pytest.approx(0.5 * np.sum((Y - XOR_T) ** 2), rel=1e-14)
    assert res["final_mse"] == pytest.approx(np.mean((Y - XOR_T) ** 2), rel=1e-14)
    assert res["final_accuracy"] == 1.0 and res["converged"]
    assert 0 < res["epoch_acc75"] <= res["epoch_acc100"] <= res["epoch_fahlman"] <= 3000
    assert res["convergence_epoch"] == res["epoch_acc100"]
    assert res["min_loss"] <= res["final_loss"]
    Y0 = naive.naive_forward((2, 2, 1), ("sigmoid", "sigmoid"), True, False, theta0, XOR_X)
    assert res["curve_loss"][0] == pytest.approx(0.5 * np.sum((Y0 - XOR_T) ** 2), rel=1e-14)
    assert res["curve_mse"][0] == pytest.approx(np.mean((Y0 - XOR_T) ** 2), rel=1e-14)
    assert res["curve_loss"][3] == res["final_loss"]
    assert np.isnan(res["curve_loss"][4]) and np.isnan(res["curve_mse"][4])
    # the milestones are consistent with a re-run that stops early on each of them
    for name in ("acc75", "acc100", "fahlman", "tss", "loss"):
        again = naive.naive_train((2, 2, 1), ("sigmoid", "sigmoid"), True, False, "sse", "sgd", "full",
                                  theta0, XOR_X, XOR_T, lr=2.0, epochs=3000, early_stop=True, main=name,
                                  loss_below=0.05)
        if again["converged"]:
            assert again["epochs_run"] == again["convergence_epoch"] == again[f"epoch_{name}"]
        else:
            assert again["epochs_run"] == 3000 and again["convergence_epoch"] == -1


def test_milestones_at_epoch_zero_and_early_stop_there():
    W = [np.array([[10.0, 10.0], [-10.0, -10.0]]), np.array([[10.0, 10.0]])]
    b = [np.array([-5.0, 15.0]), np.array([-15.0])]   # an exact XOR solution
    theta = naive.flatten((2, 2, 1), True, False, W, b)
    res = naive.naive_train((2, 2, 1), ("sigmoid", "sigmoid"), True, False, "mse", "sgd", "full", theta,
                            XOR_X, XOR_T, lr=0.1, epochs=10, early_stop=True, main="fahlman")
    assert res["epochs_run"] == 0 and res["convergence_epoch"] == 0 and res["epoch_acc100"] == 0
    np.testing.assert_array_equal(res["final_params"], theta)


def test_accuracy_rules():
    T1 = np.array([[0.0], [1.0], [1.0]])
    # 0.5 counts as 1: only the middle pattern is right
    assert naive.naive_accuracy(np.array([[0.5], [0.5], [0.49]]), T1) == pytest.approx(1 / 3)
    onehot = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    # argmax, first maximum; thresholds do not matter
    assert naive.naive_accuracy(np.array([[0.2, 0.1, 0.1], [0.3, 0.3, 0.0]]), onehot) == 0.5
    multi = np.array([[1.0, 1.0], [0.0, 1.0]])   # not one-hot: every output thresholded
    assert naive.naive_accuracy(np.array([[0.6, 0.7], [0.2, 0.4]]), multi) == 0.5


def test_divergence_stops_the_run():
    theta0 = naive.naive_init((2, 3, 1), True, False, "uniform", 5, low=-1, high=1)
    res = naive.naive_train((2, 3, 1), ("tanh", "linear"), True, False, "sse", "sgd", "full", theta0,
                            XOR_X, XOR_T, lr=1e6, epochs=200, curve_epochs=(0, 100))
    assert res["diverged"]
    assert 0 < res["epochs_run"] < 200
    assert not (np.isfinite(res["final_loss"]) and np.all(np.isfinite(res["final_params"])))
    assert np.isfinite(res["min_loss"])
    assert np.isnan(res["curve_loss"][1])
