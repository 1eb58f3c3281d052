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
