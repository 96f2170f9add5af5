"""Paired comparisons: runs that differ only in what is compared start from the same weights.

A run's initial weights (and shuffling) derive from its ``init_key``: the seed plus what
shapes the draw (``task.*``, ``model.hidden``, ``model.bias``, ``model.shortcut``,
``init.*``; see ``sweep.grid.hashing.INIT_KEY_KEYS``). Two settings that differ in anything else
(lr, loss, optimizer, epochs, ...) therefore train, seed by seed, from identical starting
points: the design pairs them, and a paired test removes the seed-to-seed variance of the
starting point from the comparison.

- :func:`pair_runs` matches each run of selection A with the run of B that has the same seed
  and the same value in every config column that is not compared (columns whose value sets
  differ between A and B are the compared ones). Pairing holds when no compared column is an
  init column and the match is one-to-one and complete, or complete on the seeds both have
  (the runs left over have seeds the other side lacks: cells of a sequential sweep that stopped
  at different seed counts pair on their common seeds); otherwise ``Pairing.paired`` is
  False with the reason, and the unpaired tests are used.
- :func:`mcnemar`: converged shares. With ``b`` pairs where only A converged and ``c`` where
  only B did, under H0 ``b ~ Binomial(b + c, 1/2)``; exact two-sided p
  ``= min(1, 2 P(X <= min(b, c)))`` and the mid-p ``= exact - P(X = min(b, c))``, which keeps
  the level closely while being less conservative (Fagerland, Lydersen & Laake 2013).
- :func:`paired_sign_test`: convergence epochs, censoring-aware. Within a pair, A is earlier
  when A reached the milestone at ``t_a`` and B had not by then (B reached it later, or was
  still short of it at ``t_b >= t_a``); ties and pairs whose order censoring hides (B stopped
  before ``t_a`` without reaching it) carry no sign. The signs are tested with the exact
  binomial (mid-p as above). This is Gehan's generalised-Wilcoxon scoring restricted to
  pairs, i.e. a paired sign test for censored data. Chosen over a log-rank stratified by
  seed because each stratum holds just two runs, convergence epochs span orders of
  magnitude (the sign test is rank-free and exact), and paired runs share their budget, so
  censoring almost never hides an order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

INIT_PREFIXES = ("task.", "init.")
INIT_MODEL_KEYS = ("model.hidden", "model.bias", "model.shortcut")


def is_init_column(name: str) -> bool:
    """True for columns that shape a run's initial draw (its ``init_key``), besides ``seed``."""
    return name.startswith(INIT_PREFIXES) or name in INIT_MODEL_KEYS


def _config_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if isinstance(c, str) and "." in c and not c.startswith("record.")
            and not c.endswith("_label")]


def _texts(series: pd.Series) -> list[str]:
    """Cells as comparable text (missing values as "None", categories by their value)."""
    return series.astype(object).where(series.notna(), None).map(repr).tolist()


def _values(series: pd.Series) -> set:
    return set(_texts(series))


def _keys(df: pd.DataFrame, on: list[str]) -> list[tuple]:
    return list(zip(*(_texts(df[c]) for c in on)))


@dataclass(frozen=True)
class Pairing:
    """How two selections pair: ``ia[k]`` (row of A) pairs with ``ib[k]`` (row of B)."""

    paired: bool
    reason: str                                     # a sentence
    short: str = "no seed column"                   # a few words, for table cells
    compared: list = field(default_factory=list)   # config columns that differ between A and B
    ia: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ib: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_pairs(self) -> int:
        return int(self.ia.size)


