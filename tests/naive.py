"""A slow, obvious NumPy twin of every kernel, written from ``docs/conventions.md``.

One run at a time, float64, plain Python loops over patterns and layers, no Numba. Every
function here is meant to be read next to the spec: if the kernels and this module disagree,
the spec decides which one is wrong. Nothing here imports ``kernels``.
"""
from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------------
# Random streams: pure Python integers, reduced mod 2**64 after every operation.
# --------------------------------------------------------------------------------------------
MASK64 = (1 << 64) - 1


def splitmix64(z: int) -> int:
    """SplitMix64 as in the spec (all arithmetic mod 2**64)."""
    z = (int(z) + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def draw(key: int, c: int) -> int:
    """``splitmix64(key ^ splitmix64(c))``."""
    return splitmix64((int(key) & MASK64) ^ splitmix64(int(c) & MASK64))


def uniform(key: int, c: int) -> float:
    """``(draw >> 11) * 2**-53`` in [0, 1)."""
    return (draw(key, c) >> 11) * 2.0**-53


def standard_normal(key: int, j: int) -> float:
    """Box-Muller on counters ``2j, 2j+1``: ``sqrt(-2 ln(1-u1)) cos(2 pi u2)``."""
    u1 = uniform(key, 2 * j)
    u2 = uniform(key, 2 * j + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def naive_permutation(shuffle_key: int, epoch: int, n_p: int) -> np.ndarray:
    """Fisher-Yates order of the patterns for ``epoch`` (1-based)."""
    perm = list(range(n_p))
    for i in range(n_p - 1, 0, -1):
        u = uniform(shuffle_key, ((int(epoch) << 32) + i) & MASK64)
        j = math.floor(u * (i + 1))
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int64)


def shuffle_key_of(init_key: int) -> int:
    """``splitmix64(init_key ^ 0x5348554646)``."""
    return splitmix64((int(init_key) & MASK64) ^ 0x5348554646)


# --------------------------------------------------------------------------------------------
# Parameter layout
# --------------------------------------------------------------------------------------------
def skip_pairs(sizes, shortcut):
    """``shortcut = "dense"`` (Lang & Witbrock 1988: every level feeds every later one): the pairs
    (m, k), level k into level m, k <= m - 2, by m then k; else the input-to-output shortcut or none."""
    L = len(sizes) - 1
    if shortcut == "dense":
        return [(m, k) for m in range(2, L + 1) for k in range(m - 1)]
    return [(L, 0)] if shortcut else []


def layer_shapes(sizes, bias, shortcut):
    """The blocks of theta in order: list of (kind, layer, shape); kind in {"W", "b", "S"} (S: its
    (m, k) pair)."""
    blocks = []
    for l in range(1, len(sizes)):
        blocks.append(("W", l, (sizes[l], sizes[l - 1])))
        if bias:
            blocks.append(("b", l, (sizes[l],)))
    for m, k in skip_pairs(sizes, shortcut):
        blocks.append(("S", (m, k), (sizes[m], sizes[k])))
    return blocks


def n_params(sizes, bias, shortcut) -> int:
    return sum(int(np.prod(shape)) for _, _, shape in layer_shapes(sizes, bias, shortcut))


def flatten(sizes, bias, shortcut, weights, biases=None, shortcut_weights=None) -> np.ndarray:
    """theta from per-layer ``weights`` (out, in), ``biases`` (out,) and ``shortcut_weights`` (n_out, n_in)."""
    parts = []
    for l in range(1, len(sizes)):
        W = np.asarray(weights[l - 1], dtype=np.float64)
        assert W.shape == (sizes[l], sizes[l - 1]), (W.shape, l)
        parts.extend(W.reshape(-1).tolist())  # row-major
        if bias:
            b = np.asarray(biases[l - 1], dtype=np.float64).reshape(-1)
            assert b.shape == (sizes[l],)
            parts.extend(b.tolist())
    pairs = skip_pairs(sizes, shortcut)
    skips = [shortcut_weights[p] for p in pairs] if shortcut == "dense" else [shortcut_weights] if shortcut else []
    for (m, k), S in zip(pairs, skips):
        S = np.asarray(S, dtype=np.float64)
        assert S.shape == (sizes[m], sizes[k])
        parts.extend(S.reshape(-1).tolist())
    return np.array(parts, dtype=np.float64)


def unflatten(sizes, bias, shortcut, theta):
    """Inverse of :func:`flatten`: (weights, biases or None, S or None; dense: {(m, k): S}), copies."""
    theta = np.asarray(theta, dtype=np.float64)
    assert theta.shape == (n_params(sizes, bias, shortcut),)
    weights, biases, S = [], [] if bias else None, {} if shortcut == "dense" else None
    pos = 0
    for kind, where, shape in layer_shapes(sizes, bias, shortcut):
        size = int(np.prod(shape))
        block = theta[pos:pos + size].reshape(shape).copy()
        pos += size
        if kind == "W":
            weights.append(block)
        elif kind == "b":
            biases.append(block)
        elif shortcut == "dense":
            S[where] = block
        else:
            S = block
    return weights, biases, S


# --------------------------------------------------------------------------------------------
# Activations: f(z) and f' as in the table of the spec
# --------------------------------------------------------------------------------------------
def activate(name, z, leaky_slope):
    z = np.asarray(z, dtype=np.float64)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, leaky_slope * z)
    if name == "linear":
        return z.copy()
    raise ValueError(name)


