"""Checked public wrappers around the private JIT kernels.

They validate inputs, pack run-major arrays into the kernels' lane-last blocks
``(n_blocks, ..., LANES)``, pad a partial last block by repeating the last run (so every
run goes through the same vector code), and unpack the results. Arrays in, arrays out.
"""
from __future__ import annotations

import numpy as np

from kernels.bundles import (FIN_ACC, FIN_LOSS, FIN_MIN, FIN_MSE, N_CURVE, N_FINAL, N_TEST, SCHEDULES, TEST_ACC,
                             TEST_BEST, TEST_LOSS, TEST_MSE, Data, Net, Outputs, Runs, Static)
from kernels.codegen import specialised_train_blocks
from kernels.config import LANES
from kernels.init import INIT_SCHEMES, init_runs
from kernels.network import Network, TrainOptions, TrainResult
from kernels.ops import ACC_ARGMAX, ACC_THRESHOLD, HYPER, LOSSES, MILESTONES, N_MILESTONES, OPTIMIZERS
from kernels.ops.hyper import IROW
from kernels.gradient import loss_grad_blocks

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


def _patterns(net: Network, X, T, dtype, what="") -> tuple:
    # writeable copies when needed: Numba types a read-only array differently (a recompile)
    X = np.require(X, dtype, requirements="CW")
    T = np.require(T, dtype, requirements="CW")
    if X.ndim != 2 or X.shape[1] != net.n_in:
        raise ValueError(f"X{what} must have shape (n_patterns, {net.n_in}), got {X.shape}")
    if T.ndim != 2 or T.shape != (X.shape[0], net.n_out):
        raise ValueError(f"T{what} must have shape ({X.shape[0]}, {net.n_out}), got {T.shape}")
    return X, T, np.argmax(T, axis=1).astype(np.int64) if T.shape[0] else np.zeros(0, np.int64)


#: ``TrainOptions.accuracy`` -> the kernels' rule: ``side`` = every output on the correct side of
#: 0.5 (the 1986-1993 papers' rule), ``argmax`` = the largest output is the target's largest,
#: ``auto`` = argmax for one-hot targets of several outputs, else side.
ACCURACY_RULES = ("auto", "argmax", "side")


def _dataset(net: Network, X, T, dtype, X_test=None, T_test=None, accuracy="auto") -> tuple[Data, int]:
    """The ``Data`` bundle and the accuracy rule (``ACCURACY_RULES``), which the held-out set shares."""
    X, T, tidx = _patterns(net, X, T, dtype)
    if (X_test is None) != (T_test is None):
        raise ValueError("X_test and T_test go together")
    if X_test is None:
        X_test, T_test = np.zeros((0, net.n_in)), np.zeros((0, net.n_out))
    Xte, Tte, tidxte = _patterns(net, X_test, T_test, dtype, "_test")
    if accuracy not in ACCURACY_RULES:
        raise ValueError(f"accuracy must be one of {', '.join(ACCURACY_RULES)}, got {accuracy!r}")
    if accuracy == "argmax" and net.n_out < 2:
        raise ValueError("accuracy 'argmax' needs several outputs (one output: 'side')")
    onehot = net.n_out > 1 and bool(np.all((T == 0) | (T == 1))) and bool(np.all(T.sum(axis=1) == 1))
    acc_mode = ACC_ARGMAX if accuracy == "argmax" or accuracy == "auto" and onehot else ACC_THRESHOLD
    return Data(X, T, tidx, Xte, Tte, tidxte), acc_mode


def _theta(net: Network, theta) -> np.ndarray:
    theta = np.atleast_2d(np.asarray(theta, np.float64))
    if theta.shape[1] != net.n_params or theta.shape[0] < 1:
        raise ValueError(f"theta must have shape (n_runs, {net.n_params}), got {theta.shape}")
    return theta


def _net(net: Network) -> Net:
    lay = net.layout
    return Net(lay["sizes"], lay["acts"], lay["w_off"], lay["b_off"], lay["unit_off"])


