"""Python source of a training kernel specialised to one static configuration.

``emit_module(spec)`` writes a module with ``train_range(b0, b1, *train_blocks_args)``, which
trains blocks ``b0..b1-1`` with the arguments of ``kernels.train.train_blocks`` and computes
the same numbers as ``kernels.train.train_block``, operation for operation (same expressions,
same order of every sum), so the two paths agree to the last bit. What changes is the shape
of the code:

- the lanes are the vector dimension: the body is straight-line code for one run
  (``kernels.codegen_ir.make_lane_loop``, emitted as LLVM IR whose every value is a vector
  of W lanes, i.e. W runs at once): parameters are loaded into registers, every pattern and
  unit is unrolled with compile-time constants, activations, deltas and gradients stay in
  registers, and the parameters, optimizer state and metric accumulators are written back
  at the end of the epoch.
- all per-lane state of a block (parameters, optimizer state, hyper-parameters, milestones,
  metrics) lives in two block-local arrays ``sf (NF, L)`` (float) and ``si (NI, L)`` (int64),
  copied in at the start and out at the end; the lane body touches only these and the
  (read-only) dataset.

One lane-loop body per epoch covers: the evaluation forward pass of network ``e`` (for the
full-batch schedule fused with its backward pass, pattern by pattern), the metrics, the
per-lane bookkeeping (milestones, early stop, divergence), and the epoch of updates, which a
lane that stops at ``e`` skips (its parameters are kept: ``select(still, new, old)``).
The shuffled order of an epoch, the loss curve and the final copy-out are plain Numba loops.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import codes
from kernels.network import param_offsets

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
        return param_offsets(self.sizes, self.bias, self.shortcut)

    def cost(self):
        """A rough size of the unrolled lane body, cheap to compute (``codegen_ir.body_size``
        counts its instructions exactly; it is 1-5 times this)."""
        n_params = self.layout()[3]
        units = sum(self.sizes[1:])
        passes = 1 if self.schedule == FULL else 2      # evaluation + training forward
        return self.n_patterns * (passes * (2 * n_params + 8 * units))


class Layout:
    """Parameter offsets and the rows of the block state ``sf`` (float) and ``si`` (int64)."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.w_off, self.b_off, self.s_off, self.P = spec.layout()
        self.n_in, self.n_out, self.nl = spec.sizes[0], spec.sizes[-1], spec.n_layers
        n_p, P = spec.n_patterns, self.P
        rows = _Rows()
        self.TH = rows.take(P)
        self.M1 = rows.take(P) if spec.opt in (MOMENTUM, ADAM) else -1
        self.M2 = rows.take(P) if spec.opt == ADAM else -1
        (self.LR, self.MOM, self.B1, self.B2, self.EPS, self.SLOPE, self.TSSB, self.LOSSB,
         self.PW1, self.PW2, self.FLOSS, self.FMSE, self.FMIN) = (rows.take() for _ in range(13))
        self.OUT = rows.take(n_p * self.n_out) if spec.rec_out else -1
        self.XS = rows.take(n_p * self.n_in) if spec.shuffle else -1
        self.TS = rows.take(n_p * self.n_out) if spec.shuffle else -1
        self.NF = rows.n
        irows = _Rows()
        self.MS = irows.take(5)
        self.RUN, self.DIV, self.ACT, self.EP, self.MAIN, self.ESTOP, self.CORR = (irows.take() for _ in range(7))
        self.NI = irows.n

    def delta_scale(self, nb):
        """The constant factor of dE/dz for a batch of nb patterns, rounded as the kernels do
        (``kernels.losses.delta_scale``)."""
        f = np.dtype(self.spec.dtype).type
        if self.spec.loss == SSE:
            return 1.0
        n_terms = f(nb * self.n_out)
        return float((f(1.0) + f(1.0)) / n_terms) if self.spec.loss == MSE else float(f(1.0) / n_terms)


class _Rows:
    def __init__(self):
        self.n = 0

    def take(self, count=1):
        start = self.n
        self.n += count
        return start


_ARGS = ("b, X, T, tidx, sizes, acts, w_off, b_off, s_off, unit_off, loss, opt, schedule, "
         "batch_size, shuffle, acc_mode, theta_all, lr_all, mom_all, b1_all, b2_all, eps_all, "
         "slope_all, epochs_all, main_all, estop_all, tss_all, lossb_all, skey_all, curve_epochs, "
         "rec_out, o_run, o_ms, o_fin, o_div, o_curve, o_out")