def activation_derivative(name, z, a, leaky_slope):
    """f'(z), written as in the spec's table (sigmoid and tanh from the output a)."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, leaky_slope)
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(name)


# --------------------------------------------------------------------------------------------
# Forward pass and loss
# --------------------------------------------------------------------------------------------
def naive_forward_all(sizes, activations, bias, shortcut, theta, X, leaky_slope=0.01):
    """Per pattern, the pre-activations and activations of every layer.

    Returns ``(zs, acts)``: ``zs[l]`` (n_p, sizes[l]) for l = 1..L (``zs[0]`` is None) and
    ``acts[l]`` (n_p, sizes[l]) for l = 0..L with ``acts[0] = X``.
    """
    assert len(activations) == len(sizes) - 1
    weights, biases, S = unflatten(sizes, bias, shortcut, theta)
    X = np.asarray(X, dtype=np.float64)
    n_p = X.shape[0]
    L = len(sizes) - 1
    zs = [None] + [np.zeros((n_p, sizes[l])) for l in range(1, L + 1)]
    acts = [X.copy()] + [np.zeros((n_p, sizes[l])) for l in range(1, L + 1)]
    for p in range(n_p):
        a = X[p]
        for l in range(1, L + 1):
            z = weights[l - 1] @ a
            if bias:
                z = z + biases[l - 1]
            if shortcut == "dense":
                for k in range(l - 1):
                    z = z + S[(l, k)] @ acts[k][p]
            elif l == L and shortcut:
                z = z + S @ X[p]
            a = activate(activations[l - 1], z, leaky_slope)
            zs[l][p] = z
            acts[l][p] = a
    return zs, acts


def naive_forward(sizes, activations, bias, shortcut, theta, X, leaky_slope=0.01):
    """Network outputs Y (n_p, n_out)."""
    return naive_forward_all(sizes, activations, bias, shortcut, theta, X, leaky_slope)[1][-1]


def softplus(z):
    """log(1 + e^z), stably."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def naive_loss(loss, Y, Zout, T):
    """The batch loss of the spec for outputs Y, output pre-activations Zout, targets T."""
    Y, T = np.asarray(Y, dtype=np.float64), np.asarray(T, dtype=np.float64)
    n_b, n_out = T.shape
    if loss == "sse":
        return 0.5 * float(np.sum((Y - T) ** 2))
    if loss == "mse":
        return float(np.sum((Y - T) ** 2)) / (n_b * n_out)
    if loss == "bce":
        return float(np.sum(softplus(Zout) - T * Zout)) / (n_b * n_out)
    raise ValueError(loss)


