"""The execution interface every backend implements.

A backend receives the grid, the group plans and an iterable of chunks, and yields one
``ChunkResult`` or ``ChunkFailure`` per chunk, in any order, as they finish. It never
writes results: the runner writes each part atomically as it arrives, so every backend
shares the same resume rules and on-disk format.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

from sweep.run.execute import Chunk, ChunkResult, GroupPlan


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk that raised (after any retries): the sweep goes on without it."""

    chunk: Chunk
    error: str
    traceback: str


class NoWarmUp:
    """The warm-up handle of a backend whose workers warm themselves (Dask)."""

    sync_s = 0.0
    ahead_s = 0.0

    def close(self) -> None:
        pass


class Backend(Protocol):
    name: str

    def map_chunks(self, grid, plans: list[GroupPlan], chunks: Iterable[Chunk]
                   ) -> Iterator[ChunkResult | ChunkFailure]: ...

    def warm_up(self, plans: list[GroupPlan], chunks: list[Chunk]):
        """Compile or load the kernels the chunks need, as this backend runs them; returns a handle
        with ``sync_s`` (seconds waited), ``ahead_s`` (seconds compiling in the background) and
        ``close()`` (called when the sweep ends)."""

    def describe(self) -> str: ...

    def close(self) -> None: ...
