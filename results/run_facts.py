"""How a sweep was run, from its manifest and its runs: what a report must say to be citable.

- ``overrides``: the command-line overrides (``train.epochs=5000``), as the manifest recorded them;
- the effective values of every swept or overridden key, read from the runs themselves;
- seeds per setting, epoch budgets, and the numerics / run-identity / schema versions and the
  library versions;
- :func:`description_note`: the grid file's description is the file's, not the run's; when an
  override changed a value the description quotes (the file's ``epochs = 20000`` in "... in
  20,000 epochs?"), the description is marked as contradicted by that override.
"""
from __future__ import annotations

import re
import tomllib

import pandas as pd

from results.analysis import config_columns, format_value

VERSION_KEYS = ("numerics_version", "identity_version", "schema_version", "layout_version")


def _file_value(grid_text: str, key: str):
    """The value the grid file gives ``key`` (``train.epochs`` or an axis ``sweep.train.lr``), or None."""
    try:
        data = tomllib.loads(grid_text or "")
    except tomllib.TOMLDecodeError:
        return None
    if key.startswith("sweep.resolve."):
        resolve = data.get("sweep", {}).get("resolve", {})
        return resolve.get(key[len("sweep.resolve."):]) if isinstance(resolve, dict) else None
    if key.startswith("sweep.") and key != "sweep.seeds":
        return data.get("sweep", {}).get(key[len("sweep."):])
    section, _, name = key.partition(".")
    return data.get(section, {}).get(name) if isinstance(data.get(section), dict) else None


def _override_keys(man: dict) -> list[str]:
    return [str(o).split("=", 1)[0].strip() for o in man.get("overrides") or []]


def _mentions(text: str, value, key: str = "") -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    forms = {f"{value:g}", f"{value:,}" if isinstance(value, int) else f"{value:g}"}
    if re.search(r"points?\b", text) and key == "sweep.resolve.halfwidth":  # a share's 0.01 is "1 point"
        points = f"{100 * value:g}"
        if re.search(rf"(?<![\d.,]){re.escape(points)} (percentage )?points?\b", text):
            return True
    return any(re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d])", text) for f in forms)


def description_note(man: dict) -> str | None:
    """A warning to print beside the description when overrides contradict it, else None."""
    desc = str(man.get("description") or "")
    hits = []
    for o in man.get("overrides") or []:
        key, _, new = str(o).partition("=")
        old = _file_value(man.get("grid_text", ""), key.strip())
        if isinstance(old, dict):  # seeds = {count = N}
            old = old.get("count")
        if desc and _mentions(desc, old, key.strip()):
            hits.append(f"{key.strip()} = {old} in the grid file, {new.strip()} in this run")
    if not hits:
        return None
    return "This description is the grid file's and is contradicted by the overrides: " + "; ".join(hits) + "."


def _values(df: pd.DataFrame, col: str) -> str:
    vals = [format_value(v) for v in pd.unique(df[col].astype(object))]
    return ", ".join(vals[:8]) + (f", ... ({len(vals)} values)" if len(vals) > 8 else "")


def how_run(df: pd.DataFrame) -> list[str]:
    """Facts about how the runs of ``df`` were made (``df.attrs["manifest"]`` and the runs)."""
    man = df.attrs.get("manifest", {}) or {}
    out = ["overrides: " + (", ".join(map(str, man["overrides"])) if man.get("overrides") else "none")]
    cols = config_columns(df)
    swept = [c for c in cols if df[c].astype(object).map(repr).nunique() > 1]
    named = [c for c in dict.fromkeys(k.removeprefix("sweep.") for k in _override_keys(man)) if c in df]
    for c in dict.fromkeys(swept + named):
        kind = "swept" if c in swept else "overridden"
        out.append(f"{c} ({kind}): {_values(df, c)}")
    if "seed" in df and len(df):
        per = df.groupby([c for c in swept], observed=True, dropna=False)["seed"].nunique() if swept \
            else pd.Series([df["seed"].nunique()])
        lo, hi = int(per.min()), int(per.max())
        count = f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"
        out.append(f"seeds: {count} per setting (seed {int(df['seed'].min())}..{int(df['seed'].max())})")
    if "train.epochs" in df and "train.epochs" not in swept + named:
        out.append(f"epochs: {_values(df, 'train.epochs')}")
    versions = [f"{k.removesuffix('_version')} {man[k]}" for k in VERSION_KEYS if k in man]
    if versions:
        out.append("versions: " + ", ".join(versions))
    libs = man.get("versions")
    if isinstance(libs, dict) and libs:
        out.append("software: " + ", ".join(f"{k} {v}" for k, v in libs.items()))
    return out


__all__ = ["description_note", "how_run"]