def naive_loss_and_grad(sizes, activations, bias, shortcut, loss, theta, X, T, leaky_slope=0.01, flat_spot=0.0):
    """Loss E over the batch (X, T) and its gradient g (P,) by textbook backpropagation.

    ``flat_spot`` (Fahlman 1988): every activation derivative f'(a) becomes f'(a) + flat_spot in the
    backward pass (so ``g`` is then no longer the gradient of E)."""
    if loss == "bce":
        assert activations[-1] == "sigmoid", "bce requires a sigmoid output"
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    zs, acts = naive_forward_all(sizes, activations, bias, shortcut, theta, X, leaky_slope)
    weights, biases, S = unflatten(sizes, bias, shortcut, theta)
    L = len(sizes) - 1
    n_b, n_out = T.shape
    E = naive_loss(loss, acts[L], zs[L], T)

    gW = [np.zeros_like(W) for W in weights]
    gb = [np.zeros(sizes[l]) for l in range(1, L + 1)]
    dense = shortcut == "dense"
    gS = {pair: np.zeros_like(S[pair]) for pair in S} if dense else np.zeros((sizes[-1], sizes[0]))
    for p in range(n_b):
        y, t, z = acts[L][p], T[p], zs[L][p]
        # delta = dE/dz of the output layer for this pattern
        if loss == "sse":
            delta = (y - t) * (activation_derivative(activations[-1], z, y, leaky_slope) + flat_spot)
        elif loss == "mse":
            delta = 2.0 * (y - t) / (n_b * n_out) * (activation_derivative(activations[-1], z, y, leaky_slope)
                                                     + flat_spot)
        else:  # bce, directly on the logit
            delta = (1.0 / (1.0 + np.exp(-z)) - t) / (n_b * n_out)
        deltas = {L: delta}
        for l in range(L, 0, -1):
            delta = deltas[l]
            gW[l - 1] += np.outer(delta, acts[l - 1][p])
            gb[l - 1] += delta
            if dense:
                for k in range(l - 1):
                    gS[(l, k)] += np.outer(delta, acts[k][p])
            elif l == L and shortcut:
                gS += np.outer(delta, X[p])
            if l > 1:
                back = weights[l - 1].T @ delta
                for m in range(l + 1, L + 1) if dense else ():    # the skips out of level l - 1
                    back = back + S[(m, l - 1)].T @ deltas[m]
                deltas[l - 1] = back * (activation_derivative(activations[l - 2], zs[l - 1][p], acts[l - 1][p], leaky_slope)
                                + flat_spot)
    g = flatten(sizes, bias, shortcut, gW, gb if bias else None, gS if shortcut else None)
    return E, g


# --------------------------------------------------------------------------------------------
# Metrics on the full dataset
# --------------------------------------------------------------------------------------------
def is_one_hot(T) -> bool:
    T = np.asarray(T)
    return bool(np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1))


def naive_accuracy(Y, T, rule="auto") -> float:
    """Share of patterns right: ``argmax`` (largest output at the target's largest), ``side``
    (every output on the target's side of 0.5); ``auto``: argmax for one-hot targets of several outputs."""
    Y, T = np.asarray(Y, dtype=np.float64), np.asarray(T, dtype=np.float64)
    n_p, n_out = T.shape
    correct = 0
    argmax = rule == "argmax" or rule == "auto" and n_out > 1 and is_one_hot(T)
    for p in range(n_p):
        if argmax:
            ok = int(np.argmax(Y[p])) == int(np.argmax(T[p]))
        else:
            ok = all((Y[p, o] >= 0.5) == (T[p, o] >= 0.5) for o in range(n_out))
        correct += ok
    return correct / n_p


