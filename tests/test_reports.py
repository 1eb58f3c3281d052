"""The report build: every notebook rendered, failures named, nothing stale left looking current."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import markupsafe
import nbformat
import pytest

from mnist_analysis.build.reports import ReportError, build_reports, find_notebooks
from mnist_analysis.cli import main
from mnist_analysis.data.registry import REGISTRY
from mnist_analysis.findings import read_findings
from tests.helpers import write_notebook

# Builds reports: every test here executes notebooks in Jupyter kernels.
pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_a_failing_cell_fails_the_build_naming_notebook_and_cell(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_fine.ipynb", "print(sample_size)")
    write_notebook(notebooks / "02_broken.ipynb", "x = 1", "raise ValueError('boom in the analysis')")
    reports.mkdir()
    (reports / "02_broken.html").write_text("<html>an old, successful report</html>")
    (reports / "index.html").write_text("<html>old index</html>")

    with pytest.raises(ReportError) as info:
        build_reports(notebooks, reports, parameters={"sample_size": 7}, check_data=False, log=lambda *_: None)
    message = str(info.value)
    assert "1 of 2 notebooks failed" in message
    assert (
        "02_broken.ipynb: cell 3 (counting from 0; execution count 4; "
        "starts \"raise ValueError('boom in the analysis')\")" in message
    )
    assert "raised ValueError: boom in the analysis" in message
    assert (
        reports / "02_broken.html"
    ).read_text() == "<html>an old, successful report</html>"  # kept, marked out of date
    assert (reports / "01_fine.html").is_file()
    index = (reports / "index.html").read_text()
    assert "FAILED" in index
    assert "02_broken" in index
    assert 'href="01_fine.html"' in index
    executed = json.loads((reports / "01_fine.ipynb").read_text())
    assert any("7" in "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))


def test_cli_report_stops_before_any_notebook_when_the_data_cannot_be_had(tmp_path, monkeypatch, capsys):
    notebooks, output = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    write_notebook(notebooks / "01_fine.ipynb", "print('ran')")
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://127.0.0.1:9/")
    assert main(["report", "--notebooks", str(notebooks), "--output", str(output)]) == 1
    err = capsys.readouterr().err
    assert "could not download train-images-idx3-ubyte.gz" in err
    assert "MNIST_ANALYSIS_DATA_DIR" in err
    assert not (output / "01_fine.ipynb").exists()


def test_only_selects_notebooks_and_unknown_names_are_refused(tmp_path):
    write_notebook(tmp_path / "01_a.ipynb")
    write_notebook(tmp_path / "02_b.ipynb")
    assert [p.name for p in find_notebooks(tmp_path, ["02_b"])] == ["02_b.ipynb"]
    with pytest.raises(FileNotFoundError, match=r"no notebook named 03_c.*found 01_a, 02_b"):
        find_notebooks(tmp_path, ["03_c"])
    with pytest.raises(FileNotFoundError, match=r"notebooks folder .*missing: not found"):
        find_notebooks(tmp_path / "missing")


@pytest.mark.realdata
@pytest.mark.slow
def test_quick_build_renders_every_notebook_and_the_index(quick_reports):
    results, reports = quick_reports
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert [r.notebook.stem for r in results] == names
    index = (reports / "index.html").read_text()
    for spec in REGISTRY.values():
        assert spec.sha256 in index
    for result in results:
        name = result.notebook.stem
        page = (reports / f"{name}.html").read_text()
        assert len(page) > 10_000
        assert not re.search(r"<script[^>]+src=[\"']https?:", page), f"{name}.html loads a script from the network"
        assert "mx-toc" in page
        assert "mx-hide-code" in page
        assert f'href="{name}.html"' in index
        executed = nbformat.read(reports / f"{name}.ipynb", as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert errors == []
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1
        assert "sample_size = 2000" in injected[0].source
        assert len(result.findings) >= 3
        assert result.findings == read_findings(executed)
        for finding in result.findings[:5]:
            assert str(markupsafe.escape(finding)) in index  # as the template escapes it
        assert result.thumbnail
        assert f"base64,{result.thumbnail}" in index


@pytest.mark.realdata
@pytest.mark.slow
def test_a_relative_data_folder_is_resolved_from_where_the_command_runs(real_data, tmp_path, monkeypatch):
    monkeypatch.chdir(real_data.parent)
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", real_data.name)
    results = build_reports(NOTEBOOKS, tmp_path, quick=True, only=["00_overview"], log=lambda *_: None)
    assert results[0].error is None
    assert results[0].html.is_file()
    assert os.environ["MNIST_ANALYSIS_DATA_DIR"] == real_data.name


@pytest.mark.realdata
@pytest.mark.slow
def test_a_second_build_with_the_same_seed_gives_the_same_findings(
    quick_reports, real_data, tmp_path_factory, monkeypatch
):
    first, _ = quick_reports
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path_factory.mktemp("second-build-cache")))
    second = build_reports(NOTEBOOKS, tmp_path_factory.mktemp("second-build"), quick=True, log=lambda *_: None)
    assert {r.notebook.name: r.findings for r in second} == {r.notebook.name: r.findings for r in first}


def test_an_empty_injected_parameters_cell_is_not_shown_but_given_parameters_are(tmp_path):
    """Issue 29, row 10: a build with default parameters showed an empty "# Parameters" cell on every page."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "01_a.ipynb", "print('body ran')")
    build_reports(notebooks, tmp_path / "plain", check_data=False, log=lambda *_: None)
    page = (tmp_path / "plain" / "01_a.html").read_text()
    assert "body ran" in page
    assert "# Parameters" not in page
    build_reports(notebooks, tmp_path / "seeded", parameters={"seed": 3}, check_data=False, log=lambda *_: None)
    page = (tmp_path / "seeded" / "01_a.html").read_text()
    assert "# Parameters" in page
    assert "seed" in page.split("# Parameters", 1)[1][:400]
