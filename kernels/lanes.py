"""Lane loops of the loss-and-gradient kernel (``kernels.gradient``), generated from the op
registries (``kernels.ops``).

For every op family this module builds one ``@njit(inline="always")`` dispatcher whose branches
(one per registered op, on its code) each hold a loop over the ``LANES`` runs of a block calling
that op's scalar definition. The branch is outside the lane loop, so each loop vectorises. The
source is generated (``exec``) so that registering an op is all it takes to reach this kernel;
``kernels.codegen_ir`` traces the same definitions for the training kernels.

Arrays are lane-last (``kernels.gradient``): ``A (n_pos, n_units, L)``, ``D (n_units, L)``,
``theta``/``G (P, L)``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.config import LANES, NJIT_INLINE

#: Generated dispatchers have no source file, so no cache of their own (they are linked into their
#: cached callers), and inline into their loops (twice as fast as calls).
_GEN = dict(NJIT_INLINE, cache=False)
from kernels.ops import ACTIVATIONS, LOSSES


def _build(name: str, head: str, branches: list[tuple[int, list[str]]], env: dict, prologue=()):
    """Compile ``def name(head): [prologue] if code == c: body ... `` with ``env`` as globals,
    inlined into its callers at the Numba IR level."""
    lines = [f"def {name}({head}):", *("    " + p for p in prologue)]
    for i, (code, body) in enumerate(branches):
        lines.append(f"    {'if' if i == 0 else 'elif'} code == {code}:")
        lines += ["        " + b for b in (body or ["pass"])]
    src = "\n".join(lines) + "\n"
    ns = dict(env, LANES=LANES, np=np)
    exec(compile(src, f"<kernels.lanes.{name}>", "exec"), ns)
    fn = njit(**_GEN)(ns[name])
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
