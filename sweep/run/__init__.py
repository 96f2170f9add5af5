"""Running a grid: planning pending chunks from what is on disk (``runner``, ``pending``,
``done``, ``chunking``), the session's record in the manifest (``session``), writing parts
(``part_writer``), repairing a directory (``repair``), executing a chunk (``execute``), progress and
summary, sequential seeds (``sequential``, ``seq_cells``, ``seq_plan``), input checks (``checks``),
Ctrl-C (``interrupt``) and the backends (``backends``: local, Dask).

``run_sweep(grid, out_dir, backend=...)`` is the entry point.
"""


def __getattr__(name):
    if name == "run_sweep":
        from sweep.run.runner import run_sweep
        return run_sweep
    raise AttributeError(name)
