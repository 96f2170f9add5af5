"""Registries mapping configuration names to the integer codes the kernels branch on."""
from __future__ import annotations

ACTIVATION = {"sigmoid": 0, "tanh": 1, "relu": 2, "leaky_relu": 3, "linear": 4}
LOSS = {"sse": 0, "mse": 1, "bce": 2}
OPTIMIZER = {"sgd": 0, "momentum": 1, "adam": 2}
SCHEDULE = {"full": 0, "online": 1, "minibatch": 2}
INIT = {"uniform": 0, "normal": 1, "glorot_uniform": 2, "torch_default": 3}
#: Milestones, in the order of the kernel's milestone axis.
MILESTONE = {"acc75": 0, "acc100": 1, "fahlman": 2, "tss": 3, "loss": 4}
N_MILESTONES = len(MILESTONE)

# Accuracy rule: one output or non-one-hot targets -> threshold every output at 0.5;
# several outputs with one-hot targets -> argmax.
ACC_THRESHOLD, ACC_ARGMAX = 0, 1


def code(registry: dict[str, int], name: str, what: str) -> int:
    """The code of ``name``, or a ValueError listing the allowed names."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}; choose one of: {', '.join(registry)}") from None
