"""The datasheet: Gebru et al.'s sections, and no number that the build did not compute, quote or cite."""

from __future__ import annotations

import html
import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mnist_analysis.cli import main
from mnist_analysis.datasheet import (
    MARKDOWN_NAME,
    QUOTED_NOTEBOOKS,
    SOURCES,
    Datasheet,
    Line,
    build_datasheet,
    make_datasheet,
    notebook_findings,
    unsourced_numbers,
)
from mnist_analysis.findings import METADATA_KEY, read_findings

SECTIONS = (
    "## Motivation",
    "## Composition",
    "## Collection process",
    "## Preprocessing, cleaning and labelling",
    "## Uses",
    "## Distribution",
    "## Maintenance",
)
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def small_frame():
    rng = np.random.default_rng(0)
    rows = []
    for split, n, first_writer in (("train", 120, 0), ("test", 40, 100)):
        writer = first_writer + np.arange(n) // 10
        rows.append(
            pd.DataFrame(
                {
                    "split": split,
                    "index": np.arange(n),
                    "label": rng.integers(0, 10, n),
                    "writer_id": writer,
                    "writer_group": np.where(writer % 2 == 0, "census", "student"),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def fake_findings():
    return {
        stem: ([f"{stem} says 12.5 % of 1,234 digits."], {"sample_size": 2000, "seed": 0}) for stem in QUOTED_NOTEBOOKS
    }


def validation_table():
    index = pd.MultiIndex.from_product([["knn_pca"], ["random", "writer-disjoint"]], names=["model", "split"])
    return pd.DataFrame(
        {
            "validation_error": [0.02, 0.031],
            "validation_low": [0.019, 0.025],
            "validation_high": [0.025, 0.038],
            "test_error": [0.026, 0.026],
            "test_low": [0.021, 0.021],
            "test_high": [0.031, 0.031],
            "shared_writers": [12, 0],
        },
        index=index,
    )


def test_datasheet_has_gebru_sections_in_order():
    markdown = build_datasheet(small_frame(), fake_findings(), validation=validation_table()).markdown()
    positions = [markdown.find(section + "\n") for section in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_every_number_is_computed_quoted_or_cited():
    findings = fake_findings()
    sheet = build_datasheet(small_frame(), findings, validation=validation_table())
    assert unsourced_numbers(sheet, findings) == []
    assert {line.kind for line in sheet.lines} == {"computed", "finding", "cited", "text"}
    # every line of the Markdown with a number is a line of the sheet, so the check above covers it
    lines = {line.text for line in sheet.lines}
    for text in sheet.markdown().splitlines():
        assert not NUMBER.search(text) or text in lines, text
    # the computed counts are the frame's
    markdown = sheet.markdown()
    assert "There are 160 instances, 120 in the training split and 40 in the test split." in markdown
    assert "Recommendation: tune models on a **writer-disjoint** validation split" in markdown


def test_the_check_catches_numbers_from_nowhere():
    findings = fake_findings()
    sheet = build_datasheet(small_frame(), findings)
    forged = [
        Line("About 250 writers.", "text"),
        Line("- 01_pixel_statistics says 13.5 % of 1,234 digits.", "finding", origin="01_pixel_statistics"),
        Line("7,000 per class (Somebody 1999).", "cited", origin="nobody"),
        Line("70,001 images", "computed", template="{n} images", values={"n": "70,000"}),
        Line("70,000 images", "computed", template="70,000 images", values={}),
    ]
    sheet.lines.extend(forged)
    assert unsourced_numbers(sheet, findings) == [line.text for line in forged]


def test_lines_with_untraceable_numbers_are_refused_when_added():
    sheet = Datasheet()
    with pytest.raises(ValueError, match="neither computed nor cited"):
        sheet.text("About 250 writers.")
    with pytest.raises(ValueError, match="template holds a literal number"):
        sheet.computed("{n} of 10", n=3)
    with pytest.raises(ValueError, match="source: expected one of"):
        sheet.cited("7,000 per class", "somebody")


def test_html_renders_the_tables_and_cites_every_source():
    sheet = build_datasheet(small_frame(), fake_findings(), validation=validation_table())
    page = sheet.html()
    assert page.startswith("<!DOCTYPE html>") and page.count("<table>") >= 3
    assert "<h2>Uses</h2>" in page
    for source in SOURCES.values():
        assert html.escape(source.short) in page


def executed_notebook(findings):
    output = new_output("display_data", {"text/markdown": "..."}, metadata={METADATA_KEY: {"findings": findings}})
    node = new_notebook(cells=[new_code_cell(outputs=[output])])
    node.metadata["papermill"] = {"parameters": {"sample_size": 2000, "seed": 0}}
    return node


def test_notebook_findings_reads_the_executed_notebooks_and_names_a_missing_one(tmp_path):
    for stem in QUOTED_NOTEBOOKS:
        nbformat.write(executed_notebook([f"{stem} finding."]), tmp_path / f"{stem}.ipynb")
    found = notebook_findings(tmp_path)
    assert found["05_data_quality"] == (["05_data_quality finding."], {"sample_size": 2000, "seed": 0})
    (tmp_path / "05_data_quality.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match=r"05_data_quality.ipynb not found; .*mnist-analysis report"):
        notebook_findings(tmp_path)
    nbformat.write(executed_notebook([]), tmp_path / "05_data_quality.ipynb")
    with pytest.raises(ValueError, match="states no findings"):
        notebook_findings(tmp_path)


def test_command_without_executed_notebooks_fails_in_one_line(tmp_path, capsys):
    assert main(["datasheet", "--output", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "not found" in error and "mnist-analysis report" in error
    assert not (tmp_path / MARKDOWN_NAME).exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_report_build_writes_a_datasheet_whose_numbers_all_come_from_the_build(quick_reports, real_data):
    from mnist_analysis import load_frame

    _, reports = quick_reports
    written = (reports / MARKDOWN_NAME).read_text()
    assert 'href="datasheet.html"' in (reports / "index.html").read_text()
    assert (reports / "datasheet.html").read_text().startswith("<!DOCTYPE html>")
    built = re.search(r"this copy was built (.*)\.$", written, re.M).group(1)
    sheet, _ = make_datasheet(reports, built=built)
    assert sheet.markdown() == written
    # findings read here, from the executed notebooks of the build, not from the datasheet module
    findings = {
        stem: (read_findings(nbformat.read(reports / f"{stem}.ipynb", as_version=4)), {}) for stem in QUOTED_NOTEBOOKS
    }
    assert unsourced_numbers(sheet, findings) == []
    quoted = [line for line in sheet.lines if line.kind == "finding"]
    assert {line.origin for line in quoted} == set(QUOTED_NOTEBOOKS)
    # a few computed numbers, recomputed independently
    frame = load_frame()
    counts = frame.groupby("split", observed=True).size()
    assert f"There are {len(frame):,} instances, {counts['train']:,} in the training split" in written
    train_per_class = frame[frame["split"] == "train"]["label"].value_counts()
    assert f"| 5 | {train_per_class[5]:,} |" in written
    assert "Recommendation: tune models on a" in written
