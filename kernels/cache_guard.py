"""Keeps Numba's on-disk cache of the package's own kernels in step with the op definitions.

Numba invalidates a cached function only when its own source file changes; the loss-and-gradient
kernel in ``kernels/gradient.py`` is built from ``kernels/ops/*`` and ``kernels/lanes.py``, so an edit there would
leave a stale compiled kernel. On import, a fingerprint of every kernel source is compared with the
one stored beside the cache; on a mismatch the cache files of the ``kernels`` package are removed
(Numba recompiles them). The folders are the ones Numba itself uses (``kernels.numba_cache``:
``__pycache__`` beside the sources, or under ``$NUMBA_CACHE_DIR``, or the per-user cache when the
package is read-only), each with its own fingerprint. Nothing else is touched; an unwritable
cache folder is left alone.
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


def cache_folders() -> list[Path]:
    """Numba's cache folders of the package's sources: ``kernels/`` first, then ``kernels/ops/``."""
    from kernels.numba_cache import cache_dir

    folders = (cache_dir(_HERE / "gradient.py"), cache_dir(_HERE / "ops" / "__init__.py"))
    return [f for f in folders if f is not None]


def check() -> None:
    folders = cache_folders()
    if not folders:
        return
    marker = folders[0] / "kernels.fingerprint"
    now = fingerprint()
    try:
        if marker.exists() and marker.read_text() == now:
            return
        for folder in folders:
            for stale in (*folder.glob("*.nbi"), *folder.glob("*.nbc")):
                stale.unlink(missing_ok=True)
        marker.write_text(now)
    except OSError:
        pass
