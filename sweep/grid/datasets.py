"""Generated datasets: each a pure function of its keys, drawn from counter-based streams.

Every generator returns ``(X, T)`` as float64 arrays, X ``(n, n_in)`` and T ``(n, n_out)``, and
draws its random numbers as the kernels do (``kernels/rng.py``), here in NumPy:

    draw(key, c)    = splitmix64(key ^ splitmix64(c))
    uniform(key, c) = (draw(key, c) >> 11) * 2**-53                      in [0, 1)
    normal(key, j)  = sqrt(-2 ln(1 - uniform(key, 2j))) * cos(2 pi uniform(key, 2j + 1))

never NumPy's global state. A dataset's key is ``data_key(name, data_seed) = splitmix64(
splitmix64(data_seed) ^ h(name))`` (``h`` = 8 bytes of blake2b of ``"dataset=<name>"``), and each
use has its own stream ``draw(data_key, tag)``: ``NOISE`` (added noise), ``INPUTS`` (drawn inputs),
``CENTERS`` (blob centres), ``TEACHER`` (teacher weights). Counters run over the array in row-major
order (element ``[i, m]`` of an ``(n, d)`` array uses counter ``i*d + m``). So the draws depend on
the task and ``data_seed`` only: datasets that differ only in ``noise`` share their standard normal
draws (common random numbers), and a dataset is the same on every machine, thread and resume.

Class order: pattern ``i`` of a k-class task is class ``i mod k`` (exactly balanced, interleaved),
so online training sees the classes in turn.

Held-out sets (``task.n_test``): the same generator with ``n_train = n_test`` and
``held_out=True``, which moves the drawn streams (``NOISE``, ``INPUTS``) to tags ``+ HELD_OUT``:
fresh points and noise from the same distribution, with the training set's blob centres and
teacher (``CENTERS``, ``TEACHER``), never a point of the training set.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from sweep.grid.hashing import splitmix64, splitmix64_int

NOISE, INPUTS, CENTERS, TEACHER = 1, 2, 3, 4
HELD_OUT = 16       # a held-out set's NOISE and INPUTS streams: tag + HELD_OUT
SPLIT = 5           # a CSV file's held-out split (sweep.grid.tasks.split)
_TWO_M53 = 1.0 / 9007199254740992.0
XOR_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def data_key(name: str, data_seed: int) -> int:
    """The dataset's 64-bit key: ``splitmix64(splitmix64(data_seed) ^ h(name))``."""
    salt = int.from_bytes(hashlib.blake2b(f"dataset={name}".encode()).digest()[:8], "little")
    return splitmix64_int(splitmix64_int(int(data_seed)) ^ salt)


def stream(key: int, tag: int) -> int:
    """The key of one use of a dataset's randomness: ``draw(key, tag)``."""
    return splitmix64_int(int(key) ^ splitmix64_int(tag))


def uniform(key: int, n: int, start: int = 0) -> np.ndarray:
    """``uniform(key, c)`` for ``c = start .. start+n-1`` (n,) float64 in [0, 1)."""
    c = np.arange(start, start + n, dtype=np.uint64)
    d = splitmix64(np.uint64(key) ^ splitmix64(c))
    return (d >> np.uint64(11)).astype(np.float64) * _TWO_M53


def normal(key: int, shape) -> np.ndarray:
    """Standard normals by Box-Muller on counters ``2j, 2j+1``, j over ``shape`` in row-major order."""
    n = int(np.prod(shape))
    u = uniform(key, 2 * n)
    return (np.sqrt(-2.0 * np.log1p(-u[0::2])) * np.cos(2.0 * np.pi * u[1::2])).reshape(shape)


def _noise(key: int, shape, noise: float, held_out: bool = False) -> np.ndarray:
    return noise * normal(stream(key, NOISE + HELD_OUT * held_out), shape) if noise else np.zeros(shape)


def spirals(density: int = 1, noise: float = 0.0, data_seed: int = 0):
    """Lang & Witbrock's two spirals (1988), as in the CMU benchmark: for ``i = 0 .. 96*d``
    (``d`` = density), ``a = i*pi/(16 d)``, ``r = 6.5 (104 d - i)/(104 d)``; row ``2i`` is
    ``(r sin a, r cos a)`` with target 1, row ``2i+1`` its negation with target 0 (2 x 97 points,
    three turns, for d = 1); then ``noise * N(0, 1)`` is added to every coordinate."""
    i = np.arange(96 * density + 1, dtype=np.float64)
    a = i * np.pi / (16 * density)
    r = 6.5 * (104 * density - i) / (104 * density)
    p = np.stack([r * np.sin(a), r * np.cos(a)], axis=1)
    X = np.empty((2 * len(i), 2))
    X[0::2], X[1::2] = p, -p
    T = np.tile([1.0, 0.0], len(i))[:, None]
    return X + _noise(data_key("spirals", data_seed), X.shape, noise), T


