"""Python source of a training kernel specialised to one static configuration.

``emit_module(spec)`` writes a module with ``train_range(b0, b1, data, net, st, runs,
curve_epochs, out)`` (the arrays of ``kernels.bundles``), which trains blocks ``b0..b1-1``. Every
schedule of the epoch computes the same operations in the same order (same expressions, same
order of every sum: the order of the hand-written generic kernel this replaced, frozen in
tests/fixtures/generic_matrix.parquet), so they agree to the last bit. The shape of the code:

- the lanes are the vector dimension: the body is the code of one run's epoch
  (``kernels.codegen_ir.make_lane_loop``, emitted as LLVM IR whose every value is a vector
  of W lanes, i.e. W runs at once), its passes written once (``kernels.codegen_epoch``) and
  scheduled by the plan: small nets with the parameters in registers and every pattern and
  unit unrolled, large epochs with parts as loops, one-hidden-layer nets with a loop over the
  hidden units, any size with every dimension a loop and the state in ``sf``.
- all per-lane state of a block (parameters, optimizer state, hyper-parameters, milestones,
  metrics) lives in two block-local arrays ``sf (NF, L)`` (float) and ``si (NI, L)`` (int64),
  copied in at the start and out at the end; the lane body touches only these and the
  (read-only) dataset.

One lane-loop body per epoch covers: the evaluation forward pass of network ``e`` (for the
full-batch schedule also the training forward pass), the metrics, the
per-lane bookkeeping (milestones, early stop, divergence), and the epoch of updates, which a
lane that stops at ``e`` skips (its parameters are kept: ``select(still, new, old)``).
The shuffled order of an epoch, the loss curve and the final copy-out are plain Numba loops.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.bundles import FIN_ACC, FIN_LOSS, FIN_MIN, FIN_MSE, FULL, TEST_ACC, TEST_BEST, TEST_LOSS, TEST_MSE
from kernels.config import LANES, MEMORY_UNITS
from kernels.network import param_offsets, skip_offsets, skip_pairs
from kernels.ops import LOSSES, N_HYPER, N_MILESTONES, OPTIMIZERS
from kernels.ops.hyper import IROW, ROW


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
    flat: bool = False   # Fahlman's flat-spot offset
    decay: bool = False  # weight decay
    memory: bool = False  # the memory schedule whatever the size (``codegen_tuning.memory_units``)
    n_test: int = 0      # patterns of the held-out set, evaluated every epoch (``codegen_epoch.evaluate_test``)
    dense: bool = False  # every level feeds every later one (``network.skip_pairs``): the memory schedule

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    def layout(self):
        """(w_off, b_off, s_off, n_params) exactly as ``Network.layout``."""
        return param_offsets(self.sizes, self.bias, self.shortcut, self.dense)

    @property
    def skips(self):
        """The skip connections ``(m, k)``, level k feeding level m (``network.skip_pairs``)."""
        return skip_pairs(self.sizes, self.shortcut, self.dense)

    def cost(self):
        """A rough size of the unrolled lane body, cheap to compute (``codegen_size.body_size``
        counts its instructions exactly; it is 1-5 times this)."""
        n_params = self.layout()[3]
        units = sum(self.sizes[1:])
        passes = 1 if self.schedule == FULL else 2      # evaluation + training forward
        return self.n_patterns * (passes * (2 * n_params + 8 * units))


#: Patterns (and units) per tile of the held-out set's pass under the register schedules.
TEST_TILE = MEMORY_UNITS[0]
#: Bytes of a cache line: the block state starts at a multiple of it (``_aligned_rows``).
CACHE_LINE = 64


def literal(v) -> str:
    """Python source of a float constant (``np.inf`` included)."""
    v = float(v)
    return ("np.inf" if v > 0 else "-np.inf") if np.isinf(v) else repr(v)


class Layout:
    """Parameter offsets and the rows of the block state ``sf`` (float) and ``si`` (int64) of
    ``spec``'s kernel laid out as ``plan`` says (``kernels.codegen_plan.Plan``: the patterns
    per block of the passes' scratch rows, and whether those rows are memory or SSA values)."""

    def __init__(self, spec: Spec, plan):
        self.spec = spec
        self.w_off, self.b_off, self.s_off, self.P = spec.layout()
        self.skip_off = skip_offsets(spec.sizes, self.s_off, spec.skips)     # (m, k) -> its matrix's offset
        self.n_in, self.n_out, self.nl = spec.sizes[0], spec.sizes[-1], spec.n_layers
        self.opt = OPTIMIZERS.by_code(spec.opt)
        self.loss = LOSSES.by_code(spec.loss)
        n_p, P = spec.n_patterns, self.P
        rows = _Rows()
        self.TH = rows.take(P)
        self.SLOT = [rows.take(P) for _ in self.opt.slots]          # per-weight optimizer state
        self.LSLOT = [rows.take() for _ in self.opt.lane_slots]      # per-run optimizer state
        self.HYP = rows.take(N_HYPER)                                # every hyper-parameter row
        self.FLOSS, self.FMSE, self.FMIN = (rows.take() for _ in range(3))
        self.OUT = rows.take(n_p * self.n_out) if spec.rec_out else -1
        self.XS = rows.take(n_p * self.n_in) if spec.shuffle else -1
        self.TS = rows.take(n_p * self.n_out) if spec.shuffle else -1
        # the held-out set (codegen_heldout.evaluate_test): its loss and mse at the last epoch run
        # (and so at each curve epoch)
        held = spec.n_test > 0
        self.TLOSS, self.TMSE = (rows.take() if held else -1 for _ in range(2))
        # the passes' scratch rows (kernels.codegen_epoch), a block of TILE patterns at a time
        # (TEST_TILE: the held-out set's): activations of levels 1..nl (row AM + u * UA + unit),
        # deltas (DL + ...), logits (ZO) and, for batches of more than one block, the gradient
        # sums (GR + p). Under the register schedule they are SSA values only
        # (kernels.codegen_registers), numbered past NF.
        self.UA = sum(spec.sizes[1:])
        if plan.memory:
            self.TILE = self.TEST_TILE = plan.patterns or plan.memory
        else:       # the register schedule (its evaluation in chunks) or the unit loop (one block)
            self.TILE = (plan.chunk or n_p) if plan.registers else n_p
            self.TEST_TILE = TEST_TILE
        if plan.registers:
            self.NF = rows.n
        slots = max(self.TILE if plan.memory else n_p, self.TEST_TILE)
        self.AM, self.ZO, self.DL = rows.take(slots * self.UA), rows.take(slots * self.n_out), rows.take(slots * self.UA)
        self.GR = rows.take(P) if plan.registers or (plan.memory and spec.batch_size > self.TILE) else -1
        if not plan.registers:
            self.NF = rows.n
        # in si the held-out set's correct count, best count and its first epoch, and the first
        # epoch of each milestone on it
        irows = _Rows()
        self.MS = irows.take(N_MILESTONES)
        self.RUN, self.DIV, self.ACT, self.EP, self.MAIN, self.ESTOP, self.CORR = (irows.take() for _ in range(7))
        self.TCORR, self.TBEST, self.TBESTE = (irows.take() if held else -1 for _ in range(3))
        self.TMS = irows.take(N_MILESTONES) if held else -1
        self.NI = irows.n

    def output_rows(self) -> frozenset:
        """The rows of the output level's activations, logits and deltas of every slot of a
        block (the unit loop keeps them in registers: ``codegen_registers``)."""
        top, n_out = self.level_offsets()[self.nl], self.n_out
        rows = set()
        for u in range(self.TILE):
            rows.update(range(self.AM + u * self.UA + top, self.AM + u * self.UA + top + n_out))
            rows.update(range(self.DL + u * self.UA + top, self.DL + u * self.UA + top + n_out))
            rows.update(range(self.ZO + u * n_out, self.ZO + (u + 1) * n_out))
        return frozenset(rows)

    def level_offsets(self):
        """``off[l]``: the first unit of level ``l`` (1..nl) among a pattern's ``UA`` units."""
        off, at = [0, 0], 0
        for n in self.spec.sizes[1:]:
            at += n
            off.append(at)
        return off

    def hyper(self, name):
        """The ``sf`` row of hyper-parameter ``name``."""
        return self.HYP + ROW[name]

    def delta_scale(self, nb):
        """The constant factor of dE/dz for a batch of nb patterns, rounded as the kernels do
        (the loss op's ``scale`` on numpy scalars of the run dtype)."""
        f = np.dtype(self.spec.dtype).type
        return float(self.loss.scale(f(nb * self.n_out), f(1.0)))