def naive_metrics(sizes, activations, bias, shortcut, loss, theta, X, T, leaky_slope, accuracy="auto"):
    """Everything evaluated after an epoch: dict(loss, mse, tss, accuracy, fahlman, Y)."""
    with np.errstate(all="ignore"):   # a diverging run overflows; that is reported, not warned
        zs, acts = naive_forward_all(sizes, activations, bias, shortcut, theta, X, leaky_slope)
        Y = acts[-1]
        T = np.asarray(T, dtype=np.float64)
        sq = (Y - T) ** 2
        return dict(
            loss=naive_loss(loss, Y, zs[-1], T),
            mse=float(np.mean(sq)),
            tss=float(np.sum(sq)),
            accuracy=naive_accuracy(Y, T, accuracy),
            fahlman=bool(np.all(np.abs(Y - T) < 0.4)),
            Y=Y,
        )


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
MILESTONES = ("acc75", "acc100", "fahlman", "tss", "loss")


def batches_of_epoch(schedule, n_p, batch_size, shuffle, shuffle_key, epoch):
    """The list of pattern-index batches of one epoch (``epoch`` is 1-based)."""
    order = naive_permutation(shuffle_key, epoch, n_p) if shuffle else np.arange(n_p)
    if schedule == "full":
        return [order]
    if schedule == "online":
        return [order[i:i + 1] for i in range(n_p)]
    if schedule == "minibatch":
        return [order[i:i + batch_size] for i in range(0, n_p, batch_size)]
    raise ValueError(schedule)


