"""Python source of a training kernel specialised to one static configuration.

``emit_module(spec)`` writes a module with ``train_block`` and ``train_blocks`` that take the
same arguments as ``kernels.train.train_block``/``train_blocks`` and compute the same numbers,
operation for operation (same expressions, same order of every sum), so the two paths agree
to the last bit. What changes is the shape of the code:

- the lane loop is the innermost loop and its body is straight-line code for one run: that
  lane's parameters are loaded into scalar locals, every pattern and unit is unrolled with
  compile-time constants, activations, deltas and gradients stay in scalar locals, and the
  parameters, optimizer state and metric accumulators are written back at the end. LLVM
  vectorises the lane loop across runs.
- all per-lane state of a block (parameters, optimizer state, hyper-parameters, milestones,
  metrics) lives in two block-local arrays ``sf (NF, L)`` (float) and ``si (NI, L)`` (int64),
  copied in at the start and out at the end. Only these two arrays are touched in the lane
  loop, so the vectoriser needs one runtime alias check instead of dozens, and the dataset
  is hoisted into scalars before the loop.
- every conditional value is a ``select`` (``kernels.intrinsics.select``): no branches, so
  one basic block per lane body (fast to compile, nothing to if-convert).

One lane-loop body per epoch covers: the evaluation forward pass of network ``e`` (for the
full-batch schedule fused with its backward pass, pattern by pattern), the metrics, the
per-lane bookkeeping (milestones, early stop, divergence), and the epoch of updates, which a
lane that stops at ``e`` skips (its parameters are kept: ``select(still, new, old)``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import codes

_ACT_NAMES = {v: k for k, v in codes.ACTIVATION.items()}
SIGMOID, TANH, RELU, LEAKY, LINEAR = (codes.ACTIVATION[a] for a in ("sigmoid", "tanh", "relu", "leaky_relu", "linear"))
SSE, MSE, BCE = codes.LOSS["sse"], codes.LOSS["mse"], codes.LOSS["bce"]
SGD, MOMENTUM, ADAM = codes.OPTIMIZER["sgd"], codes.OPTIMIZER["momentum"], codes.OPTIMIZER["adam"]
FULL = codes.SCHEDULE["full"]


@dataclass(frozen=True)
class Spec:
    """Everything a specialised kernel is compiled for (the rest arrives as arrays)."""

    sizes: tuple
    acts: tuple          # activation codes, one per layer
    bias: bool
    shortcut: bool
    loss: int
    opt: int
    schedule: int
    batch_size: int      # n_patterns for the full-batch schedule, 1 for online
    shuffle: bool
    acc_mode: int
    n_patterns: int
    dtype: str           # "float64" | "float32"
    rec_out: bool
    lanes: int

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    def layout(self):
        """(w_off, b_off, s_off, n_params) exactly as ``Network.layout``."""
        w_off, b_off, off = [], [], 0
        for l in range(self.n_layers):
            n_i, n_o = self.sizes[l], self.sizes[l + 1]
            w_off.append(off)
            off += n_i * n_o
            b_off.append(off if self.bias else -1)
            off += n_o if self.bias else 0
        s_off = off if self.shortcut else -1
        off += self.sizes[0] * self.sizes[-1] if self.shortcut else 0
        return w_off, b_off, s_off, off

    def cost(self):
        """Size of the unrolled lane body, in multiply-adds (what compile time grows with)."""
        n_params = self.layout()[3]
        units = sum(self.sizes[1:])
        passes = 1 if self.schedule == FULL else 2      # evaluation + training forward
        return self.n_patterns * (passes * (2 * n_params + 8 * units))


class _Src:
    """Lines of source with indentation and typed float constants."""

    def __init__(self, dtype):
        self.lines = []
        self.ind = 0
        self.dtype = dtype
        self.consts = {}

    def __call__(self, line):
        self.lines.append("    " * self.ind + line)

    def c(self, value):
        """The name of a module-level constant ``dtype(value)`` (value rounded to dtype first)."""
        v = float(np.dtype(self.dtype).type(value))
        name = self.consts.get(v)
        if name is None:
            name = self.consts[v] = f"_k{len(self.consts)}"
        return name

    def const_lines(self):
        f = "np.float32" if self.dtype == "float32" else "np.float64"
        return [f"{name} = {f}({v!r})" for v, name in self.consts.items()]


class _Rows:
    """Row indices of the block-local state arrays."""

    def __init__(self):
        self.n = 0

    def take(self, count=1):
        start = self.n
        self.n += count
        return start


def emit_module(spec: Spec, header: str = "") -> str:
    return _Emitter(spec).module(header)


class _Emitter:
    def __init__(self, spec: Spec):
        self.s = spec
        self.src = _Src(spec.dtype)
        self.w_off, self.b_off, self.s_off, self.P = spec.layout()
        self.n_in, self.n_out, self.nl = spec.sizes[0], spec.sizes[-1], spec.n_layers
        self.np = spec.n_patterns
        self.uses_slope = LEAKY in spec.acts
        f, i = _Rows(), _Rows()
        P = self.P
        self.TH = f.take(P)
        self.M1 = f.take(P) if spec.opt in (MOMENTUM, ADAM) else -1
        self.M2 = f.take(P) if spec.opt == ADAM else -1
        self.LR, self.MOM, self.B1, self.B2, self.EPS, self.SLOPE = (f.take() for _ in range(6))
        self.TSSB, self.LOSSB, self.PW1, self.PW2 = (f.take() for _ in range(4))
        self.FLOSS, self.FMSE, self.FMIN = (f.take() for _ in range(3))
        self.OUT = f.take(self.np * self.n_out) if spec.rec_out else -1
        self.XS = f.take(self.np * self.n_in) if spec.shuffle else -1
        self.TS = f.take(self.np * self.n_out) if spec.shuffle else -1
        self.NF = f.n
        self.MS = i.take(5)
        self.RUN, self.DIV, self.ACT, self.EP, self.MAIN, self.ESTOP, self.CORR = (i.take() for _ in range(7))
        self.NI = i.n

    # ------------------------------------------------------------------ pieces of a lane body
    def activate(self, code, a, z):
        o, c = self.src, self.src.c
        if code == SIGMOID:
            o(f"{a} = {c(1)} / ({c(1)} + exp(-{z}))")
        elif code == TANH:  # sign(z) (1 - e) / (1 + e), e = exp(-2|z|)
            o(f"_e = exp({c(-2)} * abs({z}))")
            o(f"_t = ({c(1)} - _e) / ({c(1)} + _e)")
            o(f"{a} = sel({z} >= {c(0)}, _t, -_t)")
        elif code == RELU:
            o(f"{a} = sel({z} > {c(0)}, {z}, {c(0)})")
        elif code == LEAKY:
            o(f"{a} = sel({z} > {c(0)}, {z}, sl * {z})")
        else:
            o(f"{a} = {z}")

    def derive(self, code, d, a):
        """d *= f'(a) (nothing for linear)."""
        o, c = self.src, self.src.c
        if code == SIGMOID:
            o(f"{d} = {d} * ({a} * ({c(1)} - {a}))")
        elif code == TANH:
            o(f"{d} = {d} * ({c(1)} - {a} * {a})")
        elif code == RELU:
            o(f"{d} = sel({a} > {c(0)}, {d}, {c(0)})")
        elif code == LEAKY:
            o(f"{d} = sel({a} > {c(0)}, {d}, {d} * sl)")

    def chain(self, name, first, terms, per_line=24):
        """name = first + terms[0] + terms[1] + ... summed left to right, as a loop would."""
        expr = first
        for n, t in enumerate(terms):
            if n and n % per_line == 0:
                self.src(f"{name} = {expr}")
                expr = name
            expr = f"{expr} + {t}"
        self.src(f"{name} = {expr}")

    def unit(self, l, j):
        """Name of unit j of level l (level 0 is the input)."""
        return f"a{l}_{j}"

    def forward(self, xs):
        """Forward pass of one pattern whose inputs are the names ``xs``; fills a{l}_{j}
        and, for bce, the logits zo{j}."""
        o, c, s = self.src, self.src.c, self.s
        for l in range(self.nl):
            n_i, n_o = s.sizes[l], s.sizes[l + 1]
            last = l == self.nl - 1
            ins = xs if l == 0 else [self.unit(l, i) for i in range(n_i)]
            for j in range(n_o):
                row = self.w_off[l] + j * n_i
                z = f"w{self.b_off[l] + j}" if s.bias else c(0)
                terms = [f"w{row + i} * {ins[i]}" for i in range(n_i)]
                if last and s.shortcut:
                    srow = self.s_off + j * self.n_in
                    terms += [f"w{srow + i} * {xs[i]}" for i in range(self.n_in)]
                zname = f"zo{j}" if last else "_z"
                self.chain(zname, z, terms)
                self.activate(s.acts[l], self.unit(l + 1, j), zname)

    def backward(self, xs, ts, scale, started):
        """Output deltas against targets ``ts`` then the gradient of one pattern, added to g{p}.
        ``started`` is the set of g{p} already holding a value in this batch."""
        o, c, s = self.src, self.src.c, self.s
        nl = self.nl

        def acc(p, term):
            if p in started:
                o(f"g{p} = g{p} + {term}")
            else:
                o(f"g{p} = {c(0)} + {term}")
                started.add(p)

        for j in range(self.n_out):
            y = self.unit(nl, j)
            o(f"d{nl}_{j} = {c(scale)} * ({y} - {ts[j]})")
            if s.loss != BCE:
                self.derive(s.acts[nl - 1], f"d{nl}_{j}", y)
        if s.shortcut:
            for j in range(self.n_out):
                for i in range(self.n_in):
                    acc(self.s_off + j * self.n_in + i, f"d{nl}_{j} * {xs[i]}")
        for l in range(nl - 1, -1, -1):
            n_i, n_o = s.sizes[l], s.sizes[l + 1]
            ins = xs if l == 0 else [self.unit(l, i) for i in range(n_i)]
            for j in range(n_o):
                row = self.w_off[l] + j * n_i
                for i in range(n_i):
                    acc(row + i, f"d{l + 1}_{j} * {ins[i]}")
                if s.bias:
                    acc(self.b_off[l] + j, f"d{l + 1}_{j}")
            if l > 0:
                for i in range(n_i):
                    self.chain(f"d{l}_{i}", c(0), [f"w{self.w_off[l] + j * n_i + i} * d{l + 1}_{j}"
                                                   for j in range(n_o)])
                    self.derive(s.acts[l - 1], f"d{l}_{i}", self.unit(l, i))

    def metrics(self, k, first):
        """Accumulate tss, the loss terms (bce), correct patterns and the Fahlman flag of
        evaluation pattern k (natural order)."""
        o, c, s = self.src, self.src.c, self.s
        nl = self.nl
        ys = [self.unit(nl, j) for j in range(self.n_out)]
        if s.acc_mode == codes.ACC_ARGMAX:
            o(f"_best = {ys[0]}")
            o("_bi = 0")
            for j in range(1, self.n_out):
                o(f"_bt = {ys[j]} > _best")
                o(f"_best = sel(_bt, {ys[j]}, _best)")
                o(f"_bi = sel(_bt, {j}, _bi)")
            ok = f"_bi == ti{k}"
        else:
            parts = [f"(({ys[j]} >= {c(0.5)}) == tb{k}_{j})" for j in range(self.n_out)]
            ok = " & ".join(parts)
        o(f"corr = {'' if first else 'corr + '}sel({ok}, 1, 0)")
        for j in range(self.n_out):
            o(f"_d = {ys[j]} - t{k}_{j}")
            start = first and j == 0
            o(f"tss = {c(0) + ' + ' if start else 'tss + '}_d * _d")
            o(f"fahl = {'' if start else 'fahl & '}(abs(_d) < {c(0.4)})")
            if s.loss == BCE:  # softplus(z) - t z, softplus(z) = max(z, 0) + log1p(e^-|z|)
                o(f"_sp = sel(zo{j} > {c(0)}, zo{j}, {c(0)}) + log1p01(exp(-abs(zo{j})))")
                o(f"lb = {c(0) + ' + ' if start else 'lb + '}(_sp - t{k}_{j} * zo{j})")

    def bookkeeping(self):
        """Loss, milestones, final values, stop decision -> ``still`` (updates go on)."""
        o, c, s = self.src, self.src.c, self.s
        n_terms = self.np * self.n_out
        if s.loss == SSE:
            o(f"ls = {c(0.5)} * tss")
        elif s.loss == MSE:
            o(f"ls = tss / {c(n_terms)}")
        else:
            o(f"ls = lb / {c(n_terms)}")
        o(f"mse = tss / {c(n_terms)}")
        o(f"act = si[{self.ACT}, ln] == 1")
        o("fin = (ls - ls == " + c(0) + ") & (ps - ps == " + c(0) + ")")
        conds = [f"corr * 4 >= {3 * self.np}", f"corr == {self.np}", "fahl",
                 f"tss < sf[{self.TSSB}, ln]", f"ls < sf[{self.LOSSB}, ln]"]
        for m in range(5):
            o(f"ms{m} = si[{self.MS + m}, ln]")
            o(f"ms{m} = sel(act & ({conds[m]}) & (ms{m} < 0), e, ms{m})")
            o(f"si[{self.MS + m}, ln] = ms{m}")
        o(f"mc = si[{self.MAIN}, ln]")
        o("met = " + " | ".join(f"((mc == {m}) & (ms{m} >= 0))" for m in range(5)))
        o(f"sf[{self.FLOSS}, ln] = sel(act, ls, sf[{self.FLOSS}, ln])")
        o(f"sf[{self.FMSE}, ln] = sel(act, mse, sf[{self.FMSE}, ln])")
        o(f"si[{self.CORR}, ln] = sel(act, corr, si[{self.CORR}, ln])")
        o(f"sf[{self.FMIN}, ln] = sel(act & fin & (ls < sf[{self.FMIN}, ln]), ls, sf[{self.FMIN}, ln])")
        o(f"si[{self.DIV}, ln] = sel(act & (fin == False), 1, si[{self.DIV}, ln])")
        o(f"si[{self.RUN}, ln] = sel(act, e, si[{self.RUN}, ln])")
        o(f"still = act & fin & (e < si[{self.EP}, ln]) & ((si[{self.ESTOP}, ln] != 1) | (met == False))")
        o(f"si[{self.ACT}, ln] = sel(still, 1, 0)")
        o("n_active += sel(still, 1, 0)")

    def update(self):
        """One optimizer step from g{p}; a lane that does not go on keeps its parameters."""
        o, c, s = self.src, self.src.c, self.s
        if s.opt == ADAM:
            o("pw1 = pw1 * b1")
            o("pw2 = pw2 * b2")
            o(f"_lrc = lr / ({c(1)} - pw1)")
            o(f"_sq2 = np.sqrt({c(1)} - pw2)")
        for p in range(self.P):
            if s.opt == SGD:
                o(f"w{p} = sel(still, w{p} - lr * g{p}, w{p})")
            elif s.opt == MOMENTUM:
                o(f"m1_{p} = mom * m1_{p} + g{p}")
                o(f"w{p} = sel(still, w{p} - lr * m1_{p}, w{p})")
            else:
                o(f"m1_{p} = b1 * m1_{p} + ({c(1)} - b1) * g{p}")
                o(f"m2_{p} = b2 * m2_{p} + ({c(1)} - b2) * (g{p} * g{p})")
                o(f"_den = np.sqrt(m2_{p}) / _sq2 + eps")
                o(f"w{p} = sel(still, w{p} - _lrc * (m1_{p} / _den), w{p})")

    def lane_body(self):
        o, c, s = self.src, self.src.c, self.s
        P = self.P
        for p in range(P):
            o(f"w{p} = sf[{self.TH + p}, ln]")
        o(f"ps = {c(0)} + w0" if P else f"ps = {c(0)}")
        for p in range(1, P):
            o(f"ps = ps + w{p}")
        o(f"lr = sf[{self.LR}, ln]")
        if self.uses_slope:
            o(f"sl = sf[{self.SLOPE}, ln]")
        if s.opt == MOMENTUM:
            o(f"mom = sf[{self.MOM}, ln]")
        if s.opt == ADAM:
            for n, r in (("b1", self.B1), ("b2", self.B2), ("eps", self.EPS), ("pw1", self.PW1), ("pw2", self.PW2)):
                o(f"{n} = sf[{r}, ln]")
        if s.opt in (MOMENTUM, ADAM):
            for p in range(P):
                o(f"m1_{p} = sf[{self.M1 + p}, ln]")
        if s.opt == ADAM:
            for p in range(P):
                o(f"m2_{p} = sf[{self.M2 + p}, ln]")
        n_out = self.n_out
        xs_nat = [[f"x{k}_{i}" for i in range(self.n_in)] for k in range(self.np)]
        ts_nat = [[f"t{k}_{j}" for j in range(n_out)] for k in range(self.np)]
        full = s.schedule == FULL
        started = set()
        scale_full = self.delta_scale(self.np)
        for k in range(self.np):
            o(f"# pattern {k}")
            self.forward(xs_nat[k])
            self.metrics(k, k == 0)
            if s.rec_out:
                for j in range(n_out):
                    r = self.OUT + k * n_out + j
                    o(f"sf[{r}, ln] = sel(si[{self.ACT}, ln] == 1, {self.unit(self.nl, j)}, sf[{r}, ln])")
            if full:
                self.backward(xs_nat[k], ts_nat[k], scale_full, started)
        self.bookkeeping()
        if full:
            self.update()
        else:
            bs = s.batch_size
            for start in range(0, self.np, bs):
                stop = min(start + bs, self.np)
                scale = self.delta_scale(stop - start)
                started = set()
                for k in range(start, stop):
                    o(f"# training pattern {k}")
                    if s.shuffle:
                        xs = [f"xs{i}" for i in range(self.n_in)]
                        ts = [f"ts{j}" for j in range(n_out)]
                        for i in range(self.n_in):
                            o(f"xs{i} = sf[{self.XS + k * self.n_in + i}, ln]")
                        for j in range(n_out):
                            o(f"ts{j} = sf[{self.TS + k * n_out + j}, ln]")
                    else:
                        xs, ts = xs_nat[k], ts_nat[k]
                    self.forward(xs)
                    self.backward(xs, ts, scale, started)
                self.update()
        for p in range(P):
            o(f"sf[{self.TH + p}, ln] = w{p}")
        if s.opt in (MOMENTUM, ADAM):
            for p in range(P):
                o(f"sf[{self.M1 + p}, ln] = m1_{p}")
        if s.opt == ADAM:
            for p in range(P):
                o(f"sf[{self.M2 + p}, ln] = m2_{p}")
            o(f"sf[{self.PW1}, ln] = pw1")
            o(f"sf[{self.PW2}, ln] = pw2")

    def delta_scale(self, nb):
        """The constant factor of dE/dz for a batch of nb patterns, rounded as the kernels do."""
        f = np.dtype(self.s.dtype).type
        if self.s.loss == SSE:
            return 1.0
        n_terms = f(nb * self.n_out)
        return float((f(1.0) + f(1.0)) / n_terms) if self.s.loss == MSE else float(f(1.0) / n_terms)

    # ------------------------------------------------------------------ the module
    def module(self, header):
        s, o = self.s, self.src
        L = s.lanes
        dt = f"np.{s.dtype}"
        args = ("b, X, T, tidx, sizes, acts, w_off, b_off, s_off, unit_off, loss, opt, schedule, "
                "batch_size, shuffle, acc_mode, theta_all, lr_all, mom_all, b1_all, b2_all, eps_all, "
                "slope_all, epochs_all, main_all, estop_all, tss_all, lossb_all, skey_all, curve_epochs, "
                "rec_out, o_run, o_ms, o_fin, o_div, o_curve, o_out")
        o("@njit(**_NJIT)")
        o(f"def train_block({args}):")
        o.ind = 1
        o(f"sf = np.empty(({self.NF}, {L}), {dt})")
        o(f"si = np.zeros(({self.NI}, {L}), np.int64)")
        o(f"perm = np.empty({self.np}, np.int64)")
        o("max_epochs = 0")
        o(f"for ln in range({L}):")
        o.ind = 2
        o(f"for p in range({self.P}):")
        o(f"    sf[{self.TH} + p, ln] = theta_all[b, p, ln]")
        for r in (self.M1, self.M2):
            if r >= 0:
                o(f"for p in range({self.P}):")
                o(f"    sf[{r} + p, ln] = {c0(dt)}")
        for r, a in ((self.LR, "lr_all"), (self.MOM, "mom_all"), (self.B1, "b1_all"), (self.B2, "b2_all"),
                     (self.EPS, "eps_all"), (self.SLOPE, "slope_all"), (self.TSSB, "tss_all"),
                     (self.LOSSB, "lossb_all")):
            o(f"sf[{r}, ln] = {a}[b, ln]")
        o(f"sf[{self.PW1}, ln] = {dt}(1.0)")
        o(f"sf[{self.PW2}, ln] = {dt}(1.0)")
        o(f"sf[{self.FMIN}, ln] = {dt}(np.inf)")
        for m in range(5):
            o(f"si[{self.MS + m}, ln] = -1")
        o(f"si[{self.ACT}, ln] = 1")
        o(f"si[{self.EP}, ln] = epochs_all[b, ln]")
        o(f"si[{self.MAIN}, ln] = main_all[b, ln]")
        o(f"si[{self.ESTOP}, ln] = estop_all[b, ln]")
        o("max_epochs = max(max_epochs, epochs_all[b, ln])")
        o.ind = 1
        for k in range(self.np):
            for i in range(self.n_in):
                o(f"x{k}_{i} = X[{k}, {i}]")
            for j in range(self.n_out):
                o(f"t{k}_{j} = T[{k}, {j}]")
                if s.acc_mode != codes.ACC_ARGMAX:
                    o(f"tb{k}_{j} = T[{k}, {j}] >= {o.c(0.5)}")
            if s.acc_mode == codes.ACC_ARGMAX:
                o(f"ti{k} = tidx[{k}]")
        o("n_curve = curve_epochs.shape[0]")
        o("ci = 0")
        o("for e in range(max_epochs + 1):")
        o.ind = 2
        if s.shuffle:
            o(f"for ln in range({L}):")
            o("    shuffle_into(perm, skey_all[b, ln], e + 1)")
            o(f"    for k in range({self.np}):")
            o("        pk = perm[k]")
            o(f"        for i in range({self.n_in}):")
            o(f"            sf[{self.XS} + k * {self.n_in} + i, ln] = X[pk, i]")
            o(f"        for j in range({self.n_out}):")
            o(f"            sf[{self.TS} + k * {self.n_out} + j, ln] = T[pk, j]")
        o("n_active = 0")
        o(f"for ln in range({L}):")
        o.ind = 3
        self.lane_body()
        o.ind = 2
        o("if ci < n_curve and curve_epochs[ci] == e:")
        o(f"    for ln in range({L}):")
        o(f"        if si[{self.RUN}, ln] == e:")
        o(f"            o_curve[b, ci, 0, ln] = sf[{self.FLOSS}, ln]")
        o(f"            o_curve[b, ci, 1, ln] = sf[{self.FMSE}, ln]")
        o("    ci += 1")
        o("if n_active == 0:")
        o("    break")
        o.ind = 1
        o(f"for ln in range({L}):")
        o.ind = 2
        o(f"for p in range({self.P}):")
        o(f"    theta_all[b, p, ln] = sf[{self.TH} + p, ln]")
        for m in range(5):
            o(f"o_ms[b, {m}, ln] = si[{self.MS + m}, ln]")
        o(f"o_run[b, ln] = si[{self.RUN}, ln]")
        o(f"o_div[b, ln] = si[{self.DIV}, ln]")
        o(f"o_fin[b, 0, ln] = np.float64(sf[{self.FLOSS}, ln])")
        o(f"o_fin[b, 1, ln] = np.float64(sf[{self.FMSE}, ln])")
        o(f"o_fin[b, 2, ln] = si[{self.CORR}, ln] / {self.np}")
        o(f"o_fin[b, 3, ln] = np.float64(sf[{self.FMIN}, ln])")
        if s.rec_out:
            o(f"for k in range({self.np}):")
            o(f"    for j in range({self.n_out}):")
            o(f"        o_out[b, k, j, ln] = sf[{self.OUT} + k * {self.n_out} + j, ln]")
        o.ind = 0
        o("")
        o("")
        o("@njit(**_NJIT_PARALLEL)")
        o(f"def train_blocks({args[3:]}):")
        o("    for b in prange(theta_all.shape[0]):")
        o(f"        train_block({args})")
        body = o.lines
        head = [
            header,
            "import numpy as np",
            "from numba import njit, prange",
            "",
            "from kernels.elementary import exp, log1p01",
            "from kernels.intrinsics import select as sel",
            "from kernels.rng import shuffle_into",
            "",
            "_NJIT = dict(cache=True, error_model='numpy', fastmath=False, nogil=True)",
            "_NJIT_PARALLEL = dict(_NJIT, parallel=True)",
            *o.const_lines(),
            "",
            "",
        ]
        return "\n".join(head + body) + "\n"


def c0(dt):
    return f"{dt}(0.0)"
