"""The benchmark harness: fresh-process runs, what each result records, and the freshness check."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


common = load("common")
check = load("check")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A small git repository laid out like the project, with one commit."""
    root = tmp_path / "repo"
    for path, text in {
        "mnist_analysis/a.py": "A = 1\n",
        "notebooks/n.ipynb": "{}\n",
        "pyproject.toml": "[project]\n",
        "benchmarks/common.py": "# harness\n",
        "benchmarks/bench_x.py": "# benchmark x\n",
        "benchmarks/bench_other.py": "# another benchmark\n",
        "docs/guide.md": "prose\n",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    (root / "benchmarks" / "results").mkdir()
    return root


def write(root: Path, name: str, result) -> Path:
    path = root / "benchmarks" / "results" / f"{name}.json"
    path.write_text(json.dumps(result))
    return path


def test_a_result_is_fresh_until_a_file_it_depends_on_changes(repo):
    head = git(repo, "rev-parse", "HEAD")
    write(repo, "x", {"commit": head, "dirty_files": {}})
    assert check.freshness(json.loads((repo / "benchmarks/results/x.json").read_text()), "x", repo)["status"] == "fresh"

    (repo / "docs/guide.md").write_text("other prose\n")  # not a dependency
    (repo / "benchmarks/bench_other.py").write_text("# changed\n")  # another benchmark's script
    assert check.freshness({"commit": head}, "x", repo)["status"] == "fresh"

    (repo / "mnist_analysis/a.py").write_text("A = 2\n")
    (repo / "mnist_analysis/b.py").write_text("B = 1\n")  # untracked, still code that runs
    (repo / "benchmarks/bench_x.py").write_text("# benchmark x\nRUNS = 3\n")
    state = check.freshness({"commit": head}, "x", repo)
    assert state["status"] == "stale"
    assert state["changed"] == ["benchmarks/bench_x.py", "mnist_analysis/a.py", "mnist_analysis/b.py"]

    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "edit")
    assert check.freshness({"commit": head}, "x", repo)["changed"] == state["changed"]


def test_comments_and_docstrings_do_not_make_a_result_stale(repo):
    source = 'def f(x):\n    """Twice x (about 8 s)."""\n    return 2 * x  # doubled\n'
    (repo / "mnist_analysis/a.py").write_text(source)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "f")
    head = git(repo, "rev-parse", "HEAD")
    write(repo, "x", {"commit": head})

    (repo / "mnist_analysis/a.py").write_text(
        '"""Module docstring added."""\n\n\ndef f(x):\n    """Twice x (about 31 s)."""\n\n    return 2 * x\n'
    )
    state = check.freshness({"commit": head}, "x", repo)
    assert state["status"] == "fresh"
    assert state["changed"] == []
    assert state["docs_only"] == ["mnist_analysis/a.py"]
    assert "comments or docstrings" in state["reason"]
    git(repo, "commit", "-q", "-am", "docstrings")  # the same, as of a commit (the README's table)
    as_of = git(repo, "rev-parse", "HEAD")
    assert check.freshness({"commit": head}, "x", repo, as_of)["docs_only"] == ["mnist_analysis/a.py"]

    for edited in (
        'def f(x):\n    """Twice x."""\n    return 3 * x\n',  # the code
        'def f(x):\n    "Twice x."\n    return "2 * x"\n',  # a string that is not a docstring
        'def f(x):\n    return 2 * x\nf.__doc__ = "Twice x."\n',
        "def f(x:\n",  # no longer parses
    ):
        (repo / "mnist_analysis/a.py").write_text(edited)
        assert check.freshness({"commit": head}, "x", repo)["changed"] == ["mnist_analysis/a.py"], edited

    # A notebook is compared as it is: its markdown is what a report shows.
    (repo / "mnist_analysis/a.py").write_text(source)
    (repo / "notebooks/n.ipynb").write_text('{"cells": []}\n')
    assert check.freshness({"commit": head}, "x", repo)["changed"] == ["notebooks/n.ipynb"]


def test_uncommitted_files_recorded_with_a_result_count_as_what_it_measured(repo):
    head = git(repo, "rev-parse", "HEAD")
    (repo / "mnist_analysis/a.py").write_text("A = 2\n")
    blob = git(repo, "hash-object", "mnist_analysis/a.py")
    measured_dirty = {"commit": head, "dirty_files": {"mnist_analysis/a.py": blob}}
    assert check.freshness(measured_dirty, "x", repo)["status"] == "fresh"
    assert check.freshness({"commit": head}, "x", repo)["changed"] == ["mnist_analysis/a.py"]
    (repo / "mnist_analysis/a.py").write_text("A = 1\n")  # back to the commit: not what was measured
    assert check.freshness(measured_dirty, "x", repo)["changed"] == ["mnist_analysis/a.py"]


