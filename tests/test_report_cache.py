"""Fast report builds: unchanged notebooks reuse their outputs, edited ones run, in parallel, quietly."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

import mnist_analysis
from mnist_analysis.build import execution_cache
from mnist_analysis.build import schedule as build_schedule
from mnist_analysis.build.reports import build_reports
from mnist_analysis.caching import cache, fingerprints

# Builds reports: every test here executes notebooks in Jupyter kernels.
pytestmark = pytest.mark.slow

PACKAGE = Path(mnist_analysis.__file__).resolve().parent


def write_notebook(path: Path, body: str = "print(seed * 2)", title: str = "# A notebook") -> Path:
    node = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(title),
            nbformat.v4.new_code_cell("seed = 0", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(f"from mnist_analysis.data import loaders\n{body}"),
        ]
    )
    node.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(node, path)
    return path


def edit_cell(path: Path, index: int, source: str) -> None:
    node = nbformat.read(path, as_version=4)
    node.cells[index].source = source
    nbformat.write(node, path)


@pytest.fixture(autouse=True)
def no_shipped_profile(tmp_path, monkeypatch):
    """Builds here are scheduled by what they record, not by the profile shipped for the real notebooks."""
    monkeypatch.setattr(build_schedule, "SHIPPED_PROFILE", tmp_path / "no-shipped-profile.json")


@pytest.fixture
def project(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "01_first.ipynb")
    write_notebook(notebooks / "02_second.ipynb", body="print('second', seed)")
    return notebooks, tmp_path / "reports"


def build(project, **options):
    notebooks, reports = project
    results = build_reports(notebooks, reports, check_data=False, log=lambda *_: None, **options)
    return {r.notebook.stem: r for r in results}


def outputs(reports: Path, stem: str) -> list:
    node = nbformat.read(reports / f"{stem}.ipynb", as_version=4)
    return [c.outputs for c in node.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.tags]


def test_an_unchanged_notebook_is_not_executed_again(project, monkeypatch):
    first = build(project, parameters={"seed": 3})
    assert all(r.reused is None and r.error is None for r in first.values())
    # An executed notebook's kernel was watched: a Python process holds tens of MB at least.
    assert all(r.peak_bytes is not None and r.peak_bytes > 20e6 for r in first.values())
    executed = outputs(project[1], "01_first")
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("executed an unchanged notebook"))
    again = build(project, parameters={"seed": 3})
    assert all(r.reused and "code unchanged" in r.reused for r in again.values())
    assert all(r.peak_bytes is None for r in again.values())  # no kernel ran
    assert outputs(project[1], "01_first") == executed
    index = (project[1] / "index.html").read_text()
    assert index.count("code unchanged") == 2


def test_a_markdown_edit_is_shown_without_executing(project, monkeypatch):
    build(project)
    edit_cell(project[0] / "01_first.ipynb", 0, "# A notebook, retitled")
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a markdown edit re-executed"))
    results = build(project)
    assert results["01_first"].reused
    assert "A notebook, retitled" in (project[1] / "01_first.html").read_text()


def fail_on_render(monkeypatch):
    from nbconvert import HTMLExporter

    monkeypatch.setattr(HTMLExporter, "from_notebook_node", lambda *a, **k: pytest.fail("rendered an unchanged report"))


def test_an_unchanged_report_is_not_rendered_again(project, monkeypatch):
    build(project)
    reports = lambda: {p.name: p.read_bytes() for p in project[1].glob("0*") if p.suffix in {".html", ".ipynb"}}  # noqa: E731
    before = reports()
    assert len(before) == 4
    first_index = (project[1] / "index.html").read_text()
    fail_on_render(monkeypatch)
    again = build(project)
    assert all(r.reused and r.html is not None and r.error is None for r in again.values())
    assert reports() == before
    # The index still quotes each report's findings and shows its thumbnail the same way.
    index = (project[1] / "index.html").read_text()
    assert index.count("01_first.html") == first_index.count("01_first.html") > 0


@pytest.mark.parametrize("damage", ["html", "executed", "record"])
def test_a_damaged_or_edited_report_is_rendered_again(project, damage):
    build(project)
    reports = project[1]
    target = {
        "html": reports / "01_first.html",
        "executed": reports / "01_first.ipynb",
        "record": reports / ".01_first.render.json",
    }[damage]
    target.write_bytes(target.read_bytes()[:-20] + b"tampered")
    results = build(project)
    assert results["01_first"].reused
    assert results["01_first"].error is None
    html = (reports / "01_first.html").read_text()
    assert "tampered" not in html
    assert html.rstrip().endswith("</html>")
    assert outputs(reports, "01_first")[1][0]["text"] == "0\n"


def test_a_new_version_of_a_rendering_library_renders_again(project, monkeypatch):
    build(project)
    from nbconvert import HTMLExporter

    rendered, render = [], HTMLExporter.from_notebook_node
    monkeypatch.setattr(HTMLExporter, "from_notebook_node", lambda *a, **k: rendered.append(1) or render(*a, **k))
    real_version = fingerprints._version
    monkeypatch.setattr(fingerprints, "_version", lambda d: "0.0.1" if d.lower() == "mistune" else real_version(d))
    results = build(project)
    assert all(r.reused for r in results.values())
    assert len(rendered) == 2


def test_a_markdown_edit_renders_only_that_report(project):
    build(project)
    second = (project[1] / "02_second.html").stat().st_mtime_ns
    edit_cell(project[0] / "01_first.ipynb", 0, "# Retitled once more")
    build(project)
    assert "Retitled once more" in (project[1] / "01_first.html").read_text()
    assert (project[1] / "02_second.html").stat().st_mtime_ns == second


@pytest.mark.parametrize("change", ["code", "parameters", "force", "library"])
def test_a_changed_notebook_or_input_is_executed(project, change, monkeypatch):
    build(project, parameters={"seed": 1})
    options = {"parameters": {"seed": 1}}
    if change == "code":
        edit_cell(project[0] / "01_first.ipynb", 2, "from mnist_analysis.data import loaders\nprint(seed * 3)")
    elif change == "parameters":
        options["parameters"] = {"seed": 2}
    elif change == "force":
        options["force"] = True
    else:
        real_version = fingerprints._version
        monkeypatch.setattr(fingerprints, "_version", lambda d: "0.0.1" if d == "numpy" else real_version(d))
    results = build(project, **options)
    assert results["01_first"].reused is None
    assert results["01_first"].error is None
    printed = outputs(project[1], "01_first")[1][0]["text"]
    assert printed == {"code": "3\n", "parameters": "4\n"}.get(change, "2\n")
    if change == "code":  # the other notebook did not change
        assert results["02_second"].reused


def test_editing_an_imported_project_module_changes_the_inputs(tmp_path, monkeypatch):
    copy = tmp_path / "copy" / "mnist_analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "_ROOT", copy)
    node = nbformat.read(write_notebook(tmp_path / "n.ipynb"), as_version=4)
    before = execution_cache.notebook_inputs(node, {"seed": 0})
    assert "mnist_analysis.data.registry" in before["code"]
    assert "mnist_analysis.plotting" not in before["code"]
    assert "numpy" in before["libraries"]
    (copy / "plotting.py").write_text((copy / "plotting.py").read_text() + "\n# edited\n")
    assert execution_cache.notebook_inputs(node, {"seed": 0}) == before
    (copy / "data" / "registry.py").write_text((copy / "data" / "registry.py").read_text() + "\n# edited\n")
    after = execution_cache.notebook_inputs(node, {"seed": 0})
    assert after != before
    (copy / "data" / "__init__.py").write_text((copy / "data" / "__init__.py").read_text() + "\n# edited\n")
    assert execution_cache.notebook_inputs(node, {"seed": 0}) != after  # the wing's __init__ runs too


def test_parallel_build_is_quiet_and_records_timings_and_peaks(project, capfd):
    results = build(project, jobs=2)
    assert [r.error for r in results.values()] == [None, None]
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out
    profile = json.loads((cache.cache_dir() / "notebooks" / "profile.json").read_text())
    assert list(profile) == ["{}"]  # one entry per set of parameters
    recorded = profile["{}"]
    assert set(recorded) == {"01_first.ipynb", "02_second.ipynb"}
    assert all(entry["seconds"] > 0 and entry["peak_bytes"] > 20e6 for entry in recorded.values())
    assert build_schedule.read_profile({}) == recorded
    assert build_schedule.read_profile({"seed": 1}) == {}


def run_intervals(reports: Path) -> dict:
    """When each notebook of a build's ``timed`` project ran: ``{stem: (start, end)}``."""
    intervals = {}
    for stem in ("01_first", "02_second"):
        text = "".join(o.get("text", "") for cell in outputs(reports, stem) for o in cell)
        start, end = map(float, text.split())
        intervals[stem] = (start, end)
    return intervals


