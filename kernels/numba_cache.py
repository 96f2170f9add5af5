"""Where Numba keeps the compiled code of a source file's ``cache=True`` functions.

Numba picks the folder per source file with its own locators, first match wins
(``numba.core.caching``): ``$NUMBA_CACHE_DIR/<dir>_<sha1 of the dir>`` when that variable is set,
else ``__pycache__`` beside the file if writable, else a per-user cache folder (or a class list
given in ``NUMBA_CACHE_LOCATOR_CLASSES``). ``cache_dir`` asks those same locators, so a check of
"is it compiled?" or "drop the stale files" looks where Numba itself reads and writes, whatever
the environment. Nothing is compiled; the folder is created if missing, as Numba would.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(py_file: str | Path) -> Path | None:
    """The folder of Numba's cache (``*.nbi`` index, ``*.nbc`` code) for functions defined in
    ``py_file``, or None when no locator accepts it (the file is missing, or no folder is
    writable: Numba then cannot cache it either)."""
    try:
        from numba.core.caching import CompileResultCacheImpl
    except ImportError:   # a Numba without it: its long-standing default
        return Path(py_file).resolve().parent / "__pycache__"
    ns: dict = {}
    # a function "defined in" py_file: the locators only read its file name and first line
    exec(compile("def _probe():\n    pass\n", str(py_file), "exec"), ns)
    try:
        return Path(CompileResultCacheImpl(ns["_probe"]).locator.get_cache_path())
    except RuntimeError:   # "cannot cache function ...: no locator available"
        return None
    except (AttributeError, TypeError):   # another Numba's internals: its long-standing default
        return Path(py_file).resolve().parent / "__pycache__"


def is_cached(dispatcher) -> bool:
    """Whether an ``@njit(cache=True)`` function will load rather than compile: it is compiled in
    this process, or Numba's on-disk index of it exists (some signature of it is cached). True
    when this Numba's cache object does not say where its index is (the optimistic answer)."""
    if dispatcher.overloads:
        return True
    index = getattr(getattr(getattr(dispatcher, "_cache", None), "_cache_file", None), "_index_path", None)
    return True if index is None else os.path.exists(index)
