"""The public API: every module says what it offers (`__all__`), offers only what exists, and the whole fits on a page.

The README's "Public API" section lists, per module, the names in `__all__`; this file checks they agree, so the page
a learner reads is the package they import.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (ROOT / "cnnlab").glob("*.py") if not p.stem.startswith("_"))  # private: not API
# The consolidation issue (#17) counted 346 public names in 28 modules before it.
BEFORE = 346


def declared(name: str) -> list[str]:
    """The names in `cnnlab.<name>.__all__`, read from the source (no import needed)."""
    tree = ast.parse((ROOT / "cnnlab" / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"cnnlab/{name}.py declares no __all__")


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_offers_and_offers_only_what_exists(name):
    names = declared(name)
    module = importlib.import_module(f"cnnlab.{name}")
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"cnnlab.{name}.__all__ lists names it does not define: {missing}"
    assert len(names) == len(set(names)), f"cnnlab.{name}.__all__ lists a name twice"
    assert all(not n.startswith("_") for n in names), f"cnnlab.{name}.__all__ exports a private name"


def notebook_imports() -> dict[str, set[str]]:
    """Every cnnlab name the notebooks and assignments use: `from cnnlab.m import x`, and `m.x` after
    `from cnnlab import m`."""
    used: dict[str, set[str]] = {}
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "assignments").glob("*.ipynb"))
    for path in paths:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "\n".join(line for line in "".join(cell["source"]).splitlines()
                                if not line.lstrip().startswith(("%", "!")))
            tree = ast.parse(source)
            modules = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnnlab."):
                    used.setdefault(node.module.split(".")[1], set()).update(a.name for a in node.names)
                if isinstance(node, ast.ImportFrom) and node.module == "cnnlab":
                    modules.update({a.asname or a.name: a.name for a in node.names})
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
                    used.setdefault(modules[node.value.id], set()).add(node.attr)
    return used


def test_what_the_notebooks_use_is_public():
    """The notebooks are the learner's view of the package: everything they import is in a module's __all__."""
    for module, names in notebook_imports().items():
        hidden = sorted(names - set(declared(module)))
        assert not hidden, f"notebooks use cnnlab.{module}.{hidden}, which its __all__ does not offer"


def test_the_public_api_is_smaller_than_before():
    total = sum(len(declared(name)) for name in MODULES)
    assert total < BEFORE, f"{total} public names, not fewer than the {BEFORE} the issue counted"


def test_the_readme_lists_exactly_the_public_api():
    """The README's API section has one line per module: `module`: name, name, ... — the same names as __all__."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Public API", 1)[1].split("\n## ", 1)[0]
    listed = {m.group(1): sorted(re.findall(r"`([A-Za-z_][\w]*)`", m.group(2)))
              for m in re.finditer(r"^- `cnnlab\.(\w+)`[^:]*: (.+)$", section, flags=re.M)}
    assert sorted(listed) == MODULES, "the README's API section must have one line per module"
    for name in MODULES:
        assert listed[name] == sorted(declared(name)), f"README and cnnlab.{name}.__all__ disagree"
