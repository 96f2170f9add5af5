"""Per-pattern metrics and the convergence milestones, defined once.

Per pattern and output: the error ``d = y - t`` adds ``d^2`` to tss, and Fahlman's 40-20-40 test
``|d| < 0.4`` must hold for every output. Accuracy: threshold rule (every output on the same side
of 0.5 as its target) or argmax against the one-hot target's index (``ACC_ARGMAX``).

Milestones, in the order of the kernels' milestone axis (codes): ``met(corr, n_patterns, fahl_ok,
tss, loss, tss_below, loss_below)`` says whether the network of this epoch meets it.
"""
from __future__ import annotations

from kernels.ops.prim import like
from kernels.ops.registry import Registry

#: Accuracy rules.
ACC_THRESHOLD, ACC_ARGMAX = 0, 1


def fahlman_ok(d):
    """Fahlman's 40-20-40 criterion for one output: |y - t| < 0.4."""
    return abs(d) < like(d, 0.4)


def same_side(y, t_high):
    """The output is on the target's side of 0.5 (``t_high``: t >= 0.5)."""
    return (y >= like(y, 0.5)) == t_high


MILESTONES = Registry("criterion")


@MILESTONES.register("acc75", 0)
class Acc75:
    @staticmethod
    def met(corr, n_patterns, fahl_ok, tss, loss, tss_below, loss_below):
        return corr * 4 >= 3 * n_patterns


@MILESTONES.register("acc100", 1)
class Acc100:
    @staticmethod
    def met(corr, n_patterns, fahl_ok, tss, loss, tss_below, loss_below):
        return corr == n_patterns


@MILESTONES.register("fahlman", 2)
class Fahlman:
    @staticmethod
    def met(corr, n_patterns, fahl_ok, tss, loss, tss_below, loss_below):
        return fahl_ok


@MILESTONES.register("tss", 3)
class Tss:
    @staticmethod
    def met(corr, n_patterns, fahl_ok, tss, loss, tss_below, loss_below):
        return tss < tss_below


@MILESTONES.register("loss", 4)
class Loss:
    @staticmethod
    def met(corr, n_patterns, fahl_ok, tss, loss, tss_below, loss_below):
        return loss < loss_below


N_MILESTONES = len(MILESTONES.names())
