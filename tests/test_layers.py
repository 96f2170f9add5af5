"""The layers import one way: kernels/ imports nothing of the project, results/ does not import
sweep/ or kernels/, and no module is over 400 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"kernels": ("sweep", "results"), "results": ("sweep", "kernels")}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_one_way(layer):
    bad = {str(p.relative_to(ROOT)): sorted(imported(p) & set(FORBIDDEN[layer]))
           for p in (ROOT / layer).rglob("*.py")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for top in ("kernels", "sweep", "results", "experiments")
            for p in (ROOT / top).rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
