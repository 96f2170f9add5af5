"""Kernel warm-up: compile (or load from the on-disk caches) every kernel a group's chunks call.

One function for every caller: the runner (before and during a local sweep, via
``sweep.run.compile_ahead``), each Dask worker (``sweep.run.backends.dask.warm_worker``) and
``sweep run --dry-run``. A warm-up trains nothing: it calls ``kernels.init_params`` on one run
and ``kernels.train`` on one run for 0 epochs (only the initial evaluation), with the same
argument types as a real chunk, so Numba compiles exactly the signatures the chunks use.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import kernels
from sweep.run.execute import GroupPlan


@dataclass
class WarmReport:
    """Seconds per group warmed (plan index -> s) and one line per group that failed."""

    seconds: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return float(sum(self.seconds.values()))


def uses_init_kernel(plan: GroupPlan) -> bool:
    """Whether ``plan``'s initial weights come from ``kernels.init_params`` (not given explicitly,
    nor drawn by NumPy's legacy generator)."""
    return plan.explicit_theta is None and plan.config.get("init.scheme") != "numpy_legacy"


def warm_group(plan: GroupPlan) -> float:
    """Compile or load the kernels of ``plan``'s chunks; returns the seconds it took. Raises what
    the group's first chunk would raise."""
    t0 = time.perf_counter()
    net = plan.network
    one = np.zeros(1, np.uint64)
    if uses_init_kernel(plan):
        theta0 = kernels.init_params(net, plan.config.get("init.scheme"), one)
    elif plan.explicit_theta is not None:
        theta0 = plan.explicit_theta[None, :].copy()
    else:  # numpy_legacy, pure NumPy: nothing to compile
        theta0 = np.zeros((1, net.n_params))
    kernels.train(net, plan.options, plan.X, plan.T, theta0, epochs=np.zeros(1, np.int64),
                  early_stop=np.zeros(1, np.int64), main=np.array(["acc100"]), shuffle_keys=one,
                  lr=np.zeros(1), **plan.held_out)
    return time.perf_counter() - t0


def warm_groups(plans: list[GroupPlan], order=None, stop=None) -> WarmReport:
    """Warm the groups ``order`` (plan indices; default all, in order). Never raises: a group
    that fails is reported in ``errors`` and its chunks will fail (and be reported) on their own.
    ``stop``: a ``threading.Event`` checked between groups."""
    report = WarmReport()
    for i in (range(len(plans)) if order is None else order):
        if stop is not None and stop.is_set():
            break
        try:
            report.seconds[i] = warm_group(plans[i])
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report.errors.append(f"group {i}: {type(exc).__name__}: {exc}")
    return report
