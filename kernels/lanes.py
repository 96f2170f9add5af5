"""Lane loops of the generic kernel, generated from the op registries (``kernels.ops``).

For every op family this module builds one ``@njit(inline="always")`` dispatcher whose branches
(one per registered op, on its code) each hold a loop over the ``LANES`` runs of a block calling
that op's scalar definition. The branch is outside the lane loop, so each loop vectorises. The
source is generated (``exec``) so that registering an op is all it takes to reach the generic
kernel; ``kernels.codegen_ir`` traces the same definitions for the specialised kernel.

Arrays are lane-last (``kernels.train``): ``A (n_pos, n_units, L)``, ``D (n_units, L)``,
``theta``/``G (P, L)``, ``S (MAX_SLOTS, P, L)`` per-weight optimizer state, ``LS (MAX_LANE_SLOTS,
L)`` per-run optimizer state, ``H (N_HYPER, L)`` hyper-parameters (rows ``kernels.ops.hyper.ROW``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.config import LANES, NJIT, NJIT_INLINE

#: Generated dispatchers have no source file, so no cache of their own (they are linked into their
#: cached callers). Those called per unit and pattern inline into the training loop (twice as fast
#: as calls); the optimizer update, called once per batch, stays a call (it is the largest: inlining
#: it would triple the compile time for no measurable speed).
_GEN = dict(NJIT_INLINE, cache=False)
_CALLED = dict(NJIT, cache=False)
from kernels.ops import ACTIVATIONS, LOSSES, MILESTONES, OPTIMIZERS
from kernels.ops.hyper import ROW

MAX_SLOTS = max(len(op.slots) for op in OPTIMIZERS.ops())
MAX_LANE_SLOTS = max(1, max(len(op.lane_slots) for op in OPTIMIZERS.ops()))


def _build(name: str, head: str, branches: list[tuple[int, list[str]]], env: dict, prologue=(), inline=True):
    """Compile ``def name(head): [prologue] if code == c: body ... `` with ``env`` as globals
    (``inline``: into its callers at the Numba IR level)."""
    lines = [f"def {name}({head}):", *("    " + p for p in prologue)]
    for i, (code, body) in enumerate(branches):
        lines.append(f"    {'if' if i == 0 else 'elif'} code == {code}:")
        lines += ["        " + b for b in (body or ["pass"])]
    src = "\n".join(lines) + "\n"
    ns = dict(env, LANES=LANES, np=np)
    exec(compile(src, f"<kernels.lanes.{name}>", "exec"), ns)
    fn = njit(**(_GEN if inline else _CALLED))(ns[name])
    fn.source = src
    return fn


def _jit(op, attr):
    """An op's scalar function, inlined (Numba IR) into the lane loops that call it, so they vectorise."""
    return njit(**dict(NJIT_INLINE, cache=False))(getattr(op, attr))


def _env(family, attr):
    return {f"{attr}_{op.code}": _jit(op, attr) for op in family.ops()}


activate = _build(
    "activate", "code, z, A, k, u, slope",
    [(op.code, ["for ln in range(LANES):",
                f"    A[k, u, ln] = forward_{op.code}(z[ln], slope[ln])"]) for op in ACTIVATIONS.ops()],
    _env(ACTIVATIONS, "forward"))
activate.__doc__ = "A[k, u, :] = f(z) for activation ``code``."

derive = _build(
    "derive", "code, A, k, u, D, slope, flat, fs",
    [(op.code, ["if flat:",
                "    for ln in range(LANES):",
                "        d = D[u, ln]",
                f"        D[u, ln] = backward_{op.code}(d, A[k, u, ln], slope[ln]) + fs[ln] * d",
                "else:",
                "    for ln in range(LANES):",
                f"        D[u, ln] = backward_{op.code}(D[u, ln], A[k, u, ln], slope[ln])"])
     for op in ACTIVATIONS.ops()],
    _env(ACTIVATIONS, "backward"))
derive.__doc__ = "D[u, :] = backward(D[u, :], a = A[k, u, :]) (+ flat-spot offset times D)."

loss_scale = _build(
    "loss_scale", "code, n_terms, one",
    [(op.code, [f"return scale_{op.code}(n_terms, one)"]) for op in LOSSES.ops()],
    _env(LOSSES, "scale"), prologue=())
loss_terms = _build(
    "loss_terms", "code, A, Zo, Tt, k, out0, o, m_loss",
    [(op.code, ["for ln in range(LANES):",
                f"    m_loss[ln] += term_{op.code}(A[k, out0 + o, ln], Tt[k, o, ln], Zo[k, o, ln])"]
      if op.uses_terms else []) for op in LOSSES.ops()],
    {f"term_{op.code}": _jit(op, "term") for op in LOSSES.ops() if op.uses_terms})
