"""The datasheet: Gebru et al.'s sections, and no number that the build did not compute, quote or cite."""

from __future__ import annotations

import html
import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mnist_analysis.build.citations import CITATIONS, LOCATOR, numbers_in
from mnist_analysis.build.datasheet import (
    COMPUTATIONS,
    MARKDOWN_NAME,
    QUOTED_NOTEBOOKS,
    SOURCES,
    BuildData,
    Datasheet,
    Line,
    build_datasheet,
    computations_with_literals,
    make_datasheet,
    notebook_findings,
    unsourced_numbers,
)
from mnist_analysis.card_audit import CLAIMS
from mnist_analysis.cli import main
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
                    "hsf_series": np.where(writer % 2 == 0, 0, 4),
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
    assert all(p >= 0 for p in positions)
    assert positions == sorted(positions)


def test_every_number_is_computed_quoted_or_cited():
    findings = fake_findings()
    sheet = build_datasheet(small_frame(), findings, validation=validation_table())
    assert unsourced_numbers(sheet, findings) == []
    assert {line.kind for line in sheet.lines} == {"computed", "finding", "cited", "reference", "text"}
    # every line of the Markdown with a number is a line of the sheet, so the check above covers it
    lines = {line.text for line in sheet.lines}
    for text in sheet.markdown().splitlines():
        assert not NUMBER.search(text) or text in lines, text
    # the computed counts are the frame's
    markdown = sheet.markdown()
    assert "There are 160 instances, 120 in the training split and 40 in the test split." in markdown
    assert "Recommendation: tune models on a **writer-disjoint** validation split" in markdown
    assert "census digits in HSF series 0 and the student digits in series 4." in markdown


def test_the_check_catches_numbers_from_nowhere():
    findings = fake_findings()
    sheet = build_datasheet(small_frame(), findings)
    forged = [
        Line("About 250 writers.", "text"),
        Line("- 01_pixel_statistics says 13.5 % of 1,234 digits.", "finding", origin="01_pixel_statistics"),
        Line("7,000 per class (Somebody 1999).", "cited", origin="nobody"),
        Line("70,001 images", "computed", template="{n} images", values={"n": "70,000"}),
        Line("70,000 images", "computed", template="70,000 images", values={}),
        Line("- Made up, 1999.", "reference", origin="gebru"),
    ]
    sheet.lines.extend(forged)
    assert unsourced_numbers(sheet, findings) == [line.text for line in forged]


def test_a_literal_passed_as_computed_is_caught():
    """Forgery of the first kind: a number typed into the code, labelled computed (passed the old check)."""
    findings = fake_findings()
    sheet = build_datasheet(small_frame(), findings)
    # a well-formed computed line whose value is a literal: digit-free template, filled by its values
    literal = Line(
        "There are 70,000 instances.", "computed", template="There are {n} instances.", values={"n": "70,000"}
    )
    # the same literal claiming a registered computation: recomputed on the data, it gives 160
    claimed = Line(
        "There are 70,000 instances, 60,000 in the training split and 10,000 in the test split.",
        "computed",
        template="There are {total} instances, {train} in the training split and {test} in the test split.",
        values={"total": "70,000", "train": "60,000", "test": "10,000"},
        source=("instances", (), None),
    )
    sheet.lines += [literal, claimed]
    assert unsourced_numbers(sheet, findings) == [literal.text, claimed.text]
    # and the honest line, built by the sheet from the same computation, passes
    assert "There are 160 instances, 120 in the training split and 40 in the test split." in sheet.markdown()
    # checked against other data (a build with fewer test digits), the sheet's computed lines fail
    fewer = small_frame().iloc[:-4]
    other = BuildData(fewer, findings, built=sheet.data.built, version=sheet.data.version)
    assert any(text.startswith("There are 160 instances") for text in unsourced_numbers(sheet, findings, other))


