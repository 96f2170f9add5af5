"""Grid files: every bad fixture fails with its documented message; overrides; canonical form."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sweep.errors import GridError
from sweep.grid.load import load_grid, parse_grid, task_shape

GRIDS = Path(__file__).parent / "grids"
BAD = sorted(p for p in GRIDS.glob("*.toml") if not p.name.startswith("good_"))
GOOD = sorted(GRIDS.glob("good_*.toml"))


def expectations(path: Path) -> tuple[str, int | None]:
    """``# expect: <substring>`` (first line) and an optional ``# expect-line: N``."""
    lines = path.read_text().splitlines()
    m = re.match(r"# expect: (.+)", lines[0])
    assert m, f"{path.name}: first line must be '# expect: <substring of the error>'"
    line = next((int(x.group(1)) for x in map(re.compile(r"# expect-line: (\d+)").match, lines) if x), None)
    return m.group(1), line


def test_fixture_folder_is_populated():
    assert len(BAD) >= 30 and len(GOOD) >= 5


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_grid(path):
    expected, line = expectations(path)
    with pytest.raises(GridError) as info:
        load_grid(path)
    message = str(info.value)
    assert expected in message
    assert path.name in message and info.value.path == str(path)
    if line is not None:
        assert info.value.line == line and f"{path.name}:{line}:" in message


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_grid(path):
    g = load_grid(path)
    assert g.n_runs >= 1 and g.groups() and g.text == path.read_text()
    assert sum(gr.n_runs for gr in g.groups()) == g.n_runs
    assert g.warnings == ()


def test_good_full_grid_contents():
    g = load_grid(GRIDS / "good_full.toml")
    # sub-grid 1: 5 lr x 4 hidden x 2 (zip) x 1 optimizer x 20 seeds; sub-grid 2 also 2 momenta
    assert g.n_runs == 800 + 1600
    assert g.output == {"dir": "runs/xor-169", "chunk_size": 4096}
    assert g.execution == {"backend": "local", "threads": 0, "scheduler": "", "dask_local": 0, "retries": 2}
    assert g.main_criterion == "acc100"
    assert g.fixed["train.lr"] == 0.5 and isinstance(g.fixed["train.lr"], float)
    assert len(g.groups()) == 4 * 2 * 2  # hidden x loss x optimizer
    assert g.description.startswith("Which learning rates")


def test_explicit_init_values_are_normalised():
    g = load_grid(GRIDS / "good_explicit_rhw.toml")
    cfg = g.run_config(0)
    assert cfg["init.weights"] == [[[1.0, 1.0]], [[-2.0]]]
    assert cfg["init.shortcut_weights"] == [[1.0, 1.0]]  # one [n_out][n_in] matrix
    wrapped = parse_grid((GRIDS / "good_explicit_rhw.toml").read_text().replace(
        "shortcut_weights = [[1.0, 1.0]]", "shortcut_weights = [[[1, 1]]]"))
    assert wrapped.run_config(0) == cfg  # a list holding the one matrix is unwrapped
    assert g.columns(0, 1)["init.biases"].tolist() == ["[[-1.5],[-0.5]]"]


def test_csv_task_relative_to_grid_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the CWD does not matter: task.path is relative to the grid file
    g = load_grid(GRIDS / "good_csv.toml")
    assert g.resolve(g.fixed["task.path"]) == str(GRIDS / "data" / "xor.csv")
    assert task_shape(g.run_config(0), g.base_dir) == (2, 1)


def test_task_shapes():
    base = {"task.targets": "binary", "task.bits": 4, "task.size": 8, "task.path": "", "task.n_outputs": 1}
    assert task_shape({**base, "task.name": "xor"}) == (2, 1)
    assert task_shape({**base, "task.name": "nand", "task.targets": "onehot"}) == (2, 2)
    assert task_shape({**base, "task.name": "parity"}) == (4, 1)
    assert task_shape({**base, "task.name": "encoder"}) == (8, 8)
    assert task_shape({**base, "task.name": "csv", "task.path": "data/xor.csv"}, str(GRIDS)) == (2, 1)


# --------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, suggestion", [
    ('[train]\nlearning_rate = 0.1', "did you mean 'train.lr'?"),
    ('[model]\nactivaton = "tanh"', "did you mean 'model.activation'?"),
    ('[model]\nlr = 0.1', "did you mean 'train.lr'?"),
    ('[train]\nepoch = 10', "did you mean 'train.epochs'?"),
    ('[train]\nseed = 3', "did you mean 'sweep.seeds'?"),
    ('[sweep]\n"train.momentun" = [0.5]', "did you mean 'train.momentum'?"),
    ('[modle]\nhidden = [2]', "did you mean 'model'?"),
])
def test_typo_suggestions(body, suggestion):
    with pytest.raises(GridError, match=re.escape(suggestion)):
        parse_grid(f'name = "t"\n{body}\n', "typo.toml")


def test_error_attributes():
    with pytest.raises(GridError) as info:
        parse_grid('name = "t"\n[train]\n\nlr = 0\n', "x.toml")
    assert (info.value.path, info.value.line, info.value.key) == ("x.toml", 4, "train.lr")
    assert str(info.value) == "x.toml:4: train.lr = 0.0 must be > 0"


def test_missing_file():
    with pytest.raises(GridError, match="grid file not found"):
        load_grid(GRIDS / "nope.toml")


