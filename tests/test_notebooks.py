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
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    assert len(first.source.splitlines()) > 2, "the first cell should state the questions the notebook answers"
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [1]
    assert second.cell_type == "code"
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


# --------------------------------------------------------------------------- settings typed in prose
def _prose(notebook) -> str:
    """The words a reader sees: every markdown cell, and the comments of the parameters cell."""
    comments = [line.split("#", 1)[1] for line in notebook.cells[1].source.splitlines() if "#" in line]
    return "\n\n".join([c.source for c in notebook.cells if c.cell_type == "markdown"] + comments)


def _trees_of(function) -> list:
    import ast
    import inspect
    import textwrap

    return [ast.parse(textwrap.dedent(inspect.getsource(function)))]


def _passed(trees, function, keyword: str, position: int | None = None, names: dict | None = None):
    """The value that the code of ``trees`` passes for ``keyword`` of ``function`` (its default when not passed).

    Every call must pass the same value; a name is looked up in ``names`` (a notebook's parameters).
    """
    import ast
    import inspect

    values = []
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or function.__name__ not in (
                getattr(node.func, "id", None),
                getattr(node.func, "attr", None),
            ):
                continue
            given = next((k.value for k in node.keywords if k.arg == keyword), None)
            if given is None and position is not None and len(node.args) > position:
                given = node.args[position]
            if given is None:
                values.append(inspect.signature(function).parameters[keyword].default)
            elif isinstance(given, ast.Name):
                values.append((names or {})[given.id])
            else:
                values.append(ast.literal_eval(given))
    assert values, f"{function.__name__} is not called"
    assert len(set(values)) == 1, f"{function.__name__} is called with {keyword} = {values}"
    return values[0]


def _assigned(notebook, name: str):
    """The literal a code cell of ``notebook`` assigns to ``name``."""
    import ast

    found = [
        ast.literal_eval(node.value)
        for tree in _code_trees(notebook)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]
    ]
    assert len(found) == 1, f"{name} is assigned {len(found)} times"
    return found[0]


def _in_notebook(function, keyword: str, position: int | None = None):
    """What a notebook passes to ``function`` for ``keyword``, read from its code cells."""
    return lambda nb: _passed(_code_trees(nb), function, keyword, position, _parameters(nb))


def _image_count(nb):
    from mnist_analysis.data.registry import REGISTRY

    return sum(spec.shape[0] for key, spec in REGISTRY.items() if key.endswith("-images"))


def _image_side(nb):
    from mnist_analysis.data.registry import REGISTRY

    (side,) = {n for key, spec in REGISTRY.items() if key.endswith("-images") for n in spec.shape[1:]}
    return side


def _pipeline_step(model: str, step: str, attribute: str):
    """A setting of one step of a model of the zoo, as built."""
    from mnist_analysis.models import build_model

    return getattr(build_model(model).named_steps[step], attribute)


def _default(function, keyword: str, unless_passed_by=None):
    """The default of ``function``'s ``keyword``; ``unless_passed_by``'s code must not pass it."""
    import inspect

    if unless_passed_by is not None:
        assert f"{keyword}=" not in inspect.getsource(unless_passed_by), f"{unless_passed_by.__name__} sets {keyword}"
    return inspect.signature(function).parameters[keyword].default


