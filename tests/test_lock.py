"""The output directory's lock: an OS advisory lock, exactly one writer however starts collide."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from results.lock import DirLock, LockBusy

ROOT = Path(__file__).resolve().parents[1]

# Each contender blocks on a shared lock of the start file (the test holds it exclusively),
# tries once when the test lets go, and reports by exit code; the winner then holds the lock
# until the test lets go of a second file, so every contender tries while the winner holds it.
CONTENDER = r"""
import fcntl, os, sys
from results.lock import DirLock, LockBusy
lock_path, go, release, ready = sys.argv[1:5]
open(os.path.join(ready, str(os.getpid())), "w").close()
fcntl.flock(os.open(go, os.O_RDONLY), fcntl.LOCK_SH)
try:
    lock = DirLock(lock_path).acquire()
except LockBusy as exc:
    print(exc.owner)
    sys.exit(3)
print("won", flush=True)
fcntl.flock(os.open(release, os.O_RDONLY), fcntl.LOCK_SH)
lock.release()
"""


@pytest.mark.slow
def test_200_simultaneous_starts_give_exactly_one_writer(tmp_path):
    import fcntl

    lock = tmp_path / "_lock"
    lock.write_text("deadhost 1\n")  # a stale lock file from a dead process: no obstacle
    go, release = tmp_path / "go", tmp_path / "release"
    go_fd, rel_fd = os.open(go, os.O_CREAT | os.O_RDWR), os.open(release, os.O_CREAT | os.O_RDWR)
    fcntl.flock(go_fd, fcntl.LOCK_EX)
    fcntl.flock(rel_fd, fcntl.LOCK_EX)
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(lock), str(go), str(release), str(ready)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(200)]
    try:
        deadline = time.monotonic() + 120  # generous: the machine may be busy
        while len(os.listdir(ready)) < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(os.listdir(ready)) == 200, "not every contender reached the start line"
        time.sleep(0.1)  # the last ones go from their marker file to the lock call
        fcntl.flock(go_fd, fcntl.LOCK_UN)
        codes = {}
        deadline = time.monotonic() + 120
        while sum(c == 3 for c in codes.values()) < 199 and time.monotonic() < deadline:
            for p in procs:
                if p not in codes and p.poll() is not None:
                    codes[p] = p.returncode
            time.sleep(0.05)
        losers = [p for p, c in codes.items() if c == 3]
        running = [p for p in procs if p not in codes]
        assert len(losers) == 199 and len(running) == 1, (len(losers), len(running), set(codes.values()))
        winner = running[0]
        # the host/PID text is information only: a loser may read it before the winner has written
        # it, so most (not all) losers name the winner
        named = sum(p.stdout.read().strip().endswith(f" {winner.pid}") for p in losers[:20])
        assert named >= 10, named
    finally:
        fcntl.flock(rel_fd, fcntl.LOCK_UN)
        for p in procs:
            p.wait(timeout=30)
    assert winner.returncode == 0 and winner.stdout.read().strip() == "won"
    assert not lock.exists()


CHURN = r"""
import os, sys, time
from results.lock import DirLock, LockBusy
lock_path, marker, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
got = 0
while got < n:
    try:
        with DirLock(lock_path):
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another holder is inside
            time.sleep(0.0005)
            os.close(fd)
            os.unlink(marker)
            got += 1
    except LockBusy:
        pass
"""


@pytest.mark.slow
def test_take_and_release_churn_never_has_two_holders(tmp_path):
    """Acquire/release races (release unlinks the file) never let two processes in at once."""
    lock, marker = tmp_path / "_lock", tmp_path / "inside"
    procs = [subprocess.Popen([sys.executable, "-c", CHURN, str(lock), str(marker), "40"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    errs = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errs


def test_lock_is_released_by_the_kernel_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "_lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from results.lock import DirLock; "
                               "DirLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)", str(path)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(LockBusy) as info:
        DirLock(path).acquire()
    assert info.value.owner.endswith(str(holder.pid))
    holder.kill()
    holder.wait()
    assert path.exists()  # kill -9 leaves the file, but not the lock
    with DirLock(path) as lock:
        assert path.read_text().split() == [os.uname().nodename, str(os.getpid())]
        with pytest.raises(LockBusy):
            DirLock(path).acquire()  # a second open file in the same process is refused too
        assert lock.fd is not None
    assert not path.exists()