def emit_module(spec: Spec, header: str = "") -> str:
    """Source of the module: ``SPEC``, ``lane_loop`` and ``train_range``, the Numba function
    that trains blocks ``b0..b1-1`` one after the other (``kernels.codegen`` runs ranges of
    blocks on threads)."""
    lay = Layout(spec)
    L, P, n_p, n_in, n_out = spec.lanes, lay.P, spec.n_patterns, lay.n_in, lay.n_out
    dt = f"np.{spec.dtype}"
    init = [f"{a}[b, ln]" for a in ("lr_all", "mom_all", "b1_all", "b2_all", "eps_all", "slope_all",
                                    "tss_all", "lossb_all")]
    rows = (lay.LR, lay.MOM, lay.B1, lay.B2, lay.EPS, lay.SLOPE, lay.TSSB, lay.LOSSB)
    body = [f"for ln in range({L}):",
            f"    for r in range({lay.NF}):",
            "        sf[r, ln] = 0.0",
            f"    for r in range({lay.NI}):",
            "        si[r, ln] = 0",
            "max_epochs = 0",
            f"for ln in range({L}):",
            f"    for p in range({P}):",
            f"        sf[{lay.TH} + p, ln] = theta_all[b, p, ln]",
            *[f"    sf[{r}, ln] = {a}" for r, a in zip(rows, init)],
            f"    sf[{lay.PW1}, ln] = 1.0",
            f"    sf[{lay.PW2}, ln] = 1.0",
            f"    sf[{lay.FMIN}, ln] = np.inf",
            *[f"    si[{lay.MS + m}, ln] = -1" for m in range(5)],
            f"    si[{lay.ACT}, ln] = 1",
            f"    si[{lay.EP}, ln] = epochs_all[b, ln]",
            f"    si[{lay.MAIN}, ln] = main_all[b, ln]",
            f"    si[{lay.ESTOP}, ln] = estop_all[b, ln]",
            "    max_epochs = max(max_epochs, epochs_all[b, ln])",
            "ci = 0",
            "for e in range(max_epochs + 1):"]
    if spec.shuffle:
        body += [f"    for ln in range({L}):",
                 "        shuffle_into(perm, skey_all[b, ln], e + 1)",
                 f"        for k in range({n_p}):",
                 "            pk = perm[k]",
                 f"            for i in range({n_in}):",
                 f"                sf[{lay.XS} + k * {n_in} + i, ln] = X[pk, i]",
                 f"            for j in range({n_out}):",
                 f"                sf[{lay.TS} + k * {n_out} + j, ln] = T[pk, j]"]
    body += ["    n_active = lane_loop(sf, si, X, T, tidx, e)",
             "    if ci < n_curve and curve_epochs[ci] == e:",
             f"        for ln in range({L}):",
             f"            if si[{lay.RUN}, ln] == e:",
             f"                o_curve[b, ci, 0, ln] = sf[{lay.FLOSS}, ln]",
             f"                o_curve[b, ci, 1, ln] = sf[{lay.FMSE}, ln]",
             "        ci += 1",
             "    if n_active == 0:",
             "        break",
             f"for ln in range({L}):",
             f"    for p in range({P}):",
             f"        theta_all[b, p, ln] = sf[{lay.TH} + p, ln]",
             *[f"    o_ms[b, {m}, ln] = si[{lay.MS + m}, ln]" for m in range(5)],
             f"    o_run[b, ln] = si[{lay.RUN}, ln]",
             f"    o_div[b, ln] = si[{lay.DIV}, ln]",
             f"    o_fin[b, 0, ln] = np.float64(sf[{lay.FLOSS}, ln])",
             f"    o_fin[b, 1, ln] = np.float64(sf[{lay.FMSE}, ln])",
             f"    o_fin[b, 2, ln] = si[{lay.CORR}, ln] / {n_p}",
             f"    o_fin[b, 3, ln] = np.float64(sf[{lay.FMIN}, ln])"]
    if spec.rec_out:
        body += [f"    for k in range({n_p}):",
                 f"        for j in range({n_out}):",
                 f"            o_out[b, k, j, ln] = sf[{lay.OUT} + k * {n_out} + j, ln]"]
    src = [header.rstrip("\n"),
           "import numpy as np",
           "from numba import njit",
           "",
           "from kernels.codegen_emit import Spec",
           "from kernels.codegen_ir import make_lane_loop",
           "from kernels.rng import shuffle_into",
           "",
           "SPEC = " + repr(spec),
           "lane_loop = make_lane_loop(SPEC)",
           "",
           "",
           "@njit(cache=True, error_model='numpy', fastmath=False, nogil=True)",
           f"def train_range(b0, b1, {_ARGS[3:]}):",
           '    """Train blocks b0..b1-1 in place, as kernels.train.train_block does each."""',
           f"    sf = np.empty(({lay.NF}, {L}), {dt})",
           f"    si = np.empty(({lay.NI}, {L}), np.int64)",
           f"    perm = np.empty({n_p}, np.int64)",
           "    n_curve = curve_epochs.shape[0]",
           "    for b in range(b0, b1):",
           *["        " + line for line in body],
           ""]
    return "\n".join(src)
