"""Axis functions: ``range()``, ``linspace()`` and ``logspace()`` as the value of a swept key.

Hydra / W&B style, in a grid file or a ``sweep.KEY=`` override::

    "train.lr" = "logspace(-2, 0, 5)"      # 0.01, 0.0316227766017, 0.1, 0.316227766017, 1.0
    "model.hidden" = "range(2, 9, 2)"      # [2], [4], [6], [8]: one-layer widths
    sweep.train.momentum='linspace(0, 0.9, 4)'

- ``range([start, ]stop[, step])``: Python's ``range`` (stop excluded); with a float argument,
  ``numpy.arange(start, stop, step)``;
- ``linspace(start, stop, num)``: ``numpy.linspace(start, stop, num)`` (both ends included);
- ``logspace(start, stop, num)``: ``numpy.logspace(start, stop, num)``, base 10: from
  ``10**start`` to ``10**stop``.

Values are computed with NumPy, then every float is rounded to 12 significant digits
(``float(f"{x:.12g}")``): the last bits of ``10**x`` (the C library's ``pow``) and of
``start + i * step`` may differ between machines, and a run's ``run_id`` hashes the value, so the
rounding keeps run ids the same everywhere (and gives ``linspace(0, 1, 11)`` the values 0.1, 0.3,
not 0.30000000000000004). An integer key (``train.epochs``, a width of ``model.hidden``) takes
the values only when each is a whole number: ``logspace(2, 4, 3)`` gives 100, 1000, 10000 epochs.
"""
from __future__ import annotations

import math
import re

import numpy as np

FORMS = ("range([start, ]stop[, step]), linspace(start, stop, num) or "
         "logspace(start, stop, num) (base 10)")
FUNCTIONS = ("range", "linspace", "logspace")
MAX_VALUES = 100_000
_CALL = re.compile(r"\s*([A-Za-z_]\w*)\s*\((.*)\)\s*\Z", re.S)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


def is_call(text) -> bool:
    """Whether ``text`` is written as a function call, ``name(...)`` (a valid form or not)."""
    return isinstance(text, str) and _CALL.match(text) is not None


def _round(x: float) -> float:
    return float(f"{x:.12g}")


def _args(text: str) -> list:
    out = []
    for a in text.split(","):
        a = a.strip().replace("_", "")
        if not _NUMBER.match(a):
            raise ValueError(f"{a!r} is not a number" if a else "an argument is missing")
        out.append(int(a) if re.fullmatch(r"[+-]?\d+", a) else float(a))
    return out


def expand(text: str, kind: str) -> list:
    """The values of an axis function (see the module docstring) for a key of ``kind``
    (``int``, ``float`` or ``int_list``, whose values become one-layer widths ``[w]``).

    Raises ``ValueError`` with what is wrong (the caller names the key and the value)."""
    m = _CALL.match(text)
    if m is None:
        raise ValueError("not a function call")
    name, args = m.group(1), _args(m.group(2))
    if name not in FUNCTIONS:
        raise ValueError(f"unknown function {name}()")
    if kind not in ("int", "float", "int_list"):
        raise ValueError(f"{name}() gives numbers, and this key does not take a number")
    if name == "range":
        if len(args) not in (1, 2, 3):
            raise ValueError(f"range takes 1 to 3 arguments ([start, ]stop[, step]), not {len(args)}")
        start, stop, step = (0, *args, 1) if len(args) == 1 else (*args, 1) if len(args) == 2 else args
        if step == 0:
            raise ValueError("range's step must not be 0")
        n = math.ceil((stop - start) / step)   # numpy.arange's length, computed before any array
        if n > MAX_VALUES:
            raise ValueError(f"it gives {n:,} values; an axis takes at most {MAX_VALUES:,}")
        values = list(range(start, stop, step)) if all(type(a) is int for a in (start, stop, step)) \
            else [_round(float(x)) for x in np.arange(start, stop, step)]
    else:
        if len(args) != 3 or type(args[2]) is not int:
            raise ValueError(f"{name} takes 3 arguments (start, stop, num), num an integer")
        start, stop, num = args
        if not 1 <= num <= MAX_VALUES:
            raise ValueError(f"num must be 1..{MAX_VALUES:,}, not {num}")
        with np.errstate(over="ignore"):
            raw = np.linspace(start, stop, num) if name == "linspace" else np.logspace(start, stop, num)
        if not np.all(np.isfinite(raw)):
            raise ValueError("it gives a value too large for a float")
        values = [_round(float(x)) for x in raw]
    if not values:
        raise ValueError("it gives no values (an empty axis)")
    if kind == "float":
        return [float(v) for v in values]
    if not all(float(v).is_integer() for v in values):
        bad = next(v for v in values if not float(v).is_integer())
        raise ValueError(f"it gives {bad!r}, and this key takes whole numbers")
    ints = [int(v) for v in values]
    return [[w] for w in ints] if kind == "int_list" else ints