def test_declared_dependencies_replace_the_default(repo):
    head = git(repo, "rev-parse", "HEAD")
    (repo / "mnist_analysis/a.py").write_text("A = 2\n")
    result = {"commit": head, "depends_on": ["notebooks/", "benchmarks/bench_x.py"]}
    assert check.freshness(result, "x", repo)["status"] == "fresh"
    (repo / "notebooks/n.ipynb").write_text("{ }\n")
    assert check.freshness(result, "x", repo)["changed"] == ["notebooks/n.ipynb"]


def test_results_without_a_known_commit_are_unknown(repo):
    assert check.freshness({}, "x", repo) == {
        "status": "unknown",
        "changed": [],
        "docs_only": [],
        "reason": "no commit recorded",
    }
    state = check.freshness({"commit": "0" * 40}, "x", repo)
    assert state["status"] == "unknown"
    assert "not in this repository" in state["reason"]


def test_check_lists_every_result_and_fails_only_on_an_unreadable_one(repo):
    head = git(repo, "rev-parse", "HEAD")
    results = repo / "benchmarks" / "results"
    write(repo, "fresh_one", {"commit": head, "measured_at": "2026-12-05T05:00:00+00:00"})
    write(repo, "old_one", {"what": "before issue 23"})
    (repo / "mnist_analysis/a.py").write_text("A = 3\n")
    out = io.StringIO()
    assert check.check(results, repo, out) == 0  # stale results do not fail the check
    text = out.getvalue()
    assert "stale   fresh_one.json" in text
    assert "changed since: mnist_analysis/a.py" in text
    assert "unknown old_one.json" in text
    assert "no commit recorded" in text
    assert "0 fresh, 1 stale, 1 unknown" in text

    (results / "broken.json").write_text('{"commit": ')
    write(repo, "a_list", [1, 2])
    out = io.StringIO()
    assert check.check(results, repo, out) == 1
    assert f"UNREADABLE {results / 'broken.json'}: cannot be read as JSON" in out.getvalue()
    assert "a_list.json: expected a JSON object, found list" in out.getvalue()