class _Rows:
    def __init__(self):
        self.n = 0

    def take(self, count=1):
        start = self.n
        self.n += count
        return start


def emit_module(spec: Spec, plan, header: str = "") -> str:
    """Source of the module: ``SPEC``, ``PLAN`` (``kernels.codegen_plan.Plan``: how its lane body
    is laid out), ``lane_loop`` and ``train_range(b0, b1, data, net, st, runs,
    curve_epochs, out)``, the Numba function that trains blocks ``b0..b1-1`` with the arguments
    of ``kernels.bundles`` (``kernels.codegen`` runs ranges of blocks on threads).

    A kernel group has ``spec.lanes`` lanes: ``spec.lanes // LANES`` consecutive blocks of the
    arrays (``kernels.codegen_tuning.blocks_per_group``) trained together, lane ``ln`` of the group
    being lane ``ln % LANES`` of block ``b + ln // LANES``. Lanes past the last block of the
    range are never active. Each lane's numbers are its own whatever the grouping."""
    lay = Layout(spec, plan)
    L, P, n_p, n_in, n_out, n_te = spec.lanes, lay.P, spec.n_patterns, lay.n_in, lay.n_out, spec.n_test
    LB = LANES
    k = L // LB
    dt = f"np.{spec.dtype}"
    src_lane = "bb, lb = b + ln // {LB}, ln % {LB}".format(LB=LB) if k > 1 else "bb, lb = b, ln"
    slot_init = []
    for row, (_, init) in zip(lay.SLOT, lay.opt.slots):
        val = f"runs.hyper[bb, {ROW[init]}, lb]" if isinstance(init, str) else literal(init)
        slot_init += [f"    for p in range({P}):", f"        sf[{row} + p, ln] = {val}"]
    body = [f"nb = min({k}, b1 - b)",
            f"n_real = nb * {LB}",
            f"for ln in range({L}):",
            f"    for r in range({lay.NF}):",
            "        sf[r, ln] = 0.0",
            f"    for r in range({lay.NI}):",
            "        si[r, ln] = 0",
            "max_epochs = 0",
            "for ln in range(n_real):",
            f"    {src_lane}",
            f"    for p in range({P}):",
            f"        sf[{lay.TH} + p, ln] = runs.theta[bb, p, lb]",
            f"    for r in range({N_HYPER}):",
            f"        sf[{lay.HYP} + r, ln] = runs.hyper[bb, r, lb]",
            *slot_init,
            *[f"    sf[{row}, ln] = {literal(init)}" for row, (_, init) in zip(lay.LSLOT, lay.opt.lane_slots)],
            f"    sf[{lay.FMIN}, ln] = np.inf",
            *[f"    si[{lay.MS + m}, ln] = -1" for m in range(N_MILESTONES)],
            f"    si[{lay.ACT}, ln] = 1",
            *([f"    si[{lay.TBEST}, ln] = -1", f"    si[{lay.TBESTE}, ln] = -1",
               *[f"    si[{lay.TMS + m}, ln] = -1" for m in range(N_MILESTONES)]] if n_te else []),
            f"    si[{lay.EP}, ln] = runs.lane_int[bb, {IROW['epochs']}, lb]",
            f"    si[{lay.MAIN}, ln] = runs.lane_int[bb, {IROW['main']}, lb]",
            f"    si[{lay.ESTOP}, ln] = runs.lane_int[bb, {IROW['early_stop']}, lb]",
            f"    max_epochs = max(max_epochs, runs.lane_int[bb, {IROW['epochs']}, lb])",
            "ci = 0",
            "for e in range(max_epochs + 1):"]
    if spec.shuffle:
        body += ["    for ln in range(n_real):",
                 f"        {src_lane}",
                 "        shuffle_into(perm, runs.skey[bb, lb], e + 1)",
                 f"        for k in range({n_p}):",
                 "            pk = perm[k]",
                 f"            for i in range({n_in}):",
                 f"                sf[{lay.XS} + k * {n_in} + i, ln] = X[pk, i]",
                 f"            for j in range({n_out}):",
                 f"                sf[{lay.TS} + k * {n_out} + j, ln] = T[pk, j]"]
    body += ["    n_active = lane_loop(sf, si, X, T, tidx, Xte, Tte, tidxte, e)",
             "    if ci < n_curve and curve_epochs[ci] == e:",
             "        for ln in range(n_real):",
             f"            {src_lane}",
             f"            if si[{lay.RUN}, ln] == e:",
             f"                out.curve[bb, ci, 0, lb] = sf[{lay.FLOSS}, ln]",
             f"                out.curve[bb, ci, 1, lb] = sf[{lay.FMSE}, ln]",
             f"                out.curve[bb, ci, 2, lb] = si[{lay.CORR}, ln] / {n_p}",
             *([f"                out.curve[bb, ci, 3, lb] = sf[{lay.TLOSS}, ln]",
                f"                out.curve[bb, ci, 4, lb] = si[{lay.TCORR}, ln] / {n_te}"] if n_te else []),
             "        ci += 1",
             "    if n_active == 0:",
             "        break",
             "for ln in range(n_real):",
             f"    {src_lane}",
             f"    for p in range({P}):",
             f"        runs.theta[bb, p, lb] = sf[{lay.TH} + p, ln]",
             *[f"    out.ms[bb, {m}, lb] = si[{lay.MS + m}, ln]" for m in range(N_MILESTONES)],
             f"    out.run[bb, lb] = si[{lay.RUN}, ln]",
             f"    out.div[bb, lb] = si[{lay.DIV}, ln]",
             f"    out.fin[bb, {FIN_LOSS}, lb] = np.float64(sf[{lay.FLOSS}, ln])",
             f"    out.fin[bb, {FIN_MSE}, lb] = np.float64(sf[{lay.FMSE}, ln])",
             f"    out.fin[bb, {FIN_ACC}, lb] = si[{lay.CORR}, ln] / {n_p}",
             f"    out.fin[bb, {FIN_MIN}, lb] = np.float64(sf[{lay.FMIN}, ln])"]
    if n_te:
        body += [f"    out.test[bb, {TEST_LOSS}, lb] = np.float64(sf[{lay.TLOSS}, ln])",
                 f"    out.test[bb, {TEST_MSE}, lb] = np.float64(sf[{lay.TMSE}, ln])",
                 f"    out.test[bb, {TEST_ACC}, lb] = si[{lay.TCORR}, ln] / {n_te}",
                 f"    out.test[bb, {TEST_BEST}, lb] = si[{lay.TBEST}, ln] / {n_te} if si[{lay.TBEST}, ln] >= 0 else np.nan",
                 *[f"    out.test_ms[bb, {m}, lb] = si[{lay.TMS + m}, ln]" for m in range(N_MILESTONES)],
                 f"    out.test_ms[bb, {N_MILESTONES}, lb] = si[{lay.TBESTE}, ln]"]
    if spec.rec_out:
        body += [f"    for k in range({n_p}):",
                 f"        for j in range({n_out}):",
                 f"            out.out[bb, k, j, lb] = sf[{lay.OUT} + k * {n_out} + j, ln]"]
    src = [header.rstrip("\n"),
           "import numpy as np",
           "from numba import njit",
           "",
           "from kernels.codegen_emit import Spec",
           "from kernels.codegen_ir import make_lane_loop",
           "from kernels.codegen_plan import Plan",
           "from kernels.rng import shuffle_into",
           "",
           "SPEC = " + repr(spec),
           "PLAN = " + repr(plan),
           "lane_loop = make_lane_loop(SPEC, PLAN)",
           "",
           "",
           "@njit(cache=True, error_model='numpy', fastmath=False, nogil=True)",
           "def train_range(b0, b1, data, net, st, runs, curve_epochs, out):",
           '    """Train blocks b0..b1-1 in place (kernels.codegen_emit)."""',
           "    X, T, tidx, Xte, Tte, tidxte = data.X, data.T, data.tidx, data.Xte, data.Tte, data.tidxte",
           *_aligned_rows("sf", lay.NF, L, spec.dtype),
           *_aligned_rows("si", lay.NI, L, "int64"),
           f"    perm = np.empty({n_p}, np.int64)",
           "    n_curve = curve_epochs.shape[0]",
           f"    for b in range(b0, b1, {k}):",
           *["        " + line for line in body],
           ""]
    return "\n".join(src)


def _aligned_rows(name: str, n_rows: int, lanes: int, dtype: str) -> list[str]:
    """Source lines allocating ``name``, ``n_rows`` rows of ``lanes`` ``dtype`` values (a NumPy
    name), at a multiple of 64 bytes:
    Numba's ``np.empty`` aligns to 32, so half the time every 64-byte vector of a row straddled
    two cache lines (a split load or store, two accesses of L1 each)."""
    itemsize = np.dtype(dtype).itemsize
    size, pad = n_rows * lanes, CACHE_LINE // itemsize
    return [f"    {name}_buf = np.empty({size + pad}, np.{dtype})",
            f"    {name}_at = ({CACHE_LINE} - {name}_buf.ctypes.data % {CACHE_LINE}) % {CACHE_LINE} // {itemsize}",
            f"    {name} = {name}_buf[{name}_at:{name}_at + {size}].reshape(({n_rows}, {lanes}))"]
