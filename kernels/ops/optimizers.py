"""Training rules: each a pure ``update`` of one weight, with its state, defined once.

An optimizer declares
- ``hyper``: the per-run hyper-parameters it reads (names in ``kernels.ops.hyper.HYPER``); the grid
  accepts exactly these keys for it (``train.<name>``) and refuses to sweep any other;
- ``slots``: per-weight state, each ``(name, initial value or hyper-parameter name)``;
- ``lane_slots``: per-run state, each ``(name, initial value)``;
- ``lane(ls, h, loss) -> (ls_new, c)``: once per update and run (``loss``: the full-batch loss of
  the current weights, E(t)); ``c`` is a tuple of floats shared by the run's weights, named by
  ``consts``;
- ``update(w, g, s, h, c) -> (w_new, s_new)``: one weight, ``g = dE/dw`` (plus weight decay);
- ``full_batch = True`` (optional): a rule that needs the full-batch gradient (the grid refuses it
  with an online or minibatch schedule).
A run that has stopped keeps its weights (the kernels select the old value).

- sgd:       w -= lr g
- momentum:  v = mu v + g;  w -= lr v                                   (PyTorch; = RHW 1986 rule)
- adam:      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
             w -= (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)     (PyTorch's form)
- rprop (Riedmiller & Braun 1993; variants of Igel & Huesken 2000), s = g(t-1) g(t):
             s > 0: step = min(eta+ step, step_max);  s < 0: step = max(eta- step, step_min);
             dw = -sign(g) step.  "+" variants backtrack on s < 0 (dw = -dw(t-1); iRprop+ only
             when E(t) > E(t-1)) and take no step; "i" variants and "+" set g(t) = 0 when s < 0.
             torch.optim.Rprop is irprop- with step_init = lr, step bounds (1e-6, 50).
- quickprop (Fahlman 1988), p = dw(t-1), q = g(t-1), shrink = mu / (1 + mu):
             p = 0: dw = -lr g;  otherwise dw = [-lr g if g points on along p] +
             (mu p if g is at least shrink q in p's direction else p g / (q - g))   (the parabola).
"""
from __future__ import annotations

import numpy as np

from kernels.ops.prim import fmax, fmin, helper, like, select, sign, sqrt
from kernels.ops.registry import Registry

OPTIMIZERS = Registry("optimizer")


def _no_lane(ls, h, loss):
    """The per-run step of a rule with no per-run state."""
    return (), ()


@OPTIMIZERS.register("sgd", 0)
class SGD:
    hyper = ("lr",)
    slots = ()
    lane_slots = ()
    consts = ()

    lane = staticmethod(_no_lane)

    @staticmethod
    def update(w, g, s, h, c):
        return w - h[0] * g, ()


@OPTIMIZERS.register("momentum", 1)
class Momentum:
    hyper = ("lr", "momentum")
    slots = (("velocity", 0.0),)
    lane_slots = ()
    consts = ()

    lane = staticmethod(_no_lane)

    @staticmethod
    def update(w, g, s, h, c):
        v = h[1] * s[0] + g
        return w - h[0] * v, (v,)


@OPTIMIZERS.register("adam", 2)
class Adam:
    hyper = ("lr", "beta1", "beta2", "eps")
    slots = (("m", 0.0), ("v", 0.0))
    lane_slots = (("beta1_pow", 1.0), ("beta2_pow", 1.0))
    consts = ("lr_corrected", "sqrt_bias2")

    @staticmethod
    def lane(ls, h, loss):
        one = like(loss, 1.0)
        pw1 = ls[0] * h[1]
        pw2 = ls[1] * h[2]
        return (pw1, pw2), (h[0] / (one - pw1), sqrt(one - pw2))

    @staticmethod
    def update(w, g, s, h, c):
        one = like(w, 1.0)
        m = h[1] * s[0] + (one - h[1]) * g
        v = h[2] * s[1] + (one - h[2]) * (g * g)
        den = sqrt(v) / c[1] + h[3]
        return w - c[0] * (m / den), (m, v)


