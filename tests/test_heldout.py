"""Held-out evaluation (issue 27 item 3): the held-out set's metrics from the kernels' one pass.

``kernels.train(..., X_test=, T_test=)`` evaluates the held-out set at every epoch with the
network the training set is evaluated with (``kernels/codegen_heldout.py``, the memory
schedule's forward pass over the held-out patterns, whatever the training pass's schedule).
Checked against the NumPy twin (``tests/naive.py``, which evaluates the held-out set with its own
forward pass after each epoch) on 256 runs: final loss, mse and accuracy, best accuracy and the
epoch it was first reached, every milestone's first epoch on the held-out set, and the curves'
training accuracy, test loss and test accuracy; the register and memory schedules give the same
bits; the training results are unchanged by a held-out set.
"""
from __future__ import annotations

import numpy as np
import pytest

import naive
from kernels import Network, TrainOptions, init_params, train

TOL = dict(rtol=1e-7, atol=1e-10)   # the twin sums in NumPy's order: 20-30 epochs amplify the last bits
MILESTONES = ("acc75", "acc100", "fahlman", "tss", "loss")
CURVE = (0, 1, 3, 7, 15, 30)


def _data(rng, n, n_out):
    X = rng.normal(size=(n, 2))
    if n_out == 1:          # a noisy XOR of the signs: thresholded accuracy
        return X, ((X[:, 0] * X[:, 1] + rng.normal(0, 0.3, n)) > 0).astype(float)[:, None]
    return X, np.eye(n_out)[(np.arctan2(X[:, 1], X[:, 0]) > 0).astype(int) + (X[:, 0] > 1)]   # one-hot: argmax


CASES = [   # (id, sizes, activations, loss, optimizer, schedule options)
    ("tanh-full-adam", (2, 6, 1), ("tanh", "sigmoid"), "mse", "adam", dict(schedule="full")),
    ("two-hidden-online", (2, 5, 4, 1), ("tanh", "tanh", "sigmoid"), "sse", "momentum", dict(schedule="online")),
    ("argmax-minibatch-shuffled", (2, 6, 3), ("relu", "sigmoid"), "bce", "sgd",
     dict(schedule="minibatch", batch_size=5, shuffle=True)),
    ("rprop-full", (2, 4, 1), ("sigmoid", "sigmoid"), "mse", "irprop-", dict(schedule="full")),
    ("side-rule-on-one-hot", (2, 6, 3), ("tanh", "sigmoid"), "mse", "momentum", dict(schedule="full", accuracy="side")),
]
MAINS = ("acc75", "tss")
TEST_MAINS = ("acc75", "test_acc75", "test_tss", "test_fahlman")