def naive_train(sizes, activations, bias, shortcut, loss, optimizer, schedule, theta0, X, T, *,
                lr, epochs, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, batch_size=1,
                shuffle=False, shuffle_key=0, leaky_slope=0.01, early_stop=False, main="acc100",
                tss_below=0.04, loss_below=0.01, curve_epochs=(), flat_spot=0.0, weight_decay=0.0,
                eta_plus=1.2, eta_minus=0.5, step_init=0.1, step_min=1e-6, step_max=50.0,
                quickprop_mu=1.75, X_test=None, T_test=None, accuracy="auto") -> dict:
    """Train one run as the spec describes; returns every result of the kernel's ``train``.

    ``optimizer`` is sgd, momentum, adam, quickprop, or an rprop variant (rprop+, rprop-, irprop+,
    irprop-), each written from its paper's pseudo-code with plain branches (tests/naive.py is the
    reference, not a copy of kernels/ops). With a held-out set (``X_test``, ``T_test``) it is
    evaluated after every epoch with the same network, and ``test_*`` entries are added; ``main``
    may then be ``test_<milestone>``. ``accuracy``: the rule of :func:`naive_accuracy`; the
    held-out set's is decided by the training targets, as the kernels do."""
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    n_p = X.shape[0]
    theta = np.array(theta0, dtype=np.float64, copy=True)
    v = np.zeros_like(theta)   # momentum buffer / Adam second moment
    m = np.zeros_like(theta)   # Adam first moment
    t_adam = 0
    rp = dict(step=np.full_like(theta, step_init), g_prev=np.zeros_like(theta), dw_prev=np.zeros_like(theta),
              e_prev=math.inf)
    qp = dict(g_prev=np.zeros_like(theta), dw_prev=np.zeros_like(theta))
    rule = "argmax" if accuracy == "auto" and T.shape[1] > 1 and is_one_hot(T) else accuracy
    rule = "side" if rule == "auto" else rule
    first = {name: -1 for name in MILESTONES}
    test_first = {name: -1 for name in MILESTONES}
    reached_main = lambda: (test_first[main[5:]] if main.startswith("test_") else first[main]) >= 0
    test_best = [-1.0, -1]     # best held-out accuracy, the first epoch it was reached
    test_met = {}
    history = {}               # epoch -> (loss, mse, accuracy, test loss, test accuracy)
    min_loss = math.inf
    diverged = False

    def evaluate(epoch):
        nonlocal min_loss, diverged
        met = naive_metrics(sizes, activations, bias, shortcut, loss, theta, X, T, leaky_slope, rule)
        if X_test is not None:
            tm = naive_metrics(sizes, activations, bias, shortcut, loss, theta, X_test, T_test, leaky_slope, rule)
            test_met.update(tm)
            if tm["accuracy"] > test_best[0]:
                test_best[:] = [tm["accuracy"], epoch]
            reached = dict(acc75=tm["accuracy"] >= 0.75, acc100=tm["accuracy"] == 1.0, fahlman=tm["fahlman"],
                           tss=tm["tss"] < tss_below, loss=tm["loss"] < loss_below)
            for name in MILESTONES:
                if reached[name] and test_first[name] < 0:
                    test_first[name] = epoch
        history[epoch] = (met["loss"], met["mse"], met["accuracy"],
                          test_met.get("loss", math.nan), test_met.get("accuracy", math.nan))
        # The spec evaluates every epoch, the divergent one included: it is the last one run.
        if not (math.isfinite(met["loss"]) and np.all(np.isfinite(theta))):
            diverged = True
        if met["loss"] < min_loss:   # a NaN loss never lowers the minimum
            min_loss = met["loss"]
        reached = dict(acc75=met["accuracy"] >= 0.75, acc100=met["accuracy"] == 1.0,
                       fahlman=met["fahlman"], tss=met["tss"] < tss_below, loss=met["loss"] < loss_below)
        for name in MILESTONES:
            if reached[name] and first[name] < 0:
                first[name] = epoch
        return met

    met = evaluate(0)
    epochs_run = 0
    stop = diverged or (early_stop and reached_main())
    epoch = 0
    while not stop and epoch < epochs:
        epoch += 1
        for idx in batches_of_epoch(schedule, n_p, batch_size, shuffle, shuffle_key, epoch):
            _, g = naive_loss_and_grad(sizes, activations, bias, shortcut, loss, theta, X[idx], T[idx],
                                       leaky_slope, flat_spot)
            if weight_decay:
                g = g + weight_decay * theta
            if optimizer.startswith(("rprop", "irprop")):
                theta = _rprop_step(optimizer, theta, g, rp, met["loss"], eta_plus, eta_minus, step_min, step_max)
                continue
            if optimizer == "quickprop":
                theta = _quickprop_step(theta, g, qp, lr, quickprop_mu)
                continue
            if optimizer == "sgd":
                theta = theta - lr * g
            elif optimizer == "momentum":
                v = momentum * v + g
                theta = theta - lr * v
            elif optimizer == "adam":
                t_adam += 1
                m = beta1 * m + (1.0 - beta1) * g
                v = beta2 * v + (1.0 - beta2) * g * g
                m_hat = m / (1.0 - beta1 ** t_adam)
                v_hat = v / (1.0 - beta2 ** t_adam)
                theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
            else:
                raise ValueError(optimizer)
        met = evaluate(epoch)
        epochs_run = epoch
        stop = diverged or (early_stop and reached_main())

    curves = np.full((5, len(curve_epochs)), np.nan)
    for i, e in enumerate(curve_epochs):
        if e in history:
            curves[:, i] = history[e]
    curve_loss, curve_mse = curves[0], curves[1]
    held = {}
    if X_test is not None:
        held = dict(test_final_loss=test_met["loss"], test_final_mse=test_met["mse"],
                    test_final_accuracy=test_met["accuracy"], test_best_accuracy=test_best[0],
                    test_best_epoch=test_best[1], curve_test_loss=curves[3], curve_test_accuracy=curves[4],
                    **{f"test_epoch_{name}": test_first[name] for name in MILESTONES})
    return dict(
        **held,
        curve_accuracy=curves[2],
        epochs_run=epochs_run,
        final_loss=met["loss"],
        final_mse=met["mse"],
        final_accuracy=met["accuracy"],
        min_loss=min_loss,
        epoch_acc75=first["acc75"],
        epoch_acc100=first["acc100"],
        epoch_fahlman=first["fahlman"],
        epoch_tss=first["tss"],
        epoch_loss=first["loss"],
        diverged=diverged,
        converged=reached_main(),
        convergence_epoch=test_first[main[5:]] if main.startswith("test_") else first[main],
        final_params=theta,
        final_outputs=met["Y"],
        curve_loss=curve_loss,
        curve_mse=curve_mse,
    )


