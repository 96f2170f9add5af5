"""The size of a specialised kernel's lane body, counted without building its IR.

``body_size(spec)`` traces the body (``codegen_ir._Body``) through a builder that only counts
instructions: what cold compile time grows with, and what ``codegen_tuning`` chooses the
epoch's loops and codegen options from and ``codegen.MAX_BODY`` bounds.
"""
from __future__ import annotations

import functools

from llvmlite import ir

from kernels.codegen_emit import Layout
from kernels.codegen_llvm import I, _Gen
from kernels.codegen_tuning import vector_width


class _Counter:
    """Stands in for an ``IRBuilder``: counts the instructions a body would have."""

    def __init__(self):
        self.module = ir.Module()
        self.n = 0

    def __getattr__(self, name):
        def emit(*args, **kwargs):
            self.n += 1
            return _Stub()
        return emit


class _Stub:
    def set_metadata(self, *args):
        pass


@functools.lru_cache(maxsize=None)
def body_size(spec, mode=None, chunk=None, units=None):
    """Number of LLVM instructions in the lane body of ``spec`` (what compile time grows with),
    its batches in ``mode`` (``codegen_loops.MODES``; default ``batch_mode(spec)``), its
    evaluation loop over ``chunk`` patterns (default ``pattern_chunk(spec)``), its hidden layer a
    loop over ``units`` units (default ``unit_chunk(spec)``; 0: unrolled)."""
    counter = _Counter()
    g = _Gen(counter, spec.dtype, vector_width(spec))
    stubs = [_Stub() for _ in range(6)]
    from kernels.codegen_ir import _Body
    _Body(spec, Layout(spec), g, *stubs, I(g, _Stub()), mode=mode, chunk=chunk, units=units).emit()
    return counter.n