def _classes(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Class ``i mod k`` of each pattern and its position ``i div k`` within the class."""
    i = np.arange(n)
    return i % k, i // k


def moons(n_train: int = 200, noise: float = 0.1, data_seed: int = 0, held_out: bool = False):
    """Two interleaving half circles (scikit-learn's ``make_moons``): class 0 (``ceil(n/2)``
    points) at ``(cos t, sin t)``, class 1 (``floor(n/2)``) at ``(1 - cos t, 0.5 - sin t)``, with
    ``t = pi * j/(m-1)`` for the j-th of a class's m points; plus ``noise * N(0, 1)``."""
    c, j = _classes(n_train, 2)
    m = np.where(c == 0, (n_train + 1) // 2, n_train // 2)
    t = np.pi * j / np.maximum(m - 1, 1)
    X = np.where((c == 0)[:, None], np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    return X + _noise(data_key("moons", data_seed), X.shape, noise, held_out), c[:, None].astype(np.float64)


def circles(n_train: int = 200, noise: float = 0.05, data_seed: int = 0, held_out: bool = False):
    """Two concentric circles: class 0 (``ceil(n/2)`` points) at ``(cos t, sin t)``, class 1
    (``floor(n/2)``) at ``0.5 (cos t, sin t)``, ``t = 2 pi j/m`` for the j-th of m points; plus
    ``noise * N(0, 1)`` (scikit-learn's ``make_circles`` with ``factor = 0.5``)."""
    c, j = _classes(n_train, 2)
    m = np.where(c == 0, (n_train + 1) // 2, n_train // 2)
    t = 2 * np.pi * j / np.maximum(m, 1)
    X = np.where(c == 0, 1.0, 0.5)[:, None] * np.stack([np.cos(t), np.sin(t)], 1)
    return X + _noise(data_key("circles", data_seed), X.shape, noise, held_out), c[:, None].astype(np.float64)


def blobs(n_train: int = 200, noise: float = 1.0, classes: int = 3, n_inputs: int = 2, data_seed: int = 0,
          held_out: bool = False):
    """k Gaussian classes: centres ``C[j, m] = -5 + 10 u`` (stream CENTERS, counter ``j*d + m``),
    pattern i of class ``c = i mod k`` at ``C[c] + noise * N(0, I)``; one-hot targets (k outputs)."""
    key = data_key("blobs", data_seed)
    centres = -5.0 + 10.0 * uniform(stream(key, CENTERS), classes * n_inputs).reshape(classes, n_inputs)
    c, _ = _classes(n_train, classes)
    return centres[c] + _noise(key, (n_train, n_inputs), noise, held_out), np.eye(classes)[c]


def xor_noisy(n_train: int = 200, noise: float = 0.2, data_seed: int = 0, held_out: bool = False):
    """Gaussian clouds on the XOR corners: pattern i at corner ``i mod 4`` of (0,0), (0,1), (1,0),
    (1,1) plus ``noise * N(0, I)``; target the corner's XOR."""
    c, _ = _classes(n_train, 4)
    X = XOR_CORNERS[c] + _noise(data_key("xor_noisy", data_seed), (n_train, 2), noise, held_out)
    return X, (c % 3 != 0).astype(np.float64)[:, None]


_ACT = {"sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z), "linear": lambda z: z}


def teacher_weights(n_inputs: int, hidden, data_seed: int = 0) -> list[np.ndarray]:
    """The teacher's weights, one ``[out][in]`` matrix per layer (hidden..., 1 output), no biases:
    ``W_l = N(0, 1)/sqrt(fan_in)`` from stream TEACHER, layer after layer, each row-major."""
    key = stream(data_key("teacher", data_seed), TEACHER)
    sizes = [n_inputs, *hidden, 1]
    z = normal(key, (sum(a * b for a, b in zip(sizes, sizes[1:])),))
    out, at = [], 0
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        out.append(z[at:at + fan_in * fan_out].reshape(fan_out, fan_in) / math.sqrt(fan_in))
        at += fan_in * fan_out
    return out


def teacher(n_train: int = 200, noise: float = 0.0, n_inputs: int = 2, teacher_hidden=(4,),
            teacher_activation: str = "tanh", targets: str = "sign", data_seed: int = 0, held_out: bool = False):
    """Teacher-student data (Saad & Solla 1995): ``X ~ N(0, I)`` (stream INPUTS, n x n_inputs),
    ``h_0 = x``, ``h_l = f(W_l h_{l-1})`` (f = teacher_activation), ``y = W_L h + noise * N(0, 1)``
    (weights: :func:`teacher_weights`); ``targets = "regression"``: T = y; ``"sign"``: T = [y > 0]."""
    key = data_key("teacher", data_seed)
    X = normal(stream(key, INPUTS + HELD_OUT * held_out), (n_train, n_inputs))
    *hidden_w, w_out = teacher_weights(n_inputs, list(teacher_hidden), data_seed)
    h = X
    for w in hidden_w:
        h = _ACT[teacher_activation](h @ w.T)
    y = h @ w_out.T + _noise(key, (n_train, 1), noise, held_out)
    return X, (y if targets == "regression" else (y > 0).astype(np.float64))


def sine(n_train: int = 200, noise: float = 0.1, data_seed: int = 0, held_out: bool = False):
    """Regression of the sine: ``x = -pi + 2 pi u`` (stream INPUTS), ``t = sin(x) + noise * N(0, 1)``."""
    key = data_key("sine", data_seed)
    x = -np.pi + 2.0 * np.pi * uniform(stream(key, INPUTS + HELD_OUT * held_out), n_train)
    return x[:, None], (np.sin(x) + _noise(key, (n_train,), noise, held_out))[:, None]


GENERATORS = {"spirals": spirals, "moons": moons, "circles": circles, "blobs": blobs, "xor_noisy": xor_noisy,
              "teacher": teacher, "sine": sine}


#: Generators that draw a held-out set (``task.n_test``); the spirals are a fixed set of points.
HELD_OUT_TASKS = tuple(name for name, fn in GENERATORS.items() if "held_out" in fn.__code__.co_varnames)


def generate(config: dict, held_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(X, T)`` of a generated task from a config of ``task.*`` keys (missing or None: the default);
    ``held_out``: its held-out set of ``task.n_test`` patterns instead."""
    fn = GENERATORS[config["task.name"]]
    names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    kwargs = {k: config[f"task.{k}"] for k in names if config.get(f"task.{k}") is not None}
    if held_out:
        kwargs.update(n_train=int(config["task.n_test"]), held_out=True)
    return fn(**kwargs)
