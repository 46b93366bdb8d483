"""No import cycles between the modules that build the app's pieces (issue 10): each module's
imports, at the top or inside functions, never lead back to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lavish

ROOT = Path(lavish.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The lavish modules `path` imports (a `from package import name` counts the submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in ROOT.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A shortest path start → … → start, if there is one."""
    frontier: list[list[str]] = [[start]]
    seen = {start}
    while frontier:
        path = frontier.pop(0)
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == start:
                return [*path, start]
            # Packages' __init__ importing their own submodules (blueprint registration) is how
            # a package is assembled, not a cycle between features.
            if nxt not in seen and not path[-1].startswith(nxt + "."):
                seen.add(nxt)
                frontier.append([*path, nxt])
    return None


def _packages() -> set[str]:
    return {_module_name(path) for path in ROOT.rglob("__init__.py")}


def test_no_module_imports_itself_back():
    graph = import_graph()
    cycles = [
        " -> ".join(cycle)
        for module in sorted(set(graph) - _packages())
        if (cycle := cycle_through(graph, module))
    ]
    assert cycles == []


@pytest.mark.parametrize(
    "module",
    [
        "lavish.admin.actions",
        "lavish.admin.routes",
        "lavish.models.site",
        "lavish.billing.providers.sandbox",
        "lavish.billing.webhooks",
        "lavish.billing.services",
        "lavish.mail.render",
    ],
)
def test_the_cycles_of_issue_10_are_gone(module):
    assert cycle_through(import_graph(), module) is None
