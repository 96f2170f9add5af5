"""Architecture description and parameter layout of a dense MLP (immutable values).

``theta`` (P,) of one run holds, for each layer l: W_l row-major (sizes[l+1], sizes[l]),
then b_l (sizes[l+1],) when ``bias``; then the skip connections: the shortcut S row-major
(n_out, n_in) when ``shortcut``, or with ``dense`` (every level connected to every later one, Lang
& Witbrock 1988) one matrix S_(m,k) row-major (sizes[m], sizes[k]) per pair of levels
``k <= m - 2`` (:func:`skip_pairs`: by target level m, then source level k; level 0 is the input).
See docs/conventions.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from kernels.ops import ACTIVATIONS


def skip_pairs(sizes, shortcut: bool, dense: bool = False) -> tuple[tuple[int, int], ...]:
    """The skip connections ``(m, k)``, level k feeding level m (level 0 the input, the output
    ``L = len(sizes) - 1``): ``dense``: every ``k <= m - 2``, by m then k; ``shortcut``: ``(L, 0)``."""
    L = len(sizes) - 1
    if dense:
        return tuple((m, k) for m in range(2, L + 1) for k in range(m - 1))
    return ((L, 0),) if shortcut else ()


def skip_offsets(sizes, s_off: int, pairs) -> dict:
    """``{(m, k): offset}`` of each skip matrix (sizes[m], sizes[k]), consecutive from ``s_off``."""
    out, off = {}, s_off
    for m, k in pairs:
        out[(m, k)] = off
        off += sizes[m] * sizes[k]
    return out


def param_offsets(sizes, bias: bool, shortcut: bool, dense: bool = False) -> tuple[list[int], list[int], int, int]:
    """(w_off, b_off, s_off, n_params) of the flat layout; -1 marks an absent bias/skip block."""
    w_off, b_off, off = [], [], 0
    for l in range(len(sizes) - 1):
        n_i, n_o = sizes[l], sizes[l + 1]
        w_off.append(off)
        off += n_i * n_o
        b_off.append(off if bias else -1)
        off += n_o if bias else 0
    pairs = skip_pairs(sizes, shortcut, dense)
    s_off = off if pairs else -1
    off += sum(sizes[m] * sizes[k] for m, k in pairs)
    return w_off, b_off, s_off, off


@dataclass(frozen=True)
class Network:
    """``sizes = (n_in, h_1, ..., h_k, n_out)``; ``activations`` has one name per layer
    (hidden layers then the output), so ``len(activations) == len(sizes) - 1``."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    bias: bool = True
    shortcut: bool = False
    dense: bool = False       # every level feeds every later one (``skip_pairs``); implies the shortcut

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        object.__setattr__(self, "activations", tuple(self.activations))
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes must be at least (n_in, n_out), all >= 1; got {self.sizes}")
        if len(self.activations) != len(self.sizes) - 1:
            raise ValueError(f"need {len(self.sizes) - 1} activations (one per layer), got {len(self.activations)}")
        for a in self.activations:
            ACTIVATIONS[a]

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @cached_property
    def layout(self) -> dict[str, np.ndarray]:
        """Offsets the kernels index with: w_off, b_off (-1: none), s_off, unit_off, sizes, acts."""
        w_off, b_off, s_off, off = param_offsets(self.sizes, self.bias, self.shortcut, self.dense)
        return {
            "sizes": np.array(self.sizes, np.int64),
            "acts": np.array([ACTIVATIONS.code(a) for a in self.activations], np.int64),
            "w_off": np.array(w_off, np.int64),
            "b_off": np.array(b_off, np.int64),
            "s_off": s_off,
            "unit_off": np.concatenate([[0], np.cumsum(self.sizes[:-1])]).astype(np.int64),
            "n_params": off,
        }

    @property
    def skips(self) -> tuple[tuple[int, int], ...]:
        """The skip connections ``(m, k)`` (:func:`skip_pairs`)."""
        return skip_pairs(self.sizes, self.shortcut, self.dense)

    @property
    def n_params(self) -> int:
        return int(self.layout["n_params"])

    @cached_property
    def param_info(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per parameter: fan_in, fan_out (int64) and is_bias (bool), for initialisation."""
        fan_in, fan_out, is_bias = [], [], []
        for l in range(self.n_layers):
            n_i, n_o = self.sizes[l], self.sizes[l + 1]
            fan_in += [n_i] * (n_i * n_o + (n_o if self.bias else 0))
            fan_out += [n_o] * (n_i * n_o + (n_o if self.bias else 0))
            is_bias += [False] * (n_i * n_o) + [True] * (n_o if self.bias else 0)
        for m, k in self.skips:     # each skip matrix its own block, as the shortcut (fan-in: its source)
            n = self.sizes[m] * self.sizes[k]
            fan_in += [self.sizes[k]] * n
            fan_out += [self.sizes[m]] * n
            is_bias += [False] * n
        return np.array(fan_in, np.int64), np.array(fan_out, np.int64), np.array(is_bias, bool)

    def flatten(self, weights, biases=None, shortcut=None) -> np.ndarray:
        """theta (P,) from per-layer ``weights[l]`` (out, in), ``biases[l]`` (out,), ``shortcut`` (n_out, n_in)
        (``dense``: a list of the skip matrices, in ``skips`` order)."""
        if len(weights) != self.n_layers:
            raise ValueError(f"expected {self.n_layers} weight matrices, got {len(weights)}")
        if self.bias and (biases is None or len(biases) != self.n_layers):
            raise ValueError(f"expected {self.n_layers} bias vectors")
        parts = []
        for l in range(self.n_layers):
            w = np.asarray(weights[l], np.float64)
            if w.shape != (self.sizes[l + 1], self.sizes[l]):
                raise ValueError(f"layer {l + 1} weights have shape {w.shape}, expected {(self.sizes[l + 1], self.sizes[l])}")
            parts.append(w.ravel())
            if self.bias:
                bvec = np.asarray(biases[l], np.float64).ravel()
                if bvec.shape != (self.sizes[l + 1],):
                    raise ValueError(f"layer {l + 1} biases have shape {bvec.shape}, expected {(self.sizes[l + 1],)}")
                parts.append(bvec)
        skips = list(shortcut) if self.dense else [shortcut] if self.shortcut else []
        if len(skips) != len(self.skips):
            raise ValueError(f"expected {len(self.skips)} skip matrices, got {len(skips)}")
        for (m, k), s in zip(self.skips, skips):
            s = np.asarray(s, np.float64)
            if s.shape != (self.sizes[m], self.sizes[k]):
                raise ValueError(f"skip weights {k}->{m} have shape {s.shape}, expected {(self.sizes[m], self.sizes[k])}")
            parts.append(s.ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def unflatten(self, theta):
        """Inverse of ``flatten``: (weights, biases or None, shortcut or None; ``dense``: the skip matrices)."""
        theta = np.asarray(theta)
        lay = self.layout
        weights, biases = [], []
        for l in range(self.n_layers):
            n_i, n_o = self.sizes[l], self.sizes[l + 1]
            weights.append(theta[lay["w_off"][l]: lay["w_off"][l] + n_i * n_o].reshape(n_o, n_i))
            if self.bias:
                biases.append(theta[lay["b_off"][l]: lay["b_off"][l] + n_o])
        offs = skip_offsets(self.sizes, lay["s_off"], self.skips)
        skips = [theta[o: o + self.sizes[m] * self.sizes[k]].reshape(self.sizes[m], self.sizes[k])
                 for (m, k), o in offs.items()]
        s = skips if self.dense else skips[0] if skips else None
        return weights, (biases if self.bias else None), s


@dataclass(frozen=True)
class TrainOptions:
    """What all runs of one kernel call share besides the architecture."""

    loss: str = "mse"
    optimizer: str = "sgd"
    schedule: str = "full"
    batch_size: int = 1
    shuffle: bool = False
    dtype: str = "float64"
    flat_spot: float = 0.0        # Fahlman's offset added to every activation derivative
    weight_decay: float = 0.0     # L2: g += weight_decay * w, before every optimizer
    curve_epochs: tuple[int, ...] = ()
    record_final_params: bool = False
    record_final_outputs: bool = False
    accuracy: str = "auto"        # the accuracy rule: auto, argmax or side (``kernels.api.ACCURACY_RULES``)


@dataclass(frozen=True)
class TrainResult:
    """Per-run results, each an array with leading axis n_runs. Epoch columns are -1 when
    the milestone was not reached."""

    epochs_run: np.ndarray
    final_loss: np.ndarray
    final_mse: np.ndarray
    final_accuracy: np.ndarray
    min_loss: np.ndarray
    epoch_acc75: np.ndarray
    epoch_acc100: np.ndarray
    epoch_fahlman: np.ndarray
    epoch_tss: np.ndarray
    epoch_loss: np.ndarray
    diverged: np.ndarray
    converged: np.ndarray
    convergence_epoch: np.ndarray
    curve_loss: np.ndarray
    curve_mse: np.ndarray
    final_params: np.ndarray | None = None
    final_outputs: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    curve_accuracy: np.ndarray | None = None        # the training set's accuracy at the curve epochs
    curve_test_loss: np.ndarray | None = None       # the held-out set's loss and accuracy there
    curve_test_accuracy: np.ndarray | None = None
    #: On the held-out set (``train(..., X_test=, T_test=)``; None without one), each (n_runs,):
    #: ``final_loss``, ``final_mse``, ``final_accuracy`` (at the last epoch run, as the training
    #: set's), ``best_accuracy`` and ``best_epoch`` (the first epoch it was reached), and
    #: ``epoch_<milestone>`` (the first epoch each milestone held on it; -1: never).
    test: dict | None = None


def log_spaced_epochs(n_epochs: int, n_points: int) -> tuple[int, ...]:
    """Epoch 0 plus ``unique(round(logspace(0, log10(n_epochs), n_points)))``."""
    if n_points <= 0:
        return ()
    if n_epochs <= 0:
        return (0,)
    pts = np.unique(np.round(np.logspace(0, np.log10(n_epochs), n_points)).astype(np.int64))
    return tuple(int(e) for e in np.concatenate([[0], pts]))
