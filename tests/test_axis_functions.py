"""Axis functions (issue 28 item 7): range() / linspace() / logspace() as a swept key's value,
in a grid file and in ``sweep.KEY=`` overrides, computed as NumPy does (rounded to 12
significant digits); a bad form is one exit-2 line naming the key, the value and the forms."""
from __future__ import annotations

import numpy as np
import pytest

from sweep.cli import main
from sweep.errors import GridError
from sweep.grid.axis_functions import expand
from sweep.grid.load import parse_grid
from sweep.grid.overrides import normalise

BASE = 'name = "fn"\n[train]\nepochs = 10\n[sweep]\nseeds = 2\n'


def _axis(grid, key):
    return [grid.run_config(i)[key] for i in range(0, grid.n_runs, 2)]


@pytest.mark.parametrize("text, kind, want", [
    ("logspace(-2, 0, 5)", "float", np.logspace(-2, 0, 5)),
    ("linspace(0, 1, 11)", "float", np.linspace(0, 1, 11)),
    ("range(0, 1, 0.25)", "float", np.arange(0, 1, 0.25)),
    ("range(1e-3, 4e-3, 1e-3)", "float", np.arange(1e-3, 4e-3, 1e-3)),
    ("logspace(2, 4, 3)", "int", [100, 1000, 10000]),
    ("range(2, 9, 2)", "int_list", [[2], [4], [6], [8]]),
    ("range(3)", "int", [0, 1, 2]),
    ("range(10, 0, -4)", "int", [10, 6, 2]),
])
def test_values_are_numpys_rounded_to_12_digits(text, kind, want):
    got = expand(text, kind)
    if kind == "float":
        assert got == [float(f"{x:.12g}") for x in want]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    else:
        flat = [w for v in got for w in (v if isinstance(v, list) else [v])]
        assert got == list(want) and all(type(w) is int for w in flat)
    assert expand("linspace(0, 1, 11)", "float")[3] == 0.3   # not 0.30000000000000004


def test_grid_file_and_override_give_the_same_axis_and_hash():
    file = parse_grid(BASE + '"train.lr" = "logspace(-2, 0, 5)"\n"model.hidden" = "range(2, 9, 2)"\n')
    typed = parse_grid(BASE, overrides=[normalise("sweep.train.lr=logspace(-2,0,5)", None),
                                        normalise("sweep.model.hidden='range(2, 9, 2)'", "--set")])
    listed = parse_grid(BASE + '"train.lr" = [0.01, 0.0316227766017, 0.1, 0.316227766017, 1.0]\n'
                               '"model.hidden" = [[2], [4], [6], [8]]\n')
    assert file.n_runs == typed.n_runs == 4 * 5 * 2
    assert sorted(set(_axis(file, "train.lr"))) == [0.01, 0.0316227766017, 0.1, 0.316227766017, 1.0]
    assert {tuple(g.config["model.hidden"]) for g in file.groups()} == {(2,), (4,), (6,), (8,)}
    ids = [g.columns(0, g.n_runs)["run_id"].tolist() for g in (file, typed, listed)]
    assert ids[0] == ids[1] == ids[2]


def test_axis_function_in_a_zip():
    g = parse_grid(BASE + '[[sweep.zip]]\n"train.lr" = "linspace(0.1, 0.3, 3)"\n"train.epochs" = "range(10, 40, 10)"\n')
    assert g.n_runs == 3 * 2 and g.run_config(4)["train.lr"] == 0.3 and g.run_config(4)["train.epochs"] == 30


@pytest.mark.parametrize("value, message", [
    ('"logspace(-2, 0)"', "logspace takes 3 arguments (start, stop, num)"),
    ('"linspace(0, 1, 2.5)"', "linspace takes 3 arguments (start, stop, num), num an integer"),
    ('"range(1, 5, 0)"', "range's step must not be 0"),
    ('"range(5, 1)"', "it gives no values"),
    ('"lgspace(1, 2, 3)"', "unknown function lgspace()"),
    ('"logspace(a, 2, 3)"', "'a' is not a number"),
    ('"range(0, 1e9)"', "an axis takes at most 100,000"),
])
def test_bad_forms_name_the_key_the_value_and_the_forms(value, message):
    with pytest.raises(GridError) as info:
        parse_grid(BASE + f'"train.lr" = {value}\n', "g.toml")
    text = str(info.value)
    assert "sweep axis 'train.lr'" in text and value.strip('"') in text and message in text
    assert "range([start, ]stop[, step]), linspace(start, stop, num) or logspace(start, stop, num)" in text


@pytest.mark.parametrize("word, message", [
    ("sweep.train.epochs=logspace(1,2,3)", "it gives 31.6227766017, and this key takes whole numbers"),
    ("sweep.model.activation=range(3)", "range() gives numbers, and this key does not take a number"),
    ("train.lr=logspace(-2,0,3)", "gives several values to a fixed key; to sweep them use "
                                  "sweep.train.lr=logspace(-2,0,3)"),
])
def test_bad_override_is_one_exit_2_line(tmp_path, capsys, word, message):
    grid = tmp_path / "g.toml"
    grid.write_text(BASE)
    assert main(["run", str(grid), "--dry-run", word]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {word}: ") and message in err[0]
