"""Every training op, defined once (see ``kernels.ops.prim`` for the rules of an op body).

``ACTIVATIONS``, ``LOSSES``, ``OPTIMIZERS`` and ``MILESTONES`` map configuration names to their
definitions and integer codes; ``HYPER`` lists the per-run hyper-parameters with their defaults.
"""
from kernels.ops.activations import ACTIVATIONS
from kernels.ops.hyper import HYPER, LANE_INT, N_HYPER, N_LANE_INT
from kernels.ops.losses import LOSSES
from kernels.ops.metrics import ACC_ARGMAX, ACC_THRESHOLD, MILESTONES, N_MILESTONES
from kernels.ops.optimizers import OPTIMIZERS, RPROP_VARIANTS, kernel_optimizer

__all__ = ["ACTIVATIONS", "LOSSES", "OPTIMIZERS", "MILESTONES", "HYPER", "LANE_INT", "N_HYPER",
           "N_LANE_INT", "N_MILESTONES", "ACC_ARGMAX", "ACC_THRESHOLD", "RPROP_VARIANTS",
           "kernel_optimizer"]
