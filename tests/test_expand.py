"""Lazy expansion: run counts, mixed-radix order, run ids / init keys, groups, columns."""
from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import time

import numpy as np
import pytest

from sweep.errors import GridError
from sweep.grid.expand import column_value
from sweep.grid.load import parse_grid
from sweep.grid.hashing import (INIT_KEY_KEYS, RUN_ID_KEYS, init_key_of, run_id_of, shuffle_key_of,
                           splitmix64, splitmix64_int, value_hash)
from sweep.grid.schema import PARAM_BY_KEY, PARAMS, TASK_DEFAULTS

M64 = (1 << 64) - 1


def grid(body: str, name: str = "t", **kw):
    return parse_grid(f'name = "{name}"\n{body}', **kw)


def ids(g, start=0, stop=None):
    return g.columns(start, g.n_runs if stop is None else stop)["run_id"]


# --------------------------------------------------------------------------------------------
# hashing
# --------------------------------------------------------------------------------------------
def test_splitmix64_known_value_and_vectorised():
    # First output of the SplitMix64 generator seeded with 0 (Steele et al.; Vigna's splitmix64.c).
    assert splitmix64_int(0) == 0xE220A8397B1DCDAF
    zs = [0, 1, 2**63, M64, 0x5348554646]
    assert splitmix64(np.array(zs, dtype=np.uint64)).tolist() == [splitmix64_int(z) for z in zs]


def test_value_hash_definition():
    # h(key, value) = first 8 bytes (little-endian) of blake2b("key=<compact sorted JSON>")
    digest = hashlib.blake2b(b'model.hidden=[2,3]').digest()
    assert value_hash("model.hidden", [2, 3]) == int.from_bytes(digest[:8], "little")
    assert value_hash("train.lr", 1.0) != value_hash("train.lr", 1)  # hence floats are normalised first
    assert value_hash("train.momentum", None) == int.from_bytes(
        hashlib.blake2b(b"train.momentum=null").digest()[:8], "little")


def test_key_sets():
    # identity version 2: record.* keys say what is stored, not what is computed
    assert RUN_ID_KEYS == ("seed",) + tuple(p.key for p in PARAMS if not p.key.startswith("record."))
    assert set(INIT_KEY_KEYS) == {"seed", "model.hidden", "model.bias", "model.shortcut"} | {
        p.key for p in PARAMS if p.key.startswith(("task.", "init."))}


# --------------------------------------------------------------------------------------------
# run counts and order
# --------------------------------------------------------------------------------------------
UNION = """
[train]
optimizer = "momentum"
[sweep]
seeds = 3
"train.lr" = [0.1, 0.5, 1]
"model.hidden" = [[2], [3]]
[[sweep.zip]]
"train.loss" = ["mse", "sse"]
"train.epochs" = [100, 200]
[[sweep.grids]]
"train.momentum" = [0.5, 0.9]
[[sweep.grids]]
"train.optimizer" = ["adam"]
"train.beta1" = [0.8, 0.9, 0.95]
seeds = [7, 11]
"""


def test_run_count_product_zip_union():
    g = grid(UNION)
    # sub-grid 1: 3 lr x 2 hidden x 2 (zip) x 2 momentum x 3 seeds; sub-grid 2: 3 x 2 x 2 x 1 x 3 beta1 x 2 seeds
    assert [s.n_runs for s in g.subgrids] == [72, 72]
    assert g.n_runs == 144
    assert g.subgrids[1].offset == 72