def _run(case, specialise=True, held_out=True, mains=MAINS):
    _, sizes, acts, loss, opt, sched = case
    rng = np.random.default_rng(len(case[0]))
    n_out = sizes[-1]
    X, T = _data(rng, 24, n_out)
    Xte, Tte = _data(rng, 20, n_out)
    net = Network(sizes, acts)
    opts = TrainOptions(loss=loss, optimizer=opt, dtype="float64", curve_epochs=CURVE, record_final_params=True,
                        **sched)
    n = 64
    theta0 = init_params(net, "torch_default", np.arange(n, dtype=np.uint64))
    hp = dict(lr=np.linspace(0.01, 0.3, n), epochs=np.arange(n) % 41, momentum=0.7, tss_below=0.22 * 20 * n_out,
              loss_below=0.24, early_stop=np.arange(n) % 4 == 0, main=np.array(list(mains) * (n // len(mains))))
    keys = np.arange(n, dtype=np.uint64) * np.uint64(2654435761)
    test = dict(X_test=Xte, T_test=Tte) if held_out else {}
    res = train(net, opts, X, T, theta0, shuffle_keys=keys, specialise=specialise, **test, **hp)
    return res, dict(net=net, opts=opts, X=X, T=T, Xte=Xte, Tte=Tte, theta0=theta0, hp=hp, keys=keys)


@pytest.mark.parametrize("mains", [MAINS, TEST_MAINS], ids=["train-main", "test-main"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_held_out_metrics_match_the_numpy_twin(case, mains):
    """Every held-out metric, and with ``main = test_<milestone>`` the early stop and convergence
    epoch it decides, as the twin computes them."""
    res, a = _run(case, mains=mains)
    net, opts = a["net"], a["opts"]
    for i in range(a["theta0"].shape[0]):
        hp = {k: (v[i] if np.ndim(v) else v) for k, v in a["hp"].items()}
        ref = naive.naive_train(net.sizes, net.activations, net.bias, net.shortcut, opts.loss, opts.optimizer,
                                opts.schedule, a["theta0"][i], a["X"], a["T"], batch_size=opts.batch_size,
                                shuffle=opts.shuffle, shuffle_key=int(a["keys"][i]), curve_epochs=CURVE,
                                X_test=a["Xte"], T_test=a["Tte"], accuracy=opts.accuracy, **hp)
        msg = f"{case[0]} run {i}"
        for f in ("final_loss", "final_mse", "final_accuracy", "best_accuracy"):
            np.testing.assert_allclose(res.test[f][i], ref[f"test_{f}"], **TOL, err_msg=f"{msg}: test {f}")
        assert res.test["best_epoch"][i] == ref["test_best_epoch"], msg
        for name in MILESTONES:
            assert res.test[f"epoch_{name}"][i] == ref[f"test_epoch_{name}"], f"{msg}: test epoch_{name}"
        for f in ("curve_accuracy", "curve_test_loss", "curve_test_accuracy"):
            np.testing.assert_allclose(getattr(res, f)[i], ref[f], **TOL, err_msg=f"{msg}: {f}")
        assert res.epochs_run[i] == ref["epochs_run"], msg
        np.testing.assert_allclose(res.final_accuracy[i], ref["final_accuracy"], **TOL, err_msg=msg)
        assert (res.convergence_epoch[i], res.converged[i]) == (ref["convergence_epoch"], ref["converged"]), msg
    # the comparison covers milestones reached on the held-out set and not, and improving runs
    reached = np.stack([res.test[f"epoch_{name}"] for name in MILESTONES])
    assert (reached > 0).any() and (reached < 0).any()
    assert (res.test["best_epoch"] > 0).any()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_held_out_set_changes_no_training_result_and_no_schedule_changes_it(case):
    with_test, _ = _run(case)
    memory, _ = _run(case, specialise=False)
    without, _ = _run(case, held_out=False)
    assert without.test is None and np.isnan(without.curve_test_loss).all()
    for f, v in vars(without).items():
        if isinstance(v, np.ndarray) and not f.startswith("curve_test"):
            np.testing.assert_array_equal(getattr(with_test, f), v, err_msg=f)
    for f, v in with_test.test.items():
        assert v.tobytes() == memory.test[f].tobytes(), f
    assert with_test.curve_test_loss.tobytes() == memory.curve_test_loss.tobytes()


def test_accuracy_rules_differ_where_they_should():
    """On one-hot targets ``side`` asks every output to be on its side of 0.5, ``argmax`` only the
    largest: a net whose outputs are all below 0.5 is right by argmax and wrong by side."""
    net = Network((2, 3), ("sigmoid",))
    X, T = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0, 0], [0, 1.0, 0]])
    theta = np.array([[0.0, -5, -5, 0, -5, -5, -1, -1, -1]])   # w [out][in] then biases: outputs < 0.5
    acc = {rule: train(net, TrainOptions(accuracy=rule), X, T, theta, epochs=0).final_accuracy[0]
           for rule in ("auto", "argmax", "side")}
    assert acc == {"auto": 1.0, "argmax": 1.0, "side": 0.0}
    with pytest.raises(ValueError, match="argmax' needs several outputs"):
        train(Network((2, 1), ("sigmoid",)), TrainOptions(accuracy="argmax"), X, T[:, :1], theta[:, :3], epochs=0)


def test_a_test_milestone_as_main_needs_a_held_out_set():
    net = Network((2, 3, 1), ("tanh", "sigmoid"))
    theta0 = init_params(net, "torch_default", np.arange(2, dtype=np.uint64))
    with pytest.raises(ValueError, match="needs a held-out set"):
        train(net, TrainOptions(), np.zeros((4, 2)), np.zeros((4, 1)), theta0, epochs=1, main="test_acc100")


def test_held_out_arrays_are_checked():
    net = Network((2, 3, 1), ("tanh", "sigmoid"))
    X, T = np.zeros((4, 2)), np.zeros((4, 1))
    theta0 = init_params(net, "torch_default", np.arange(2, dtype=np.uint64))
    with pytest.raises(ValueError, match="X_test must have shape"):
        train(net, TrainOptions(), X, T, theta0, epochs=1, X_test=np.zeros((3, 5)), T_test=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="go together"):
        train(net, TrainOptions(), X, T, theta0, epochs=1, X_test=np.zeros((3, 2)))
