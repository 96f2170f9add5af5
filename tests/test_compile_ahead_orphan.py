"""A ``kill -9`` of ``sweep run`` during compile-ahead ends the helper process too (issue 29,
item 4): the helper would otherwise compile on for tens of seconds with nobody to use it."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the "sweep": starts the helper with a warm-up that never ends, then waits to be killed
PARENT = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import hanging_warm
from sweep.run.compile_ahead import CompileAhead
ahead = CompileAhead([None], [])
ahead._spawn([0], warm=hanging_warm.hang)
sys.stdin.read()
"""


def _exited(pidfd: int, timeout_s: float) -> bool:
    poll = select.poll()
    poll.register(pidfd, select.POLLIN)      # readable once the process has exited
    return bool(poll.poll(timeout_s * 1000))


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux 5.3+)")
def test_kill_9_of_the_sweep_ends_the_compile_ahead_helper(tmp_path):
    code = PARENT.format(root=str(ROOT), tests=str(ROOT / "tests"))
    err = tmp_path / "stderr"                 # the resource tracker's note on the killed parent goes here
    with open(err, "wb") as fh:
        parent = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fh)
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), err.read_text()
        helper = int(line)                          # the helper is inside its (endless) warm-up
        pidfd = os.pidfd_open(helper)
        assert not _exited(pidfd, 0)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        # a generous bound: it ends at once (the kernel's SIGKILL); before, it never ended here
        assert _exited(pidfd, 60), f"the helper {helper} outlived the sweep killed by kill -9"
        os.close(pidfd)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdin.close()
        parent.stdout.close()
