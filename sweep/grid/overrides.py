"""Overrides as people type them: ``--set KEY=VALUE``, Hydra-style ``KEY=VALUE`` words, comma lists.

``sweep run G.toml train.lr=0.5 sweep.train.lr=0.1,1`` is the same as
``sweep run G.toml --set train.lr=0.5 --set 'sweep.train.lr=[0.1,1]'``. Comma lists need no
brackets (so they need no quotes: ``[`` is a glob character in zsh):

- ``sweep.KEY=a,b,c`` -> ``sweep.KEY=[a,b,c]`` (an axis); for a list-valued key such as
  ``model.hidden`` each bare number is one single-layer value: ``sweep.model.hidden=2,3,16``
  -> ``[[2],[3],[16]]`` (several layers need the bracket form, quoted:
  ``'sweep.model.hidden=[[2,2],[4]]'``);
- ``sweep.KEY=v`` (one bare value) -> a one-value axis ``[v]``;
- a fixed list-valued key: ``model.hidden=2,2`` -> ``model.hidden=[2,2]``;
- a fixed scalar key with a comma list (Hydra's multirun form) is an error that names the
  ``sweep.`` form to use instead.

- an axis function, ``sweep.train.lr='logspace(-2,0,5)'`` or ``sweep.model.hidden='range(2,9,2)'``
  (:mod:`sweep.grid.axis_functions`; quoted for the shell, whose parentheses are special): the
  axis of its values; given to a fixed key, an error that names the ``sweep.`` form;
- a bare width for ``model.hidden``: ``model.hidden=7`` -> ``model.hidden=[7]`` (one layer of 7).

Items that are not TOML values (``mse``) are quoted as TOML strings inside a list. Hydra's
``+KEY=VALUE`` / ``++KEY=VALUE`` are accepted as plain overrides. The rewritten item remembers how
it was typed (:class:`Override`), so an error names ``--set K=V`` or the bare ``K=V`` word as the
user wrote it, never the rewritten form.
"""
from __future__ import annotations

import json

try:
    import tomllib
except ModuleNotFoundError:  # python < 3.11
    import tomli as tomllib

from sweep.errors import GridError
from sweep.grid.axis_functions import FUNCTIONS, is_call
from sweep.grid.schema import PARAM_BY_KEY

_LIST_KINDS = ("int_list", "str_or_list", "matrix_list", "vector_list")


def _is_toml(text: str) -> bool:
    try:
        tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return False
    return True


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets, parentheses and quotes: ``"1,[2,3]"`` -> ``["1", "[2,3]"]``."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return parts + [cur.strip()]


def _item(text: str, key: str | None) -> str:
    kind = PARAM_BY_KEY[key].kind if key in PARAM_BY_KEY else ""
    if kind == "int_list" and text.lstrip("-").isdigit():
        return f"[{text}]"
    return text if _is_toml(text) else json.dumps(text)


class Override(str):
    """An override in the form ``sweep.grid.load`` parses; ``shown`` is what the user typed
    (``--set sweep.train.lr=1,2`` or the Hydra word ``sweep.train.lr=1,2``), for messages."""

    shown: str | None = None

    def __new__(cls, text: str, shown: str | None = None):
        obj = super().__new__(cls, text)
        obj.shown = shown
        return obj


def shown(item: str) -> str:
    """How ``item`` is named in a message: as typed, else (an API caller's item) ``--set ITEM``."""
    return getattr(item, "shown", None) or f"--set {item}"


def normalise(item: str, flag: str | None = "--set") -> Override:
    """One override in the ``--set`` form that ``sweep.grid.load`` parses (see the module docstring).

    ``flag``: how it was given, ``"--set"`` or None for a Hydra-style ``KEY=VALUE`` word."""
    typed = f"{flag} {item}" if flag else item
    return Override(_normalise(item, typed), typed)


def _normalise(item: str, typed: str) -> str:
    key, sep, text = item.partition("=")
    key = key.strip().lstrip("+")
    if not sep:
        return item
    text = text.strip()
    parts = _split_top(text) if text and not text.startswith(("{", '"', "'")) else [text]
    axis = key[len("sweep."):] if key.startswith("sweep.") else None
    call = text[1:-1] if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'" else text
    if is_call(call):
        if axis in PARAM_BY_KEY:  # an axis function (or a misspelt one), expanded with the grid's axes
            return f"{key}={json.dumps(call)}"
        if key in PARAM_BY_KEY and call.split("(")[0].strip() in FUNCTIONS:
            flag = typed[: len(typed) - len(item)]
            raise GridError(f"{key}={text} gives several values to a fixed key; to sweep them use "
                            f"{flag}sweep.{key}={text}", path=typed, key=key)
    if axis in PARAM_BY_KEY and (len(parts) > 1 or not text.startswith("[")):
        return f"{key}=[{','.join(_item(p, axis) for p in parts)}]"  # a bare value: a one-value axis
    if len(parts) > 1 and key in PARAM_BY_KEY:
        if PARAM_BY_KEY[key].kind in _LIST_KINDS:
            return f"{key}=[{','.join(p if _is_toml(p) else json.dumps(p) for p in parts)}]"
        flag = typed[: len(typed) - len(item)]    # "--set " when typed so, else ""
        raise GridError(f"{key}={text} gives several values to a fixed key; to sweep them use "
                        f"{flag}sweep.{key}={text}", path=typed, key=key)
    if key in PARAM_BY_KEY and PARAM_BY_KEY[key].kind == "int_list" and text.isdigit():
        return f"{key}=[{text}]"   # a bare width: one hidden layer
    return f"{key}={text}"


def split_words(words: list[str]) -> tuple[list[str], list[str]]:
    """Hydra-style ``KEY=VALUE`` words -> overrides; the rest (unknown flags, stray words) apart."""
    overrides, rest = [], []
    for w in words:
        (overrides if "=" in w and not w.startswith("-") else rest).append(w)
    return overrides, rest