loss_values = _build(
    "loss_values", "code, m_tss, m_loss, n_terms",
    [(op.code, ["for ln in range(LANES):",
                f"    m_loss[ln] = value_{op.code}(m_tss[ln], m_loss[ln], n_terms)"]) for op in LOSSES.ops()],
    _env(LOSSES, "value"))
_LOGIT = np.array([op.logit_delta for op in sorted(LOSSES.ops(), key=lambda o: o.code)])


@njit(**NJIT_INLINE)
def logit_delta(code):
    """Whether loss ``code``'s output delta skips the output activation's derivative."""
    return _LOGIT[code]


def _milestone_src():
    args = "corr, n_patterns, fahl_ok, tss, ls, tss_below, loss_below"
    body = [f"return ({', '.join(f'met_{op.code}({args})' for op in MILESTONES.ops())},)"]
    src = f"def milestones_met({args}):\n    " + "\n    ".join(body) + "\n"
    ns = _env(MILESTONES, "met")
    exec(compile(src, "<kernels.lanes.milestones_met>", "exec"), ns)
    return njit(**dict(NJIT_INLINE, cache=False))(ns["milestones_met"])


#: ``milestones_met(corr, n_patterns, fahl_ok, tss, loss, tss_below, loss_below)`` -> one bool
#: per milestone, in code order.
milestones_met = _milestone_src()


def literal(v) -> str:
    """Python source of a float constant (``np.inf`` included)."""
    v = float(v)
    return ("np.inf" if v > 0 else "-np.inf") if np.isinf(v) else repr(v)


def _tuple(items):
    return "(" + "".join(f"{i}, " for i in items) + ")"


def _update_body(op):
    h = _tuple(f"H[{ROW[n]}, ln]" for n in op.hyper)
    ls = _tuple(f"LS[{i}, ln]" for i in range(len(op.lane_slots)))
    s = _tuple(f"S[{i}, p, ln]" for i in range(len(op.slots)))
    n_c = len(op.consts)
    body = ["for ln in range(LANES):",
            f"    ls_new, c = lane_{op.code}({ls}, {h}, loss_now[ln])"]
    body += [f"    LS[{i}, ln] = ls_new[{i}]" for i in range(len(op.lane_slots))]
    body += [f"    C[{i}, ln] = c[{i}]" for i in range(n_c)]
    body += ["for p in range(theta.shape[0]):",
             "    for ln in range(LANES):",
             "        w = theta[p, ln]",
             f"        w_new, s_new = update_{op.code}(w, G[p, ln], {s}, {h}, {_tuple(f'C[{i}, ln]' for i in range(n_c))})"]
    body += [f"        S[{i}, p, ln] = s_new[{i}]" for i in range(len(op.slots))]
    body += ["        theta[p, ln] = w_new if active[ln] == 1 else w",
             "        psum[ln] += w_new"]
    return body


def _init_body(op):
    body = ["for ln in range(LANES):"]
    for i, (_, init) in enumerate(op.slots):
        val = f"H[{ROW[init]}, ln]" if isinstance(init, str) else literal(init)
        body += [f"    for p in range(S.shape[1]):", f"        S[{i}, p, ln] = {val}"]
    for i, (_, init) in enumerate(op.lane_slots):
        body += [f"    LS[{i}, ln] = {literal(init)}"]
    return body if len(body) > 1 else []


MAX_CONSTS = max(1, max(len(op.consts) for op in OPTIMIZERS.ops()))

update = _build(
    "update", "code, theta, G, S, LS, H, C, loss_now, psum, active",
    [(op.code, _update_body(op)) for op in OPTIMIZERS.ops()],
    {**_env(OPTIMIZERS, "lane"), **_env(OPTIMIZERS, "update")},
    prologue=["for ln in range(LANES):", "    psum[ln] = 0.0"], inline=False)
update.__doc__ = "One update of every weight of the block by optimizer ``code`` (module docstring)."

init_state = _build(
    "init_state", "code, S, LS, H",
    [(op.code, _init_body(op)) for op in OPTIMIZERS.ops()], {}, inline=False)
init_state.__doc__ = "Initial per-weight and per-run optimizer state (the ops' ``slots``)."


@njit(**NJIT_INLINE)
def add_decay(G, theta, wd):
    """G += wd theta: L2 weight decay folded into the gradient (``train.weight_decay``)."""
    for p in range(G.shape[0]):
        for ln in range(LANES):
            G[p, ln] = G[p, ln] + wd[ln] * theta[p, ln]
