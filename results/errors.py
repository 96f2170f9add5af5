"""The results package's own exceptions (``sweep.errors`` re-exports them for the CLI).

A :class:`SweepError` is an expected failure with a message for the user: the CLI prints it
on one line and exits with code 2, without a traceback.
"""
from __future__ import annotations


class SweepError(Exception):
    """An expected failure with a message for the user (exit code 2, no traceback)."""

    exit_code = 2


class OutputError(SweepError):
    """The output directory is locked, holds a different grid, or cannot be written or read."""