@pytest.mark.parametrize(("recorded_peak_gb", "overlap"), [(0.1, True), (2.0, False)])
def test_notebooks_run_side_by_side_only_while_their_recorded_peaks_fit_the_budget(tmp_path, recorded_peak_gb, overlap):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("01_first", "02_second"):  # different code: neither may reuse the other's outputs
        body = f"import time  # {name}\nstart = time.time()\ntime.sleep(4)\nprint(start, time.time())"
        write_notebook(notebooks / f"{name}.ipynb", body=body)
    peak = {"seconds": 5.0, "peak_bytes": int(recorded_peak_gb * 1e9)}
    build_schedule.record_profile({}, {"01_first.ipynb": peak, "02_second.ipynb": peak})
    results = build((notebooks, tmp_path / "reports"), jobs=2, max_memory=3e9)
    assert [(r.error, r.reused) for r in results.values()] == [(None, None), (None, None)]
    (a_start, a_end), (b_start, b_end) = run_intervals(tmp_path / "reports").values()
    assert (a_start < b_end and b_start < a_end) is overlap


def test_the_build_summary_says_what_ran_and_what_was_reused(project):
    lines = []
    notebooks, reports = project
    build_reports(notebooks, reports, check_data=False, log=lines.append)
    build_reports(notebooks, reports, check_data=False, log=lines.append)
    assert lines[-1].startswith("executed 0 (none); reused 2 (01_first, 02_second);")
    assert str(reports.resolve() / "index.html") in lines[-1]