def test_columns_equal_itertools_reference():
    g = grid(UNION)
    # documented order: group axes first (declaration order), then other axes, then seeds
    order = [
        [[("model.hidden", [[2], [3]])], [("train.loss", ["mse", "sse"]), ("train.epochs", [100, 200])],
         [("train.lr", [0.1, 0.5, 1.0])], [("train.momentum", [0.5, 0.9])]],
        [[("model.hidden", [[2], [3]])], [("train.loss", ["mse", "sse"]), ("train.epochs", [100, 200])],
         [("train.optimizer", ["adam"])], [("train.lr", [0.1, 0.5, 1.0])], [("train.beta1", [0.8, 0.9, 0.95])]],
    ]
    seeds = [[0, 1, 2], [7, 11]]
    expected = []
    for (sub_order, sub_seeds) in zip(order, seeds):
        for combo in itertools.product(*[range(len(ax[0][1])) for ax in sub_order], sub_seeds):
            cfg = dict(g.fixed)
            for ax, pos in zip(sub_order, combo[:-1]):
                cfg.update({k: vals[pos] for k, vals in ax})
            for p in PARAMS:  # normalisation: keys whose applies rule is false -> None, unset -> task default
                if p.applies and cfg[p.applies[0]] not in p.applies[1]:
                    cfg[p.key] = None
                elif cfg[p.key] is None and p.key in TASK_DEFAULTS:
                    cfg[p.key] = TASK_DEFAULTS[p.key][cfg["task.name"]]
            expected.append({"seed": combo[-1], **cfg})
    cols = g.columns(0, g.n_runs)
    assert len(expected) == g.n_runs
    assert cols["run_index"].tolist() == list(range(g.n_runs))
    assert cols["seed"].tolist() == [e["seed"] for e in expected]
    for p in PARAMS:
        assert cols[p.key].tolist() == [column_value(p.key, e[p.key]) for e in expected], p.key
    assert cols["run_id"].tolist() == [run_id_of(e) for e in expected]
    assert cols["init_key"].tolist() == [init_key_of(e) for e in expected]
    assert cols["shuffle_key"].tolist() == [shuffle_key_of(init_key_of(e)) for e in expected]
    assert [g.run_config(i) for i in range(g.n_runs)] == expected


def test_column_dtypes_and_none():
    g = grid('[sweep]\n"train.optimizer" = ["sgd"]\n"model.activation" = [["tanh", "relu"]]\n'
             '"model.hidden" = [[2, 3]]\n')
    c = g.columns(0, 1)
    assert c["run_id"].dtype == np.uint64 and c["init_key"].dtype == np.uint64
    assert c["run_index"].dtype == np.int64 and c["seed"].dtype == np.int64
    assert c["train.lr"].dtype == np.float64 and c["train.epochs"].dtype == np.int64
    assert c["model.bias"].dtype == np.bool_
    assert c["model.hidden"].tolist() == ["[2,3]"]
    assert c["model.activation"].tolist() == ['["tanh","relu"]']
    assert c["train.momentum"].dtype == object and c["train.momentum"].tolist() == [None]
    assert set(c) == {"run_index", "seed", "run_id", "init_key", "shuffle_key", *PARAM_BY_KEY}


def test_columns_across_groups_and_bounds():
    g = grid(UNION)
    whole = g.columns(0, g.n_runs)
    part = g.columns(5, 100)  # straddles groups and sub-grids: split and concatenated
    for k in ("run_id", "seed", "train.lr"):
        assert part[k].tolist() == whole[k][5:100].tolist()
    assert len(g.columns(7, 7)["run_id"]) == 0
    with pytest.raises(IndexError):
        g.columns(0, g.n_runs + 1)
    with pytest.raises(IndexError):
        g.run_config(g.n_runs)


# --------------------------------------------------------------------------------------------
# run_id / init_key invariance
# --------------------------------------------------------------------------------------------
def test_run_id_fixed_vs_swept():
    fixed = grid('[train]\nlr = 0.5\n[sweep]\nseeds = 10\n')
    swept = grid('[sweep]\nseeds = 10\n"train.lr" = [0.5]\n')
    as_int = grid('[train]\nlr = 0.5\n[sweep]\nseeds = 10\n"train.epochs" = [1000]\n')  # 1000 is the default
    assert ids(fixed).tolist() == ids(swept).tolist() == ids(as_int).tolist()
    assert fixed.hash != swept.hash


def test_run_id_independent_of_axis_order_and_subgrids():
    a = grid('[sweep]\nseeds = 4\n"train.lr" = [0.1, 1]\n"model.hidden" = [[2], [3]]\n"train.epochs" = [10, 20]\n')
    b = grid('[sweep]\nseeds = 4\n"train.epochs" = [20, 10]\n"model.hidden" = [[3], [2]]\n"train.lr" = [1.0, 0.1]\n')
    c = grid('[sweep]\nseeds = 4\n"train.lr" = [0.1, 1]\n"train.epochs" = [10, 20]\n'
             '[[sweep.grids]]\n"model.hidden" = [[2]]\n[[sweep.grids]]\n"model.hidden" = [[3]]\n')
    assert ids(a).tolist() != ids(b).tolist()
    assert set(ids(a).tolist()) == set(ids(b).tolist()) == set(ids(c).tolist())
    assert len(set(ids(a).tolist())) == a.n_runs == 32