def _typed_settings() -> list:
    """``(notebooks, pattern, setting, what)``: prose matching ``pattern`` types the number in group ``n``,
    which must equal ``setting(notebook)``, read from the package or the notebook's own code. Every
    notebook named must still type it (a dead row fails); ``notebooks=None`` checks any notebook that does.

    Built on demand so that collecting the tests imports no analysis module.
    """
    import seaborn as sns

    from mnist_analysis import (
        embedding_quality,
        embeddings,
        label_noise,
        models,
        morphometrics,
        per_image,
        plotting,
        splits,
        writer_groups,
    )
    from mnist_analysis.build import reports
    from mnist_analysis.clustered_statistics import clustered_bootstrap_ci
    from mnist_analysis.data.loaders import CENSUS_SERIES, STUDENT_SERIES

    percent = 100
    every = None  # any notebook, which need not type it
    quick = ("00_overview", "01_pixel_statistics", "03_class_confusion", "05_data_quality")
    count = r"\d+(?:,\d{3})*"
    bootstrap = _default(clustered_bootstrap_ci, "confidence") * percent
    separability_model = _in_notebook(writer_groups.group_separability, "model")
    shift_model = _in_notebook(writer_groups.domain_shift, "model")
    return [
        (
            every,
            rf"(?<![\d,])(?P<n>{count}) (?:images|digits)(?! per class)|all (?P<m>{count})(?![\d,]| principal)",
            _image_count,
            "images in MNIST (the registry)",
        ),
        (
            ("01_pixel_statistics", "02_projections", "04_writer_split"),
            r"(?<![\d.])(?P<n>\d+)x\d+(?![\d-]| (?:pixel )?box)",
            _image_side,
            "image side (the registry)",
        ),
        (
            ("02_projections",),
            r"(?P<n>\d+)(?:-pixel digits| principal components gives)",
            lambda nb: _image_side(nb) ** 2,
            "pixels per image",
        ),
        (
            quick,
            r"quick builds pass (?P<n>\d+)",
            lambda nb: reports.QUICK_PARAMETERS["sample_size"],
            "quick build sample",
        ),
        (
            ("00_overview", "04_writer_split"),
            r"series (?P<n>\d+)-\d+",
            lambda nb: min(CENSUS_SERIES),
            "first census HSF series (mnist_analysis.data.loaders)",
        ),
        (
            ("00_overview", "04_writer_split"),
            r"series \d+-(?P<n>\d+)",
            lambda nb: max(CENSUS_SERIES),
            "last census HSF series (mnist_analysis.data.loaders)",
        ),
        (
            ("00_overview", "04_writer_split"),
            r"series (?P<n>\d+)(?![\d-])",
            lambda nb: STUDENT_SERIES[0],
            "student HSF series (mnist_analysis.data.loaders)",
        ),
        # 01 and 04: the Morpho-MNIST procedure and the box plots
        (
            ("01_pixel_statistics", "04_writer_split"),
            r"(?P<n>\d+)x (?:upsampl|resolution|image)",
            lambda nb: morphometrics.SCALE,
            "morphometrics.SCALE",
        ),
        (("01_pixel_statistics",), r"`2d / (?P<n>\d+)`", lambda nb: morphometrics.SCALE, "morphometrics.SCALE"),
        (
            ("01_pixel_statistics",),
            r"shrinks to a (?P<n>quarter) pixel",
            lambda nb: 1 / morphometrics.SCALE,
            "one upsampled pixel",
        ),
        (
            ("01_pixel_statistics", "04_writer_split"),
            r"leaves out (?P<n>[\d.]+) % of the\s+intensity",
            lambda nb: morphometrics.BOX_TRIM / 2 * percent,
            "morphometrics.BOX_TRIM, half on each side",
        ),
        (
            ("01_pixel_statistics",),
            r"whiskers at (?P<n>[\d.]+) IQR",
            lambda nb: _default(sns.boxplot, "whis", unless_passed_by=plotting.class_distributions),
            "seaborn's boxplot whiskers (class_distributions passes none)",
        ),
        (("01_pixel_statistics",), r"the (?P<n>\w+) most atypical", lambda nb: _assigned(nb, "per_row"), "per_row"),
        # 02: the maps and their scores
        (
            ("02_projections",),
            r"The (?P<n>\d+)-D PCA map",
            _in_notebook(embeddings.pca, "n_components", position=1),
            "components of the PCA map",
        ),
        (
            ("02_projections",),
            r"reduced to (?P<n>\d+) principal\s+components",
            lambda nb: embeddings.FAST_UMAP["pca_components"],
            "embeddings.FAST_UMAP",
        ),
        (
            ("02_projections",),
            r"(?P<n>\d+)-component PCA",
            _in_notebook(embeddings.tsne, "pca_components"),
            "t-SNE's PCA",
        ),
        (
            ("02_projections",),
            r"on a sample\s+of (?P<n>[\d,]+)\)",
            _in_notebook(embedding_quality.embedding_scores, "sample_size"),
            "trustworthiness sample",
        ),
        (
            ("02_projections",),
            r"(?P<n>[\d,]+) query points",
            _in_notebook(embedding_quality.embedding_scores, "queries"),
            "neighbourhood-preservation queries",
        ),
        (
            ("02_projections",),
            r"\((?P<n>\w+) nearest training points",
            lambda nb: _passed(
                _trees_of(embedding_quality._embedding_scores), embedding_quality.knn_accuracy, "n_neighbors"
            ),
            "k-NN accuracy neighbours in embedding_scores",
        ),
        # 03 and 04: intervals and models
        (
            ("03_class_confusion",),
            r"(?P<n>\d+) % (?:Wilson|confidence)",
            lambda nb: _in_notebook(models.error_table, "confidence")(nb) * percent,
            "error_table's confidence",
        ),
        (
            ("04_writer_split",),
            r"(?P<n>\d+) % percentile intervals|writer-clustered (?P<m>\d+) % interval",
            lambda nb: bootstrap,
            "clustered_bootstrap_ci's confidence",
        ),
        (
            ("04_writer_split",),
            r"cuts (?P<n>\d+) % of",
            lambda nb: _in_notebook(splits.compare_validation_splits, "validation_fraction")(nb) * percent,
            "validation fraction",
        ),
        (
            ("04_writer_split",),
            r"remaining (?P<n>\d+) %",
            lambda nb: (1 - _in_notebook(splits.compare_validation_splits, "validation_fraction")(nb)) * percent,
            "training part of the validation split",
        ),
        (
            ("04_writer_split",),
            r"logistic regression on (?P<n>\d+)\s+principal components",
            lambda nb: _pipeline_step(separability_model(nb), "pca", "n_components"),
            "the separability model's PCA",
        ),
        (
            ("04_writer_split",),
            r"(?P<n>\w+)-fold\s+cross-validation",
            _in_notebook(writer_groups.group_separability, "n_splits"),
            "separability folds",
        ),
        (
            ("04_writer_split",),
            r"(?P<n>\d+)-nearest neighbours on",
            lambda nb: _pipeline_step(shift_model(nb), "kneighborsclassifier", "n_neighbors"),
            "the domain-shift model's neighbours",
        ),
        (
            ("04_writer_split",),
            r"neighbours on (?P<n>\d+)\s+principal components",
            lambda nb: _pipeline_step(shift_model(nb), "pca", "n_components"),
            "the domain-shift model's PCA",
        ),
        # 05: label errors
        (("05_data_quality",), r"(?P<n>\w+)-fold", _in_notebook(per_image.per_image_table, "n_splits"), "folds"),
        (
            ("05_data_quality",),
            r"(?P<n>[\d.]+) % of the labels",
            lambda nb: _in_notebook(label_noise.planted_noise_recovery, "fraction")(nb) * percent,
            "planted noise fraction",
        ),
    ]


