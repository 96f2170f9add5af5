"""The default backend: chunks run one after another in this process; each kernel call
spreads its blocks of runs over Numba's threads. No server needed. Kernels are warmed by
``sweep.run.compile_ahead``: the first group's here, the later groups' in a helper process while
the first group trains (``compile_ahead=False``: all of them here, before the first chunk)."""
from __future__ import annotations

import traceback
from typing import Iterable, Iterator

import numba

from sweep.run.backends.base import ChunkFailure
from sweep.run.execute import Chunk, ChunkResult, GroupPlan, execute_chunk


class LocalBackend:
    name = "local"

    def __init__(self, threads: int | None = None, compile_ahead: bool = True):
        self.compile_ahead = compile_ahead
        self._warm = None
        if threads:
            numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
        self.threads = numba.get_num_threads()

    def describe(self) -> str:
        return f"local backend, {self.threads} thread(s)"

    compile_stream = None   # where to say which cold kernel compiles here (`sweep run` sets stderr)

    def warm_up(self, plans: list[GroupPlan], chunks: list[Chunk]):
        """The first group's kernels now, the other cold ones in a helper process while it trains
        (``sweep.run.compile_ahead``); a cold one compiled here is one line on ``compile_stream``."""
        from sweep.run.compile_ahead import CompileAhead
        self._warm = CompileAhead(plans, chunks, background=self.compile_ahead,
                                  stream=self.compile_stream).start()
        return self._warm

    def map_chunks(self, grid, plans: list[GroupPlan], chunks: Iterable[Chunk]
                   ) -> Iterator[ChunkResult | ChunkFailure]:
        for chunk in chunks:
            try:
                if self._warm is not None:  # a group compiled ahead: wait for its kernels
                    self._warm.wait(chunk.group)
                yield execute_chunk(grid, plans[chunk.group], chunk)
            except Exception as exc:  # a failure is data: report it, keep going
                yield ChunkFailure(chunk, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def close(self) -> None:
        pass