def _rprop_step(variant, theta, g, st, e_now, eta_plus, eta_minus, step_min, step_max):
    """One Rprop update, weight by weight, as Igel & Huesken (2000) write each variant."""
    theta = theta.copy()
    worse = e_now > st["e_prev"]
    st["e_prev"] = e_now
    for j in range(theta.size):
        prod = st["g_prev"][j] * g[j]
        gj = g[j]
        if prod > 0:
            st["step"][j] = min(st["step"][j] * eta_plus, step_max)
        elif prod < 0:
            st["step"][j] = max(st["step"][j] * eta_minus, step_min)
        if prod < 0 and variant in ("rprop+", "irprop+"):
            dw = -st["dw_prev"][j] if (variant == "rprop+" or worse) else 0.0
            gj = 0.0
        else:
            if prod < 0 and variant == "irprop-":
                gj = 0.0
            dw = -np.sign(gj) * st["step"][j]
        theta[j] += dw
        st["dw_prev"][j] = dw
        st["g_prev"][j] = gj
    return theta


def _quickprop_step(theta, g, st, eps, mu):
    """One Quickprop update (Fahlman 1988, the rules of his reference code), weight by weight."""
    theta = theta.copy()
    shrink = mu / (1.0 + mu)
    for j in range(theta.size):
        p, q, s = st["dw_prev"][j], st["g_prev"][j], g[j]
        if p > 0:
            step = -eps * s if s < 0 else 0.0
            step += mu * p if s <= shrink * q else p * s / (q - s)
        elif p < 0:
            step = -eps * s if s > 0 else 0.0
            step += mu * p if s >= shrink * q else p * s / (q - s)
        else:
            step = -eps * s
        theta[j] += step
        st["dw_prev"][j] = step
        st["g_prev"][j] = s
    return theta


# --------------------------------------------------------------------------------------------
# Initial parameters
# --------------------------------------------------------------------------------------------
def naive_init(sizes, bias, shortcut, scheme, init_key=0, low=0.0, high=1.0, std=1.0, scale=1.0,
               seed=None) -> np.ndarray:
    """Initial theta (P,) for ``scheme`` (every scheme of the spec except ``explicit``)."""
    if scheme == "numpy_legacy":
        if shortcut:
            raise ValueError("the spec defines numpy_legacy only without a shortcut")
        np.random.seed(seed)
        weights, biases = [], []
        for l in range(1, len(sizes)):
            W = np.random.uniform(low, high, size=(sizes[l - 1], sizes[l]))   # (in, out)
            weights.append(W.T)
            if bias:
                b = np.random.uniform(low, high, size=(1, sizes[l]))
                biases.append(b.reshape(-1))
        return scale * flatten(sizes, bias, False, weights, biases if bias else None)

    theta = np.zeros(n_params(sizes, bias, shortcut))
    j = 0
    for kind, l, shape in layer_shapes(sizes, bias, shortcut):
        # a skip matrix (m, k) is a block of its own: fan-in its source level's width
        fan_in, fan_out = (sizes[l[1]], sizes[l[0]]) if kind == "S" else (sizes[l - 1], sizes[l])
        for _ in range(int(np.prod(shape))):
            if scheme == "uniform":
                value = low + (high - low) * uniform(init_key, j)
            elif scheme == "normal":
                value = std * standard_normal(init_key, j)
            elif scheme == "glorot_uniform":
                if kind == "b":
                    value = 0.0
                else:
                    r = math.sqrt(6.0 / (fan_in + fan_out))
                    value = -r + 2.0 * r * uniform(init_key, j)
            elif scheme == "torch_default":
                r = 1.0 / math.sqrt(fan_in)
                value = -r + 2.0 * r * uniform(init_key, j)
            else:
                raise ValueError(scheme)
            theta[j] = scale * value
            j += 1
    return theta
