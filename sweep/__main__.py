"""``python -m sweep`` and the ``sweep`` console script: a Ctrl-C at any moment, even during the
imports (numba, pyarrow: a second or two) or a compile, ends with one line and exit code 130,
never a traceback.

Three details of CPython and its extensions need care (seen under load, about one Ctrl-C in
eight before these fixes):

- a KeyboardInterrupt raised inside a C callback (LLVM calling Numba's object cache through
  ctypes while a kernel compiles) is printed as "Exception ignored" and dropped: the hook below
  drops the print and delivers the interrupt again to the main thread, in Python code;
- after some interrupted imports or compiles the interpreter ends by SIGINT (-2) instead of
  with ``sys.exit(130)``, the message printed (about one Ctrl-C in fifteen under load; where
  in CPython or an extension the interrupt is re-raised is not pinned down): the exit code is
  made final with ``os._exit`` once everything is flushed (the backends are closed by then);
- an extension module whose initialisation is interrupted raises ImportError ("initialization
  failed"): an error after a Ctrl-C counts as the interruption (``sigint_received``).
"""
import os
import signal
import sys

# ``python -m sweep`` runs this file as ``__main__``; without the alias, ``sweep.cli``'s
# ``from sweep.__main__ import sigint_received`` would import a second copy whose record of
# Ctrl-Cs stays empty (an interrupted import then ended in a traceback, about one in 35 under load)
sys.modules.setdefault("sweep.__main__", sys.modules[__name__])

_SIGINTS: list = []


def sigint_received() -> bool:
    """Whether a Ctrl-C reached this process."""
    return bool(_SIGINTS)


def _on_sigint(signum, frame):
    _SIGINTS.append(signum)
    raise KeyboardInterrupt


def _redeliver_interrupts() -> None:
    import threading

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    default = sys.unraisablehook

    main_thread = threading.main_thread().ident

    def redeliver():
        # a real signal to the main thread: it also ends a blocking call there (EINTR), which
        # _thread.interrupt_main (a flag checked between bytecodes) would leave running
        if callable(signal.getsignal(signal.SIGINT)):
            signal.pthread_kill(main_thread, signal.SIGINT)

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            threading.Timer(0.01, redeliver).start()
            return
        default(unraisable)

    sys.unraisablehook = hook


def exit_interrupted(code: int) -> None:
    """Exit with ``code``; 130 (interrupted) without a chance for the interpreter to turn it
    into a SIGINT exit. The work is done either way: a Ctrl-C during the interpreter's
    shut-down is ignored rather than ending a finished run by SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code != 130:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe: nothing more to say
            pass
    os._exit(130)


def main() -> None:
    _redeliver_interrupts()
    try:
        from sweep.cli import entrypoint
    except BaseException as exc:
        if not (isinstance(exc, KeyboardInterrupt) or sigint_received()):
            raise
        sys.stderr.write("\ninterrupted\n")
        exit_interrupted(130)
    entrypoint()


if __name__ == "__main__":
    main()
