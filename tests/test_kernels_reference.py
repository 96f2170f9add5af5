"""The Numba kernels against the NumPy twin (``tests/naive.py``) and against published numbers.

``ref_`` values come from the twin or a tutorial, ``comp_`` values from ``kernels``. Every
kernel call trains several runs with different per-run hyper-parameters; the twin re-trains a
few of them (the first, one in the middle and the last, which sits in a padded block).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import naive  # tests/naive.py
from test_naive import (ACTIVATIONS, LOSSES, SEED004_GRAD, SEED004_ORDER, SEED004_Y, XOR_T, XOR_X,
                        fd_cases, fd_problem, seed004_theta)

from kernels import Network, TrainOptions, forward, init_params, loss_and_grad, train
from kernels.ops import OPTIMIZERS

TOL = dict(rtol=1e-10, atol=1e-10)
EPOCH_FIELDS = ("epochs_run", "epoch_acc75", "epoch_acc100", "epoch_fahlman", "epoch_tss", "epoch_loss",
                "convergence_epoch")
FLOAT_FIELDS = ("final_loss", "final_mse", "final_accuracy", "min_loss")
BOOL_FIELDS = ("diverged", "converged")
CURVE = (0, 1, 5, 50, 200)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def random_case(seed, loss=None):
    """A random small architecture and dataset; widths 1-6, 0-3 hidden layers."""
    rng = np.random.default_rng(seed)
    n_hidden = int(rng.integers(0, 4))
    n_in, n_out = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    sizes = (n_in,) + tuple(int(w) for w in rng.integers(1, 7, n_hidden)) + (n_out,)
    loss = loss or str(rng.choice(LOSSES))
    hidden = tuple(str(a) for a in rng.choice(["sigmoid", "tanh", "relu", "leaky_relu"], n_hidden))
    out = "sigmoid" if loss == "bce" else str(rng.choice(["sigmoid", "tanh", "linear", "sigmoid"]))
    net = Network(sizes=sizes, activations=hidden + (out,), bias=bool(rng.integers(0, 2)),
                  shortcut=bool(rng.integers(0, 2)))
    n_p = int(rng.integers(3, 8))
    X = rng.integers(0, 2, (n_p, n_in)).astype(np.float64) + rng.normal(0, 0.1, (n_p, n_in))
    if n_out > 1 and rng.integers(0, 2):
        T = np.eye(n_out)[rng.integers(0, n_out, n_p)]          # one-hot: argmax accuracy
    else:
        T = rng.integers(0, 2, (n_p, n_out)).astype(np.float64)  # thresholded accuracy
    return net, loss, X, T, rng


def twin_args(net):
    return dict(sizes=net.sizes, activations=net.activations, bias=net.bias, shortcut=net.shortcut)


def lane(hp, i):
    """Run i's value of a hyper-parameter given as a scalar or an array."""
    return hp[i] if np.ndim(hp) else hp


def assert_run_matches(res, i, ref, tol=TOL, label=""):
    """Every result of kernel run i equals the twin's ``ref`` dict."""
    msg = f"{label} run {i}"
    for f in EPOCH_FIELDS:
        assert int(getattr(res, f)[i]) == ref[f], f"{msg}: {f} kernel {getattr(res, f)[i]} twin {ref[f]}"
    for f in BOOL_FIELDS:
        assert bool(getattr(res, f)[i]) == ref[f], f"{msg}: {f}"
    for f in FLOAT_FIELDS:
        np.testing.assert_allclose(getattr(res, f)[i], ref[f], **tol, err_msg=f"{msg}: {f}")
    np.testing.assert_allclose(res.curve_loss[i], ref["curve_loss"], **tol, err_msg=f"{msg}: curve_loss")
    np.testing.assert_allclose(res.curve_mse[i], ref["curve_mse"], **tol, err_msg=f"{msg}: curve_mse")
    if res.final_params is not None:
        np.testing.assert_allclose(res.final_params[i], ref["final_params"], **tol, err_msg=f"{msg}: params")
    if res.final_outputs is not None:
        np.testing.assert_allclose(res.final_outputs[i], ref["final_outputs"], **tol, err_msg=f"{msg}: outputs")


def train_both(net, opts, X, T, theta0, **kwargs):
    """The kernel generated for this configuration and its memory schedule (``specialise=False``):
    [(label, result)]."""
    return [(f"specialise={sp}", train(net, opts, X, T, theta0, specialise=sp, **kwargs)) for sp in (True, False)]


