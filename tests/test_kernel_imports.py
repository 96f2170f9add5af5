"""The modules of ``kernels/`` import one way: no circle, and the code generators import at the top.

Read from the source with ``ast`` (nothing is imported): tuning -> size -> emission -> plan
(docs/architecture.md). An import inside a function is how a circle hides, so the code
generators (``kernels/codegen*.py``) may not import a ``kernels`` module there.
"""
from __future__ import annotations

import ast
from pathlib import Path

KERNELS = Path(__file__).resolve().parent.parent / "kernels"


def _module(path: Path) -> str:
    parts = path.relative_to(KERNELS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node, modules) -> list[str]:
    """The ``kernels`` modules an import statement loads (``from kernels import x``: ``kernels.x``)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                 for a in node.names]
    else:
        return []
    return [n for n in names if n in modules and n != "kernels"]


def _imports():
    """``{module: (top-level kernels imports, [(line, kernels import inside a function)])}``."""
    paths = sorted(KERNELS.rglob("*.py"))
    modules = {_module(p) for p in paths}
    out = {}
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        top = {t for node in tree.body for t in _targets(node, modules)}
        nested = [(node.lineno, t) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for node in ast.walk(fn) for t in _targets(node, modules)]
        out[_module(path)] = (top, nested)
    return out


def _cycle(graph):
    """One import circle of ``graph`` (module -> modules) as a list, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_circle_in_kernels():
    """Imports inside functions count: they are how a circle hides."""
    graph = {m: top | {t for _, t in nested} for m, (top, nested) in _imports().items() if m != "kernels"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_code_generators_import_at_the_top():
    late = [f"{m}:{line} imports {t}" for m, (_, nested) in _imports().items()
            if m.split(".")[-1].startswith("codegen") for line, t in nested]
    assert not late, late


def test_tuning_plan_emission_one_way():
    imports = {m: top for m, (top, _) in _imports().items()}
    emission = {"kernels.codegen_ir", "kernels.codegen_epoch", "kernels.codegen_tiles", "kernels.codegen_registers",
                "kernels.codegen_heldout", "kernels.codegen_llvm", "kernels.codegen_state", "kernels.codegen_emit"}
    for m in emission | {"kernels.codegen_size", "kernels.codegen_plan"}:
        assert "kernels.codegen_tuning" not in imports[m], m
    for m in emission | {"kernels.codegen_plan"}:
        assert "kernels.codegen_size" not in imports[m], m
    assert "kernels.codegen_size" in imports["kernels.codegen_tuning"]
    assert "kernels.codegen_ir" in imports["kernels.codegen_size"]


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
