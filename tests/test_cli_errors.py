"""Every bad input to ``sweep run`` is one clear line on stderr and exit code 2, never a traceback.

One table: each case names the input, sets up what it needs (a file where the output should
go, a simulated full disk ...), and the text the message must hold. The bad grid files of
``tests/grids/`` are cases of the same table.
"""
from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from results.layout import layout_of
from sweep.cli import main

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ROOT / "tests" / "grids"

GOOD = """
name = "errs"
[task]
name = "xor"
[train]
epochs = 20
[sweep]
seeds = 8
"""


def _no_setup(tmp_path, monkeypatch):
    pass


def _out_is_file(tmp_path, monkeypatch):
    (tmp_path / "out").write_text("not a directory")


def _out_under_file(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("a file")


def _read_only(tmp_path, monkeypatch):
    from results import lock

    def refuse(self):
        raise OSError(errno.EROFS, "Read-only file system", self.path)
    monkeypatch.setattr(lock.DirLock, "acquire", refuse)


def _disk_full(tmp_path, monkeypatch):
    from results import writer

    def full(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half")  # a partial temp file, as a real ENOSPC leaves
        raise OSError(errno.ENOSPC, "No space left on device", str(where))
    monkeypatch.setattr(writer.pq, "write_table", full)


def _bad_grid(name: str):
    path = GRIDS / name
    expect = path.read_text().splitlines()[0].removeprefix("# expect:").strip()
    return pytest.param(["run", str(path)], _no_setup, [expect, name], 2, id=f"grid-{path.stem}")


CASES = [
    pytest.param(["run", "{grid}", "--chunk-size", "-5"], _no_setup, ["argument --chunk-size: -5 must be an integer >= 1"], 2, id="chunk-size-negative"),
    pytest.param(["run", "{grid}", "--chunk-size", "0"], _no_setup, ["argument --chunk-size: 0 must be an integer >= 1"], 2, id="chunk-size-zero"),
    pytest.param(["run", "{grid}", "--chunk-size", "many"], _no_setup, ["argument --chunk-size: 'many' is not an integer"], 2, id="chunk-size-text"),
    pytest.param(["run", "{grid}", "--threads", "100000"], _no_setup, ["argument --threads: 100000 must be 0 (all cores) .. 4096"], 2, id="threads-huge"),
    pytest.param(["run", "{grid}", "--threads", str((os.cpu_count() or 1) + 1)], _no_setup, ["this machine has"], 2, id="threads-above-cores"),
    pytest.param(["run", "{grid}", "--threads", "-1"], _no_setup, ["argument --threads: -1 must be 0 (all cores)"], 2, id="threads-negative"),
    pytest.param(["run", "{grid}", "--out", ""], _no_setup, ["--out '' is empty"], 2, id="out-empty"),
    pytest.param(["run", "{grid}", "--dask-local", "-1"], _no_setup, ["argument --dask-local: -1 must be an integer >= 1"], 2, id="dask-local-negative"),
    pytest.param(["run", "{grid}", "--scheduler", "notaurl"], _no_setup, ["--scheduler 'notaurl' is not a Dask scheduler address", "tcp://HOST:PORT"], 2, id="scheduler-not-a-url"),
    pytest.param(["run", "{grid}", "--out", "{tmp}/out"], _out_is_file, ["{tmp}/out", "it is a file, not a directory"], 2, id="out-is-a-file"),
    pytest.param(["run", "{grid}", "--out", "{tmp}/file/sub"], _out_under_file, ["{tmp}/file", "Not a directory"], 2, id="out-under-a-file"),
    pytest.param(["run", "{grid}", "--out", "{tmp}/ro"], _read_only, ["{tmp}/ro.sweep/lock", "Read-only file system"], 2, id="out-read-only"),
    pytest.param(["run", "{grid}", "--out", "{tmp}/full"], _disk_full, ["{tmp}/full", "No space left on device", "run the same command again to resume"], 2, id="disk-full"),
    pytest.param(["run", "{grid}", "--set", "train.epochs=1000000000"], _no_setup, ["this sweep is very large", "runs of up to 1,000,000,000 epochs", "--yes"], 2, id="epochs-1e9-without-yes"),
    pytest.param(["run", "{grid}", "--set", "sweep.seeds=200000000"], _no_setup, ["200,000,000 runs (more than 100,000,000)", "--yes"], 2, id="runs-2e8-without-yes"),
    pytest.param(["run", "{grid}", "--set", "sweep.seeds=10000000000", "--yes"], _no_setup, ["10,000,000,000 runs", "more than the 1,000,000,000 one sweep supports"], 2, id="seeds-1e10"),
    pytest.param(["run", "{grid}", "--set", "init.scheme=uniform", "--set", "init.low=1", "--set", "init.high=-1"], _no_setup, ["init.low = 1 is above init.high = -1"], 2, id="init-low-above-high"),
    pytest.param(["run", "{grid}", "--set", "name=.."], _no_setup, ["name = '..' must not start with '.'"], 2, id="name-dotdot"),
    pytest.param(["run", "{grid}", "train.optimizer=rprop", "sweep.train.lr=0.01,0.05"], _no_setup, ["error: sweep.train.lr=0.01,0.05: sweep axis train.lr = [0.01, 0.05] changes nothing here: optimizer rprop does not use train.lr", "drop the axis"], 2, id="lr-axis-under-rprop"),
    pytest.param(["run", "{tmp}/missing.toml"], _no_setup, ["missing.toml", "grid file not found"], 2, id="grid-missing"),
    *[_bad_grid(p.name) for p in sorted(GRIDS.glob("*.toml")) if not p.name.startswith("good")],
]


@pytest.mark.parametrize("argv, setup, expect, code", CASES)
def test_bad_input_is_one_clear_error(tmp_path, monkeypatch, capsys, argv, setup, expect, code):
    (tmp_path / "grid.toml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)  # a grid's default output dir lands here, never in the project
    setup(tmp_path, monkeypatch)
    fill = {"{grid}": str(tmp_path / "grid.toml"), "{tmp}": str(tmp_path)}
    for k, v in fill.items():
        argv = [a.replace(k, v) for a in argv]
        expect = [e.replace(k, v) for e in expect]
    assert main(argv + ["--no-progress"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for e in expect:
        assert e in err, f"{e!r} not in {err!r}"
    assert "root:" not in err  # a CSV path to /etc/passwd must not echo the file
    assert not list(tmp_path.rglob(".*.tmp-*")), "a temp file was left behind"


def test_full_disk_keeps_what_was_written_and_resumes(tmp_path, monkeypatch, capsys):
    """ENOSPC on the third part: the two written parts stay, the run resumes once there is space."""
    from results import writer

    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD.replace("seeds = 8", "seeds = 40"))
    real, calls = writer.pq.write_table, []

    def filling(table, where, **kw):
        calls.append(where)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real(table, where, **kw)
    monkeypatch.setattr(writer.pq, "write_table", filling)
    out = tmp_path / "out"
    argv = ["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "8"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "16 of 40 runs are saved" in err
    assert len(list(out.glob("part-*.parquet"))) == 2 and not list(out.glob(".*"))
    monkeypatch.setattr(writer.pq, "write_table", real)
    assert main(argv) == 0
    assert "24 trained now, 16 already there" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == 40


def test_dry_run_of_a_huge_grid_prints_size_and_estimate_and_ends(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD)
    t = time.perf_counter()
    assert main(["run", str(grid), "--dry-run", "--set", "sweep.seeds=200000000", "--set", "train.epochs=1000000000"]) == 0
    assert time.perf_counter() - t < 60  # the calibration caps the epochs
    out = capsys.readouterr().out
    assert "200,000,000 runs, 200,000,000,000,000,000 network-epochs" in out
    assert "estimated time:" in out and "days" in out and "needs --yes" in out


def _sigint_run(args: list[str], wait_for, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # the child gets Ctrl-C's default disposition whatever this process has (a test that ran a Dask
    # cluster may leave SIGINT ignored here, and an ignored signal is inherited)
    proc = subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while not wait_for() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


CHILD_BLOCKED_IMPORT = r"""
import os, runpy, sys, time
target = sys.argv.pop(1)

class Hold:   # first in sys.meta_path: asked for every module before it is imported
    def find_spec(self, name, path=None, target_=None):
        if name == target:
            sys.meta_path.remove(self)
            os.write(1, b"ready\n")   # the parent sends Ctrl-C now: it lands inside this import
            time.sleep(60)
        return None

sys.meta_path.insert(0, Hold())
sys.argv[0] = "sweep"
runpy.run_module("sweep", run_name="__main__", alter_sys=True)   # as python -m sweep
"""


@pytest.mark.parametrize("module", ["sweep.cli", "numpy", "pyarrow", "numba"])
def test_ctrl_c_during_imports_is_one_line(tmp_path, module):
    # no wall-clock guess: the child says when it is inside the import of ``module`` (and holds
    # there), so the Ctrl-C lands during that import however loaded the machine is
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD_BLOCKED_IMPORT, module, "run", str(grid), "--no-progress"],
                            cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        assert line == "ready\n", f"the child never reached the import of {module}: {proc.poll()}"
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted" and out == ""


CHILD_RUN_AS_MAIN = r"""
import os, runpy, signal, sys, time
import sweep.cli

def probe():   # in place of the CLI: a Ctrl-C, then what sweep.cli's error path asks
    try:
        os.kill(os.getpid(), signal.SIGINT)   # the handler raises before the next bytecode
        time.sleep(5)
    except KeyboardInterrupt:
        pass
    from sweep.__main__ import sigint_received
    print("recorded" if sigint_received() else "lost")

sweep.cli.entrypoint = probe
sys.argv = ["sweep"]
runpy.run_module("sweep", run_name="__main__", alter_sys=True)   # as python -m sweep
"""


def test_python_m_sweep_and_the_cli_share_one_record_of_ctrl_c():
    # an error after a Ctrl-C (an extension's interrupted import: ImportError) counts as the
    # interruption only if the CLI sees the Ctrl-C that the handler of ``python -m sweep`` recorded
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", CHILD_RUN_AS_MAIN], env=env, capture_output=True, text=True,
                         timeout=60, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert res.returncode == 0 and res.stdout.strip() == "recorded", res.stderr


CHILD_SWALLOWED = r"""
import ctypes, sys, time
from sweep.__main__ import _redeliver_interrupts
_redeliver_interrupts()
def callback():
    raise KeyboardInterrupt     # as a Ctrl-C inside LLVM's call of Numba's object cache
ctypes.CFUNCTYPE(None)(callback)()
start = time.monotonic()
try:
    time.sleep(30)
except KeyboardInterrupt:
    # while the main thread blocks in a C call, not only once it returns
    print("delivered again" + (" late" if time.monotonic() - start > 20 else ""))
"""


def test_a_ctrl_c_dropped_by_a_c_callback_is_delivered_again():
    # CPython prints "Exception ignored" for an exception in a ctypes callback and goes on:
    # under load about one Ctrl-C in forty during the imports was lost that way; redelivered
    # as a flag only (``_thread.interrupt_main``) it waited for the blocking call to return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # SIGINT as a terminal leaves it: a test worker may ignore it, and the child would inherit that
    res = subprocess.run([sys.executable, "-c", CHILD_SWALLOWED], env=env, capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert res.returncode == 0 and res.stdout.strip() == "delivered again", res.stderr
    assert "Exception ignored" not in res.stderr and "Traceback" not in res.stderr, res.stderr


CHILD_INTERRUPTED_INIT = r"""
import os, pathlib, runpy, signal, sys, time
target, how, marker = sys.argv.pop(1), sys.argv.pop(1), pathlib.Path(sys.argv.pop(1))

class CtrlC:   # a Ctrl-C that lands exactly while ``target`` is being imported
    def find_spec(self, name, path=None, target_=None):
        if name == target:
            sys.meta_path.remove(self)
            marker.write_text(name)
            if how == "raise":   # the KeyboardInterrupt goes on into the importer (numba's C code)
                os.kill(os.getpid(), signal.SIGINT)
            try:                 # "convert": an extension whose initialisation was interrupted
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
            except KeyboardInterrupt:
                raise ImportError(f"{name} failed to import") from None
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv[0] = "sweep"
runpy.run_module("sweep", run_name="__main__", alter_sys=True)   # as python -m sweep
"""


@pytest.mark.parametrize("target, how", [("numba._devicearray", "raise"), ("numba._devicearray", "convert"),
                                         ("numba.core.caching", "convert")])
def test_ctrl_c_turned_into_an_import_error_inside_numba_ends_with_130(tmp_path, target, how):
    # the flake: numba._dispatcher's initialisation turns a KeyboardInterrupt in its import of
    # numba._devicearray into ImportError (printing the interrupt, or a nested extension's error,
    # with PyErr_Print), which kernels.numba_cache's fallback for an older Numba (``except
    # ImportError``) took for "no such module": the run went on with numba half-imported (a fresh
    # ``numba`` without ``.core``), every chunk failed, exit 1 (numba.core.caching: exit 0)
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD)
    marker, out_dir = tmp_path / "hit", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", CHILD_INTERRUPTED_INIT, target, how, str(marker), "run", str(grid),
                          "--no-progress", "--out", str(out_dir)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert marker.read_text() == target, "the Ctrl-C never landed in the import"
    assert res.returncode == 130, res.stderr[-3000:]
    assert res.stderr.strip() == "interrupted" and res.stdout == "", res.stderr[-3000:]
    assert not list(out_dir.glob("part-*.parquet"))


def test_a_chunk_failure_after_a_swallowed_ctrl_c_ends_interrupted_and_keeps_the_parts(tmp_path, monkeypatch, capsys):
    # a Ctrl-C whose KeyboardInterrupt a library turned into an error of the chunk (a failure is
    # data to the backend) is the interruption: the finished chunks stay, exit 130, one line
    import sweep.__main__ as entry
    from sweep.run.backends import local
    real, calls = local.execute_chunk, []

    def swallowed(grid, plan, chunk):
        calls.append(chunk)
        if len(calls) == 2:
            entry._SIGINTS.append(signal.SIGINT)   # the handler ran; an import turned it into ImportError
            raise ImportError("numba._devicearray failed to import")
        return real(grid, plan, chunk)
    monkeypatch.setattr(entry, "_SIGINTS", [])
    monkeypatch.setattr(local, "execute_chunk", swallowed)
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD.replace("seeds = 8", "seeds = 40"))
    out = tmp_path / "out"
    assert main(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "8"]) == 130
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: 8 of 40 runs are saved"), lines
    assert len(pd.read_parquet(out)) == 8 and len(calls) == 2


@pytest.mark.slow
def test_ctrl_c_at_random_moments_of_the_start_ends_with_130_and_one_line(tmp_path):
    # imports, grid checks, kernel compile or load, the first chunks: before the fixes in
    # sweep/__main__.py about one Ctrl-C in eight under load ended by SIGINT (-2) after the
    # message, was dropped by a C callback, or left an ImportError traceback
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD)
    rng = np.random.default_rng(7)
    outcomes = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for i, delay in enumerate(rng.uniform(0.3, 1.6, 24)):
        proc = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(grid), "--no-progress", "--out",
                                 str(tmp_path / f"out{i}")], cwd=tmp_path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            proc.wait(timeout=delay)        # finished before the Ctrl-C: nothing to interrupt
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        outcomes.append((round(float(delay), 2), proc.returncode, err.strip(), out.strip()[-80:]))
    bad = [o for o in outcomes if not (o[1] == 130 and "\n" not in o[2] and o[2].startswith("interrupted"))
           and not (o[1] == 0 and not o[2] and o[3])]     # 0: finished (its summary printed) before the Ctrl-C
    assert not bad, bad


@pytest.mark.slow
def test_ctrl_c_while_training_is_one_line_with_the_resume_command(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD.replace("seeds = 8", "seeds = 4000").replace("epochs = 20", "epochs = 20000"))
    out = tmp_path / "out"
    res = _sigint_run(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "256"],
                      lambda: any(out.glob("part-*.parquet")), tmp_path)
    assert res.returncode == 130, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "runs are saved in" in lines[0] and f"resume with: python -m sweep run {grid}" in lines[0]
    manifest = json.loads(layout_of(out).manifest.read_text())
    assert manifest["status"] == "interrupted"
    assert len(pd.read_parquet(out)) == manifest["n_done"] > 0


@pytest.mark.slow
def test_ctrl_c_on_a_dask_local_cluster_prints_no_worker_tracebacks(tmp_path):
    pytest.importorskip("distributed")
    grid = tmp_path / "grid.toml"
    grid.write_text(GOOD.replace("seeds = 8", "seeds = 4000").replace("epochs = 20", "epochs = 20000"))
    out = tmp_path / "out"
    res = _sigint_run(["run", str(grid), "--out", str(out), "--no-progress", "--chunk-size", "256", "--dask-local", "2"],
                      lambda: any(out.glob("part-*.parquet")), tmp_path, timeout=180)
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr and "KeyboardInterrupt" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("dask:")]
    assert len(lines) == 1 and "resume with:" in lines[0], res.stderr