def twin_run(net, opts, X, T, theta0, i, hp, shuffle_keys=None):
    """The twin trains run i with the same per-run values the kernel got."""
    return naive.naive_train(
        **twin_args(net), loss=opts.loss, optimizer=opts.optimizer, schedule=opts.schedule,
        theta0=theta0[i], X=X, T=T, batch_size=opts.batch_size, shuffle=opts.shuffle,
        shuffle_key=0 if shuffle_keys is None else int(shuffle_keys[i]), curve_epochs=opts.curve_epochs,
        **{k: lane(v, i) for k, v in hp.items()})


def lr_for(optimizer, rng, n):
    """Moderate step sizes, so that 200 epochs are smooth rather than chaotic."""
    if optimizer == "adam":
        return rng.uniform(1e-3, 2e-2, n)
    if optimizer == "momentum":
        return rng.uniform(0.01, 0.08, n)
    return rng.uniform(0.02, 0.3, n)


# ---------------------------------------------------------------------------------------------
# training: every schedule x optimizer, random architectures, all metrics
# ---------------------------------------------------------------------------------------------
SCHEDULES = {
    "full": dict(schedule="full"),
    "online": dict(schedule="online"),
    "online-shuffle": dict(schedule="online", shuffle=True),
    "minibatch": dict(schedule="minibatch"),
    "minibatch-shuffle": dict(schedule="minibatch", shuffle=True),
}


#: Every registered rule that runs on any schedule (the full-batch ones: tests/test_training_rules.py).
STEP_RULES = tuple(op.name for op in OPTIMIZERS.ops() if not getattr(op, "full_batch", False))


@pytest.mark.parametrize("optimizer", STEP_RULES)
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_train_matches_twin(schedule, optimizer):
    seed = 1000 + 10 * list(SCHEDULES).index(schedule) + STEP_RULES.index(optimizer)
    net, loss, X, T, rng = random_case(seed)
    n_p = X.shape[0]
    sched = dict(SCHEDULES[schedule])
    if sched["schedule"] == "minibatch":
        sched["batch_size"] = int(rng.integers(1, n_p + 1))
    opts = TrainOptions(loss=loss, optimizer=optimizer, curve_epochs=CURVE, record_final_params=True,
                        record_final_outputs=True, **sched)
    n = 20
    keys = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # high bits set
    theta0 = np.array([naive.naive_init(net.sizes, net.bias, net.shortcut, "torch_default", int(k), scale=1.5)
                       for k in keys])
    hp = dict(lr=lr_for(optimizer, rng, n), epochs=200, momentum=rng.uniform(0.3, 0.9, n),
              beta1=rng.uniform(0.8, 0.95, n), beta2=rng.uniform(0.99, 0.9999, n),
              eps=rng.uniform(1e-8, 1e-6, n), leaky_slope=rng.uniform(0.01, 0.2, n),
              tss_below=rng.uniform(0.05, 0.5, n), loss_below=rng.uniform(0.01, 0.1, n),
              early_stop=rng.integers(0, 2, n).astype(bool),
              main=np.array(["acc75", "acc100", "fahlman", "tss", "loss"])[rng.integers(0, 5, n)])
    shuffle_keys = naive.np.array([naive.shuffle_key_of(int(k)) for k in keys], dtype=np.uint64)
    both = train_both(net, opts, X, T, theta0, shuffle_keys=shuffle_keys, **hp)
    for _, res in both:
        assert res.final_params.shape == (n, net.n_params)
        assert res.final_outputs.shape == (n, n_p, net.n_out)
        assert not res.diverged.any()
    for i in (0, 7, n - 1):
        ref = twin_run(net, opts, X, T, theta0, i, hp, shuffle_keys)
        for label, res in both:
            assert_run_matches(res, i, ref, label=f"{label} {net} {opts}")
    # every schedule does the same operations in the same order
    (_, gen), (_, memory) = both
    for f in ("final_params", "final_outputs", "final_loss", "min_loss", "curve_loss", "epochs_run"):
        np.testing.assert_array_equal(getattr(gen, f), getattr(memory, f), err_msg=f"default vs memory schedule: {f}")


