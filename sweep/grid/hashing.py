"""Stable 64-bit hashes of run configurations: ``run_id``, ``init_key``, ``shuffle_key``.

A run's config is a dict ``key -> value`` over ``"seed"`` and every key of
``sweep.grid.schema.PARAMS``, with values normalised (floats as ``float``, ``None`` where a key
does not apply, list kinds as Python lists). Each ``(key, value)`` pair hashes to

    h(key, value) = first 8 bytes, little-endian, of blake2b(f"{key}={canonical_json(value)}")
    h("seed", s)  = splitmix64(splitmix64(s mod 2**64) ^ SEED_SALT)   (vectorised: seeds are many)

and a set of keys hashes to ``splitmix64(sum of h mod 2**64)``. A sum is order-free, so the
id does not depend on how the grid was written (fixed vs swept, axis order, sub-grid,
run_index), and the fast path in ``sweep.grid.expand`` can hash each distinct axis value once
and add the per-run terms with uint64 gathers.

- ``run_id`` (identity version 2): every key but ``record.*`` (``RUN_ID_KEYS``): what a
  run records does not change what it computes, so recording more resumes the same runs.
- identity version 1 (directories written before): every key, ``record.*`` included
  (``RUN_ID_KEYS_V1``, ``run_id_v1_of``); ``sweep.grid.identity`` recomputes ids for those.
- ``init_key``: ``INIT_KEY_KEYS`` = seed, ``task.*``, ``model.hidden``, ``model.bias``,
  ``model.shortcut`` and ``init.*`` (what shapes the initial draw, docs/conventions.md).
- ``shuffle_key = splitmix64(init_key ^ 0x5348554646)``.

The scalar functions here (``run_id_of`` ...) are the slow reference the tests compare with.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

import numpy as np

from sweep.grid.schema import NOT_IN_IDENTITY, PARAMS

MASK64 = (1 << 64) - 1
SHUFFLE_SALT = 0x5348554646
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)

IDENTITY_VERSION = 2
RECORD_KEYS: tuple[str, ...] = tuple(p.key for p in PARAMS if p.key.startswith("record."))
RUN_ID_KEYS_V1: tuple[str, ...] = ("seed",) + tuple(p.key for p in PARAMS)
RUN_ID_KEYS: tuple[str, ...] = tuple(k for k in RUN_ID_KEYS_V1 if k not in RECORD_KEYS)
INIT_KEY_KEYS: tuple[str, ...] = ("seed",) + tuple(
    p.key for p in PARAMS
    if p.key.startswith(("task.", "init.")) or p.key in ("model.hidden", "model.bias", "model.shortcut"))


def splitmix64(z) -> np.ndarray:
    """SplitMix64 of a uint64 array (any shape, wrapping arithmetic); returns a new uint64 array."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):  # wrapping mod 2**64 is the point
        z = z + _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


def splitmix64_int(z: int) -> int:
    """SplitMix64 of one Python int (reduced mod 2**64), as a Python int."""
    z = (int(z) + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON: the one text form of a value (``1.0`` and ``1`` differ)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


#: Keys added after run identities were fixed, with the value at which they add nothing.
_NEUTRAL = {p.key: p.neutral for p in PARAMS if p.neutral is not NOT_IN_IDENTITY}


def value_hash(key: str, value: Any) -> int:
    """``h(key, value)``: 8 bytes of blake2b of ``key=canonical_json(value)``, as an int
    (for ``"seed"``: the splitmix form of :func:`seed_hashes`). A key added later (``Param.neutral``)
    hashes to 0 at its neutral value or ``None``, so runs that do not use it keep their ids."""
    if key in _NEUTRAL and (value is None or value == _NEUTRAL[key]):
        return 0
    if key == "seed":
        return splitmix64_int(splitmix64_int(int(value) & MASK64) ^ SEED_SALT)
    digest = hashlib.blake2b(f"{key}={canonical_json(value)}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


SEED_SALT = int.from_bytes(hashlib.blake2b(b"seed").digest()[:8], "little")


def seed_hashes(seeds: Iterable[int]) -> np.ndarray:
    """``h("seed", s)`` for many seeds (n,) -> uint64 (n,), vectorised (a few ns per seed)."""
    s = np.asarray(np.fromiter(seeds, dtype=np.int64) if not isinstance(seeds, np.ndarray) else seeds)
    return splitmix64(splitmix64(s.astype(np.int64).view(np.uint64)) ^ np.uint64(SEED_SALT))


def keyed_sum(config: Mapping[str, Any], keys: Iterable[str]) -> int:
    """``sum(h(k, config[k]) for k in keys) mod 2**64``."""
    return sum(value_hash(k, config[k]) for k in keys) & MASK64


def run_id_of(config: Mapping[str, Any]) -> int:
    """Slow reference: the run_id of one normalised config (needs every key and "seed")."""
    return splitmix64_int(keyed_sum(config, RUN_ID_KEYS))


def run_id_v1_of(config: Mapping[str, Any]) -> int:
    """Slow reference: the identity-version-1 run_id (``record.*`` included)."""
    return splitmix64_int(keyed_sum(config, RUN_ID_KEYS_V1))


def init_key_of(config: Mapping[str, Any]) -> int:
    """Slow reference: the init_key of one normalised config."""
    return splitmix64_int(keyed_sum(config, INIT_KEY_KEYS))


def shuffle_key_of(init_key: int) -> int:
    """``splitmix64(init_key ^ 0x5348554646)`` for one key."""
    return splitmix64_int((int(init_key) & MASK64) ^ SHUFFLE_SALT)


def shuffle_keys(init_keys: np.ndarray) -> np.ndarray:
    """Vectorised :func:`shuffle_key_of` over a uint64 array."""
    return splitmix64(np.asarray(init_keys, dtype=np.uint64) ^ np.uint64(SHUFFLE_SALT))