def _loss_code(net: Network, loss: str) -> int:
    op = LOSSES[loss]
    if op.needs_output and net.activations[-1] != op.needs_output:
        raise ValueError(f"loss {loss!r} needs a {op.needs_output} output activation")
    return op.code


def _static(net, loss, opt=0, schedule=0, batch=1, shuffle=False, acc_mode=0, flat=False, decay=False,
            rec_out=False) -> Static:
    return Static(int(loss), int(opt), int(schedule), int(batch), int(shuffle), int(acc_mode),
                  int(net.layout["s_off"]), int(flat), int(decay), int(rec_out))


def pack_hyper(values: dict, n_runs: int, dtype) -> np.ndarray:
    """Per-run hyper-parameters -> ``(n_blocks, N_HYPER, LANES)``; missing names take their
    defaults (``kernels.ops.hyper.HYPER``)."""
    unknown = set(values) - set(HYPER)
    if unknown:
        raise TypeError(f"unknown hyper-parameter(s) {sorted(unknown)}; known: {', '.join(HYPER)}")
    rows = [pack(values.get(name, default), n_runs, dtype) for name, default in HYPER.items()]
    return np.ascontiguousarray(np.stack(rows, axis=1))


def _no_dense_skips(net: Network, what: str) -> None:
    # gradient.py's hand-written pass knows the input-to-output shortcut only
    if any(k > 0 or m < net.n_layers for m, k in net.skips):
        raise ValueError(f"{what} does not support skip connections into or out of hidden levels (dense); "
                         f"train() does (record_final_outputs gives the outputs)")


def loss_and_grad(net: Network, loss: str, theta, X, T, leaky_slope=0.01, dtype="float64", flat_spot=0.0):
    """Full-batch loss E (n_runs,) and gradient dE/dtheta (n_runs, P), without training
    (``flat_spot``: the backward pass of Fahlman's modified derivative)."""
    _no_dense_skips(net, "loss_and_grad")
    dt = _DTYPES[dtype]
    theta = _theta(net, theta)
    data, acc_mode = _dataset(net, X, T, dt)
    n = theta.shape[0]
    th = pack_params(theta, dt)
    nb = th.shape[0]
    o_loss = np.empty((nb, LANES), dt)
    o_grad = np.empty_like(th)
    o_out = np.empty((nb, data.X.shape[0], net.n_out, LANES), dt)
    st = _static(net, _loss_code(net, loss), acc_mode=acc_mode, flat=flat_spot != 0)
    hyper = pack_hyper({"leaky_slope": leaky_slope, "flat_spot": flat_spot}, n, dt)
    loss_grad_blocks(data, _net(net), st, th, hyper, o_loss, o_grad, o_out)
    return unpack(o_loss, n).astype(np.float64), unpack(o_grad, n).astype(np.float64)


def forward(net: Network, theta, X, leaky_slope=0.01, dtype="float64") -> np.ndarray:
    """Network outputs Y (n_runs, n_patterns, n_out) for parameters theta (n_runs, P)."""
    _no_dense_skips(net, "forward")
    dt = _DTYPES[dtype]
    theta = _theta(net, theta)
    X = np.require(X, dt, requirements="CW")
    data, acc_mode = _dataset(net, X, np.zeros((X.shape[0], net.n_out), dt), dt)
    n = theta.shape[0]
    th = pack_params(theta, dt)
    nb = th.shape[0]
    o_out = np.empty((nb, X.shape[0], net.n_out, LANES), dt)
    st = _static(net, LOSSES.code("sse"), acc_mode=acc_mode)
    loss_grad_blocks(data, _net(net), st, th, pack_hyper({"leaky_slope": leaky_slope}, n, dt),
                     np.empty((nb, LANES), dt), np.empty_like(th), o_out)
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
        if net.skips:
            raise ValueError("init scheme 'numpy_legacy' does not support a shortcut or dense skips")
        return _legacy(net, np.broadcast_to(seeds, (n,)), f64(low), f64(high), f64(scale))
    code = INIT_SCHEMES.get(scheme)
    if code is None:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of: {', '.join(INIT_SCHEMES)}")
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


