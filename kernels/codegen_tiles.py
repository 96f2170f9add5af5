"""The memory schedule's addressing and loops (``kernels.codegen_epoch``): loops of index chunks,
grids of T x T tiles, and ``_Pass``, the rows of ``sf`` and the dataset a pass over patterns
reads and writes (parameters, skip matrices, a block's activations, logits and deltas).
"""
from __future__ import annotations

from llvmlite import ir

from kernels.codegen_llvm import I64
from kernels.ops import ACC_ARGMAX


def _c(v):
    return ir.Constant(I64, v)


def _ix(b, base, *terms):
    """``base + sum(index * stride)``: an int when every index is one, else int64 IR (``base``
    too may be either)."""
    if not isinstance(base, int):
        return _ix(b, 0, (base, 1), *terms)
    if all(isinstance(i, int) for i, _ in terms):
        return base + sum(i * s for i, s in terms)
    v, const = None, base
    for i, s in terms:
        if isinstance(i, int):
            const += i * s
        else:
            t = i if s == 1 else b.mul(i, _c(s))
            v = t if v is None else b.add(v, t)
    return b.add(v, _c(const)) if const else v


def _chunks(body, n, per_iter, step, state=()):
    """``state = step(idx, state)`` over ``0 .. n-1``, ``per_iter`` indices at a time: an LLVM
    loop (``idx`` int64 SSA values) while it runs at least twice, the rest unrolled (ints).
    ``per_iter`` at least ``n`` (``ALL``): the whole dimension unrolled."""
    g = body.g
    n_iter = n // per_iter
    state, first = list(state), 0
    if n_iter >= 2:
        state = body.loop(state, 0, n_iter, lambda it, cur: step([_ix(g.b, u, (it, per_iter)) for u in range(per_iter)], cur))
        first = n_iter * per_iter
    rest = list(range(first, n))
    for s in range(0, len(rest), per_iter):
        state = step(rest[s:s + per_iter], state)
    return state


def _tiles(body, n_rows, n_cols, t_rows, t_cols, step):
    """``step(rows, cols)`` over a grid of ``t_rows`` x ``t_cols`` tiles (rows outer), each dimension ``_chunks``."""

    def row(rows, state):
        return _chunks(body, n_cols, t_cols, lambda cols, st: step(rows, cols) or st, state)

    _chunks(body, n_rows, t_rows, row)


class _Pass:
    """A pass over ``n`` patterns, pattern ``s`` of the pass being pattern ``first + s`` of the
    dataset (natural order) or of the epoch's shuffled copy (``shuffled``), run a block of up to T
    patterns at a time: the block's pattern in slot ``u`` has its activations in rows
    ``AM + u * UA + unit`` and its deltas in ``DL + u * UA + unit``. Indices are ints or int64
    SSA values."""

    def __init__(self, body, n, first=0, shuffled=False, held_out=False):
        self.body, self.b, self.lay, self.sizes = body, body.g.b, body.layout, body.spec.sizes
        self.n, self.first, self.shuffled = n, first, shuffled
        self.uoff = self.lay.level_offsets()
        self.tile = self.lay.TEST_TILE if held_out else self.lay.TILE       # patterns per block
        args = body.args
        self.data = (args.xte, args.tte, args.tidxte) if held_out else (args.x, args.t, args.tidx)

    def w_row(self, l, j, i):
        return _ix(self.b, self.lay.TH + self.lay.w_off[l], (j, self.sizes[l]), (i, 1))

    def bias_row(self, l, j):
        return _ix(self.b, self.lay.TH + self.lay.b_off[l], (j, 1))

    def skip_row(self, pair, j, i):
        """The row of ``S_(m,k)[j, i]``, the skip connection from unit i of level k to unit j of level m."""
        return _ix(self.b, self.lay.TH + self.lay.skip_off[pair], (j, self.sizes[pair[1]]), (i, 1))

    def a_row(self, u, l, i):
        return _ix(self.b, self.lay.AM + self.uoff[l], (u, self.lay.UA), (i, 1))

    def d_row(self, u, l, i):
        return _ix(self.b, self.lay.DL + self.uoff[l], (u, self.lay.UA), (i, 1))

    def zo_row(self, u, j):
        return _ix(self.b, self.lay.ZO, (u, self.lay.n_out), (j, 1))

    def outputs(self, u):
        """The outputs and logits of the block's pattern in slot ``u`` (``forward`` stored them)."""
        n_out = self.lay.n_out
        return ([self.body.load_f(self.a_row(u, self.lay.nl, j)) for j in range(n_out)],
                [self.body.load_f(self.zo_row(u, j)) for j in range(n_out)])

    def k(self, s):
        """The pattern's index in the dataset (or in the shuffled copy)."""
        return _ix(self.b, 0, (self.first, 1), (s, 1))

    def x(self, s, i):
        body, lay = self.body, self.lay
        if self.shuffled:
            return body.load_f(_ix(self.b, lay.XS, (i, 1), (self.k(s), lay.n_in)))
        return body.load_data(self.data[0], _ix(self.b, 0, (i, 1), (self.k(s), lay.n_in)), "f")

    def t(self, s, j):
        body, lay = self.body, self.lay
        if self.shuffled:
            return body.load_f(_ix(self.b, lay.TS, (j, 1), (self.k(s), lay.n_out)))
        return body.load_data(self.data[1], _ix(self.b, 0, (j, 1), (self.k(s), lay.n_out)), "f")

    def cls(self, s):
        """The pattern's class (argmax accuracy), else None."""
        return self.body.load_data(self.data[2], self.k(s), "i") if self.body.spec.acc_mode == ACC_ARGMAX else None

    def a(self, ss, u, l, i):
        """Activation ``i`` of level ``l`` of the block's pattern in slot ``u`` (level 0: its
        input; ``ss``: the block's patterns)."""
        return self.x(ss[u], i) if l == 0 else self.body.load_f(self.a_row(u, l, i))

    def d(self, u, l, j):
        return self.body.load_f(self.d_row(u, l, j))

    def w(self, l, j, i):
        return self.body.load_f(self.w_row(l, j, i))


def _pairs(n, m):    # the (row, column) positions of an n x m tile, row-major
    return [(u, v) for u in range(n) for v in range(m)]


def _blocks(body, ps: _Pass, step, state=()):
    """``state = step(ss, state)`` over the pass's patterns, blocks of T in order."""
    return _chunks(body, ps.n, ps.tile, step, state)