@pytest.mark.parametrize("loss", LOSSES)
def test_train_every_loss_many_runs(loss):
    """More runs than several blocks (padding), per-run lr and momentum, one loss each."""
    net, _, X, T, rng = random_case({"sse": 7, "mse": 8, "bce": 9}[loss], loss=loss)
    n = 70
    opts = TrainOptions(loss=loss, optimizer="momentum", schedule="minibatch", batch_size=2,
                        curve_epochs=CURVE, record_final_params=True, record_final_outputs=True)
    theta0 = np.array([naive.naive_init(net.sizes, net.bias, net.shortcut, "uniform", k, low=-1, high=1)
                       for k in range(n)])
    hp = dict(lr=np.linspace(0.005, 0.05, n), momentum=np.linspace(0.0, 0.9, n), epochs=200,
              early_stop=False, main="fahlman")
    both = train_both(net, opts, X, T, theta0, **hp)
    for i in (0, 33, 63, 64, n - 1):
        ref = twin_run(net, opts, X, T, theta0, i, hp)
        for label, res in both:
            assert_run_matches(res, i, ref, label=f"{label} {net} {loss}")


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_train_every_activation(act):
    """Each activation in a hidden layer and, unless bce, at the output."""
    rng = np.random.default_rng(ACTIVATIONS.index(act))
    net = Network(sizes=(3, 4, 3, 2), activations=(act, act, act if act != "linear" else "linear"),
                  bias=True, shortcut=True)
    X, T = rng.integers(0, 2, (6, 3)).astype(float), rng.integers(0, 2, (6, 2)).astype(float)
    opts = TrainOptions(loss="sse", optimizer="sgd", schedule="online", shuffle=True, curve_epochs=CURVE,
                        record_final_params=True, record_final_outputs=True)
    n = 5
    theta0 = np.array([naive.naive_init(net.sizes, True, True, "glorot_uniform", 50 + k) for k in range(n)])
    hp = dict(lr=np.linspace(0.01, 0.05, n), epochs=200, leaky_slope=np.linspace(0.01, 0.3, n))
    keys = np.arange(100, 100 + n, dtype=np.uint64)
    both = train_both(net, opts, X, T, theta0, shuffle_keys=keys, **hp)
    for i in range(n):
        ref = twin_run(net, opts, X, T, theta0, i, hp, keys)
        for label, res in both:
            assert_run_matches(res, i, ref, label=f"{label} {act}")


def test_adam_large_eps_and_betas():
    """eps large enough that where it enters the update matters (PyTorch: after the sqrt of v-hat)."""
    net = Network(sizes=(2, 3, 1), activations=("tanh", "sigmoid"), bias=True, shortcut=True)
    n = 18
    theta0 = np.array([naive.naive_init(net.sizes, True, True, "torch_default", k) for k in range(n)])
    opts = TrainOptions(loss="sse", optimizer="adam", schedule="online", curve_epochs=(0, 1, 2, 30),
                        record_final_params=True)
    hp = dict(lr=np.linspace(0.005, 0.05, n), epochs=30, eps=np.geomspace(1e-4, 0.5, n),
              beta1=np.linspace(0.0, 0.95, n), beta2=np.linspace(0.5, 0.9999, n))
    both = train_both(net, opts, XOR_X, XOR_T, theta0, **hp)
    for i in range(0, n, 4):
        ref = twin_run(net, opts, XOR_X, XOR_T, theta0, i, hp)
        for label, res in both:
            assert_run_matches(res, i, ref, label=f"{label} adam")


def test_per_run_epochs_and_curve_after_stop():
    net = Network(sizes=(2, 3, 1), activations=("tanh", "sigmoid"))
    opts = TrainOptions(loss="mse", optimizer="adam", curve_epochs=(0, 3, 10, 40), record_final_params=True)
    theta0 = np.array([naive.naive_init(net.sizes, True, False, "normal", k) for k in range(18)])
    hp = dict(lr=0.02, epochs=np.arange(18) * 3)
    for label, res in train_both(net, opts, XOR_X, XOR_T, theta0, **hp):
        np.testing.assert_array_equal(res.epochs_run, np.arange(18) * 3)
        for i in (0, 1, 4, 17):
            assert_run_matches(res, i, twin_run(net, opts, XOR_X, XOR_T, theta0, i, hp), label=label)


