"""``sweep ls`` / ``sweep info`` never call a dead sweep "running": a manifest that says running
while nobody holds the directory's OS lock (kill -9, SIGTERM, a crash) is "interrupted"."""
from __future__ import annotations

import json

from results.layout import layout_of
from results.lock import DirLock, is_held
from sweep.cli import main

GRID = """
name = "status"
[task]
name = "xor"
[train]
epochs = 10
[sweep]
seeds = 4
"""


def test_a_killed_sweep_is_interrupted_and_a_live_one_running(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "runs" / "status"
    assert main(["run", str(grid), "--out", str(out), "--no-progress"]) == 0
    layout = layout_of(out)
    manifest = json.loads(layout.manifest.read_text())
    manifest["status"] = "running"                     # what a kill -9 leaves behind
    layout.manifest.write_text(json.dumps(manifest))
    layout.lock.write_text("somehost 12345")           # with its lock file, held by nobody
    assert not is_held(layout.lock)
    capsys.readouterr()
    assert main(["ls", str(tmp_path / "runs")]) == 0
    assert "interrupted" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    assert "interrupted" in capsys.readouterr().out
    with DirLock(layout.lock):                         # a live sweep holds the lock
        assert is_held(layout.lock)
        assert main(["ls", str(tmp_path / "runs")]) == 0
        text = capsys.readouterr().out
        assert "running" in text and "interrupted" not in text