#: Numbers in prose that are not settings: what the cited sources state, names and formulas.
PROSE_FACTS = (
    (r"20x20(?=[- ](?:pixel )?box)", "the dataset card's box claim, quoted (the audit checks it)"),
    (r"7,000 images per class", "the dataset card's claim, quoted (the audit checks it)"),
    (r"Castro et al\.(?:,|'s) 2019", "a publication year"),
    (r"SD-[13]\b", "the names of NIST's special databases"),
    (r"scaled to 0-1", "the grey-level scale of the distances"),
    (r"`2d - 1`|`w - 1`|`- 1`|`2d`", "the thickness formulas"),
    (r"training image 0\b", "the Morpho-MNIST row quoted by its test suite"),
    (r"notebook \d\d\b", "a notebook's number"),
)
_NUMBER_TOKEN = (
    r"\d+(?:,\d{3})*(?:\.\d+)?|\b(?:two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred|quarter)\b"
    r"(?=[- ](?:fold|most|nearest|principal|component|pixel))"
)


def _typed_number(text: str) -> float:
    from mnist_analysis.build.citations import numbers_in

    (number,) = numbers_in(text)
    return number


def _code_text(notebook) -> str:
    """The text that code cells show: their string literals (format specifications left out), one a line."""
    import ast

    texts = []
    for tree in _code_trees(notebook)[1:]:
        specs = {
            id(part)
            for node in ast.walk(tree)
            if isinstance(node, ast.FormattedValue) and node.format_spec is not None
            for part in ast.walk(node.format_spec)
        }
        texts += [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in specs
        ]
    return "\n".join(texts)