def test_a_registered_computation_that_returns_a_literal_is_caught(monkeypatch):
    """The literal moved into a registered computation: the computation's code is refused."""
    findings = fake_findings()

    def instances(data):
        return {"total": "70,000", "train": "60,000", "test": str(10_000)}

    monkeypatch.setitem(COMPUTATIONS, "instances", instances)
    assert set(computations_with_literals(["instances"])) == {"instances"}
    sheet = build_datasheet(small_frame(), findings)
    bad = unsourced_numbers(sheet, findings)
    assert bad == ["There are 70,000 instances, 60,000 in the training split and 10000 in the test split."]


def test_registered_computations_hold_no_number_literals():
    assert computations_with_literals() == {}
    # the checker sees literals in helpers the computations call, and constants they read
    assert computations_with_literals(["no such computation"]) == {"no such computation": ["not registered"]}


def test_a_number_beside_a_valid_citation_is_caught():
    """Forgery of the second kind: the citation is real, the number is not in it (passed the old check)."""
    sheet = Datasheet()
    sheet.cited("four_files")  # "four ... files": stated on the MNIST page
    sheet.cited("four_files", "MNIST is distributed as five gzip-compressed IDX files on its page")
    sheet.cited("mnist_composition", "The training set took 30,000 patterns from SD-3 and 31,000 from SD-1")
    sheet.cited("claim:total_images", "Claim: 70,000 images, 250 writers", prefix="- ")
    sheet.lines.append(Line("MNIST has 60,001 training images (MNIST page).", "cited", origin="mnist_page"))
    entry = CITATIONS["qmnist_traced"]  # a citation that states no number
    sheet.lines.append(Line(f"QMNIST traced 70,000 digits {entry.suffix()}.", "cited", origin="qmnist_traced"))
    bad = unsourced_numbers(sheet, {})
    assert bad == [line.text for line in sheet.lines[1:]]


def test_every_citation_with_numbers_says_where_and_holds_its_numbers():
    for key, entry in CITATIONS.items():
        assert entry.source in SOURCES, key
        numbers = numbers_in(entry.statement)
        assert set(numbers) <= set(entry.numbers), key
        if numbers:
            assert LOCATOR.match(entry.locator), f"{key}: a number needs a page or section, found {entry.locator!r}"
    # every claim of the card audit has its entry, with the audit's wording
    for claim in CLAIMS:
        assert CITATIONS[f"claim:{claim.id}"].statement == f"Claim: {claim.claim}"


def test_numbers_are_read_in_digits_and_words():
    assert numbers_in("thirty thousand patterns from SD-3 and 5,000 from SD-1") == [30_000, 3, 5_000, 1]
    assert numbers_in("a box of twenty by twenty pixels in a twenty-eight pixel field, 0.5 grey") == [20, 20, 28, 0.5]
    assert numbers_in("half by high-school students") == [0.5]
    assert numbers_in("no number here") == []


def test_lines_with_untraceable_numbers_are_refused_when_added():
    sheet = Datasheet()
    with pytest.raises(ValueError, match="neither computed nor cited"):
        sheet.text("About 250 writers.")
    with pytest.raises(ValueError, match="template holds a literal number"):
        sheet.computed("{total} of 10", "instances")
    with pytest.raises(TypeError, match="registered computation on the build's data, not from literals"):
        sheet.computed("{n} images", n="70,000")
    with pytest.raises(ValueError, match="no build data to compute from"):
        sheet.computed("{total} images", "instances")
    with pytest.raises(ValueError, match="computation: expected one of"):
        Datasheet(data=BuildData(small_frame(), fake_findings())).computed("{n} images", "typed")
    with pytest.raises(ValueError, match="citation: expected one of"):
        sheet.cited("somebody")


def test_html_renders_the_tables_cites_every_source_and_links_back_to_the_index():
    sheet = build_datasheet(small_frame(), fake_findings(), validation=validation_table())
    page = sheet.html()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<table>") >= 3
    assert "<h2>Uses</h2>" in page
    assert page.count('<a href="index.html">') == 1
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


