"""The package's import graph: no circle, and the analysis never reaches into the report build or the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import mnist_analysis

PACKAGE = Path(mnist_analysis.__file__).resolve().parent
#: Modules that build reports and documents or parse the command line: the top floor. The analysis
#: modules users and notebooks import must work without them.
BUILD = {
    "cli",
    "reports",
    "execution_cache",
    "build_schedule",
    "report_index",
    "datasheet",
    "datasheet_values",
    "croissant",
}


def imports_of(path: Path) -> set[str]:
    """The package modules a module imports (at the top or inside functions), by their short names."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or base.startswith("mnist_analysis"):
                base = base.removeprefix("mnist_analysis").lstrip(".")
                names = [base.split(".")[0]] if base else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("mnist_analysis.")]
        found |= {name for name in names if name in modules}
    return found - {path.stem}


def import_graph() -> dict[str, set[str]]:
    return {path.stem: imports_of(path) for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__"}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circle():
    graph = import_graph()
    assert sum(len(v) for v in graph.values()) > 100  # the graph was read, not empty
    assert circles(graph) == []


def test_analysis_modules_never_import_the_report_build_or_the_command_line():
    graph = import_graph()
    assert BUILD <= set(graph), sorted(BUILD - set(graph))
    reaching_up = {module: sorted(imported & BUILD) for module, imported in graph.items() if module not in BUILD}
    assert {module: up for module, up in reaching_up.items() if up} == {}
