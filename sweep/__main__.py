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
  failed"): an error after a Ctrl-C counts as the interruption (``sigint_received``). Such an
  ImportError can also be *caught*: numba._dispatcher's initialisation turns a Ctrl-C in its
  import of numba._devicearray into ImportError (printing the KeyboardInterrupt's traceback with
  ``PyErr_Print``), and ``kernels.numba_cache`` imports Numba first, under a fallback for an older
  Numba (``except ImportError``): the run went on with Numba half-imported (a fresh ``numba``
  module without ``.core``), its chunks failed, exit 1. So Numba is imported here first, where
  such an error is seen; the hook below keeps ``PyErr_Print`` quiet about a KeyboardInterrupt;
  and a Ctrl-C that reached the handler but whose KeyboardInterrupt some fallback swallowed is
  raised again at the next check (``raise_if_interrupted``: after the imports, before the
  training, at each chunk), so a half-imported module is never used.
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


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C reached this process: a check at points where any
    KeyboardInterrupt of it would have ended the work, so one that a library swallowed (an
    ImportError caught as "not installed", a failure taken as data) still ends it."""
    if _SIGINTS:
        raise KeyboardInterrupt


def _quiet_printed_interrupts() -> None:
    """An extension that prints a KeyboardInterrupt, or any error after a Ctrl-C (the ImportError
    of a nested extension whose initialisation it interrupted), with ``PyErr_Print`` (which calls
    ``sys.excepthook``) before raising its own error prints nothing: the Ctrl-C is reported once,
    as "interrupted"."""
    default = sys.excepthook

    def hook(kind, value, tb):
        if not (issubclass(kind, KeyboardInterrupt) or _SIGINTS):
            default(kind, value, tb)
    sys.excepthook = hook


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
    _quiet_printed_interrupts()
    try:
        import numba  # noqa: F401  first here, not under a library's `except ImportError` (see above)

        from sweep.cli import entrypoint
        raise_if_interrupted()
    except BaseException as exc:
        if not (isinstance(exc, KeyboardInterrupt) or sigint_received()):
            raise
        sys.stderr.write("\ninterrupted\n")
        exit_interrupted(130)
    entrypoint()


if __name__ == "__main__":
    main()
