"""Reference trainers that ``sweep bench`` measures next to the kernels, in the same run.

Both train ``n_runs`` dense MLPs at once with the ``mse`` loss and plain SGD, in the maths and
the parameter layout of docs/conventions.md (per layer ``W_l`` row-major ``(sizes[l], sizes[l-1])``
then ``b_l``; no shortcut), and return the final parameters ``(n_runs, P)``. ``acts`` names each
layer's activation (``sigmoid`` or ``tanh``; default every layer a sigmoid); the schedules are
``full``, ``online`` and ``minibatch`` (consecutive batches of ``batch_size`` patterns in
dataset order, the last one smaller when they do not divide the patterns, as the kernels):

- ``numpy_vectorised_train``: "the NumPy twin" of the issue, vectorised over runs with
  batched matmuls on ``(n_runs, ...)`` arrays. One thread (tiny matrices never reach BLAS).
- ``jax_train``: the same workload as ``jit(vmap(train_one))`` with ``lax.fori_loop`` and
  ``jax.grad``; only when ``import jax`` works (``pip install mlp-sweep[bench]``), else ``None``.

Unlike ``kernels.train`` they only train: no metrics, milestones or divergence checks. They
exist to be timed and to be checked against the kernels (tests/test_bench_refs.py).
"""
from __future__ import annotations

import functools

import numpy as np

SCHEDULES = ("full", "online", "minibatch")
ACTS = ("sigmoid", "tanh")


def n_params(sizes) -> int:
    sizes = tuple(int(s) for s in sizes)
    return sum(sizes[l] * sizes[l - 1] + sizes[l] for l in range(1, len(sizes)))


def _acts(sizes, acts) -> tuple[str, ...]:
    acts = ("sigmoid",) * (len(sizes) - 1) if acts is None else tuple(acts)
    if len(acts) != len(sizes) - 1 or any(a not in ACTS for a in acts):
        raise ValueError(f"acts must be {len(sizes) - 1} of {ACTS}, got {acts}")
    return acts


def _check(sizes, theta0, X, T, schedule):
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must be at least (n_in, n_out), got {sizes}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    theta0 = np.atleast_2d(np.asarray(theta0))
    if theta0.shape[1] != n_params(sizes):
        raise ValueError(f"theta0 must have shape (n_runs, {n_params(sizes)}), got {theta0.shape}")
    X, T = np.asarray(X), np.asarray(T)
    if X.ndim != 2 or X.shape[1] != sizes[0] or T.shape != (X.shape[0], sizes[-1]):
        raise ValueError(f"X, T must have shapes (n_p, {sizes[0]}), (n_p, {sizes[-1]}); got {X.shape}, {T.shape}")
    return sizes, theta0, X, T


# ----------------------------------------------------------------------------------------------
# NumPy, vectorised over runs
# ----------------------------------------------------------------------------------------------
def split_params(sizes, theta: np.ndarray, dtype=np.float64):
    """theta (n_runs, P) -> contiguous copies ``W[l]`` (n_runs, out, in) and ``b[l]`` (n_runs, out)."""
    n = theta.shape[0]
    Ws, bs, off = [], [], 0
    for l in range(1, len(sizes)):
        n_i, n_o = sizes[l - 1], sizes[l]
        Ws.append(np.ascontiguousarray(theta[:, off:off + n_o * n_i].reshape(n, n_o, n_i), dtype=dtype))
        off += n_o * n_i
        bs.append(np.ascontiguousarray(theta[:, off:off + n_o], dtype=dtype))
        off += n_o
    return Ws, bs


def join_params(Ws, bs) -> np.ndarray:
    """Inverse of ``split_params``: (n_runs, P) float64."""
    n = Ws[0].shape[0]
    parts = []
    for W, b in zip(Ws, bs):
        parts += [W.reshape(n, -1), b]
    return np.concatenate(parts, axis=1).astype(np.float64)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


_FORWARD = {"sigmoid": _sigmoid, "tanh": np.tanh}


def _slope(name: str, a):
    """f'(z) in terms of a = f(z), as the kernels' ``backward`` computes it (kernels/ops/activations.py)."""
    return a * (1.0 - a) if name == "sigmoid" else 1.0 - a * a


def _sgd_step(Ws, bs, Xb, Tb, lr3, fs=("sigmoid",)):
    """One SGD update of every run on the batch ``Xb`` (|B|, n_in), ``Tb`` (|B|, n_out), in place;
    ``fs``: each layer's activation (a single one: every layer's).

    mse: E = sum (y - t)^2 / (|B| n_out), so dE/dz_out = 2 (y - t) f'(z_out) / (|B| n_out).
    """
    fs = tuple(fs) * len(Ws) if len(fs) == 1 else tuple(fs)
    acts = [Xb]  # a_0 is shared by every run: (|B|, n_in) broadcasts against (n_runs, in, out)
    a = Xb
    for W, b, f in zip(Ws, bs, fs):
        a = _FORWARD[f](a @ W.transpose(0, 2, 1) + b[:, None, :])  # (n_runs, |B|, out)
        acts.append(a)
    y = acts[-1]
    scale = 2.0 / (Xb.shape[0] * Tb.shape[1])
    d = (scale * (y - Tb)) * _slope(fs[-1], y)  # (n_runs, |B|, n_out)
    for l in range(len(Ws) - 1, -1, -1):
        a_prev = acts[l]
        gW = d.transpose(0, 2, 1) @ a_prev  # (n_runs, out, in)
        gb = d.sum(axis=1)
        if l > 0:
            d = (d @ Ws[l]) * _slope(fs[l - 1], a_prev)  # with W_l before its update
        Ws[l] -= lr3 * gW
        bs[l] -= lr3[:, :, 0] * gb