def _typed_settings_in_code() -> list:
    """Settings typed into the text that code cells show (findings, Markdown, titles), as in :func:`_typed_settings`."""
    import numpy as np

    from mnist_analysis import embedding_quality, embeddings, label_noise, models, writer_groups
    from mnist_analysis.clustered_statistics import clustered_bootstrap_ci

    percent = 100

    def knn_votes(nb):
        in_scores = _passed(
            _trees_of(embedding_quality._embedding_scores), embedding_quality.knn_accuracy, "n_neighbors"
        )
        assert _in_notebook(embedding_quality.knn_accuracy, "n_neighbors")(nb) == in_scores
        return in_scores

    return [
        (("02_projections",), r"(?P<n>\d+)-NN\b", knn_votes, "k-NN accuracy neighbours (maps and pixels)"),
        (
            ("02_projections",),
            r"PCA (?P<n>\d+), then UMAP",
            lambda nb: embeddings.FAST_UMAP["pca_components"],
            "embeddings.FAST_UMAP",
        ),
        (
            ("02_projections",),
            r"^(?P<n>\d+) components$|(?P<m>\d+)-D PCA",
            _in_notebook(embeddings.pca, "n_components", position=1),
            "components of the PCA map",
        ),
        (("02_projections",), r"^(?P<n>\d+)-d, reference", lambda nb: _image_side(nb) ** 2, "pixels per image"),
        (
            ("03_class_confusion",),
            r"(?P<n>\d+) ?% interval",
            lambda nb: _in_notebook(models.error_table, "confidence")(nb) * percent,
            "error_table's confidence",
        ),
        (
            ("04_writer_split",),
            r"clustered (?P<n>\d+) % interval",
            lambda nb: _default(clustered_bootstrap_ci, "confidence") * percent,
            "clustered_bootstrap_ci's confidence",
        ),
        (
            ("04_writer_split",),
            r"writers \((?P<n>\d+) % of $",
            lambda nb: _in_notebook(writer_groups.error_concentration, "top_share")(nb) * percent,
            "error_concentration's top share",
        ),
        (
            ("04_writer_split",),
            r"\((?P<n>[\d.]+)th percentile",
            lambda nb: _passed(_trees_of(writer_groups.error_concentration), np.quantile, "q", position=1) * percent,
            "error_concentration's chance band",
        ),
        (
            ("05_data_quality",),
            r"Planted errors \((?P<n>[\d.]+) % of",
            lambda nb: _in_notebook(label_noise.planted_noise_recovery, "fraction")(nb) * percent,
            "planted noise fraction",
        ),
    ]