def test_adding_seeds_keeps_old_run_ids():
    small = grid('[sweep]\nseeds = 5\n"train.lr" = [0.1, 1]\n')
    big = grid('[sweep]\nseeds = 50\n"train.lr" = [0.1, 1]\n')
    shifted = grid('[sweep]\nseeds = {start = 3, count = 10}\n"train.lr" = [0.1, 1]\n')
    listed = grid('[sweep]\nseeds = [4, 0]\n"train.lr" = [0.1, 1]\n')
    assert set(ids(small).tolist()) < set(ids(big).tolist())
    assert len(set(ids(small).tolist()) & set(ids(shifted).tolist())) == 4  # seeds 3, 4 x 2 lrs
    assert set(ids(listed).tolist()) < set(ids(small).tolist())


def test_init_key_shared_across_training_settings():
    g = grid('[model]\nhidden = [2]\n[sweep]\nseeds = 3\n"train.lr" = [0.1, 2]\n"train.loss" = ["mse", "sse"]\n'
             '"train.optimizer" = ["sgd", "adam"]\n"model.activation" = ["sigmoid", "tanh"]\n')
    c = g.columns(0, g.n_runs)
    by_seed = {}
    for s, k in zip(c["seed"].tolist(), c["init_key"].tolist()):
        by_seed.setdefault(s, set()).add(k)
    assert all(len(v) == 1 for v in by_seed.values()) and len({v.pop() for v in by_seed.values()}) == 3
    assert len(set(c["run_id"].tolist())) == g.n_runs
    other = grid('[model]\nhidden = [3]\n[sweep]\nseeds = 3\n')
    assert not set(other.columns(0, 3)["init_key"].tolist()) & set(c["init_key"].tolist())
    scaled = grid('[model]\nhidden = [2]\n[init]\nscale = 2.0\n[sweep]\nseeds = 3\n')  # init.* is in the key
    assert not set(scaled.columns(0, 3)["init_key"].tolist()) & set(c["init_key"].tolist())


def test_normalisation_momentum():
    g = grid('[train]\nmomentum = 0.7\n[sweep]\n"train.optimizer" = ["sgd", "momentum", "adam"]\n')
    assert [g.run_config(i)["train.momentum"] for i in range(3)] == [None, 0.7, None]
    assert g.columns(0, 3)["train.beta1"].tolist() == [None, None, 0.9]
    sgd = [gr for gr in g.groups() if gr.config["train.optimizer"] == "sgd"][0]
    assert g.columns(*sgd.ranges[0])["train.momentum"].dtype == object


def test_non_applicable_axis_is_refused_not_collapsed():
    with pytest.raises(GridError, match="sweep axis train.momentum = .0.5, 0.9. changes nothing here: optimizer sgd"):
        grid('[sweep]\n"train.optimizer" = ["sgd", "momentum"]\n"train.momentum" = [0.5, 0.9]\n')
    g = grid('[sweep]\n[[sweep.grids]]\n"train.optimizer" = ["sgd"]\n'
             '[[sweep.grids]]\n"train.optimizer" = ["momentum"]\n"train.momentum" = [0.5, 0.9]\n')
    assert g.n_runs == g.n_distinct == 3 and len(set(g.columns(0, 3)["run_id"].tolist())) == 3


def test_overlapping_subgrids_count_distinct_runs():
    g = grid('[sweep]\nseeds = 4\n"train.lr" = [0.5, 1.0]\n[[sweep.grids]]\n"train.optimizer" = ["sgd"]\n'
             '[[sweep.grids]]\n"train.optimizer" = ["sgd", "momentum"]\n"record.final_params" = [true]\n')
    ids = g.columns(0, g.n_runs)["run_id"]
    assert g.n_runs == 24 and g.n_distinct == len(set(ids.tolist())) == 16  # record.* is no identity
    assert "(16 distinct: overlapping sub-grids)" in g.describe()


