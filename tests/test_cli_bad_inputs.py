"""Bad inputs found by trying the CLI as a hostile user would (issue 29): each is one clear
``error:`` line and exit code 2, never a traceback, and nothing is trained."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweep.cli import main

GOOD = """
name = "bad-inputs"
[task]
name = "xor"
[train]
epochs = 20
[sweep]
seeds = 8
"""
LONG = "a" * 300


CASES = [
    pytest.param(["run", "{grid}", "--chunk-size", "1000000000000"],
                 ["argument --chunk-size: 1,000,000,000,000 is above 1,048,576"], id="chunk-size-1e12"),
    pytest.param(["run", "{grid}", "output.chunk_size=1000000000000"],
                 ["chunk_size = 1,000,000,000,000 is above 1,048,576"], id="chunk-size-1e12-override"),
    pytest.param(["run", "{grid}", "--out", "{tmp}/" + LONG],
                 ["--out: the folder name", "is 300 bytes; this file system allows 255"], id="out-component-too-long"),
    pytest.param(["run", "{grid}", "--out", "{tmp}/" + "b" * 252],
                 ["is 252 bytes; with '.sweep' added", "exceeds the 255"], id="out-sidecar-too-long"),
    pytest.param(["run", "{grid}", "name=" + "c" * 260],
                 ["[output] dir (default runs/<name>): the folder name", "is 260 bytes"], id="name-too-long"),
    pytest.param(["run", "{grid}", "train.optimizer=rprop", "train.step_min=2", "train.step_max=1"],
                 ["train.step_min = 2 is above train.step_max = 1"], id="step-min-above-max"),
    pytest.param(["run", "{grid}", "train.optimizer=rprop", "sweep.train.step_min=1e-6,60"],
                 ["train.step_min = 60 is above train.step_max = 50"], id="step-min-axis-above-max"),
    pytest.param(["run", "{grid}", "model.hidden=[100000000]"],
                 ["400,000,001 weights a run need at least", "GiB for one block of 16 runs", "more than this machine's"],
                 id="hidden-1e8-refused"),
    pytest.param(["run", "{grid}", "model.hidden=[100000]"],
                 ["this sweep is very large: nets of 400,001 weights", "--dry-run", "--yes"], id="hidden-1e5-needs-yes"),
    pytest.param(["claim", "{tmp}", "--at", "-5"], ["argument --at: -5 is not an epoch"], id="claim-at-negative"),
    pytest.param(["report", "{tmp}", "--at", "10", "-5"], ["argument --at: -5 is not an epoch"], id="report-at-negative"),
    pytest.param(["info", "{grid}"], ["grid.toml is a file, not a directory; give a sweep's output directory"],
                 id="info-of-a-file"),
    pytest.param(["ls", "{grid}"], ["grid.toml is a file, not a directory; 'sweep ls' takes a folder"], id="ls-of-a-file"),
]

# an override error names the override as typed: with --set only when typed with --set
ECHO = [
    pytest.param(["sweep.train.lr=1,,2"], "error: sweep.train.lr=1,,2: train.lr = '' must be a finite number",
                 id="hydra-axis-empty-item"),
    pytest.param(["--set", "sweep.train.lr=1,,2"], "error: --set sweep.train.lr=1,,2: train.lr = ''", id="set-axis-empty-item"),
    pytest.param(["train.lr=abc"], "error: train.lr=abc: train.lr = 'abc' must be a finite number", id="hydra-fixed"),
    pytest.param(["train.lr=1,2"], "error: train.lr=1,2: train.lr=1,2 gives several values to a fixed key; to sweep "
                 "them use sweep.train.lr=1,2", id="hydra-several-values"),
    pytest.param(["--set", "train.lr=1,2"], "error: --set train.lr=1,2: train.lr=1,2 gives several values to a fixed "
                 "key; to sweep them use --set sweep.train.lr=1,2", id="set-several-values"),
    pytest.param(["sweep.train.lr=1,2", "train.lr=3"], "error: train.lr=3: train.lr is a sweep axis in this grid, so a "
                 "fixed value would be ignored; use sweep.train.lr=VALUE", id="hydra-fixed-on-axis"),
]


@pytest.mark.parametrize("argv, expect", CASES)
def test_bad_input_is_one_clear_error(tmp_path, monkeypatch, capsys, argv, expect):
    (tmp_path / "grid.toml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{grid}", str(tmp_path / "grid.toml")).replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv + (["--no-progress"] if argv[0] == "run" else [])) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1
    for e in expect:
        assert e in err, f"{e!r} not in {err!r}"
    assert not list(tmp_path.rglob("part-*.parquet"))


def test_a_fifo_as_csv_is_not_a_regular_file(tmp_path, monkeypatch, capsys):
    os.mkfifo(tmp_path / "data.fifo")   # opening it would block for ever
    (tmp_path / "grid.toml").write_text(GOOD.replace('name = "xor"', 'name = "csv"\npath = "data.fifo"'))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tmp_path / "grid.toml"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "data.fifo' is not a regular file (a directory, FIFO or device)" in err and "no such file" not in err


def test_a_large_net_starts_with_yes(tmp_path, monkeypatch, capsys):
    (tmp_path / "grid.toml").write_text(GOOD.replace("seeds = 8", "seeds = 1").replace("epochs = 20", "epochs = 0"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tmp_path / "grid.toml"), "model.hidden=[100000]", "--yes", "--no-progress",
                 "--out", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 1


@pytest.mark.parametrize("words, expect", ECHO)
def test_override_errors_echo_what_was_typed(tmp_path, capsys, words, expect):
    (tmp_path / "grid.toml").write_text(GOOD)
    assert main(["run", str(tmp_path / "grid.toml"), *words, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expect), err
    assert ("--set" in err) == ("--set" in words)
    assert "[1," not in err                        # never the rewritten form


def test_a_bare_hidden_width_is_one_layer(tmp_path, capsys):
    from sweep.grid.load import load_grid
    from sweep.grid.overrides import normalise
    (tmp_path / "grid.toml").write_text(GOOD)
    for item in (normalise("model.hidden=7", None), normalise("model.hidden=7")):
        assert load_grid(tmp_path / "grid.toml", [item]).fixed["model.hidden"] == [7]
    assert main(["run", str(tmp_path / "grid.toml"), "model.hidden=7", "--dry-run"]) == 0
    assert "error" not in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_dirs(tmp_path_factory):
    """runs/good (a finished sweep) and runs/bad (the same, with a manifest of random bytes)."""
    root = tmp_path_factory.mktemp("dirs")
    (root / "grid.toml").write_text(GOOD)
    for name in ("bad", "good"):
        assert main(["run", str(root / "grid.toml"), "--out", str(root / "runs" / name), "--no-progress"]) == 0
    (root / "runs" / "bad.sweep" / "manifest.json").write_bytes(b"\x00\xff{garbage")
    return root


def test_ls_lists_a_sweep_with_a_garbage_manifest_as_damaged_and_goes_on(two_dirs, capsys):
    capsys.readouterr()
    assert main(["ls", str(two_dirs / "runs")]) == 0
    out, err = capsys.readouterr()
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["bad"][1:3] == ["damaged", "8/?"] and rows["bad-inputs"][1:3] == ["complete", "8/8"]
    assert "bad.sweep/manifest.json: unreadable manifest" in err and "Traceback" not in err
    assert main(["info", str(two_dirs / "runs" / "bad")]) == 2      # info names the damage
    assert "unreadable manifest" in capsys.readouterr().err


@pytest.mark.parametrize("by, expect, absent", [
    ("nosuch", "no column 'nosuch' (columns: run_id, run_index, seed,", "did you mean"),
    ("lrr", "no column 'lrr'; did you mean train.lr?", "columns:"),
    ("activ", "no column 'activ'; did you mean model.activation?", "columns:"),
], ids=["unrelated-lists-the-columns", "typo", "prefix"])
def test_by_suggests_only_close_columns(two_dirs, capsys, by, expect, absent):
    capsys.readouterr()
    assert main(["report", str(two_dirs / "runs" / "good"), "--by", by]) == 2
    err = capsys.readouterr().err
    assert expect in err and absent not in err and "Traceback" not in err
