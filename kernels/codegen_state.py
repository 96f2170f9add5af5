"""The named values a specialised kernel's lane body (``kernels.codegen_ir._Body``) works on.

``Args``: what the body is given (pointers and the epoch); ``Hyper``: the per-run
hyper-parameters every epoch reads. Values are ``kernels.codegen_llvm`` vectors (``F``, ``I``) of the body's W lanes, or llvmlite IR values.
"""
from __future__ import annotations

from typing import NamedTuple

from llvmlite import ir

from kernels.codegen_llvm import F, I


class Args(NamedTuple):
    """What the lane body reads and writes: pointers to the block state and the dataset (as
    ``kernels.codegen_emit`` lays them out), the first lane and the epoch."""

    sf: ir.Value        # float block state, (NF, lanes) row-major
    si: ir.Value        # int64 block state, (NI, lanes)
    x: ir.Value         # inputs, (n_patterns, n_in)
    t: ir.Value         # targets, (n_patterns, n_out)
    tidx: ir.Value      # each pattern's class (argmax accuracy), (n_patterns,)
    xte: ir.Value       # the held-out set's inputs, (n_test, n_in)
    tte: ir.Value       # its targets, (n_test, n_out)
    tidxte: ir.Value    # its classes, (n_test,)
    ln0: ir.Value       # int64: the first of the body's W lanes
    epoch: I            # the epoch, in every lane


class Hyper(NamedTuple):
    """The per-run hyper-parameters every epoch reads (F values; None when the spec lacks them)."""

    slope: F                # leaky ReLU slope
    flat_spot: F | None     # Fahlman's flat-spot offset (``spec.flat``)
    weight_decay: F | None  # (``spec.decay``)