@helper
def rprop_step(step, prev_grad, g, h):
    """The new step size and whether the gradient changed sign (``down``)."""
    zero = like(g, 0.0)
    prod = prev_grad * g
    up = prod > zero
    down = prod < zero
    new = select(up, fmin(step * h[0], h[4]), select(down, fmax(step * h[1], h[3]), step))
    return new, down


def _rprop_plus(w, g, s, h, c):
    step, down = rprop_step(s[0], s[1], g, h)
    zero = like(w, 0.0)
    dw = select(down, -s[2], -(sign(g) * step))
    return w + dw, (step, select(down, zero, g), dw)


def _rprop_minus(w, g, s, h, c):
    step, down = rprop_step(s[0], s[1], g, h)
    dw = -(sign(g) * step)
    return w + dw, (step, g, dw)


def _irprop_plus_lane(ls, h, loss):
    return (loss,), (select(loss > ls[0], like(loss, 1.0), like(loss, 0.0)),)


def _irprop_plus(w, g, s, h, c):
    step, down = rprop_step(s[0], s[1], g, h)
    zero = like(w, 0.0)
    back = select(c[0] > like(w, 0.5), -s[2], zero)
    dw = select(down, back, -(sign(g) * step))
    return w + dw, (step, select(down, zero, g), dw)


def _irprop_minus(w, g, s, h, c):
    step, down = rprop_step(s[0], s[1], g, h)
    g_keep = select(down, like(w, 0.0), g)
    dw = -(sign(g_keep) * step)
    return w + dw, (step, g_keep, dw)


def _rprop(lane, update, lane_slots=(), consts=()):
    """One Rprop variant of Igel & Huesken (2000) as an optimizer op."""
    return type("Rprop", (), dict(
        hyper=("eta_plus", "eta_minus", "step_init", "step_min", "step_max"),  # no lr: its steps are its own
        slots=(("step", "step_init"), ("prev_grad", 0.0), ("prev_dw", 0.0)), full_batch=True,
        lane_slots=lane_slots, consts=consts, lane=staticmethod(lane), update=staticmethod(update)))


#: rprop variants: the grid says train.optimizer = "rprop" and train.rprop_variant.
RPROP_VARIANTS = {
    "rprop+": _rprop(_no_lane, _rprop_plus),
    "rprop-": _rprop(_no_lane, _rprop_minus),
    "irprop+": _rprop(_irprop_plus_lane, _irprop_plus, (("prev_loss", np.inf),), ("loss_rose",)),
    "irprop-": _rprop(_no_lane, _irprop_minus),
}
for _code, (_name, _op) in enumerate(RPROP_VARIANTS.items(), start=3):
    OPTIMIZERS.register(_name, _code)(_op)


@OPTIMIZERS.register("quickprop", 7)
class Quickprop:
    hyper = ("lr", "quickprop_mu")
    full_batch = True
    slots = (("prev_grad", 0.0), ("prev_dw", 0.0))
    lane_slots = ()
    consts = ("shrink",)

    @staticmethod
    def lane(ls, h, loss):
        return (), (h[1] / (like(loss, 1.0) + h[1]),)

    @staticmethod
    def update(w, g, s, h, c):
        zero = like(w, 0.0)
        p, q = s[1], s[0]
        pos = p > zero
        neg = p < zero
        along = (pos & (g < zero)) | (neg & (g > zero))
        grad_term = select(along, -(h[0] * g), zero)
        capped = select(pos, g <= c[0] * q, g >= c[0] * q)
        quad = select(capped, h[1] * p, p * g / (q - g))
        dw = select(pos | neg, grad_term + quad, -(h[0] * g))
        return w + dw, (g, dw)


def kernel_optimizer(optimizer: str, rprop_variant: str | None = None) -> str:
    """The registered op of a grid's ``train.optimizer`` (``rprop`` -> its variant)."""
    if optimizer == "rprop":
        return rprop_variant or "irprop+"
    return optimizer
