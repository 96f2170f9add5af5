"""The classic training rules (Rprop variants, Quickprop), Fahlman's flat spot and weight decay.

Each rule, in both kernels, against the NumPy twin (tests/naive.py, written from the papers'
pseudo-code with plain branches) to 1e-10 after 200 epochs; the default and memory schedules
bit-identical; the gradient the rules consume against finite differences; and torch.optim.Rprop
matched step for step (tests/fixtures/torch_rprop.json, generated once with torch 2.13).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kernels import Network, TrainOptions, init_params, loss_and_grad, train
from kernels.ops import OPTIMIZERS
from naive import naive_loss_and_grad, naive_train

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
XOR_T = np.array([[0], [1], [1], [0]], float)
#: Every registered full-batch rule (``full_batch`` on the op): Rprop's variants, Quickprop, ...
RULES = tuple(op.name for op in OPTIMIZERS.ops() if getattr(op, "full_batch", False))
FIELDS = ("epochs_run", "final_loss", "final_mse", "final_accuracy", "min_loss", "epoch_acc75", "epoch_acc100",
          "epoch_fahlman", "epoch_tss", "epoch_loss", "diverged", "converged", "convergence_epoch",
          "final_params", "final_outputs", "curve_loss", "curve_mse")
EPOCHS = 200


def curve_for(epochs):
    return tuple(e for e in (0, 1, 10, 20, 100, EPOCHS) if e <= epochs)


def problem(kind):
    if kind == "xor":
        return Network((2, 2, 1), ("sigmoid", "sigmoid")), XOR_X, XOR_T, "sse"
    if kind == "encoder":  # 4-2-4, argmax accuracy, Fahlman's problem family
        return Network((4, 2, 4), ("sigmoid", "sigmoid")), np.eye(4), np.eye(4), "sse"
    if kind == "tanh-mse":
        return Network((2, 3, 1), ("tanh", "sigmoid"), shortcut=True), XOR_X, XOR_T, "mse"
    if kind == "regress":  # a finite optimum: weights stay bounded, so no rounding is amplified
        X = np.array([[0.1, 0.9], [0.5, -0.3], [-0.7, 0.2], [0.3, 0.4], [-0.2, -0.8], [0.9, 0.1]])
        return Network((2, 3, 1), ("tanh", "linear")), X, (X[:, :1] * X[:, 1:] + 0.3 * X[:, :1]), "mse"
    raise ValueError(kind)


def run(rule, kind, flat_spot, weight_decay, dtype="float64", specialise=True, n=12, epochs=None):
    epochs = epochs or (QUICKPROP_TWIN_EPOCHS if rule == "quickprop" else EPOCHS)
    net, X, T, loss = problem(kind)
    opts = TrainOptions(loss=loss, optimizer=rule, dtype=dtype, flat_spot=flat_spot, weight_decay=weight_decay,
                        curve_epochs=curve_for(epochs), record_final_params=True, record_final_outputs=True)
    theta0 = init_params(net, "uniform", np.arange(n, dtype=np.uint64) + 11, low=-1.0, high=1.0)
    rng = np.random.default_rng(5)
    # Quickprop's parabola steps amplify last-bit differences once units saturate, so its epsilon is
    # kept small enough that none does within the 200 epochs compared with the twin.
    hp = dict(lr=rng.uniform(0.05, 0.3, n) if rule == "quickprop" else rng.uniform(0.2, 2.0, n), quickprop_mu=rng.uniform(1.5, 2.0, n), eta_plus=rng.uniform(1.1, 1.3, n),
              eta_minus=rng.uniform(0.4, 0.6, n), step_init=rng.uniform(0.01, 0.2, n), step_min=1e-6,
              step_max=rng.uniform(1.0, 3.0, n))  # small enough that no sigmoid saturates to 0 or 1
    res = train(net, opts, X, T, theta0, epochs=epochs, specialise=specialise, **hp)
    return net, X, T, loss, theta0, hp, res


CASES = [(rule, kind, fs, wd) for rule in RULES for kind, fs, wd in
         (("xor", 0.0, 0.0), ("encoder", 0.1, 1e-4), ("tanh-mse", 0.1, 0.0))]
#: Quickprop's parabola step p g / (q - g) divides by the change of the slope, which goes to zero as
#: a weight settles: a last-bit difference in g (the twin sums its gradient in another order) grows
#: by ten orders of magnitude within 50 epochs. So its whole-trajectory comparison with the twin runs
#: 15 epochs, and the 200-epoch check feeds the twin's rule the kernels' own gradient.
QUICKPROP_TWIN_EPOCHS = 15


@pytest.mark.parametrize("rule,kind,flat_spot,weight_decay", CASES,
                         ids=[f"{r}-{k}-fs{f}-wd{w}" for r, k, f, w in CASES])
def test_rule_matches_twin_and_both_kernels_agree(rule, kind, flat_spot, weight_decay):
    net, X, T, loss, theta0, hp, fast = run(rule, kind, flat_spot, weight_decay, specialise=True)
    slow = run(rule, kind, flat_spot, weight_decay, specialise=False)[-1]
    for f in FIELDS:  # default and memory schedules: the same bits
        np.testing.assert_array_equal(getattr(fast, f), getattr(slow, f), err_msg=f)
    checked = 0
    for r in range(theta0.shape[0]):
        kw = {k: (v[r] if np.ndim(v) else v) for k, v in hp.items()}
        epochs = QUICKPROP_TWIN_EPOCHS if rule == "quickprop" else EPOCHS
        ref = naive_train(net.sizes, net.activations, net.bias, net.shortcut, loss, rule, "full", theta0[r], X, T,
                          epochs=epochs, flat_spot=flat_spot, weight_decay=weight_decay,
                          curve_epochs=curve_for(epochs), **kw)
        assert fast.diverged[r] == ref["diverged"]
        if ref["diverged"]:
            continue
        checked += 1
        for f in ("epochs_run", "epoch_acc75", "epoch_acc100", "epoch_fahlman", "epoch_tss", "epoch_loss"):
            assert getattr(fast, f)[r] == ref[f], (r, f)
        np.testing.assert_allclose(fast.final_params[r], ref["final_params"], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(fast.final_loss[r], ref["final_loss"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fast.curve_loss[r], ref["curve_loss"], rtol=1e-10, atol=1e-12)
    assert checked >= theta0.shape[0] // 2
    if rule != "quickprop":
        assert fast.converged.any(), "the rule should solve some of these easy problems in 200 epochs"


@pytest.mark.parametrize("kind,flat_spot,weight_decay", [("xor", 0.0, 0.0), ("encoder", 0.1, 1e-4),
                                                         ("regress", 0.0, 1e-3)])
def test_quickprop_rule_matches_twin_over_200_epochs(kind, flat_spot, weight_decay):
    """The twin's Quickprop rule, fed the kernels' gradient (plus decay) every epoch, reproduces the
    kernels' 200-epoch trajectory."""
    from naive import _quickprop_step
    net, X, T, loss, theta0, hp, res = run("quickprop", kind, flat_spot, weight_decay, n=6, epochs=EPOCHS)
    theta = theta0.copy()
    states = [dict(g_prev=np.zeros(theta.shape[1]), dw_prev=np.zeros(theta.shape[1])) for _ in theta]
    for _ in range(EPOCHS):
        _, g = loss_and_grad(net, loss, theta, X, T, flat_spot=flat_spot)
        g = g + weight_decay * theta
        theta = np.stack([_quickprop_step(theta[r], g[r], states[r], hp["lr"][r], hp["quickprop_mu"][r])
                          for r in range(theta.shape[0])])
    ok = np.all(np.isfinite(theta), axis=1) & ~res.diverged
    assert ok.sum() >= 3
    np.testing.assert_allclose(res.final_params[ok], theta[ok], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rule", RULES)
def test_float32_default_and_memory_schedules_agree(rule):
    a = run(rule, "xor", 0.0, 0.0, dtype="float32")[-1]
    b = run(rule, "xor", 0.0, 0.0, dtype="float32", specialise=False)[-1]
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_gradient_the_rules_consume_matches_finite_differences():
    """One sgd step with weight decay moves theta by -lr (dE/dtheta + wd theta), dE/dtheta by
    central differences of the loss; and the flat-spot backward pass equals the twin's."""
    net, X, T, loss = problem("tanh-mse")
    theta = init_params(net, "uniform", np.arange(6, dtype=np.uint64), low=-1.0, high=1.0)
    E, _ = loss_and_grad(net, loss, theta, X, T)
    h = 1e-6
    fd = np.empty_like(theta)
    for j in range(theta.shape[1]):
        up, down = theta.copy(), theta.copy()
        up[:, j] += h
        down[:, j] -= h
        fd[:, j] = (loss_and_grad(net, loss, up, X, T)[0] - loss_and_grad(net, loss, down, X, T)[0]) / (2 * h)
    lr, wd = 0.3, 1e-2
    res = train(net, TrainOptions(loss=loss, weight_decay=wd, record_final_params=True), X, T, theta, epochs=1, lr=lr)
    np.testing.assert_allclose((theta - res.final_params) / lr, fd + wd * theta, rtol=1e-6, atol=1e-8)
    _, g_flat = loss_and_grad(net, loss, theta, X, T, flat_spot=0.1)
    for r in range(theta.shape[0]):
        _, ref = naive_loss_and_grad(net.sizes, net.activations, net.bias, net.shortcut, loss, theta[r], X, T,
                                     flat_spot=0.1)
        np.testing.assert_allclose(g_flat[r], ref, rtol=1e-12, atol=1e-14)


def test_torch_rprop_matched_step_for_step():
    """torch.optim.Rprop is irprop- with step_init = lr = 0.01 and steps in [1e-6, 50]."""
    fx = json.loads((Path(__file__).parent / "fixtures" / "torch_rprop.json").read_text())
    net = Network((2, 2, 1), ("sigmoid", "sigmoid"))
    traj = np.array(fx["trajectories"])                     # (runs, steps + 1, P)
    opts = TrainOptions(loss="sse", optimizer="irprop-", record_final_params=True)
    for steps in (1, 2, 5, 20, fx["steps"]):
        res = train(net, opts, XOR_X, XOR_T, traj[:, 0], epochs=steps, step_init=fx["lr"],
                    eta_minus=fx["etas"][0], eta_plus=fx["etas"][1], step_min=fx["step_sizes"][0],
                    step_max=fx["step_sizes"][1])
        np.testing.assert_allclose(res.final_params, traj[:, steps], rtol=1e-9, atol=1e-9, err_msg=f"step {steps}")
