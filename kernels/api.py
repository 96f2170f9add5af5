"""Checked public wrappers around the private JIT kernels.

They validate inputs, pack run-major arrays into the kernels' lane-last blocks
``(n_blocks, ..., LANES)``, pad a partial last block by repeating the last run (so every
run goes through the same vector code), and unpack the results. Arrays in, arrays out.
"""
from __future__ import annotations

import numpy as np

from kernels import codes
from kernels.codegen import specialised_train_blocks
from kernels.config import LANES
from kernels.init import init_runs
from kernels.network import Network, TrainOptions, TrainResult
from kernels.train import loss_grad_blocks, train_blocks

_DTYPES = {"float64": np.float64, "float32": np.float32}


def n_blocks_for(n_runs: int) -> int:
    return max(1, -(-n_runs // LANES))


def pack(values, n_runs: int, dtype) -> np.ndarray:
    """A scalar or (n_runs,) array -> (n_blocks, LANES), padded with the last value."""
    arr = np.broadcast_to(np.asarray(values, dtype=dtype), (n_runs,))
    nb = n_blocks_for(n_runs)
    out = np.empty(nb * LANES, dtype)
    out[:n_runs] = arr
    out[n_runs:] = arr[-1]
    return out.reshape(nb, LANES)


def pack_params(theta: np.ndarray, dtype) -> np.ndarray:
    """(n_runs, P) -> (n_blocks, P, LANES), C-contiguous, padded with the last run."""
    n_runs, n_params = theta.shape
    nb = n_blocks_for(n_runs)
    full = np.empty((nb * LANES, n_params), dtype)
    full[:n_runs] = theta
    full[n_runs:] = theta[-1]
    return np.ascontiguousarray(full.reshape(nb, LANES, n_params).transpose(0, 2, 1))


def unpack(blocks: np.ndarray, n_runs: int) -> np.ndarray:
    """(n_blocks, ..., LANES) -> (n_runs, ...)."""
    moved = np.moveaxis(blocks, -1, 1)
    return moved.reshape((moved.shape[0] * moved.shape[1],) + moved.shape[2:])[:n_runs]


def _dataset(net: Network, X, T, dtype):
    # writeable copies when needed: Numba types a read-only array differently (a recompile)
    X = np.require(X, dtype, requirements="CW")
    T = np.require(T, dtype, requirements="CW")
    if X.ndim != 2 or X.shape[1] != net.n_in:
        raise ValueError(f"X must have shape (n_patterns, {net.n_in}), got {X.shape}")
    if T.ndim != 2 or T.shape != (X.shape[0], net.n_out):
        raise ValueError(f"T must have shape ({X.shape[0]}, {net.n_out}), got {T.shape}")
    onehot = net.n_out > 1 and bool(np.all((T == 0) | (T == 1))) and bool(np.all(T.sum(axis=1) == 1))
    acc_mode = codes.ACC_ARGMAX if onehot else codes.ACC_THRESHOLD
    tidx = np.argmax(T, axis=1).astype(np.int64)
    return X, T, tidx, acc_mode


def _theta(net: Network, theta) -> np.ndarray:
    theta = np.atleast_2d(np.asarray(theta, np.float64))
    if theta.shape[1] != net.n_params or theta.shape[0] < 1:
        raise ValueError(f"theta must have shape (n_runs, {net.n_params}), got {theta.shape}")
    return theta


def _layout_args(net: Network):
    lay = net.layout
    return lay["sizes"], lay["acts"], lay["w_off"], lay["b_off"], lay["s_off"], lay["unit_off"]


def _loss_code(net: Network, loss: str) -> int:
    code = codes.code(codes.LOSS, loss, "loss")
    if loss == "bce" and net.activations[-1] != "sigmoid":
        raise ValueError("loss 'bce' needs a sigmoid output activation")
    return code


def loss_and_grad(net: Network, loss: str, theta, X, T, leaky_slope=0.01, dtype="float64"):
    """Full-batch loss E (n_runs,) and gradient dE/dtheta (n_runs, P), without training."""
    dt = _DTYPES[dtype]
    theta = _theta(net, theta)
    X, T, tidx, acc_mode = _dataset(net, X, T, dt)
    n = theta.shape[0]
    th = pack_params(theta, dt)
    nb = th.shape[0]
    o_loss = np.empty((nb, LANES), dt)
    o_grad = np.empty_like(th)
    o_out = np.empty((nb, X.shape[0], net.n_out, LANES), dt)
    loss_grad_blocks(X, T, tidx, *_layout_args(net), _loss_code(net, loss), acc_mode,
                     th, pack(leaky_slope, n, dt), o_loss, o_grad, o_out)
    return unpack(o_loss, n).astype(np.float64), unpack(o_grad, n).astype(np.float64)


def forward(net: Network, theta, X, leaky_slope=0.01, dtype="float64") -> np.ndarray:
    """Network outputs Y (n_runs, n_patterns, n_out) for parameters theta (n_runs, P)."""
    dt = _DTYPES[dtype]
    theta = _theta(net, theta)
    X = np.require(X, dt, requirements="CW")
    T = np.zeros((X.shape[0], net.n_out), dt)
    X, T, tidx, acc_mode = _dataset(net, X, T, dt)
    n = theta.shape[0]
    th = pack_params(theta, dt)
    nb = th.shape[0]
    o_out = np.empty((nb, X.shape[0], net.n_out, LANES), dt)
    loss_grad_blocks(X, T, tidx, *_layout_args(net), codes.LOSS["sse"], acc_mode,
                     th, pack(leaky_slope, n, dt), np.empty((nb, LANES), dt), np.empty_like(th), o_out)
    return unpack(o_out, n).astype(np.float64)


def init_params(net: Network, scheme: str, init_keys, low=0.0, high=1.0, std=1.0, scale=1.0,
                seeds=None) -> np.ndarray:
    """Initial parameters (n_runs, P) float64 drawn from each run's ``init_key`` (uint64).

    ``numpy_legacy`` reproduces ``np.random.seed(seed)`` + ``uniform(low, high, size=(in, out))``
    then ``(1, out)`` per layer (seed 001's order) and needs ``seeds``; it is a slow path.
    """
    keys = np.atleast_1d(np.asarray(init_keys, dtype=np.uint64))
    n = keys.shape[0]
    f64 = lambda v: np.array(np.broadcast_to(np.asarray(v, np.float64), (n,)))  # writeable: one signature
    if scheme == "numpy_legacy":
        if seeds is None:
            raise ValueError("init scheme 'numpy_legacy' needs seeds")
        if net.shortcut:
            raise ValueError("init scheme 'numpy_legacy' does not support a shortcut")
        return _legacy(net, np.broadcast_to(seeds, (n,)), f64(low), f64(high), f64(scale))
    code = codes.code(codes.INIT, scheme, "init scheme")
    out = np.empty((n, net.n_params), np.float64)
    fan_in, fan_out, is_bias = net.param_info
    init_runs(code, keys, f64(low), f64(high), f64(std), f64(scale), fan_in, fan_out, is_bias, out)
    return out


def _legacy(net, seeds, low, high, scale):
    out = np.empty((len(seeds), net.n_params))
    for r, seed in enumerate(seeds):
        rs = np.random.RandomState(int(seed))
        ws, bs = [], []
        for l in range(net.n_layers):
            n_i, n_o = net.sizes[l], net.sizes[l + 1]
            ws.append(rs.uniform(low[r], high[r], size=(n_i, n_o)).T)
            bs.append(rs.uniform(low[r], high[r], size=(1, n_o)).ravel() if net.bias else None)
        out[r] = net.flatten(ws, bs if net.bias else None) * scale[r]
    return out


def train(net: Network, opts: TrainOptions, X, T, theta0, *, lr, epochs, momentum=0.9, beta1=0.9,
          beta2=0.999, eps=1e-8, leaky_slope=0.01, early_stop=False, main="acc100", tss_below=0.04,
          loss_below=0.01, shuffle_keys=None, specialise=True) -> TrainResult:
    """Train ``n_runs`` networks of one architecture; every hyper-parameter is a scalar or (n_runs,).

    ``specialise``: use the kernel generated for this configuration (``kernels.codegen``) when
    it is small enough to unroll; ``False`` always runs the generic kernel. Both compute the
    same numbers; the choice depends on the configuration only, never on the number of runs.
    """
    dt = _DTYPES.get(opts.dtype)
    if dt is None:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {opts.dtype!r}")
    theta0 = _theta(net, theta0)
    n = theta0.shape[0]
    X, T, tidx, acc_mode = _dataset(net, X, T, dt)
    loss = _loss_code(net, opts.loss)
    opt = codes.code(codes.OPTIMIZER, opts.optimizer, "optimizer")
    sched = codes.code(codes.SCHEDULE, opts.schedule, "schedule")
    batch = 1 if opts.schedule == "online" else max(1, int(opts.batch_size))
    shuffle = bool(opts.shuffle) and opts.schedule != "full"
    main_arr = np.asarray(main)
    if main_arr.dtype.kind in "US":
        main_arr = np.vectorize(lambda m: codes.code(codes.MILESTONE, str(m), "criterion"), otypes=[np.int64])(main_arr)
    epochs_arr = np.broadcast_to(np.asarray(epochs, np.int64), (n,))
    if np.any(epochs_arr < 0):
        raise ValueError("epochs must be >= 0")
    if shuffle_keys is None:
        if shuffle:  # a position-derived key would make a run depend on its batch
            raise ValueError("shuffle needs shuffle_keys (n_runs,) uint64, one per run")
        shuffle_keys = np.zeros(n, dtype=np.uint64)
    curve = np.asarray(opts.curve_epochs, np.int64)
    if curve.size and np.any(np.diff(curve) <= 0):
        raise ValueError("curve_epochs must be strictly increasing")

    th = pack_params(theta0, dt)
    nb = th.shape[0]
    o_run = np.empty((nb, LANES), np.int64)
    o_ms = np.empty((nb, codes.N_MILESTONES, LANES), np.int64)
    o_fin = np.empty((nb, 4, LANES), np.float64)
    o_div = np.empty((nb, LANES), np.uint8)
    o_curve = np.full((nb, curve.size, 2, LANES), np.nan)
    rec_out = bool(opts.record_final_outputs)
    o_out = np.full((nb, X.shape[0] if rec_out else 0, net.n_out if rec_out else 0, LANES), np.nan, dt)
    kernel = None
    if specialise:
        kernel = specialised_train_blocks(net, loss, opt, sched, batch, shuffle, acc_mode, X.shape[0],
                                          opts.dtype, rec_out)
    if kernel is None:
        kernel = train_blocks
    kernel(X, T, tidx, *_layout_args(net), loss, opt, sched, batch, shuffle, acc_mode,
                 th, pack(lr, n, dt), pack(momentum, n, dt), pack(beta1, n, dt), pack(beta2, n, dt),
                 pack(eps, n, dt), pack(leaky_slope, n, dt), pack(epochs_arr, n, np.int64),
                 pack(main_arr, n, np.int64), pack(early_stop, n, np.int64), pack(tss_below, n, dt),
                 pack(loss_below, n, dt), pack(shuffle_keys, n, np.uint64), curve, rec_out,
                 o_run, o_ms, o_fin, o_div, o_curve, o_out)

    ms = unpack(o_ms, n)
    fin = unpack(o_fin, n)
    main_codes = np.broadcast_to(main_arr.astype(np.int64), (n,))
    conv_epoch = ms[np.arange(n), main_codes]
    curves = unpack(o_curve, n)
    return TrainResult(
        epochs_run=unpack(o_run, n).copy(),
        final_loss=fin[:, 0].copy(), final_mse=fin[:, 1].copy(), final_accuracy=fin[:, 2].copy(),
        min_loss=np.where(np.isinf(fin[:, 3]), np.nan, fin[:, 3]),
        epoch_acc75=ms[:, 0].copy(), epoch_acc100=ms[:, 1].copy(), epoch_fahlman=ms[:, 2].copy(),
        epoch_tss=ms[:, 3].copy(), epoch_loss=ms[:, 4].copy(),
        diverged=unpack(o_div, n).astype(bool),
        converged=conv_epoch >= 0, convergence_epoch=conv_epoch.copy(),
        curve_loss=curves[:, :, 0].copy(), curve_mse=curves[:, :, 1].copy(),
        final_params=unpack(th, n).astype(np.float64) if opts.record_final_params else None,
        final_outputs=unpack(o_out, n).astype(np.float64) if rec_out else None,
    )
