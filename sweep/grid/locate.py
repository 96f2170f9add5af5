"""Error locations and message helpers for grid files.

Holds :class:`_Context` (where each table/key came from: a line of the grid file, found via
a lazily built index, or a ``--set`` item; it builds the located
:class:`~sweep.errors.GridError`), ``_suggest`` ("did you mean ...?" for a misspelt key,
with ``ALIASES`` for common other names) and ``_short`` (a value's repr, cut to fit a message).
"""
from __future__ import annotations

import difflib
import re
from typing import Any

from sweep.errors import GridError
from sweep.grid.schema import SECTIONS

#: Common other names for a key (the last part of the dotted key) -> our key.
ALIASES = {"learning_rate": "train.lr", "eta": "train.lr", "rate": "train.lr", "n_epochs": "train.epochs",
           "num_epochs": "train.epochs", "max_epochs": "train.epochs", "layers": "model.hidden",
           "hidden_sizes": "model.hidden", "hidden_layers": "model.hidden", "activations": "model.activation",
           "init": "init.scheme", "weight_init": "init.scheme", "alpha": "train.momentum",
           "batch": "train.batch_size", "seed": "sweep.seeds", "seeds": "sweep.seeds"}


class _Context:
    """Where things came from: the file (with a lazily built line index) or a ``--set`` item.

    Tables are named ``""`` (top level), ``"train"``, ``"sweep"``, ``"sweep.zip#1"``,
    ``"sweep.grids#2"``, ``"sweep.grids#2.zip#1"`` ... (1-based, in file order).
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")

    def __init__(self, path: str, text: str):
        self.path, self.text = path, text
        self.origin: dict[tuple[str, str], str] = {}
        self._index: dict[tuple[str, str], int] | None = None

    def _line(self, table: str, key: str) -> int | None:
        if self._index is None:
            self._index, current, n_zip, n_grid, n_gzip = {}, "", 0, 0, 0
            for n, line in enumerate(self.text.splitlines(), 1):
                m = self._HEADER.match(line)
                if m:
                    name = re.sub(r"[\s\"']", "", m.group(2))
                    if m.group(1) == "[[" and name == "sweep.zip":
                        n_zip += 1
                        current = f"sweep.zip#{n_zip}"
                    elif m.group(1) == "[[" and name == "sweep.grids":
                        n_grid, n_gzip = n_grid + 1, 0
                        current = f"sweep.grids#{n_grid}"
                    elif m.group(1) == "[[" and name == "sweep.grids.zip":
                        n_gzip += 1
                        current = f"sweep.grids#{n_grid}.zip#{n_gzip}"
                    else:
                        current = name
                    self._index.setdefault(("", name.split(".")[0]), n)  # a section's header line
                    continue
                m = self._KEY.match(line)
                if m:
                    self._index.setdefault((current, m.group(1).strip("\"'")), n)
        return self._index.get((table, key))

    def error(self, message: str, table: str = "", key: str | None = None) -> GridError:
        """A GridError located at ``key`` of ``table`` (``key`` relative to the table)."""
        dotted = key if table in ("", "sweep") or table.startswith("sweep.") else f"{table}.{key}"
        where = self.origin.get((table, key))
        if where is not None:
            return GridError(message, path=where, key=dotted)
        line = None
        if key is not None:
            line = self._line(table, key)
            if line is None and table in SECTIONS + ("output", "execution"):
                line = self._line("", f"{table}.{key}")  # written as a top-level dotted key
        return GridError(message, path=self.path, line=line, key=dotted)

    def error_at(self, message: str, dotted: str) -> GridError:
        """A GridError at wherever ``dotted`` (a schema key) was set: section, override or axis."""
        section, name = dotted.split(".", 1)
        for table, key in [(section, name), ("sweep", dotted)]:
            if (table, key) in self.origin:
                return self.error(message, table, key)
        for table, key in [(section, name), ("", dotted), ("sweep", dotted)]:
            if self._line(table, key) is not None:
                return self.error(message, table, key)
        tables = sorted({t for t, k in (self._index or {}) if k == dotted and t.startswith("sweep")})
        return self.error(message, tables[0], dotted) if tables else GridError(message, path=self.path, key=dotted)


def _suggest(bad: str, valid: list[str]) -> str:
    """``"; did you mean 'x'?"`` for a misspelt key, or ``""``."""
    name = bad.rsplit(".", 1)[-1]
    alias = ALIASES.get(name)
    same_name = [k for k in valid if k.rsplit(".", 1)[-1] == name and k != bad]
    close = difflib.get_close_matches(bad, valid, n=1, cutoff=0.6)
    if not close:  # compare the last parts: "train.lrate" vs "lr"
        tails = {k.rsplit(".", 1)[-1]: k for k in valid if k.startswith(bad.rsplit(".", 1)[0] + ".")}
        close = [tails[t] for t in difflib.get_close_matches(name, list(tails), n=1, cutoff=0.6)]
    for guess in ([alias] if alias else []) + same_name + close:
        return f"; did you mean '{guess}'?"
    return ""


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."