@pytest.mark.slow
@pytest.mark.realdata
def test_no_built_report_shows_stderr_output(quick_reports):
    results, reports = quick_reports
    assert results, "the quick build rendered nothing"
    for result in results:
        node = nbformat.read(reports / result.notebook.name, as_version=4)
        stderr = [
            (i, "".join(o.get("text", ""))[:300])
            for i, cell in enumerate(node.cells)
            if cell.cell_type == "code"
            for o in cell.outputs
            if o.get("name") == "stderr"
        ]
        assert not stderr, f"{result.notebook.name} shows stderr output in cells {stderr}"
        shown = json.dumps([cell.get("outputs", []) for cell in node.cells])
        assert "IProgress not found" not in shown, result.notebook.name
        assert str(Path(sys.prefix)) not in shown, result.notebook.name


def test_notebooks_are_parsed_one_thread_at_a_time(monkeypatch):
    """CPython 3.11's AST builder is not safe in two threads at once (a parallel build failed on it)."""
    import ast
    import threading
    import time

    inside, most = [0], [0]
    lock, real_parse = threading.Lock(), ast.parse

    def slow_parse(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.01)  # wide enough for a second thread to come in if nothing stops it
        with lock:
            inside[0] -= 1
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", slow_parse)
    node = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(f"from mnist_analysis import plotting  # {i}") for i in range(5)]
    )
    threads = [threading.Thread(target=execution_cache.imported_project_modules, args=(node,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
