"""The build's own pages (index, datasheet) come from Jinja templates, escaped, with no HTML or CSS in Python."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import mnist_analysis
from mnist_analysis.build.pages import TEMPLATES, render_page
from mnist_analysis.build.report_index import MAX_FINDINGS, index_html

BUILD = Path(mnist_analysis.__file__).resolve().parent / "build"


def result(tmp_path, name, *, findings=(), error=None, html=True, **extra):
    page = tmp_path / f"{name}.html"
    if html:
        page.write_text("report")
    return SimpleNamespace(
        notebook=Path(f"/notebooks/{name}.ipynb"),
        title=f"Title of {name}",
        thumbnail="AAAA" if html else None,
        html=page if html else None,
        error=error,
        findings=list(findings),
        seconds=12.4,
        **extra,
    )


def test_the_index_lists_cards_in_name_order_escapes_everything_and_caps_the_findings(tmp_path):
    findings = ["the test set's <b>bold</b> claim & more"] + [f"finding {i}" for i in range(MAX_FINDINGS + 2)]
    earlier = tmp_path / "02_old.html"
    earlier.write_text("old")
    results = [
        result(tmp_path, "03_failed", error="cell 4 raised <KeyError>", html=False),
        result(tmp_path, "01_good", findings=findings),
        result(tmp_path, "02_old", error="it broke", html=False, previous_html=earlier),
        result(tmp_path, "04_reused", findings=["x"], reused="reused from 2026-12-01"),
    ]
    spec = SimpleNamespace(filename="train-images-idx3-ubyte.gz", sha256="ab" * 32)
    page = index_html(
        results, tmp_path, "quick <mode>", [(spec, SimpleNamespace(origin="data folder"))], datasheet=None
    )
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    titles = re.findall(r"<h2>(?:<a [^>]*>)?Title of (\w+)", page)
    assert titles == ["01_good", "02_old", "03_failed", "04_reused"]  # the notebooks' order, whatever the run order
    assert "the test set&#39;s &lt;b&gt;bold&lt;/b&gt; claim &amp; more" in page
    assert "<b>bold" not in page
    assert page.count("<li>finding ") == MAX_FINDINGS - 1  # the first finding and four more
    assert "cell 4 raised &lt;KeyError&gt;" in page
    assert "quick &lt;mode&gt;" in page
    assert "OUT OF DATE" in page
    assert 'href="02_old.html">last good report' in page
    assert "executed in 12 s" in page
    assert "reused from 2026-12-01 (re-rendered in 12 s)" in page
    assert f"<code>{'ab' * 32}</code>" in page
    assert "data folder" in page
    assert "Datasheet for MNIST" not in page


def test_the_index_links_the_datasheet_and_says_when_it_is_from_an_earlier_build(tmp_path):
    sheet = tmp_path / "datasheet.html"
    now = index_html([], tmp_path, "full", datasheet=sheet)
    assert 'href="datasheet.html">Datasheet for MNIST' in now
    assert "computed\nin this build" in now
    earlier = index_html([], tmp_path, "full", datasheet=sheet, datasheet_note="not written in this build")
    assert "not written in this build" in earlier
    assert "in the build that wrote it" in earlier


def test_a_page_refuses_a_value_its_template_is_not_given():
    import jinja2
    import pytest

    with pytest.raises(jinja2.UndefinedError, match="body"):
        render_page("datasheet.html.j2", title="no body")


def test_no_module_of_the_build_writes_html_or_css_itself():
    markup = re.compile(r"<!DOCTYPE|<html|<head|<style|<div|<table|font-family|border-collapse|margin:", re.IGNORECASE)
    found = []
    for path in sorted(BUILD.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and markup.search(node.value):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []
    pages = sorted(p.name for p in (TEMPLATES / "pages").glob("*.j2"))
    assert pages == ["base.html.j2", "datasheet.html.j2", "index.html.j2"]