def numpy_vectorised_train(sizes, theta0, X, T, lr, epochs, schedule: str = "full",
                           dtype="float64", batch_size: int = 1, acts=None) -> np.ndarray:
    """Train ``n_runs`` MLPs (mse, plain SGD) for ``epochs`` epochs; final theta (n_runs, P).

    ``schedule="full"``: one update per epoch on all patterns; ``"online"``: one update per
    pattern, in dataset order; ``"minibatch"``: one per ``batch_size`` consecutive patterns.
    ``lr`` is a scalar or (n_runs,). Computes in ``dtype``. ``acts``: module docstring.
    """
    sizes, theta0, X, T = _check(sizes, theta0, X, T, schedule)
    fs = _acts(sizes, acts)
    dt = np.dtype(dtype)
    n = theta0.shape[0]
    Ws, bs = split_params(sizes, theta0, dt)
    X = np.ascontiguousarray(X, dtype=dt)
    T = np.ascontiguousarray(T, dtype=dt)
    lr3 = np.ascontiguousarray(np.broadcast_to(np.asarray(lr, dt), (n,)))[:, None, None]
    if schedule == "full":
        for _ in range(int(epochs)):
            _sgd_step(Ws, bs, X, T, lr3, fs)
    else:
        k = 1 if schedule == "online" else max(1, int(batch_size))
        rows = [(X[p:p + k], T[p:p + k]) for p in range(0, X.shape[0], k)]
        for _ in range(int(epochs)):
            for xb, tb in rows:
                _sgd_step(Ws, bs, xb, tb, lr3, fs)
    return join_params(Ws, bs)


def numpy_online_train(sizes, theta0, X, T, lr, epochs, dtype="float64") -> np.ndarray:
    """The online (per-pattern, dataset order) variant of ``numpy_vectorised_train``."""
    return numpy_vectorised_train(sizes, theta0, X, T, lr, epochs, schedule="online", dtype=dtype)


# ----------------------------------------------------------------------------------------------
# JAX: jit(vmap(train_one)), only when jax is installed
# ----------------------------------------------------------------------------------------------
def jax_available() -> bool:
    try:
        import jax  # noqa: F401
    except Exception:  # ImportError, or a broken jaxlib
        return False
    return True


def jax_version() -> str | None:
    if not jax_available():
        return None
    import jax
    return jax.__version__


@functools.lru_cache(maxsize=None)
def make_jax_trainer(sizes: tuple[int, ...], schedule: str = "full", batch_size: int = 1,
                     acts: tuple[str, ...] | None = None):
    """``f(theta0 (n_runs, P), X, T, lr (n_runs,), epochs) -> theta`` as ``jit(vmap(...))``, or None.

    ``epochs`` is traced (a ``fori_loop`` bound), so one compilation per shape serves every
    epoch count: call once with ``epochs=1`` to compile before timing. ``minibatch``: a
    ``fori_loop`` over the whole batches of ``batch_size``, then the smaller last one if any.
    """
    if not jax_available():
        return None
    import jax
    import jax.numpy as jnp
    from jax import lax

    jax.config.update("jax_enable_x64", True)
    sizes = tuple(int(s) for s in sizes)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    fs = _acts(sizes, acts)
    fwd = {"sigmoid": lambda z: 1.0 / (1.0 + jnp.exp(-z)), "tanh": jnp.tanh}
    k = 1 if schedule == "online" else max(1, int(batch_size))
    layers, off = [], 0
    for l in range(1, len(sizes)):
        n_i, n_o = sizes[l - 1], sizes[l]
        layers.append((off, off + n_o * n_i, n_o, n_i))
        off += n_o * n_i + n_o

    def loss(theta, Xb, Tb):
        a = Xb
        for (w0, b0, n_o, n_i), f in zip(layers, fs):
            W = theta[w0:w0 + n_o * n_i].reshape(n_o, n_i)
            a = fwd[f](a @ W.T + theta[b0:b0 + n_o])
        return jnp.mean((a - Tb) ** 2)

    grad = jax.grad(loss)

    def train_one(theta, X, T, lr, epochs):
        if schedule == "full":
            def epoch(_, th):
                return th - lr * grad(th, X, T)
        else:
            n_whole, rest = divmod(X.shape[0], k)

            def step(i, th):
                xb = lax.dynamic_slice_in_dim(X, i * k, k)
                tb = lax.dynamic_slice_in_dim(T, i * k, k)
                return th - lr * grad(th, xb, tb)

            def epoch(_, th):
                th = lax.fori_loop(0, n_whole, step, th)
                if rest:
                    th = th - lr * grad(th, X[n_whole * k:], T[n_whole * k:])
                return th
        return lax.fori_loop(0, epochs, epoch, theta)

    return jax.jit(jax.vmap(train_one, in_axes=(0, None, None, 0, None)))


def jax_train(sizes, theta0, X, T, lr, epochs, schedule: str = "full", dtype="float64",
              batch_size: int = 1, acts=None):
    """Same as ``numpy_vectorised_train`` in JAX (float64 by default); ``None`` without jax."""
    if not jax_available():
        return None
    sizes, theta0, X, T = _check(sizes, theta0, X, T, schedule)
    f = make_jax_trainer(sizes, schedule, int(batch_size) if schedule == "minibatch" else 1, _acts(sizes, acts))
    import jax.numpy as jnp

    dt = np.dtype(dtype)
    n = theta0.shape[0]
    out = f(jnp.asarray(theta0, dt), jnp.asarray(X, dt), jnp.asarray(T, dt),
            jnp.asarray(np.broadcast_to(np.asarray(lr, dt), (n,))), int(epochs))
    return np.asarray(out.block_until_ready(), np.float64)