# ---------------------------------------------------------------------------------------------
# stopping: early stop and divergence
# ---------------------------------------------------------------------------------------------
def test_early_stop_epochs_run_is_convergence_epoch():
    net = Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid"))
    n = 40
    theta0 = np.array([naive.naive_init(net.sizes, True, False, "uniform", k, low=-1, high=1) for k in range(n)])
    opts = TrainOptions(loss="sse", optimizer="momentum", record_final_params=True)
    hp = dict(lr=np.linspace(0.2, 2.0, n), momentum=0.9, epochs=1500, early_stop=True,
              main=np.array(["acc100", "fahlman", "tss", "loss"] * 10), loss_below=0.02)
    both = train_both(net, opts, XOR_X, XOR_T, theta0, **hp)
    for _, res in both:
        assert res.converged.sum() >= n // 2
        np.testing.assert_array_equal(res.epochs_run[res.converged], res.convergence_epoch[res.converged])
        np.testing.assert_array_equal(res.epochs_run[~res.converged], 1500)
        np.testing.assert_array_equal(res.convergence_epoch[~res.converged], -1)
    for i in (0, 5, 22, n - 1):
        ref = twin_run(net, opts, XOR_X, XOR_T, theta0, i, hp)
        for label, res in both:
            assert_run_matches(res, i, ref, label=label)


def test_early_stop_at_epoch_zero():
    net = Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid"))
    theta = net.flatten([np.array([[10.0, 10.0], [-10.0, -10.0]]), np.array([[10.0, 10.0]])],
                        [np.array([-5.0, 15.0]), np.array([-15.0])])
    opts = TrainOptions(loss="mse", record_final_params=True)
    res = train(net, opts, XOR_X, XOR_T, np.stack([theta, theta]), lr=0.5, epochs=10,
                early_stop=np.array([True, False]), main="acc100")
    np.testing.assert_array_equal(res.epochs_run, [0, 10])
    np.testing.assert_array_equal(res.epoch_acc100, [0, 0])
    np.testing.assert_array_equal(res.final_params[0], theta)


def test_divergence_is_flagged_and_isolated():
    net = Network(sizes=(2, 3, 1), activations=("tanh", "linear"))
    theta0 = np.array([naive.naive_init(net.sizes, True, False, "uniform", 11, low=-1, high=1)] * 3)
    opts = TrainOptions(loss="sse", optimizer="sgd", curve_epochs=(0, 1, 100, 200), record_final_params=True,
                        record_final_outputs=True)
    lrs = np.array([0.05, 1e6, 0.05])
    for specialise in (True, False):
        check_divergence_isolated(net, opts, theta0, lrs, specialise)


def check_divergence_isolated(net, opts, theta0, lrs, specialise):
    both = train(net, opts, XOR_X, XOR_T, theta0, lr=lrs, epochs=200, specialise=specialise)
    alone = train(net, opts, XOR_X, XOR_T, theta0[:1], lr=0.05, epochs=200, specialise=specialise)
    np.testing.assert_array_equal(both.diverged, [False, True, False])
    assert 0 < both.epochs_run[1] < 200 and both.epochs_run[0] == 200
    assert np.isnan(both.curve_loss[1, -1])
    for f in ("epochs_run", "final_loss", "final_mse", "min_loss", "epoch_acc75", "epoch_acc100",
              "curve_loss", "curve_mse", "final_params", "final_outputs"):
        np.testing.assert_array_equal(getattr(both, f)[0], getattr(alone, f)[0], err_msg=f)
        np.testing.assert_array_equal(getattr(both, f)[2], getattr(alone, f)[0], err_msg=f)
    ref = twin_run(net, opts, XOR_X, XOR_T, theta0, 1, dict(lr=1e6, epochs=200))
    assert ref["diverged"] and ref["epochs_run"] == both.epochs_run[1]
    for f in ("epoch_acc75", "epoch_acc100", "epoch_fahlman", "epoch_tss", "epoch_loss", "convergence_epoch"):
        assert getattr(both, f)[1] == ref[f], f
    np.testing.assert_allclose(both.curve_loss[1], ref["curve_loss"], rtol=1e-10)