# --------------------------------------------------------------------------------------------
# scale
# --------------------------------------------------------------------------------------------
def test_hundred_million_runs_are_lazy():
    lrs = ", ".join(str(round(0.01 * (i + 1), 2)) for i in range(100))
    t0 = time.perf_counter()
    g = grid(f'[sweep]\nseeds = 1000000\n"train.lr" = [{lrs}]\n')
    assert time.perf_counter() - t0 < 1.0
    assert g.n_runs == 10**8
    c = g.columns(10**8 - 5, 10**8)
    assert c["seed"].tolist() == [999995, 999996, 999997, 999998, 999999]
    assert c["train.lr"].tolist() == [1.0] * 5
    assert c["run_index"].tolist() == list(range(10**8 - 5, 10**8))
    assert c["run_id"].tolist() == [run_id_of(g.run_config(i)) for i in range(10**8 - 5, 10**8)]
    assert g.groups()[0].ranges == ((0, 10**8),)


def test_columns_speed():
    # Measured on the dev box (100k runs, 2000 seeds x 50 lrs): ~0.08 us/run warm (chunks of
    # 4096 or one call); ~0.7 us per *distinct seed* the first time its hash is computed.
    lrs = ", ".join(str(0.01 * (i + 1)) for i in range(50))
    g = grid(f'[sweep]\nseeds = 2000\n"train.lr" = [{lrs}]\n')
    g.columns(0, 100_000)  # warm the seed-hash cache
    t0 = time.perf_counter()
    for a in range(0, 100_000, 4096):
        g.columns(a, min(a + 4096, 100_000))
    per_run = (time.perf_counter() - t0) / 100_000
    assert per_run < 1e-6, f"{per_run * 1e6:.2f} us per run"


# --------------------------------------------------------------------------------------------
# groups
# --------------------------------------------------------------------------------------------
def test_groups_cover_every_index_once():
    g = grid('[sweep]\nseeds = 100\n"model.hidden" = [[2], [3], [4]]\n"train.loss" = ["mse", "sse"]\n'
             '"train.lr" = [0.1, 1]\n')
    groups = g.groups()
    assert len(groups) == 6
    covered = np.zeros(g.n_runs, dtype=int)
    for gr in groups:
        assert gr.n_runs == 200 and len(gr.key) == 8 and int(gr.key, 16) >= 0
        for a, b in gr.ranges:
            covered[a:b] += 1
            c = g.columns(a, b)
            assert set(c["model.hidden"].tolist()) == {json.dumps(gr.config["model.hidden"], separators=(",", ":"))}
            assert set(c["train.loss"].tolist()) == {gr.config["train.loss"]}
    assert (covered == 1).all()
    assert {gr.label for gr in groups} == {f"model.hidden=[{h}] train.loss={l}"
                                         for h in (2, 3, 4) for l in ("mse", "sse")}
    assert len({gr.key for gr in groups}) == 6
    assert set(groups[0].config) == {p.key for p in PARAMS if p.role == "group"}


def test_groups_merge_across_subgrids_and_keys_are_stable():
    g = grid('[sweep]\nseeds = 2\n[[sweep.grids]]\n"train.lr" = [0.1]\n[[sweep.grids]]\n"train.lr" = [0.2]\n'
             '"model.hidden" = [[2], [3]]\n')
    groups = g.groups()
    assert len(groups) == 2
    h2 = [gr for gr in groups if gr.config["model.hidden"] == [2]][0]
    assert h2.ranges == ((0, 2), (2, 4)) and h2.subgrids == (0, 1) and h2.n_runs == 4
    other = grid('[train]\nlr = 3.0\n[sweep]\nseeds = 9\n', name="other")
    assert other.groups()[0].key == h2.key  # the key depends only on the group config
    assert other.groups()[0].label == "all"


def test_grid_pickles_without_its_caches():
    g = grid(UNION)
    before = g.columns(0, g.n_runs)
    clone = pickle.loads(pickle.dumps(g))
    assert clone._cache == {} and clone.hash == g.hash
    assert clone.columns(0, g.n_runs)["run_id"].tolist() == before["run_id"].tolist()


def test_describe_mentions_axes_and_counts():
    text = grid(UNION).describe()
    assert "144 runs" in text and "train.lr (3)" in text and "zip(train.loss, train.epochs) (2)" in text
    assert "seeds 0..2 (3)" in text and "seeds [7, 11] (2)" in text
