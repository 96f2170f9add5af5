"""A run's results are a pure function of its own inputs.

Bit-identical (``np.array_equal``) whether the run is trained alone, in a batch, at another
position of the batch, split over several calls, or with another number of threads. Some
lanes get learning rates large enough to diverge, so a neighbour's NaNs must not leak either.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels import Network, TrainOptions, init_params, train

FIELDS = ("epochs_run", "final_loss", "final_mse", "final_accuracy", "min_loss", "epoch_acc75",
          "epoch_acc100", "epoch_fahlman", "epoch_tss", "epoch_loss", "diverged", "converged",
          "convergence_epoch", "curve_loss", "curve_mse", "final_params", "final_outputs")

NETS = (
    Network(sizes=(2, 2, 1), activations=("sigmoid", "sigmoid")),
    Network(sizes=(2, 1), activations=("sigmoid",), bias=True, shortcut=False),
    Network(sizes=(3, 4, 3, 2), activations=("relu", "tanh", "linear"), bias=False, shortcut=True),
    Network(sizes=(2, 3, 1), activations=("leaky_relu", "sigmoid"), bias=True, shortcut=True),
)
SCHEDULES = (
    dict(schedule="full"),
    dict(schedule="online"),
    dict(schedule="online", shuffle=True),
    dict(schedule="minibatch", batch_size=3),
    dict(schedule="minibatch", batch_size=2, shuffle=True),
)

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    print_blob=True)


#: (network, schedule, optimizer, loss, dtype): a fixed few, because each configuration compiles its
#: own generated kernel; together they cover every schedule, optimizer, loss and dtype.
CONFIGS = (
    (NETS[0], SCHEDULES[0], "sgd", "mse", "float64"),
    (NETS[1], SCHEDULES[1], "momentum", "bce", "float64"),
    (NETS[2], SCHEDULES[2], "adam", "sse", "float64"),
    (NETS[3], SCHEDULES[3], "adam", "bce", "float32"),
    (NETS[0], SCHEDULES[4], "momentum", "sse", "float64"),
    (NETS[2], SCHEDULES[4], "sgd", "mse", "float32"),
)


@st.composite
def problems(draw, min_runs=1, max_runs=40):
    """(net, opts, X, T, theta0, per-run keyword arguments, specialise) for a random batch of runs."""
    net, sched, optimizer, loss, dtype = draw(st.sampled_from(CONFIGS))
    specialise = draw(st.booleans())
    n = draw(st.integers(min_runs, max_runs))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_p = 5
    X = rng.integers(0, 2, (n_p, net.n_in)).astype(np.float64)
    T = rng.integers(0, 2, (n_p, net.n_out)).astype(np.float64)
    theta0 = init_params(net, "uniform", rng.integers(0, 2**64 - 1, n, dtype=np.uint64), low=-1.0, high=1.0)
    lr = 10.0 ** rng.uniform(-3, 0.5, n)
    lr[rng.random(n) < 0.15] = 1e8          # a few diverging lanes
    kwargs = dict(lr=lr, epochs=rng.integers(0, 40, n), momentum=rng.uniform(0, 0.95, n),
                  beta1=rng.uniform(0.5, 0.95, n), beta2=rng.uniform(0.9, 0.9999, n),
                  eps=10.0 ** rng.uniform(-8, -3, n), leaky_slope=rng.uniform(0, 0.3, n),
                  early_stop=rng.random(n) < 0.5,
                  main=np.array(["acc75", "acc100", "fahlman", "tss", "loss"])[rng.integers(0, 5, n)],
                  tss_below=rng.uniform(0.01, 1.0, n), loss_below=rng.uniform(0.01, 0.3, n),
                  shuffle_keys=rng.integers(0, 2**64 - 1, n, dtype=np.uint64))
    opts = TrainOptions(loss=loss, optimizer=optimizer, dtype=dtype, curve_epochs=(0, 1, 3, 10, 39),
                        record_final_params=True, record_final_outputs=True, **sched)
    return net, opts, X, T, theta0, kwargs, specialise


def run(problem, idx):
    """Train the runs ``idx`` (an index array) of ``problem`` in one call."""
    net, opts, X, T, theta0, kwargs, specialise = problem
    with np.errstate(all="ignore"):
        return train(net, opts, X, T, theta0[idx], specialise=specialise,
                     **{k: v[idx] for k, v in kwargs.items()})


def assert_same_runs(a, ia, b, ib, what):
    """Runs ``ia`` of result ``a`` are bit-identical to runs ``ib`` of result ``b``."""
    for f in FIELDS:
        x, y = getattr(a, f)[ia], getattr(b, f)[ib]
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{what}: {f} differs"


@pytest.mark.slow
@SETTINGS
@given(problem=problems(), data=st.data())
def test_batch_position_and_split_do_not_matter(problem, data):
    n = problem[4].shape[0]
    everything = np.arange(n)
    ref = run(problem, everything)

    # in another position of the batch
    perm = np.array(data.draw(st.permutations(range(n)), label="perm"))
    assert_same_runs(run(problem, perm), everything, ref, perm, "permuted batch")

    # split over several calls
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=4), label="cuts"))
    for part in np.split(everything, [c for c in cuts if c < n]):
        if part.size:
            assert_same_runs(run(problem, part), np.arange(part.size), ref, part, f"split {cuts}")

    # alone
    i = data.draw(st.integers(0, n - 1), label="alone")
    assert_same_runs(run(problem, np.array([i])), [0], ref, [i], "alone")

    # the same run repeated to fill a batch
    many = np.full(min(n + 17, 40), i)
    rep = run(problem, many)
    for j in (0, many.size - 1):
        assert_same_runs(rep, [j], ref, [i], "repeated")


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
@SETTINGS
@given(problem=problems(min_runs=17, max_runs=70))
def test_thread_count_does_not_matter(problem):
    n = problem[4].shape[0]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(problem, np.arange(n))
        numba.set_num_threads(2)
        two = run(problem, np.arange(n))
    finally:
        numba.set_num_threads(before)
    assert_same_runs(one, np.arange(n), two, np.arange(n), "threads 1 vs 2")
