"""How ``DaskBackend.map_chunks`` reads its futures: the next one to complete (even one
``as_completed`` never reports), what its result means, and the failure it yields."""
from __future__ import annotations

import time
import traceback

from sweep.run.backends.base import ChunkFailure
from sweep.run.execute import Chunk


#: Times a chunk is resubmitted after its future was cancelled or forgotten (not by us).
MAX_RESUBMITS = 20


def _outcome(result) -> str:
    """What a completed future's result means for its chunk:

    - ``done``: a ChunkResult;
    - ``lost``: cancelled or forgotten, the cluster lost it (its data died with its workers):
      run it again, it is not the chunk's fault;
    - ``killed``: ``KilledWorker``, the workers running it died ``allowed-failures`` times. A
      poison chunk (a segfault, out of memory) does that, but so does an innocent one when many
      workers die at once: the scheduler hands it to worker after worker that is already dead
      but not yet noticed. ``map_chunks`` runs it again a few times before giving up;
    - ``failed``: the task raised (after Dask's retries).
    """
    from concurrent.futures import CancelledError

    if isinstance(result, CancelledError):
        return "lost"
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
        exc = result[1]
        if isinstance(exc, CancelledError):
            return "lost"
        return "killed" if type(exc).__name__ == "KilledWorker" else "failed"
    return "done"


def _failure(chunk: Chunk, future, result) -> ChunkFailure:
    """A ChunkFailure from an erred (or cancelled) future, with the remote traceback."""
    if isinstance(result, tuple) and len(result) == 3:  # (type, exception, traceback)
        _, exc, tb = result
    else:  # cancelled: the result is the CancelledError
        exc, tb = result, None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if type(exc).__name__ == "KilledWorker":
        text += ("\nthe worker running this chunk died repeatedly (out of memory? a crash in the "
                 "kernel?); see distributed.scheduler.allowed-failures\n")
    return ChunkFailure(chunk, f"{type(exc).__name__}: {exc}", text)


#: Seconds without a completion after which ``map_chunks`` looks at its futures' own states.
STALL_S = 5.0


def _next_done(done_flow, in_flight: dict, client=None):
    """``next(done_flow)``: the next ``(future, result)`` to complete. A future that
    ``as_completed`` never reports (seen twice in the test suite, after a chunk's task failed:
    every worker idle and the client waiting for ever) is taken from its own status once nothing
    has completed for ``STALL_S`` seconds; one still pending while no worker processes anything
    for another ``STALL_S`` is cancelled (``map_chunks`` then resubmits it)."""
    from concurrent.futures import CancelledError

    t0, stalls = time.monotonic(), 0
    while not done_flow.has_ready():
        if time.monotonic() - t0 > STALL_S:
            stalls += 1
            for future in in_flight:
                if future.status == "finished":
                    return future, future.result()
                if future.status == "error":
                    exc = future.exception()
                    return future, (type(exc), exc, future.traceback())
                if future.status == "cancelled":
                    return future, CancelledError()
            busy = client.processing() if client is not None and stalls >= 2 else {}
            if busy and not any(busy.values()):      # workers there, all idle (none: wait for them)
                future = next(iter(in_flight))
                future.cancel()
                return future, CancelledError()
            t0 = time.monotonic()
        time.sleep(0.01)
    return next(done_flow)
