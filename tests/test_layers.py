"""The package's layers, read from the source with `ast`: engine <- topics <- views, no arrow upward, no cycle.

- engine: `validation`, `runtime`, `data`, `weights`, `models`, `train` import only each other;
- topics (one module per concept) import the engine and other topics, and draw nothing (no matplotlib, no widgets);
- views (`plots`, `explorer`, and every `*_plots` module) may import anything in cnnlab;
- nothing in cnnlab imports `tools` (instructor tooling and data maintenance live there, outside the package);
- the import graph, function-level imports included, has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlab"
ENGINE = {"validation", "runtime", "data", "weights", "models", "train"}
DRAWING = ("matplotlib", "ipywidgets", "IPython.display")


def modules() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PACKAGE.glob("*.py")) if p.stem != "__init__"}


def layer(name: str) -> str:
    if name in ENGINE:
        return "engine"
    if name in ("plots", "explorer") or name.endswith("_plots"):
        return "view"
    return "topic"


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function, as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "cnnlab":  # from cnnlab import train
                found |= {f"cnnlab.{alias.name}" for alias in node.names}
    return found


def cnnlab_imports(path: Path) -> set[str]:
    return {m.split(".")[1] for m in imports(path) if m.startswith("cnnlab.")}


GRAPH = {name: cnnlab_imports(path) for name, path in modules().items()}
RANK = {"engine": 0, "topic": 1, "view": 2}


def test_the_engine_modules_exist():
    assert ENGINE <= set(GRAPH), f"missing engine modules: {ENGINE - set(GRAPH)}"


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_no_arrow_points_upward(name):
    upward = sorted(dep for dep in GRAPH[name] if RANK[layer(dep)] > RANK[layer(name)])
    assert not upward, f"cnnlab.{name} ({layer(name)}) imports {upward}, which sit in a higher layer"


@pytest.mark.parametrize("name", sorted(n for n in GRAPH if layer(n) != "view"))
def test_engine_and_topics_draw_nothing(name):
    drawing = sorted(m for m in imports(modules()[name]) if m.startswith(DRAWING))
    assert not drawing, f"cnnlab.{name} is a {layer(name)} module but imports {drawing}: move the figure to a view"


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_the_package_never_imports_tools(name):
    assert not any(m == "tools" or m.startswith("tools.") for m in imports(modules()[name]))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_imports_sees_function_level_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from cnnlab.plots import plot_history\n    import matplotlib.pyplot as plt\n")
    assert cnnlab_imports(src) == {"plots"} and "matplotlib.pyplot" in imports(src)
