"""The mnist-analysis command line: fetch and info."""

from __future__ import annotations

import pytest

from mnist_analysis.cli import main
from mnist_analysis.data.registry import REGISTRY


@pytest.mark.realdata
def test_fetch_verifies_every_file_and_says_where_it_is(real_data, capsys):
    assert main(["fetch", "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for spec in REGISTRY.values():
        line = next(line for line in lines if line.startswith(spec.filename))
        assert "verified" in line
        assert "data folder" in line
        assert str(real_data) in line


def test_fetch_reports_each_failure_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://127.0.0.1:9/")
    assert main(["fetch", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED") == len(REGISTRY)
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz: connection failed" in out


def test_info_never_downloads_and_says_how_to_get_missing_files(monkeypatch, capsys, isolated_cache):
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://127.0.0.1:9/")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.count("missing: `mnist-analysis fetch` downloads it") == len(REGISTRY)
    assert str(isolated_cache) in out
    assert list(isolated_cache.iterdir()) == []


@pytest.mark.realdata
def test_info_with_data_shows_counts_by_group(real_data, capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "images by split and writer group" in out
    assert "test  student" in out


def test_the_report_command_validates_notebooks_without_compiling_iri_grammars():
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from mnist_analysis.cli import _skip_iri_grammars\n"
        "_skip_iri_grammars()\n"
        "import nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')])\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "bad.cells[0]['execution_count'] = 'one'\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('refused')\n"
        "print(sys.modules['rfc3987_syntax'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["refused", "None"]


def test_cache_clear_says_it_cleared_the_executed_notebooks_too(isolated_cache, capsys):
    from mnist_analysis.cli import main

    (isolated_cache / "notebooks").mkdir()
    (isolated_cache / "notebooks" / "global.db").write_bytes(b"")
    assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert f"removed {isolated_cache / 'notebooks'}" in out
    assert "cleared all results, executed notebooks and decoded arrays (the downloaded files are kept)" in out
