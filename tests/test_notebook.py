"""experiments/analysis.ipynb runs end to end on the tiny sweep it writes itself."""
from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_analysis_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYSIS_DIR", str(tmp_path / "runs" / "analysis-demo"))
    nb = nbformat.read(ROOT / "experiments" / "analysis.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the Kaplan-Meier figure
    assert (tmp_path / "runs" / "analysis-demo.sweep" / "manifest.json").is_file()