def write_quoted(folder, broken_stem, broken):
    for stem in QUOTED_NOTEBOOKS:
        nbformat.write(executed_notebook([f"{stem} finding."]), folder / f"{stem}.ipynb")
    path = folder / f"{broken_stem}.ipynb"
    if isinstance(broken, bytes):
        path.write_bytes(broken)
    else:
        node = executed_notebook(["A first finding."])
        node.cells.append(new_code_cell(outputs=[new_output("display_data", {"text/markdown": "..."})]))
        node.cells[1].outputs[0].metadata[METADATA_KEY] = {"findings": broken}
        nbformat.write(node, path)
    return path


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (b"{not json", r"is not a readable notebook \(expected nbformat JSON\): .*Error"),
        (b"\xff\xfe\x00garbage", r"is not a readable notebook"),
        ("One finding as a string.", r"cell 1: findings must be a list of non-empty sentences \(strings\), found str"),
        ([{"text": "a dict"}], r"cell 1: findings must be a list of non-empty sentences \(strings\), found list"),
        (["A finding.", 3.5], r"cell 1: findings must be a list"),
        (["A finding.", "  "], r"cell 1: findings must be a list"),
    ],
    ids=["not-json", "not-utf8", "string", "dicts", "number", "blank"],
)
def test_a_malformed_quoted_notebook_is_refused_with_its_file_and_cell_named(tmp_path, capsys, broken, message):
    path = write_quoted(tmp_path, "04_writer_split", broken)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        notebook_findings(tmp_path)
    # the command says it in one line, exit 1, before loading any data, and writes nothing
    assert main(["datasheet", "--output", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert str(path) in error
    assert "Traceback" not in error
    assert not (tmp_path / MARKDOWN_NAME).exists()


def test_command_without_executed_notebooks_fails_in_one_line(tmp_path, capsys):
    assert main(["datasheet", "--output", str(tmp_path)]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "not found" in error
    assert "mnist-analysis report" in error
    assert not (tmp_path / MARKDOWN_NAME).exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_report_build_writes_a_datasheet_whose_numbers_all_come_from_the_build(quick_reports, real_data):
    from mnist_analysis import load_frame, load_images
    from mnist_analysis.data.registry import REGISTRY
    from mnist_analysis.data.sources import load_array
    from mnist_analysis.splits import compare_validation_splits

    _, reports = quick_reports
    written = (reports / MARKDOWN_NAME).read_text()
    assert 'href="datasheet.html"' in (reports / "index.html").read_text()
    assert (reports / "datasheet.html").read_text().startswith("<!DOCTYPE html>")
    assert '<a href="index.html">' in (reports / "datasheet.html").read_text()
    built = re.search(r"this copy was built (.*)\.$", written, re.M).group(1)
    sheet, _ = make_datasheet(reports, built=built)
    assert sheet.markdown() == written
    # findings read here, from the executed notebooks of the build, not from the datasheet module
    findings = {
        stem: (read_findings(nbformat.read(reports / f"{stem}.ipynb", as_version=4)), {}) for stem in QUOTED_NOTEBOOKS
    }
    # computed lines recomputed from data loaded here, not the data the datasheet module kept
    frame = load_frame("all")
    data = BuildData(
        frame,
        notebook_findings(reports),
        verified=tuple((spec, load_array(key)) for key, spec in REGISTRY.items()),
        validation=compare_validation_splits(load_images("all"), frame, seed=0, n_boot=2000),
        built=built,
        version=sheet.data.version,
    )
    assert unsourced_numbers(sheet, findings, data) == []
    quoted = [line for line in sheet.lines if line.kind == "finding"]
    assert {line.origin for line in quoted} == set(QUOTED_NOTEBOOKS)
    # a few computed numbers, recomputed independently
    frame = load_frame()
    counts = frame.groupby("split", observed=True).size()
    assert f"There are {len(frame):,} instances, {counts['train']:,} in the training split" in written
    train_per_class = frame[frame["split"] == "train"]["label"].value_counts()
    assert f"| 5 | {train_per_class[5]:,} |" in written
    assert "Recommendation: tune models on a" in written
