"""Loaded by every worker of the ``LocalCluster`` that ``sweep run --dask-local N`` starts
(Dask ``preload``): the workers ignore SIGINT, so a Ctrl-C in the terminal, which reaches the
whole process group, stops the client (it cancels the chunks and closes the cluster) and
does not make every worker print a KeyboardInterrupt traceback."""
import signal

try:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
except ValueError:  # not the main thread of the worker process: nothing to do
    pass