def test_divergence_sweep_matches_twin():
    """Learning rates from 1e3 to 1e297: the divergent epoch is still an evaluated epoch, so a run
    whose loss overflows while its outputs classify every pattern can reach acc100 there."""
    net = Network(sizes=(2, 3, 1), activations=("tanh", "linear"))
    T = np.zeros((4, 1))
    lrs = 10.0 ** np.arange(3, 300, 7)
    theta0 = naive.naive_init(net.sizes, True, False, "uniform", 0, low=-1, high=1)
    opts = TrainOptions(loss="sse", curve_epochs=(0, 1, 2, 5))
    both = train_both(net, opts, XOR_X, T, np.repeat(theta0[None], lrs.size, 0), lr=lrs, epochs=50)
    with np.errstate(all="ignore"):
        for i in range(0, lrs.size, 3):
            ref = twin_run(net, opts, XOR_X, T, np.repeat(theta0[None], lrs.size, 0), i, dict(lr=lrs[i], epochs=50))
            for label, res in both:
                assert res.diverged.all()
                for f in EPOCH_FIELDS + BOOL_FIELDS + ("final_accuracy",):
                    assert getattr(res, f)[i] == ref[f], (label, lrs[i], f)
                np.testing.assert_allclose(res.min_loss[i], ref["min_loss"], rtol=1e-10)
                np.testing.assert_allclose(res.curve_loss[i], ref["curve_loss"], rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# gradients: finite differences and seed 004
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act,loss,shortcut", list(fd_cases()))
def test_kernel_gradient_matches_finite_differences(act, loss, shortcut):
    sizes, activations, theta, X, T = fd_problem(act, loss, shortcut)
    net = Network(sizes=sizes, activations=activations, bias=True, shortcut=shortcut)
    h, P = 1e-6, theta.size
    # every perturbed theta is one run of a single call: rows 2j (+h) and 2j+1 (-h), then theta itself
    thetas = np.repeat(theta[None], 2 * P + 1, axis=0)
    thetas[2 * np.arange(P), np.arange(P)] += h
    thetas[2 * np.arange(P) + 1, np.arange(P)] -= h
    E, G = loss_and_grad(net, loss, thetas, X, T, leaky_slope=0.1)
    fd = (E[0:2 * P:2] - E[1:2 * P:2]) / (2 * h)
    np.testing.assert_allclose(G[-1], fd, rtol=1e-6, atol=1e-8)
    ref_E, ref_g = naive.naive_loss_and_grad(sizes, activations, True, shortcut, loss, theta, X, T, 0.1)
    np.testing.assert_allclose(E[-1], ref_E, rtol=1e-13)
    np.testing.assert_allclose(G[-1], ref_g, rtol=1e-12, atol=1e-15)


def test_kernel_forward_matches_twin_random_architectures():
    for seed in range(12):
        net, _, X, _, rng = random_case(200 + seed)
        thetas = rng.normal(0, 1, (17, net.n_params))
        Y = forward(net, thetas, X, leaky_slope=0.07)
        assert Y.shape == (17, X.shape[0], net.n_out)
        for i in (0, 16):
            ref = naive.naive_forward(**twin_args(net), theta=thetas[i], X=X, leaky_slope=0.07)
            np.testing.assert_allclose(Y[i], ref, rtol=1e-13, atol=1e-15, err_msg=str(net))


def test_seed004_forward_and_gradient_via_kernel():
    net = Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid"), bias=True, shortcut=False)
    theta = seed004_theta()
    W1 = np.array([[0.73539729, 0.38338077], [0.8680032, 0.97945663]])
    assert np.array_equal(net.flatten([W1, np.array([[0.20971517, 0.74182765]])],
                                      [np.array([0.42572141, 0.81458374]), np.array([0.89319435])]), theta)
    Y = forward(net, theta[None], XOR_X)
    np.testing.assert_allclose(Y[0, :, 0], SEED004_Y, atol=1e-8)
    E, G = loss_and_grad(net, "mse", theta[None], XOR_X[:1], np.zeros((1, 1)))
    assert E[0] == pytest.approx(0.82261865 ** 2, abs=1e-8)
    np.testing.assert_allclose(G[0], [SEED004_GRAD[w] for w in SEED004_ORDER], atol=2e-8)


# ---------------------------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["uniform", "normal", "glorot_uniform", "torch_default"])
def test_init_params_matches_twin(scheme):
    net = Network(sizes=(3, 5, 4, 2), activations=("tanh", "relu", "sigmoid"), bias=True, shortcut=True)
    keys = np.array([0, 1, 2**64 - 1, 0xDEADBEEFCAFEF00D] + list(range(100, 120)), dtype=np.uint64)
    low, high, std, scale = -0.3, 0.7, np.linspace(0.5, 2.0, keys.size), np.linspace(-1, 3, keys.size)
    comp = init_params(net, scheme, keys, low=low, high=high, std=std, scale=scale)
    assert comp.shape == (keys.size, net.n_params)
    for i in range(keys.size):
        ref = naive.naive_init(net.sizes, True, True, scheme, int(keys[i]), low, high, std[i], scale[i])
        np.testing.assert_allclose(comp[i], ref, rtol=1e-14, atol=1e-15, err_msg=f"{scheme} run {i}")


def test_init_params_no_bias():
    net = Network(sizes=(2, 3, 1), activations=("tanh", "sigmoid"), bias=False, shortcut=True)
    comp = init_params(net, "torch_default", np.array([7, 8], dtype=np.uint64))
    for i, k in enumerate((7, 8)):
        np.testing.assert_allclose(comp[i], naive.naive_init(net.sizes, False, True, "torch_default", k),
                                   rtol=1e-15)


def test_init_numpy_legacy_seed001():
    net = Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid"))
    comp = init_params(net, "numpy_legacy", np.zeros(2, np.uint64), seeds=np.array([314, 5]))
    np.testing.assert_allclose(comp[0], [0.91687358, 0.26504775, 0.58854191, 0.78320538, 0.91800106,
                                         0.82735501, 0.72795148, 0.26048042, 0.9117634], atol=1e-8)
    np.testing.assert_array_equal(comp[1], naive.naive_init(net.sizes, True, False, "numpy_legacy", seed=5))


# ---------------------------------------------------------------------------------------------
# seed 003: without a hidden layer, XOR is never solved
# ---------------------------------------------------------------------------------------------
def test_seed003_no_hidden_layer_never_solves_xor():
    net = Network(sizes=(2, 1), activations=("sigmoid",), bias=True, shortcut=False)
    lrs = np.array([0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0])
    n = 500
    keys = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    theta0 = init_params(net, "normal", keys, std=2.0)
    lr = lrs[np.arange(n) % lrs.size]
    opts = TrainOptions(loss="mse", optimizer="sgd", schedule="full")
    res = train(net, opts, XOR_X, XOR_T, theta0, lr=lr, epochs=2000)
    memory = train(net, opts, XOR_X, XOR_T, theta0[:50], lr=lr[:50], epochs=2000, specialise=False)
    np.testing.assert_array_equal(res.epoch_acc100, -1)
    np.testing.assert_array_equal(memory.epoch_acc100, -1)
    assert not res.converged.any() and not res.diverged.any()
    assert np.all(res.final_accuracy <= 0.75)
    # online training too, and the twin on a few of the runs
    online = train(net, TrainOptions(loss="sse", schedule="online"), XOR_X, XOR_T, theta0[:100],
                   lr=lr[:100], epochs=2000)
    np.testing.assert_array_equal(online.epoch_acc100, -1)
    for i in (0, 4, 6):
        ref = twin_run(net, opts, XOR_X, XOR_T, theta0, i, dict(lr=lr[i], epochs=2000))
        assert ref["epoch_acc100"] == -1
        assert res.final_loss[i] == pytest.approx(ref["final_loss"], rel=1e-10)


# ---------------------------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("specialise", [True, False])
@pytest.mark.parametrize("optimizer,schedule", [("sgd", "full"), ("adam", "online")])
def test_float32_close_to_float64(optimizer, schedule, specialise):
    net = Network(sizes=(2, 4, 1), activations=("tanh", "sigmoid"), bias=True, shortcut=True)
    n = 20
    theta0 = init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    hp = dict(lr=np.linspace(0.01, 0.1, n) if optimizer == "adam" else np.linspace(0.1, 1.0, n), epochs=20)
    results = {}
    for dtype in ("float64", "float32"):
        opts = TrainOptions(loss="mse", optimizer=optimizer, schedule=schedule, dtype=dtype,
                            curve_epochs=(0, 10, 20), record_final_params=True, record_final_outputs=True)
        results[dtype] = train(net, opts, XOR_X, XOR_T, theta0, specialise=specialise, **hp)
    r64, r32 = results["float64"], results["float32"]
    for f in ("final_loss", "final_mse", "min_loss", "curve_loss", "final_params", "final_outputs"):
        np.testing.assert_allclose(getattr(r32, f), getattr(r64, f), rtol=1e-4, atol=1e-4, err_msg=f)
    np.testing.assert_array_equal(r32.epochs_run, r64.epochs_run)
    Y32 = forward(net, theta0, XOR_X, dtype="float32")
    np.testing.assert_allclose(Y32, forward(net, theta0, XOR_X), rtol=1e-6, atol=1e-6)
