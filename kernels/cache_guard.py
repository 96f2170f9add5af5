"""Keeps Numba's on-disk cache of the generic kernels in step with the op definitions.

Numba invalidates a cached function only when its own source file changes; the generic kernel in
``kernels/train.py`` is built from ``kernels/ops/*`` and ``kernels/lanes.py``, so an edit there would
leave a stale compiled kernel. On import, a fingerprint of every kernel source is compared with the
one stored beside the cache; on a mismatch the cache files of the ``kernels`` package are removed
(Numba recompiles them). Nothing else is touched; an unwritable cache folder is left alone.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted(_HERE.rglob("*.py")):
        h.update(path.relative_to(_HERE).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def check() -> None:
    cache = _HERE / "__pycache__"
    marker = cache / "kernels.fingerprint"
    now = fingerprint()
    try:
        if marker.exists() and marker.read_text() == now:
            return
        for folder in (cache, _HERE / "ops" / "__pycache__"):
            for stale in (*folder.glob("*.nbi"), *folder.glob("*.nbc")):
                stale.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        marker.write_text(now)
    except OSError:
        pass
