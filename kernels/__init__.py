"""Numba kernels for training many small dense MLPs at once.

Private ``@njit`` kernels (the training kernels ``kernels.codegen`` generates, ``kernels.init``,
``kernels.gradient``) are pure functions of arrays and scalars: no globals, no printing. Every op
is defined once in ``kernels.ops``; the training kernels trace the definitions
(``kernels.codegen_ir``), the loss-and-gradient kernel compiles them (``kernels.lanes``). ``kernels.api`` holds the small checked wrappers that the rest of the
project calls. The I/O: ``kernels.codegen``'s on-disk cache of generated kernels, and
``kernels.cache_guard``, which drops Numba's cache when a kernel source changes (both find
Numba's cache folders with ``kernels.numba_cache``).
"""
from kernels import cache_guard

cache_guard.check()  # before any cached kernel loads

from kernels.api import call_static, forward, init_params, loss_and_grad, train
from kernels.config import LANES
from kernels.init import init_runs
from kernels.network import Network, TrainOptions, TrainResult, log_spaced_epochs
from kernels.gradient import loss_grad_blocks

#: The compiled entry points of the package itself (the training kernels are generated per
#: configuration: ``kernels.codegen``); each should hold one signature per dtype used.
DISPATCHERS = (loss_grad_blocks, init_runs)

__all__ = [
    "DISPATCHERS", "LANES", "call_static", "Network", "TrainOptions", "TrainResult", "forward", "init_params",
    "log_spaced_epochs", "loss_and_grad", "train",
]