def milestone_code(name: str) -> int:
    """A main milestone's code: the milestone's own, or ``N_MILESTONES`` + it for ``test_<name>``
    (the milestone on the held-out set); an unknown name is a ValueError."""
    if name.startswith("test_"):
        return N_MILESTONES + MILESTONES.code(name.removeprefix("test_"))
    return MILESTONES.code(name)


def _milestone_codes(main, n: int, n_test: int) -> np.ndarray:
    arr = np.asarray(main)
    if arr.dtype.kind in "US":  # names: one lookup per distinct name (an unknown one is a ValueError)
        names, inverse = np.unique(arr, return_inverse=True)
        arr = np.array([milestone_code(str(m)) for m in names], np.int64)[inverse.reshape(arr.shape)]
    arr = np.broadcast_to(arr.astype(np.int64), (n,))
    if np.any(arr >= N_MILESTONES) and not n_test:
        raise ValueError("a test_ milestone as main needs a held-out set (X_test, T_test)")
    return arr


def call_static(net: Network, opts: TrainOptions, X, T) -> Static:
    """The ``Static`` bundle ``train`` builds for this call (what selects a specialised kernel)."""
    dt = _DTYPES[opts.dtype]
    _, acc_mode = _dataset(net, X, T, dt, accuracy=opts.accuracy)
    batch = 1 if opts.schedule == "online" else max(1, int(opts.batch_size))
    return _static(net, _loss_code(net, opts.loss), OPTIMIZERS.code(opts.optimizer), SCHEDULES.index(opts.schedule),
                   batch, bool(opts.shuffle) and opts.schedule != "full", acc_mode, opts.flat_spot != 0,
                   opts.weight_decay != 0, opts.record_final_outputs)


