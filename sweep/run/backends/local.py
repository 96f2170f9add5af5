"""The default backend: chunks run one after another in this process; each kernel call
spreads its blocks of runs over threads with Numba's ``prange``. No server needed."""
from __future__ import annotations

import traceback
from typing import Iterable, Iterator

import numba

from sweep.run.backends.base import ChunkFailure
from sweep.run.execute import Chunk, ChunkResult, GroupPlan, execute_chunk


class LocalBackend:
    name = "local"

    def __init__(self, threads: int | None = None):
        if threads:
            numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
        self.threads = numba.get_num_threads()

    def describe(self) -> str:
        return f"local backend, {self.threads} thread(s)"

    def map_chunks(self, grid, plans: list[GroupPlan], chunks: Iterable[Chunk]
                   ) -> Iterator[ChunkResult | ChunkFailure]:
        for chunk in chunks:
            try:
                yield execute_chunk(grid, plans[chunk.group], chunk)
            except Exception as exc:  # a failure is data: report it, keep going
                yield ChunkFailure(chunk, f"{type(exc).__name__}: {exc}", traceback.format_exc())

    def close(self) -> None:
        pass
