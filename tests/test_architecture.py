"""The package's import graph: no circle, and no import that runs from a lower floor up to a higher one.

The floors, from the ground up (a module may import its own floor and the floors below it):

0. ground: the package's ``__init__``, ``locations``, ``validation``, ``utils``, ``running_code``;
1. the caching wing, ``mnist_analysis.caching``;
2. the data wing, ``mnist_analysis.data``;
3. the analysis modules at the top of the package (what users and notebooks import by name);
4. the build wing, ``mnist_analysis.build`` (the report build and the documents it writes);
5. ``cli``, the command line, which nothing imports.

The graph counts every import, at the top of a module or inside a function, and a name the
package's ``__init__`` re-exports as an import of the module that defines it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mnist_analysis

PACKAGE = Path(mnist_analysis.__file__).resolve().parent
NAME = "mnist_analysis"
GROUND = {"__init__", "locations", "validation", "utils", "running_code"}
WINGS = {"caching": 1, "data": 2, "build": 4}
ANALYSIS, CLI = 3, 5


def floor(module: str) -> int:
    """The floor of a module named relative to the package (``data.idx``, ``clusters``, ``__init__``)."""
    if module in GROUND:
        return 0
    if module == "cli":
        return CLI
    return WINGS.get(module.split(".")[0], ANALYSIS)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] or ["__init__"]) if parts[-1] == "__init__" else ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def imports_of(module: str, source: str, modules: set[str], reexports: dict[str, str]) -> set[str]:
    """The package modules ``module``'s source imports (at the top or inside functions), named like ``module``."""
    is_package = module in WINGS or module == "__init__"
    package = [] if module == "__init__" else module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".")[1:] for alias in node.names if alias.name.split(".")[0] == NAME]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                if node.level - 1 > len(package):
                    raise AssertionError(f"{module}: a relative import climbs out of the package")
            elif (node.module or "").split(".")[0] == NAME:
                base = []
            else:
                continue
            base = base + (node.module.split(".") if node.module and not node.module.startswith(NAME) else [])
            if node.module and node.module.startswith(NAME):
                base = node.module.split(".")[1:]
            targets = []
            for alias in node.names:
                name = ".".join([*base, alias.name])
                if name in modules:
                    targets.append(name.split("."))
                elif not base and alias.name in reexports:  # `from mnist_analysis import load_frame`
                    targets.append(reexports[alias.name].split("."))
                else:
                    targets.append(base)
        else:
            continue
        for parts in targets:
            name = ".".join(parts) or "__init__"
            if name in modules and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    reexports = {name: target.removeprefix(NAME + ".") for name, target in mnist_analysis._EXPORTS.items()}
    return {module: imports_of(module, path.read_text(), set(modules), reexports) for module, path in modules.items()}


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


def upward_imports(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """``{module: [the modules of a higher floor it imports]}`` for every module that reaches up."""
    reaching = {module: sorted(i for i in imported if floor(i) > floor(module)) for module, imported in graph.items()}
    return {module: up for module, up in reaching.items() if up}


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reader_resolves_relative_absolute_nested_and_reexported_imports():
    modules = {"__init__", "data", "data.idx", "data.loaders", "utils", "clusters", "build", "build.reports"}
    source = (
        "from ..utils import atomic_output\n"
        "from . import idx\n"
        "def f():\n"
        "    from mnist_analysis.build.reports import build_reports\n"  # inside a function
        "    import mnist_analysis.clusters\n"
        "    from mnist_analysis import load_frame\n"
    )
    found = imports_of("data.loaders", source, modules, {"load_frame": "data.loaders"})
    assert found == {"utils", "data.idx", "build.reports", "clusters"}  # not itself, through the re-export
    assert imports_of("build", "from .reports import x\n", modules, {}) == {"build.reports"}


def test_the_floor_check_catches_an_import_running_up():
    graph = {"data.idx": {"utils", "build.reports"}, "clusters": {"caching.cache", "cli"}, "cli": {"clusters"}}
    assert upward_imports(graph) == {"data.idx": ["build.reports"], "clusters": ["cli"]}
    assert [floor(m) for m in ("__init__", "caching.cache", "data.idx", "clusters", "build.reports", "cli")] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_package_has_no_import_circle(graph):
    assert sum(len(v) for v in graph.values()) > 100  # the graph was read, not empty
    assert {"data.loaders", "caching.cache", "build.reports", "cli"} <= set(graph)
    assert circles(graph) == []


def test_no_import_runs_up_a_floor(graph):
    assert "data.loaders" in graph["per_image"]
    assert "caching.cache" in graph["clusters"]
    assert upward_imports(graph) == {}


def test_nothing_imports_the_command_line(graph):
    assert [module for module, imported in graph.items() if "cli" in imported] == []


def test_every_module_has_a_floor_and_every_wing_is_a_package(graph):
    for wing in WINGS:
        assert (PACKAGE / wing / "__init__.py").is_file()
    tops = {module.split(".")[0] for module in graph}
    assert tops - GROUND - set(WINGS) - {"cli"}, "no analysis module found"


# --------------------------------------------------------------------------- the test suite's own layout
TESTS = Path(__file__).resolve().parent


def test_no_test_module_imports_another_and_no_fixture_is_named_like_a_test():
    """Shared test code lives in helper modules (tests/helpers.py, tests/chromium.py...), never in a test module."""
    modules = sorted(TESTS.glob("test_*.py"))
    assert len(modules) > 20
    imports, fixtures = [], []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = []
            imports += [f"{path.name}: {n}" for n in names if n.split(".")[-1].startswith("test_")]
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if ast.unparse(target).endswith("fixture"):
                        fixtures.append(f"{path.name}: {node.name}")
    assert imports == []
    assert fixtures == []
