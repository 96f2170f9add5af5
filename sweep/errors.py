"""The project's own exceptions; the CLI turns them into clean messages and exit code 2."""
from __future__ import annotations


from results.errors import OutputError, SweepError  # noqa: F401  (one definition, shared with results/)


class GridError(SweepError):
    """A grid file or override that fails validation.

    The message names the file, the line (when tomllib gives one), the key path, the value,
    what is allowed, and the nearest valid key for a typo.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None):
        self.path, self.line, self.key = path, line, key
        where = path or "<grid>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}")

