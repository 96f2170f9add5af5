"""The test session never writes generated kernels into the user's kernel cache."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kernels.codegen import cache_dir

ROOT = Path(__file__).resolve().parents[1]


def test_kernel_cache_is_test_only_and_inherited():
    here = cache_dir()
    assert here != Path.home() / ".cache" / "mlp-sweep" / "kernels"
    assert str(here) == os.environ["MLP_SWEEP_CACHE"]
    assert ".pytest_cache" in here.parts or "mlp-sweep-test-kernels-" in str(here) or \
        os.environ.get("MLP_SWEEP_TEST_CACHE") == str(here)
    out = subprocess.run([sys.executable, "-c", "import os; print(os.environ['MLP_SWEEP_CACHE'])"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == str(here), out.stderr


def test_a_users_cache_setting_is_overridden(tmp_path):
    user = tmp_path / "user-cache"
    env = dict(os.environ, MLP_SWEEP_CACHE=str(user), MLP_SWEEP_TEST_CACHE="fresh")
    probe = tmp_path / "test_probe.py"
    probe.write_text("import os\n\ndef test_probe():\n    print('CACHE=' + os.environ['MLP_SWEEP_CACHE'])\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                          "-p", "tests.conftest", "--rootdir", str(tmp_path), str(probe)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    line = next(s for s in out.stdout.splitlines() if "CACHE=" in s)
    assert str(user) not in line and "mlp-sweep-test-kernels-" in line