def _typed_settings_check(path, settings=None, text=_prose) -> tuple[list, list]:
    """``(stale, unused)``: typed settings that differ from the value in force, and table rows no prose matches."""
    import re

    stem, notebook = path.stem, nbformat.read(path, as_version=4)
    prose = text(notebook)
    stale, unused = [], []
    for notebooks, pattern, setting, what in settings or _typed_settings():
        if notebooks is not None and stem not in notebooks:
            continue
        matches = list(re.finditer(pattern, prose, re.M))
        if not matches and notebooks is not None:
            unused.append(f"{what}: {pattern}")
        expected = setting(notebook)
        for match in matches:
            typed = next(text for text in match.groups() if text)
            if abs(_typed_number(typed) - expected) > 1e-9:
                stale.append(f"{what}: prose says {match.group(0)!r}, the code uses {expected:g}")
    return stale, unused


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_prose_types_settings_that_match_the_package(path):
    """Every setting typed into prose ("5-fold", "2,000 query points", "20 %") equals the value in force.

    The value is read from the package (a default or a constant) or from the notebook's own code,
    so changing a default without the prose fails here.
    """
    stale, unused = _typed_settings_check(path)
    assert stale == [], f"prose states settings that the code no longer uses: {stale}"
    assert unused == [], f"the prose no longer types these settings; update the table in this test: {unused}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_text_shown_by_code_types_settings_that_match_the_package(path):
    """The same for numbers typed into the strings that code cells display ("5-NN", "95 % interval", "1 % of")."""
    stale, unused = _typed_settings_check(path, _typed_settings_in_code(), _code_text)
    assert stale == [], f"code-cell text states settings that the code no longer uses: {stale}"
    assert unused == [], f"the code-cell text no longer types these settings; update the table in this test: {unused}"


def test_a_changed_default_or_constant_makes_the_typed_prose_fail(monkeypatch):
    from mnist_analysis import embedding_quality, morphometrics, per_image, splits, writer_groups

    by_stem = {path.stem: path for path in NOTEBOOKS}
    assert _typed_settings_check(by_stem["02_projections"])[0] == []
    monkeypatch.setitem(embedding_quality.embedding_scores.__kwdefaults__, "queries", 3000)
    assert any("'2,000 query points'" in s for s in _typed_settings_check(by_stem["02_projections"])[0])
    monkeypatch.setattr(morphometrics, "SCALE", 8)
    assert any("'4x upsampl" in s for s in _typed_settings_check(by_stem["01_pixel_statistics"])[0])
    monkeypatch.setitem(splits.compare_validation_splits.__kwdefaults__, "validation_fraction", 0.25)
    stale = _typed_settings_check(by_stem["04_writer_split"])[0]
    assert any("'cuts 20 % of'" in s for s in stale)
    assert any("'remaining 80 %'" in s for s in stale)
    monkeypatch.setitem(per_image.per_image_table.__kwdefaults__, "n_splits", 10)
    assert len(_typed_settings_check(by_stem["05_data_quality"])[0]) == 2  # "stratified 5-fold", "5-fold"
    monkeypatch.setitem(writer_groups.error_concentration.__kwdefaults__, "top_share", 0.2)
    stale = _typed_settings_check(by_stem["04_writer_split"], _typed_settings_in_code(), _code_text)[0]
    assert any("(10 % of" in s for s in stale)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_number_in_prose_is_a_checked_setting_or_a_stated_fact(path):
    """No number typed into prose escapes the check above: it is a setting the table reads, or a fact."""
    import re

    stem, notebook = path.stem, nbformat.read(path, as_version=4)
    prose = _prose(notebook)
    covered = [
        match.span()
        for notebooks, pattern, _, _ in _typed_settings()
        if notebooks is None or stem in notebooks
        for match in re.finditer(pattern, prose)
    ] + [match.span() for pattern, _ in PROSE_FACTS for match in re.finditer(pattern, prose)]
    loose = [
        prose[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
        for m in re.finditer(_NUMBER_TOKEN, prose)
        if not any(start <= m.start() and m.end() <= end for start, end in covered)
    ]
    assert loose == [], (
        "numbers typed into prose that no test checks: compute them in a code cell's Markdown output, "
        f"or add them to _typed_settings (a setting) or PROSE_FACTS (a cited fact): {loose}"
    )
