"""Numba's cache folders as Numba finds them (kernels.numba_cache), and the cache guard and the
dry run's cold/cached answer looking there, with or without NUMBA_CACHE_DIR."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core import config

from kernels import cache_guard
from kernels.numba_cache import cache_dir

ROOT = Path(__file__).resolve().parent.parent

MODULE = """
from numba import njit


@njit(cache=True)
def plus_one(x):
    return x + 1
"""


def _compile_in(tmp_path: Path, name: str) -> Path:
    """Write a module with one cached function, import it and call it: Numba writes its cache."""
    path = tmp_path / f"{name}.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.plus_one(1) == 2
    return path


@pytest.mark.parametrize("numba_cache_dir", [False, True], ids=["in-tree", "NUMBA_CACHE_DIR"])
def test_cache_dir_is_where_numba_writes(tmp_path, monkeypatch, numba_cache_dir):
    user = tmp_path / "numba-cache"
    # the locators read config.CACHE_DIR when a cached function is defined, as at import from the env
    monkeypatch.setattr(config, "CACHE_DIR", str(user) if numba_cache_dir else "")
    (tmp_path / "src").mkdir()
    path = _compile_in(tmp_path / "src", f"mod_{int(numba_cache_dir)}")
    folder = cache_dir(path)
    written = list(folder.glob(f"{path.stem}.plus_one-*.nbi"))
    assert written, f"no index in {folder}: {sorted(p.name for p in folder.parent.rglob('*.nbi'))}"
    if numba_cache_dir:
        assert folder.parent == user and not (path.parent / "__pycache__").exists()
    else:
        assert folder == path.parent / "__pycache__"


def test_cache_dir_of_a_missing_file_is_none(tmp_path):
    assert cache_dir(tmp_path / "nowhere" / "gone.py") is None


def test_cache_guard_clears_stale_code_where_numba_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    folders = cache_guard.cache_folders()
    assert len(folders) == 2 and all(f.parent == tmp_path for f in folders)  # never the real cache
    stale = [folders[0] / "train.train_block-102.py311.nbi", folders[1] / "optimizers.step-9.py311.1.nbc"]
    for f in stale:
        f.write_bytes(b"old")
    (folders[0] / "kernels.fingerprint").write_text("an older source")
    cache_guard.check()
    assert not any(f.exists() for f in stale)
    assert (folders[0] / "kernels.fingerprint").read_text() == cache_guard.fingerprint()
    kept = folders[0] / "train.train_block-102.py311.nbi"
    kept.write_bytes(b"current")
    cache_guard.check()   # the fingerprint matches: compiled code stays
    assert kept.read_bytes() == b"current"


GRID = """
name = "numba-cache-dir"
[task]
name = "xor"
[model]
hidden = [13]
[train]
loss = "mse"
epochs = 5
[sweep]
seeds = 4
"""


@pytest.mark.slow
def test_dry_run_sees_a_kernel_cached_under_numba_cache_dir(tmp_path):
    """A second process finds the kernel the first one compiled into $NUMBA_CACHE_DIR (it used to
    look beside the generated module only, so it said "cold" and compiled ahead for nothing)."""
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "MLP_SWEEP_CACHE": str(tmp_path / "kernels"),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "sweep", "run", str(grid), "--dry-run"], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert "(1 to compile cold)" in outs[0]
    assert "(0 to compile cold)" in outs[1] and "specialised kernel, cached" in outs[1]
    assert not list((tmp_path / "kernels").glob("__pycache__/*.nbi"))   # all of it under NUMBA_CACHE_DIR


def test_is_cached_before_and_after_a_compile_and_in_a_new_dispatcher(tmp_path, monkeypatch):
    from kernels.numba_cache import is_cached

    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "numba-cache"))
    path = tmp_path / "mod_c.py"
    path.write_text(MODULE)

    def load():
        spec = importlib.util.spec_from_file_location("mod_c", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.plus_one

    fn = load()
    assert not is_cached(fn)
    fn(1)
    assert is_cached(fn)
    again = load()          # as a new process would: no overloads, the index on disk
    assert not again.overloads and is_cached(again)
