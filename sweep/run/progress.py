"""A tqdm progress bar of runs done/total with network-epochs per second and the ETA.

The bar counts the whole sweep: a resumed run starts at the runs already there (``done``), so it
reads ``1.2k/2.0k`` rather than counting only the remaining runs; the rate and ETA are of the runs
trained now. Nothing to train draws no bar at all.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, pending_runs: int, enabled: bool = True, stream=sys.stderr, done: int = 0):
        self.t0 = time.perf_counter()
        self.network_epochs = 0
        self.bar = tqdm(total=done + pending_runs, initial=done, unit="run", unit_scale=True,
                        disable=not enabled or pending_runs <= 0, file=stream, dynamic_ncols=True, smoothing=0.1)

    def update(self, runs: int, network_epochs: int) -> None:
        self.network_epochs += network_epochs
        rate = self.network_epochs / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.set_postfix_str(f"{rate / 1e6:.1f} M net-epochs/s", refresh=False)
        self.bar.update(runs)

    def close(self) -> None:
        self.bar.close()