def test_check_command_exit_codes(tmp_path):
    command = [sys.executable, str(BENCHMARKS / "check.py"), "--results"]
    missing = subprocess.run([*command, str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode == 2
    assert "expected a folder of result JSONs" in missing.stderr
    (tmp_path / "bad.json").write_text("not json")
    bad = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "bad.json: cannot be read as JSON" in bad.stdout


def test_readme_table_is_generated_from_the_results(repo):
    head = git(repo, "rev-parse", "HEAD")
    results = repo / "benchmarks" / "results"
    targets = [
        common.target("warm load", 0.0548, at_most=0.05, unit="s"),
        common.target("speed-up", 3.1, at_least=2.5, unit="x"),
        common.target("cold build", None, at_most=180, unit="s", note="not re-run"),
    ]
    write(repo, "x", {"commit": head, "measured_at": "2026-12-05T05:24:29+00:00", "targets": targets})
    write(repo, "old", {"what": "an old result"})
    text = check.readme(results, repo, head)
    assert f"Freshness as of commit `{head}`" in text
    assert f"| x | warm load | <= 0.05 | 0.0548 s | **no** | 2026-12-05 05:24 | {head[:10]} | fresh |" in text
    assert "| x | speed-up | >= 2.5 | 3.1x | yes |" in text
    assert "| x | cold build | <= 180 | not measured (not re-run) |  |" in text
    assert "| old | an old result |  | (no targets in the uniform format) |  |" in text
    assert "unknown (no commit recorded)" in text

    readme = repo / "benchmarks" / "README.md"
    readme.write_text(text)
    assert check.readme_is_current(readme, results, repo) is None
    (repo / "mnist_analysis/a.py").write_text("A = 2\n")  # later edits do not change a README as of `head`
    assert check.readme_is_current(readme, results, repo) is None
    write(repo, "x", {"commit": head, "measured_at": "2026-12-05T06:00:00+00:00", "targets": targets})
    assert "does not match the results" in check.readme_is_current(readme, results, repo)


def test_the_projects_benchmark_readme_matches_its_results():
    assert check.readme_is_current() is None


def test_every_result_that_records_a_commit_carries_uniform_targets():
    for path in sorted((BENCHMARKS / "results").glob("*.json")):
        result = check.read_result(path)
        if result.get("commit"):
            common.check_targets(result["targets"])
            for key in ("dirty", "dirty_files", "libraries", "load", "yardstick", "depends_on"):
                assert key in result, (path.name, key)


#: What a benchmark script that executes notebooks calls.
NOTEBOOK_RUNNERS = ("papermill", "NotebookClient", "execute_notebook")


def test_a_benchmark_that_executes_notebooks_names_them_in_its_result():
    """Otherwise the package code its notebook kernels import is missing from ``depends_on``."""
    for script in sorted(BENCHMARKS.glob("bench_*.py")):
        source = script.read_text()
        if any(runner in source for runner in NOTEBOOK_RUNNERS):
            assert '"notebooks_run"' in source, script.name


def test_every_result_of_a_notebook_running_benchmark_depends_on_its_notebooks():
    for path in sorted((BENCHMARKS / "results").glob("*.json")):
        result = check.read_result(path)
        script = ROOT / (result.get("script") or "none")
        if result.get("commit") and script.is_file() and any(r in script.read_text() for r in NOTEBOOK_RUNNERS):
            notebooks = [d for d in result["depends_on"] if d.startswith("notebooks/") and d.endswith(".ipynb")]
            assert notebooks, path.name


def test_target_computes_met_and_refuses_bad_entries():
    assert common.target("t", 1.0, at_most=1.0)["met"] is True
    assert common.target("t", 2.4, at_least=2.5)["met"] is False
    assert common.target("t", 7.0)["met"] is None
    assert common.target("t", 7.0, met=True)["met"] is True
    assert common.target("t", None, at_most=1.0, met=True)["met"] is None
    with pytest.raises(ValueError, match="must be a list"):
        common.check_targets({"speedup_at_least": 2.5})
    with pytest.raises(ValueError, match=r"targets\[0\] must be a dict with keys"):
        common.check_targets([{"what": "t", "figure": 1.0}])
    with pytest.raises(ValueError, match=r"targets\[0\]\['figure'\] must be a number or null"):
        common.check_targets([{"what": "t", "figure": "fast", "target": None, "met": None}])


def test_write_result_records_what_was_measured(tmp_path, monkeypatch):
    import numpy

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    stick = {"what": "given", "gzip_decode": {"median_s": 0.4}}
    path = common.write_result("demo", {"what": "demo", "yardstick": stick, "targets": [common.target("t", 1.0)]})
    result = json.loads(path.read_text())
    assert result["benchmark"] == "demo"
    assert "measured_at" in result
    assert "machine" in result
    assert (
        result["commit"]
        == subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        or result["code_changed_during_run"]
    )  # HEAD may move while the suite runs
    assert isinstance(result["dirty"], bool)
    assert all(
        path.split("/")[0] in ("mnist_analysis", "notebooks", "benchmarks", "pyproject.toml")
        for path in result["dirty_files"]
    )
    assert result["libraries"]["numpy"] == numpy.__version__
    assert {"umap-learn", "numba", "pynndescent", "scikit-learn", "scipy", "bokeh", "nbclient"} <= set(
        result["libraries"]
    )
    for moment in ("start", "end"):
        assert len(result["load"][moment]["load_average"]) == 3
        assert 0 <= result["load"][moment]["cpu_percent"] <= 100
    assert result["yardstick"] == stick  # the benchmark's own yardstick is kept
    assert "benchmarks/common.py" in result["depends_on"]

    with pytest.raises(ValueError, match="targets must be a list"):
        common.write_result("bad", {"targets": {"speedup": 2}})
    assert not (tmp_path / "bad.json").exists()


def test_write_result_times_a_yardstick_when_the_result_has_none(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(common, "gzip_decode_seconds", lambda runs=5: common.summary([0.5, 0.4, 0.6]))
    result = json.loads(common.write_result("demo", {"what": "demo"}).read_text())
    assert result["yardstick"]["gzip_decode"]["median_s"] == 0.5

    def no_data(runs=5):
        raise FileNotFoundError("no MNIST files in /nowhere")

    monkeypatch.setattr(common, "gzip_decode_seconds", no_data)
    result = json.loads(common.write_result("demo", {"what": "demo"}).read_text())
    assert result["yardstick"]["error"] == "FileNotFoundError: no MNIST files in /nowhere"


CACHES_SCRIPT = """
import json, os, sys
seen = {}
for variable in ("MNIST_ANALYSIS_CACHE_DIR", "NUMBA_CACHE_DIR"):
    folder = os.environ[variable]
    seen[variable] = [folder, sorted(os.listdir(folder))]
    open(os.path.join(folder, "filled"), "w").close()
print("some output before the result")
print(json.dumps({"seen": seen, "data": os.environ.get("MNIST_ANALYSIS_DATA_DIR"), "pid": os.getpid(),
                  "modules": "mnist_analysis" in sys.modules}))
"""


def test_cold_runs_are_fresh_processes_with_new_empty_caches(monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", "/some/data")
    runs = common.fresh_runs(CACHES_SCRIPT, runs=3)
    assert len(runs) == 3
    assert len({r["pid"] for r in runs} | {os.getpid()}) == 4
    for variable in common.CACHE_VARIABLES:
        folders = [r["seen"][variable][0] for r in runs]
        assert len(set(folders)) == 3
        assert all(r["seen"][variable][1] == [] for r in runs)
        assert all(not Path(f).exists() for f in folders)  # removed afterwards
    assert all(r["data"] == "/some/data" and r["process_s"] > 0 and not r["modules"] for r in runs)
    assert {"process_cpu_s", "load_1min_before"} <= set(runs[0])


def test_warm_runs_are_fresh_processes_reusing_caches_a_priming_run_filled():
    runs = common.fresh_runs(CACHES_SCRIPT, runs=2, warm=True)
    for variable in common.CACHE_VARIABLES:
        assert [r["seen"][variable][1] for r in runs] == [["filled"], ["filled"]]
        assert len({r["seen"][variable][0] for r in runs}) == 1
    assert runs[0]["pid"] != runs[1]["pid"]
    assert common.fresh_summary(runs)["runs"] == 2


def test_fresh_runs_refuses_what_would_break_the_protocol():
    with pytest.raises(ValueError, match="env may not set MNIST_ANALYSIS_CACHE_DIR"):
        common.fresh_runs("print(1)", env={"MNIST_ANALYSIS_CACHE_DIR": "/tmp/filled"})
    with pytest.raises(ValueError, match="runs must be at least 1"):
        common.fresh_runs("print(1)", runs=0)
    with pytest.raises(RuntimeError, match=r"(?s)fresh run failed \(exit 1\).*ZeroDivisionError"):
        common.fresh_runs("1 / 0", runs=1)
    with pytest.raises(RuntimeError, match="printed no JSON object as its last stdout line"):
        common.fresh_runs("print('done')", runs=1)
    with pytest.raises(RuntimeError, match=r"did not finish within 0.5 s"):
        common.fresh_runs("import time; time.sleep(5)", runs=1, timeout=0.5)
    with pytest.raises(KeyError, match="have no number under 'seconds'"):
        common.fresh_summary([{"process_s": 1.0}], "seconds")
    assert common.fresh_runs("import json; print(json.dumps({'x': 1}))", runs=1, env={"EXTRA": "1"})[0]["x"] == 1


def test_package_closure_follows_every_import_the_code_can_reach(tmp_path):
    package = tmp_path / "mnist_analysis"
    for path, text in {
        "__init__.py": "EXPORTS = {'load': 'mnist_analysis.data.loaders'}\n",  # a lazy map, by name
        "data/__init__.py": "",
        "data/loaders.py": "from . import idx\n",
        "data/idx.py": "def parse():\n    from ..validation import check\n",  # inside a function
        "validation.py": "import numpy\n",
        "plotting.py": "from .embeddings import digit_map\n",
        "embeddings.py": "",
        "unrelated.py": "",
    }.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(text)

    assert common.package_closure(["mnist_analysis.validation"], tmp_path) == [
        "mnist_analysis/__init__.py",
        "mnist_analysis/data/__init__.py",
        "mnist_analysis/data/idx.py",
        "mnist_analysis/data/loaders.py",
        "mnist_analysis/validation.py",
    ]  # the package's __init__ runs first, and its lazy map reaches the loaders
    closure = common.package_closure(["mnist_analysis.plotting"], tmp_path)
    assert {"mnist_analysis/plotting.py", "mnist_analysis/embeddings.py"} <= set(closure)
    assert "mnist_analysis/unrelated.py" not in closure


def test_a_result_depends_on_the_package_code_its_fresh_runs_imported(monkeypatch):
    monkeypatch.setattr(common, "_CHILD_MODULES", set())
    script = (
        "from __future__ import annotations\nimport json\nimport mnist_analysis.validation\nprint(json.dumps({}))\n"
    )
    common.fresh_runs(script, runs=1)
    assert "mnist_analysis.validation" in common._CHILD_MODULES

    files = common.measured_code(modules=common._CHILD_MODULES)  # this process imported more
    assert {"mnist_analysis/validation.py", "mnist_analysis/running_code.py", "pyproject.toml"} <= set(files)
    assert "benchmarks/common.py" in files
    assert "mnist_analysis/interactive.py" not in files  # nothing measured imports the explorer
    with_notebook = common.measured_code(["notebooks/06_digit_space.ipynb"], modules=common._CHILD_MODULES)
    assert {"notebooks/06_digit_space.ipynb", "mnist_analysis/clusters.py"} <= set(with_notebook)
    other_process = common.measured_code(modules=set(), extra_modules=["mnist_analysis.cli"])
    assert {"mnist_analysis/cli.py", "mnist_analysis/build/reports.py"} <= set(other_process)
