"""The op registries (``kernels.ops``) drive the twin, the grid and the docs.

A newly registered activation, loss or optimizer fails here until the NumPy twin (tests/naive.py)
knows it and the README and docs/conventions.md list it; the tests that compare the kernels with the
twin are parametrised from the same registries, so they then check it without an edit. The grid keys
of each optimizer are exactly its ops' declared ``hyper``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import naive  # tests/naive.py
from kernels.ops import ACTIVATIONS, HYPER, LOSSES, MILESTONES, OPTIMIZERS, RPROP_VARIANTS
from sweep.grid import schema

ROOT = Path(__file__).resolve().parents[1]
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_T = np.array([[0], [1], [1], [0]], dtype=np.float64)
THETA0 = np.linspace(-0.8, 0.9, 9)  # a 2-2-1 net with biases


# ---------------------------------------------------------------------------------------------
# the twin knows every registered op
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_twin_knows_every_activation(name):
    z = np.linspace(-2.0, 2.0, 7)
    a = naive.activate(name, z, 0.1)
    d = naive.activation_derivative(name, z, a, 0.1)
    assert a.shape == d.shape == z.shape and np.isfinite(a).all() and np.isfinite(d).all()


@pytest.mark.parametrize("name", LOSSES.names())
def test_twin_knows_every_loss(name):
    E, g = naive.naive_loss_and_grad((2, 2, 1), ("tanh", "sigmoid"), True, False, name, THETA0, XOR_X, XOR_T)
    assert np.isfinite(E) and g.shape == THETA0.shape and np.abs(g).sum() > 0


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_twin_knows_every_optimizer(name):
    res = naive.naive_train((2, 2, 1), ("sigmoid", "sigmoid"), True, False, "sse", name, "full", THETA0,
                            XOR_X, XOR_T, lr=0.5, epochs=3)
    assert res["epochs_run"] == 3 and not np.array_equal(res["final_params"], THETA0)


def test_twin_knows_every_milestone():
    assert naive.MILESTONES == MILESTONES.names()


# ---------------------------------------------------------------------------------------------
# the grid's keys of an optimizer are its ops' declared hyper-parameters
# ---------------------------------------------------------------------------------------------
def test_every_declared_hyper_parameter_has_a_default_and_a_grid_key():
    for op in OPTIMIZERS.ops():
        for h in op.hyper:
            assert h in HYPER and schema.HYPER_KEYS[h] in schema.PARAM_BY_KEY, (op.name, h)
    assert set(schema.HYPER_KEYS) == set(HYPER)


@pytest.mark.parametrize("optimizer", schema.OPTIMIZERS)
def test_an_optimizers_grid_keys_are_its_ops_hyper(optimizer):
    keys = {p.key for p in schema.PARAMS
            if p.applies and p.applies[0] == "train.optimizer" and optimizer in p.applies[1]}
    declared = {h for op in schema.OPTIMIZER_OPS[optimizer] for h in OPTIMIZERS[op].hyper}
    variant = {"train.rprop_variant"} if optimizer == "rprop" else set()
    assert keys == {schema.HYPER_KEYS[h] for h in declared} | variant
    # a rule with no learning rate (rprop) says so on its ops, and the grid then ignores train.lr
    assert ("train.lr" in keys) == ("lr" in declared)


def test_rprop_declares_no_learning_rate():
    assert all("lr" not in OPTIMIZERS[v].hyper for v in RPROP_VARIANTS)
    assert "rprop" not in schema.PARAM_BY_KEY["train.lr"].applies[1]


# ---------------------------------------------------------------------------------------------
# the docs list every registered op, and nothing else
# ---------------------------------------------------------------------------------------------
def _readme_choices(key: str) -> list[str]:
    """The names listed in the README's grid-file comment of ``key = "..."  # a | b (...) | c``."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf'^{key} = "[^"]*"\s+# (.+)$', text, re.M)
    assert m, f"README.md: no line '{key} = \"...\"  # ...' in the grid file example"
    return [re.match(r"\s*([\w+-]+)", part).group(1) for part in m.group(1).split("|")]


@pytest.mark.parametrize("key, names", [
    ("activation", ACTIVATIONS.names()), ("loss", LOSSES.names()), ("optimizer", schema.OPTIMIZERS),
    ("# rprop_variant", RPROP_VARIANTS), ("main", MILESTONES.names()),
])
def test_readme_lists_every_registered_op(key, names):
    assert sorted(_readme_choices(key)) == sorted(names)


def _section(title: str) -> str:
    text = (ROOT / "docs" / "conventions.md").read_text()
    m = re.search(rf"^## {title}.*?$(.*?)(?=^## )", text, re.M | re.S)
    assert m, f"docs/conventions.md: no section '## {title}'"
    return m.group(1)


def test_conventions_list_every_registered_op():
    rows = re.findall(r"^\| (\w+) \|", _section("Activations"), re.M)
    assert sorted(r for r in rows if r != "name") == sorted(ACTIVATIONS.names())
    assert sorted(re.findall(r"^- `(\w+)`:", _section("Losses"), re.M)) == sorted(LOSSES.names())
    optimizers = _section("Optimizers")
    assert sorted(re.findall(r"^- `(\w+)`(?::| \()", optimizers, re.M)) == sorted(schema.OPTIMIZERS)
    assert all(f"`{v}`" in optimizers for v in RPROP_VARIANTS)