def pair_runs(da: pd.DataFrame, db: pd.DataFrame) -> Pairing:
    """Pair the runs of ``da`` and ``db`` by seed and every config column that is not compared."""
    if "seed" not in da or "seed" not in db:
        return Pairing(False, "no seed column", "no seed column")
    cols = [c for c in _config_columns(da) if c in db]
    compared = [c for c in cols if _values(da[c]) != _values(db[c])]
    init = [c for c in compared if is_init_column(c)]
    if init:
        return Pairing(False, f"{', '.join(init)} differ, so the initial weights differ",
                       "initial weights differ", compared)
    on = ["seed"] + [c for c in cols if c not in compared]
    ka, kb = _keys(da, on), _keys(db, on)
    if len(set(ka)) != len(ka) or len(set(kb)) != len(kb):
        return Pairing(False, "several runs share a seed and setting (pooled over an unpaired column)",
                       "pooled runs", compared)
    pos_b = {k: i for i, k in enumerate(kb)}
    ia = np.array([i for i, k in enumerate(ka) if k in pos_b], dtype=np.int64)
    ib = np.array([pos_b[ka[i]] for i in ia], dtype=np.int64)
    what = ", ".join(compared) if compared else "nothing"
    if ia.size and (ia.size != len(ka) or ib.size != len(kb)) and _only_extra_seeds(da, db, ia, ib):
        return Pairing(True, f"paired by seed on the {ia.size} seeds both have (same initial weights; "
                             f"{len(ka) - ia.size} runs of A and {len(kb) - ib.size} of B have seeds the other "
                             f"lacks and are left out); compared: {what}", "paired on common seeds",
                       compared, ia, ib)
    if ia.size == 0 or ia.size != len(ka) or ib.size != len(kb):
        return Pairing(False, f"only {ia.size} of {len(ka)} and {len(kb)} runs have a partner "
                              "with the same seed and setting", "seeds do not match", compared)
    return Pairing(True, f"paired by seed (same initial weights); compared: {what}", "paired by seed",
                   compared, ia, ib)


def _only_extra_seeds(da: pd.DataFrame, db: pd.DataFrame, ia: np.ndarray, ib: np.ndarray) -> bool:
    """Whether every run left unpaired has a seed the other selection lacks altogether: the two
    used different seed counts (neighbouring cells of a sequential sweep, 0..199 and 0..399), so
    the common seeds pair and the rest are extra, not a mismatch of settings."""
    sa, sb = _texts(da["seed"]), _texts(db["seed"])
    lone_a = set(range(len(sa))) - set(ia.tolist())
    lone_b = set(range(len(sb))) - set(ib.tolist())
    return not ({sa[i] for i in lone_a} & set(sb)) and not ({sb[i] for i in lone_b} & set(sa))


@dataclass(frozen=True)
class PairedTest:
    """A paired test's counts and two-sided p-values (``pvalue`` = mid-p, ``exact`` = exact)."""

    name: str
    a_only: int       # McNemar: only A converged; sign test: A earlier
    b_only: int
    concordant: int   # both or neither converged; sign test: ties and censoring-hidden orders
    pvalue: float
    exact: float


def _binomial_p(k1: int, k2: int) -> tuple[float, float]:
    n, k = k1 + k2, min(k1, k2)
    if n == 0:
        return 1.0, 1.0
    tail, point = float(stats.binom.cdf(k, n, 0.5)), float(stats.binom.pmf(k, n, 0.5))
    return min(1.0, 2.0 * tail - point), min(1.0, 2.0 * tail)


def mcnemar(reached_a, reached_b) -> PairedTest:
    """McNemar's test (exact binomial and mid-p) on paired booleans ``reached_a[k], reached_b[k]``."""
    a, b = np.asarray(reached_a, bool), np.asarray(reached_b, bool)
    n10, n01 = int((a & ~b).sum()), int((~a & b).sum())
    mid, exact = _binomial_p(n10, n01)
    return PairedTest("McNemar mid-p (paired by seed)", n10, n01, int(a.size - n10 - n01), mid, exact)


def pair_order(ta, oa, tb, ob) -> tuple[np.ndarray, np.ndarray]:
    """``(a_first, b_first)`` per pair from censored times (``o``: milestone reached at ``t``)."""
    ta, tb = np.asarray(ta, float), np.asarray(tb, float)
    oa, ob = np.asarray(oa, bool), np.asarray(ob, bool)
    a_first = oa & ((ta < tb) | ((ta == tb) & ~ob))
    b_first = ob & ((tb < ta) | ((tb == ta) & ~oa))
    return a_first, b_first


def paired_sign_test(ta, oa, tb, ob) -> PairedTest:
    """Censoring-aware paired sign test of convergence epochs (see the module docstring)."""
    a_first, b_first = pair_order(ta, oa, tb, ob)
    na, nb = int(a_first.sum()), int(b_first.sum())
    mid, exact = _binomial_p(na, nb)
    return PairedTest("paired sign test, censoring-aware (Gehan order within pairs)", na, nb,
                      int(a_first.size - na - nb), mid, exact)
