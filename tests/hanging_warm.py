"""A stand-in for ``warm_group`` in the compile-ahead helper (tests/test_compile_ahead_orphan.py):
it prints the helper's pid and then blocks, as a long cold compile would."""
import os
import sys
import threading


def hang(plan) -> float:
    print(os.getpid(), flush=True)
    sys.stdout.close()
    threading.Event().wait()
    return 0.0
