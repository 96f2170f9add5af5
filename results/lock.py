"""An exclusive lock on an output directory: an OS advisory lock the kernel releases.

``DirLock(path).acquire()`` opens ``path`` (created if missing) and takes ``flock(LOCK_EX |
LOCK_NB)`` on it. The kernel drops the lock when the process exits for any reason (``kill -9``,
a crash, a power cut of the client), so there is no stale-lock logic and no take-over race:
at most one process holds it at a time. The host and PID written into the file are only
information for the "in use by ..." message; they decide nothing.

Release unlinks the file and then unlocks. A process that opened the old file just before the
unlink could then lock an inode nobody else can see, so after locking, ``acquire`` checks that
the path still names the inode it locked and starts again if not.

NFS: Linux implements ``flock`` on NFSv4 (and on NFSv3 with a lock manager, ``nolock`` not set)
as a whole-file POSIX lock held by the server, so it excludes writers on other hosts too. If
the host holding it dies, the server frees it when the client's lease expires (NFSv4: about
90 s). On a mount with ``nolock``, or a file system without locks, the lock is only local to
each host: do not run two hosts on one directory there.
"""
from __future__ import annotations

import errno
import os
import socket

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system
    fcntl = None


class LockBusy(Exception):
    """Another process holds the lock; ``owner`` is the text it wrote ("host pid"), or ""."""

    def __init__(self, path: str, owner: str):
        self.path, self.owner = path, owner
        super().__init__(f"{path} is locked by {owner or 'another process'}")


class DirLock:
    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.fd: int | None = None

    def acquire(self) -> "DirLock":
        """Take the lock or raise :class:`LockBusy` at once (never waits)."""
        if fcntl is None:  # pragma: no cover
            raise OSError(errno.ENOSYS, "advisory file locks (fcntl) are not available on this system")
        for _ in range(100):  # only a release racing with us makes it loop
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise LockBusy(self.path, owner) from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder released (and unlinked) between our open and flock
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
            self.fd = fd
            return self
        raise OSError(errno.EAGAIN, f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: see the module docstring
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "DirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def is_held(path: str | os.PathLike) -> bool:
    """Whether some process holds the lock on ``path`` now, without taking it (a probe that took it,
    even for a moment, could make a ``sweep run`` starting then fail as "in use"). Linux: the
    file's inode among ``/proc/locks``; elsewhere a shared-lock probe."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    try:
        with open("/proc/locks") as fh:
            table = fh.read()
    except OSError:
        table = None
    if table is not None:
        inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        return any(inode in line.split() for line in table.splitlines() if "FLOCK" in line)
    if fcntl is None:  # pragma: no cover
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _read_owner(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
