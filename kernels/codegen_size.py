"""The size of a specialised kernel's lane body, counted without building its IR.

``body_size(spec, plan)`` emits the body (``codegen_ir._Body``) through a builder that only
counts instructions: what cold compile time grows with, what ``codegen_tuning`` chooses the
plan and the codegen options from, and what ``codegen.MAX_BODY`` bounds. The counting builder
has the interface of the real one (``_Counter`` stands in for llvmlite's ``IRBuilder``,
``_CountingGen`` for ``_Gen``); a loop (``_Gen.loop``) counts as one iteration, with constant
indices.
"""
from __future__ import annotations

import functools

from llvmlite import ir

from kernels.codegen_ir import _Body
from kernels.codegen_llvm import I, _Gen
from kernels.codegen_plan import Plan
from kernels.codegen_state import Args


class _Counter:
    """Stands in for an ``IRBuilder``: every instruction method counts one and returns a stub."""

    def __init__(self):
        self.module = ir.Module()
        # a block for instructions llvmlite's IRBuilder has no method for (``_Gen.opaque``)
        self.block = ir.Function(self.module, ir.FunctionType(ir.VoidType(), []), "count").append_basic_block()
        self.n = 0

    def __getattr__(self, name):
        def emit(*args, **kwargs):
            self.n += 1
            return _Stub()
        return emit


class _Stub:
    """An instruction's result: any type, metadata ignored."""

    type = ir.VoidType()

    def set_metadata(self, *args):
        pass


class _CountingGen(_Gen):
    """``_Gen`` whose loops count one iteration: ``count(state)``, else ``step(first, state)``
    (an int ``it``: constant indices, so no loop counter arithmetic and no phis)."""

    def loop(self, state, first, n_iter, step, count=None):
        return count(state) if count is not None else step(first, state)


@functools.lru_cache(maxsize=None)
def body_size(spec, plan: Plan) -> int:
    """Number of LLVM instructions in the lane body of ``spec`` emitted as ``plan`` says."""
    counter = _Counter()
    g = _CountingGen(counter, spec.dtype, plan.width)
    args = Args(*(_Stub() for _ in range(9)), I(g, _Stub()))
    _Body(spec, plan, g, args).emit()
    return counter.n
