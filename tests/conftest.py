"""Test-session setup: generated kernels go to a test-only cache, never the user's.

``MLP_SWEEP_CACHE`` is set for the whole session (subprocess tests inherit it) before any test
module imports ``kernels``:

- by default to ``.pytest_cache/d/mlp-sweep-kernels`` (pytest's own cache folder, kept between
  sessions, so ``python -m pytest -m "not slow"`` reuses the kernels a previous session compiled:
  the "warm kernel cache" of the fast loop; ``pytest --cache-clear`` empties it);
- to a fresh session-wide temporary directory with ``MLP_SWEEP_TEST_CACHE=fresh`` (or when
  pytest's cache is disabled, ``-p no:cacheprovider``), for a cold run;
- to ``DIR`` with ``MLP_SWEEP_TEST_CACHE=DIR``.

A user's own ``MLP_SWEEP_CACHE`` (or the default ``~/.cache/mlp-sweep/kernels``) is never
written by the tests.
"""
from __future__ import annotations

import os
import tempfile

_FRESH = None


def pytest_configure(config):
    global _FRESH
    choice = os.environ.get("MLP_SWEEP_TEST_CACHE", "").strip()
    cache = getattr(config, "cache", None)
    if choice and choice != "fresh":
        path = choice
    elif choice != "fresh" and cache is not None:
        path = str(cache.mkdir("mlp-sweep-kernels"))
    else:
        _FRESH = tempfile.TemporaryDirectory(prefix="mlp-sweep-test-kernels-")
        path = _FRESH.name
    os.environ["MLP_SWEEP_CACHE"] = path


def pytest_collection_modifyitems(config, items):
    """The tests marked slow first (each 10 s to minutes, most of them compiling kernels cold),
    then the rest, each group in its own order. pytest-xdist's default scheduling deals the first
    quarter out in turn and the rest as workers free up, so the workers share the long tests at
    the start and even out on the short ones at the end (longest first, as in list scheduling;
    on 2 cores the run had ended with one worker on the forced-width tests alone)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_report_header(config):
    return f"kernel cache (MLP_SWEEP_CACHE): {os.environ.get('MLP_SWEEP_CACHE')}"


def pytest_unconfigure(config):
    if _FRESH is not None:
        _FRESH.cleanup()