def train(net: Network, opts: TrainOptions, X, T, theta0, *, epochs, early_stop=False, main="acc100",
          shuffle_keys=None, specialise=True, X_test=None, T_test=None, **hyper) -> TrainResult:
    """Train ``n_runs`` networks of one architecture; ``epochs``, ``early_stop``, ``main`` and every
    hyper-parameter (``kernels.ops.hyper.HYPER``: ``lr``, ``momentum``, ...; defaults there) are
    scalars or (n_runs,) arrays. ``opts.flat_spot`` and ``opts.weight_decay`` are shared.
    ``X_test``, ``T_test``: a held-out set, evaluated at every epoch with the network the
    training set is evaluated with (``TrainResult.test``, the curves' test columns).

    Runs the kernel generated for this configuration (``kernels.codegen``), laid out as its plan
    says (``kernels.codegen_tuning.plan``); ``specialise=False`` forces the memory schedule
    (``kernels.codegen_epoch``: every dimension a loop), the rendering whatever the size. Both
    compute the same numbers; the choice depends on the configuration only, never on the
    number of runs.
    """
    dt = _DTYPES.get(opts.dtype)
    if dt is None:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {opts.dtype!r}")
    if "flat_spot" in hyper or "weight_decay" in hyper:
        raise TypeError("flat_spot and weight_decay are TrainOptions fields (shared by a call)")
    theta0 = _theta(net, theta0)
    n = theta0.shape[0]
    data, acc_mode = _dataset(net, X, T, dt, X_test, T_test, opts.accuracy)
    n_test = data.Xte.shape[0]
    loss = _loss_code(net, opts.loss)
    opt = OPTIMIZERS.code(opts.optimizer)
    if opts.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {opts.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    sched = SCHEDULES.index(opts.schedule)
    batch = 1 if opts.schedule == "online" else max(1, int(opts.batch_size))
    shuffle = bool(opts.shuffle) and opts.schedule != "full"
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
    rec_out = bool(opts.record_final_outputs)
    st = _static(net, loss, opt, sched, batch, shuffle, acc_mode, opts.flat_spot != 0, opts.weight_decay != 0,
                 rec_out)
    hyper = dict(hyper, flat_spot=opts.flat_spot, weight_decay=opts.weight_decay)
    lane_int = np.stack([pack(epochs_arr, n, np.int64), pack(_milestone_codes(main, n, n_test), n, np.int64),
                         pack(early_stop, n, np.int64)], axis=1)
    runs = Runs(pack_params(theta0, dt), pack_hyper(hyper, n, dt), np.ascontiguousarray(lane_int),
                pack(shuffle_keys, n, np.uint64))
    nb = runs.theta.shape[0]
    n_out_rec = (data.X.shape[0], net.n_out) if rec_out else (0, 0)
    out = Outputs(np.empty((nb, LANES), np.int64), np.empty((nb, N_MILESTONES, LANES), np.int64),
                  np.empty((nb, N_FINAL, LANES), np.float64), np.empty((nb, LANES), np.uint8),
                  np.full((nb, curve.size, N_CURVE, LANES), np.nan), np.full((nb, *n_out_rec, LANES), np.nan, dt),
                  np.full((nb, N_TEST, LANES), np.nan), np.full((nb, N_MILESTONES + 1, LANES), -1, np.int64))
    kernel = specialised_train_blocks(net, st, data.X.shape[0], opts.dtype, memory=not specialise, n_test=n_test)
    kernel(data, _net(net), st, runs, curve, out)

    ms = unpack(out.ms, n)
    fin = unpack(out.fin, n)
    main_codes = unpack(runs.lane_int[:, IROW["main"]], n)
    if n_test:   # codes N_MILESTONES + k: milestone k on the held-out set
        ms_all = np.concatenate([ms[:, :N_MILESTONES], unpack(out.test_ms, n)[:, :N_MILESTONES]], axis=1)
    else:
        ms_all = ms
    conv_epoch = ms_all[np.arange(n), main_codes]
    curves = unpack(out.curve, n)
    by_name = {f"epoch_{m}": ms[:, op.code].copy() for m, op in zip(MILESTONES.names(), MILESTONES.ops())}
    return TrainResult(
        epochs_run=unpack(out.run, n).copy(),
        final_loss=fin[:, FIN_LOSS].copy(), final_mse=fin[:, FIN_MSE].copy(), final_accuracy=fin[:, FIN_ACC].copy(),
        min_loss=np.where(np.isinf(fin[:, FIN_MIN]), np.nan, fin[:, FIN_MIN]),
        **by_name,
        diverged=unpack(out.div, n).astype(bool),
        converged=conv_epoch >= 0, convergence_epoch=conv_epoch.copy(),
        curve_loss=curves[:, :, 0].copy(), curve_mse=curves[:, :, 1].copy(),
        final_params=unpack(runs.theta, n).astype(np.float64) if opts.record_final_params else None,
        final_outputs=unpack(out.out, n).astype(np.float64) if rec_out else None,
        curve_accuracy=curves[:, :, 2].copy(),
        curve_test_loss=curves[:, :, 3].copy(), curve_test_accuracy=curves[:, :, 4].copy(),
        test=_test_results(out, n) if n_test else None,
    )


def _test_results(out: Outputs, n: int) -> dict:
    """``TrainResult.test`` from the kernel's held-out outputs."""
    fin, ms = unpack(out.test, n), unpack(out.test_ms, n)
    res = dict(final_loss=fin[:, TEST_LOSS].copy(), final_mse=fin[:, TEST_MSE].copy(),
               final_accuracy=fin[:, TEST_ACC].copy(), best_accuracy=fin[:, TEST_BEST].copy(),
               best_epoch=ms[:, N_MILESTONES].copy())
    res.update({f"epoch_{m}": ms[:, op.code].copy() for m, op in zip(MILESTONES.names(), MILESTONES.ops())})
    return res
