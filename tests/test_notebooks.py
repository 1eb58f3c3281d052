"""Every committed notebook follows the house conventions (checked without running it)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from papermill.translators import PythonTranslator

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:1] == ["00_overview.ipynb"]


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_committed_without_outputs(notebook):
    dirty = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert dirty == [], f"code cells with outputs or execution counts: {dirty}"


def test_kernel_is_python3(notebook):
    assert notebook.metadata.kernelspec.name == "python3"


def test_starts_with_title_and_questions_then_one_parameters_cell(notebook):
    first, second = notebook.cells[0], notebook.cells[1]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert len(first.source.splitlines()) > 2, "the first cell should state the questions the notebook answers"
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [1] and second.cell_type == "code"
    names = {p.name for p in PythonTranslator.inspect(second)}
    assert {"sample_size", "seed"} <= names, f"papermill parses only {sorted(names)} from the parameters cell"
    assert len(names) == len([line for line in second.source.splitlines() if line and not line.startswith("#")])


def test_sections_and_summary(notebook):
    headings = [
        line
        for c in notebook.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]
    assert len(headings) >= 2
    assert headings[-1].startswith("## Summary")


def _code_trees(notebook) -> list:
    import ast

    sources = [c.source for c in notebook.cells if c.cell_type == "code"]
    return [
        ast.parse("\n".join(line for line in s.splitlines() if not line.lstrip().startswith(("%", "!"))))
        for s in sources
    ]


def test_defines_no_functions_or_classes(notebook):
    import ast

    defined = [
        f"{type(node).__name__} at line {node.lineno} of code cell {i}"
        for i, tree in enumerate(_code_trees(notebook))
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
    ]
    assert defined == [], f"a notebook holds analysis, not machinery: move these into the package: {defined}"


def _parameters(notebook) -> dict:
    import ast

    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(notebook.cells[1].source).body
        if isinstance(node, ast.Assign)
    }


def test_every_parameter_is_used_by_the_analysis(notebook):
    import ast

    used = {
        node.id
        for tree in _code_trees(notebook)[1:]
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    unused = sorted(set(_parameters(notebook)) - used)
    assert unused == [], f"parameters that no code cell reads: {unused}"


#: Words that stand for each setting in prose, beside the words of its own name.
SETTING_WORDS = {
    "n_neighbors": ["neighbour", "nearest"],
    "n_boot": ["resample", "bootstrap"],
    "tsne_sample_size": ["t-SNE"],
}


def _spellings(value: int) -> set:
    return {str(value), f"{value:,}", f"{value:_}", f"{value:,}".replace(",", " "), f"{value:,}".replace(",", "\u202f")}


def test_prose_does_not_type_a_setting_the_code_may_change(notebook):
    """A number beside a setting's words in markdown would go stale when the parameter changes.

    Say it in a code cell's Markdown output, formatted from the parameter, instead.
    """
    import re

    stale = []
    for name, value in _parameters(notebook).items():
        if name in {"seed", "sample_size"} or not isinstance(value, int) or isinstance(value, bool):
            continue
        words = [w for w in name.split("_") if len(w) > 3 and w not in {"size", "sample"}] + SETTING_WORDS.get(name, [])
        number = "|".join(re.escape(s) for s in sorted(_spellings(value), key=len, reverse=True))
        for cell in (c for c in notebook.cells if c.cell_type == "markdown"):
            for match in re.finditer(rf"(?<![\w.,])({number})(?![\w,])", cell.source):
                around = cell.source[max(0, match.start() - 40) : match.end() + 40].lower()
                if any(w.lower().rstrip("s") in around for w in words):
                    stale.append(f"{name}={value}: ...{around.strip()}...")
    assert stale == [], f"markdown states settings that are parameters: {stale}"
