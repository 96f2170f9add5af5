"""Numba kernels for training many small dense MLPs at once.

Private ``@njit`` kernels (``kernels.train``, ``kernels.init``) are pure functions of
arrays and scalars: no I/O, no globals, no printing. ``kernels.api`` holds the small checked
wrappers that the rest of the project calls.
"""
from kernels.api import forward, init_params, loss_and_grad, train
from kernels.config import LANES
from kernels.init import init_runs
from kernels.network import Network, TrainOptions, TrainResult, log_spaced_epochs
from kernels.train import loss_grad_blocks, train_blocks

#: The compiled entry points; each should hold one signature per dtype used.
DISPATCHERS = (train_blocks, loss_grad_blocks, init_runs)

__all__ = [
    "DISPATCHERS", "LANES", "Network", "TrainOptions", "TrainResult", "forward", "init_params",
    "log_spaced_epochs", "loss_and_grad", "train",
]
