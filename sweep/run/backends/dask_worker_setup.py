"""Loaded by every worker of the ``LocalCluster`` that ``sweep run --dask-local N`` starts
(Dask ``preload``): the workers ignore SIGINT, so a Ctrl-C in the terminal, which reaches the
whole process group, stops the client (it cancels the chunks and closes the cluster) and
does not make every worker print a KeyboardInterrupt traceback; and distributed's log records
go to the backend's log file (``dask_logs``), not to the terminal."""
import os
import signal

from sweep.run.backends import dask_logs

try:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
except ValueError:  # not the main thread of the worker process: nothing to do
    pass

if os.environ.get(dask_logs.ENV):
    dask_logs.route(os.environ[dask_logs.ENV])
