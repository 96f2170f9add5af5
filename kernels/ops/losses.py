"""Losses: the output delta dE/dz and the loss value over a dataset of ``nb`` patterns, ``n_out``
outputs (``n_terms = nb n_out``; y outputs, t targets, z logits, tss = sum (y - t)^2):

- sse:  E = 1/2 tss                                 dE/dz = (y - t) f'(y)
- mse:  E = tss / n_terms                           dE/dz = 2 (y - t) f'(y) / n_terms
- bce:  E = sum softplus(z) - t z / n_terms         dE/dz = (sigmoid(z) - t) / n_terms
  (the stable form of -[t log y + (1-t) log(1-y)]; needs a sigmoid output).

``scale(n_terms, one)`` is the constant factor of dE/dz (in the float type of ``one``); the delta
is ``scale (y - t)``, then the output activation's ``backward`` unless ``logit_delta``.
``term(y, t, z)`` (only where ``uses_terms``) is summed over patterns and outputs; ``value(tss,
terms, n_terms)`` gives E.
"""
from __future__ import annotations

from kernels.ops.elementary import softplus
from kernels.ops.prim import like
from kernels.ops.registry import Registry

LOSSES = Registry("loss")


@LOSSES.register("sse", 0)
class SSE:
    logit_delta = False
    uses_terms = False
    needs_output = None

    @staticmethod
    def scale(n_terms, one):
        return one

    @staticmethod
    def value(tss, terms, n_terms):
        return like(tss, 0.5) * tss


@LOSSES.register("mse", 1)
class MSE:
    logit_delta = False
    uses_terms = False
    needs_output = None

    @staticmethod
    def scale(n_terms, one):
        return (one + one) / n_terms

    @staticmethod
    def value(tss, terms, n_terms):
        return tss / n_terms


@LOSSES.register("bce", 2)
class BCE:
    logit_delta = True
    uses_terms = True
    needs_output = "sigmoid"

    @staticmethod
    def scale(n_terms, one):
        return one / n_terms

    @staticmethod
    def term(y, t, z):
        return softplus(z) - t * z

    @staticmethod
    def value(tss, terms, n_terms):
        return terms / n_terms