# --------------------------------------------------------------------------------------------
# --set overrides
# --------------------------------------------------------------------------------------------
BASE = 'name = "base"\n[train]\nlr = 0.5\n[sweep]\nseeds = 3\n"model.hidden" = [[2], [3]]\n'


def test_overrides_coerce_and_replace():
    g = parse_grid(BASE, overrides=["train.lr=1", "task.name=parity", "task.bits=3", "model.bias=false",
                                    "sweep.seeds=10", "sweep.train.epochs=[10, 20]", "name=renamed",
                                    "execution.threads=4", "output.chunk_size=128"])
    cfg = g.run_config(0)
    assert cfg["train.lr"] == 1.0 and isinstance(cfg["train.lr"], float)
    assert cfg["task.name"] == "parity" and cfg["task.bits"] == 3 and cfg["model.bias"] is False
    assert g.n_runs == 2 * 2 * 10
    assert g.name == "renamed" and g.output == {"dir": "runs/renamed", "chunk_size": 128}
    assert g.execution["threads"] == 4
    assert g.overrides[0] == "train.lr=1"
    assert json.loads(g.canonical)["params"]["train.lr"] == 1.0


def test_override_replaces_a_sweep_axis_and_changes_the_hash():
    plain = parse_grid(BASE)
    g = parse_grid(BASE, overrides=['sweep.model.hidden=[[4], [5], [6]]'])
    assert g.n_runs == 9 and g.hash != plain.hash and g.text == plain.text
    assert {gr.config["model.hidden"][0] for gr in g.groups()} == {4, 5, 6}


@pytest.mark.parametrize("item, message", [
    ("train.learning_rate=0.1", "--set train.learning_rate=0.1: unknown key 'train.learning_rate'; "
                                "did you mean 'train.lr'?"),
    ("train.lr=-1", "--set train.lr=-1: train.lr = -1.0 must be > 0"),
    ("model.bias=yes", "--set model.bias=yes: model.bias = 'yes' must be true or false"),
    ("train.lr", "--set train.lr: expected KEY=VALUE"),
    ("model.hidden=[3]x", "model.hidden = '[3]x' must be a list of positive integers"),
    ("sweep.train.lr=0.3", "--set sweep.train.lr=0.3: sweep axis 'train.lr' = 0.3 must be a list"),
    ("model.hidden=[4]", "--set model.hidden=[4]: model.hidden is a sweep axis in this grid"),
    ("sweep.seeds=0", "--set sweep.seeds=0: seeds = 0: the seed count must be >= 1"),
    ("output.dirr=x", "did you mean 'output.dir'?"),
    ("train.loss=bce", "--set train.loss=bce: train.loss = 'bce' requires model.output = 'sigmoid'"),
])
def test_bad_overrides(item, message):
    overrides = [item] if "bce" not in item else ["model.output=linear", item]
    with pytest.raises(GridError) as info:
        parse_grid(BASE, "base.toml", overrides=overrides)
    assert message in str(info.value)


# --------------------------------------------------------------------------------------------
# canonical form
# --------------------------------------------------------------------------------------------
def test_canonical_ignores_spelling_but_not_meaning():
    a = parse_grid('name = "c"\n[train]\nlr = 1\n# a comment\n')
    b = parse_grid('name = "c"\n\n[train]\nlr = 1.0\n')
    assert a.canonical == b.canonical and a.hash == b.hash and len(a.hash) == 64
    described = parse_grid('name = "c"\ndescription = "new words"\n[train]\nlr = 1.0\n')
    threads = parse_grid('name = "c"\n[train]\nlr = 1.0\n', overrides=["execution.threads=3"])
    assert described.hash != a.hash and described.runs_hash == a.runs_hash == threads.runs_hash
    assert parse_grid('name = "c"\n[train]\nlr = 2\n').runs_hash != a.runs_hash


def test_fixed_key_overridden_by_axis():
    g = parse_grid('name = "w"\n[train]\nlr = 0.3\n[sweep]\n"train.lr" = [0.1, 0.2]\n')
    assert [g.run_config(i)["train.lr"] for i in range(2)] == [0.1, 0.2]
    assert g.main_criterion == "acc100"
    swept = parse_grid('name = "w"\n[sweep]\n"criteria.main" = ["acc75", "acc100"]\n')
    assert swept.main_criterion is None


def test_never_applying_key_warns():
    g = parse_grid('name = "w"\n[train]\nbatch_size = 4\n')
    assert any("train.batch_size is set but never applies" in w for w in g.warnings)
    assert "warning:" in g.describe()


def test_ignored_fixed_key_from_set_is_an_error_unless_default():
    with pytest.raises(GridError) as info:
        parse_grid(BASE, "base.toml", overrides=["train.momentum=0.5"])
    assert str(info.value) == ("--set train.momentum=0.5: train.momentum = 0.5 is used by no run of this grid: "
                               "optimizer sgd does not use train.momentum (it reads train.lr); drop it, or also "
                               "set train.optimizer to momentum")
    g = parse_grid(BASE, overrides=["train.momentum=0.9"])  # the default: harmless, a warning
    assert g.warnings == ("train.momentum is set but never applies: optimizer sgd does not use train.momentum "
                          "(it reads train.lr)",)
    # from the file, a key the --set optimizer ignores stays a warning (a study's overrides leave it unused)
    rprop = parse_grid(BASE, overrides=["train.optimizer=rprop"])
    assert rprop.run_config(0)["train.lr"] is None and any("train.lr is set but never" in w for w in rprop.warnings)
