"""A datasheet for MNIST (Gebru et al., 2021) whose every number is computed in the build, quoted or cited.

:func:`write_datasheet` writes ``datasheet.md`` and ``datasheet.html`` into the reports folder,
after ``mnist-analysis report`` has executed the notebooks there. It follows the datasheet's
sections (motivation, composition, collection process, preprocessing, uses, distribution,
maintenance). Each line of the datasheet is one of five kinds, and :class:`Datasheet` keeps the
kind with the line so that :func:`unsourced_numbers` can check where every number comes from:

- ``computed``: a template without digits, filled by a *registered computation*
  (:data:`COMPUTATIONS`, in :mod:`mnist_analysis.build.datasheet_values`) run on the build's own
  data (:class:`BuildData`: the loaded frame, the verified arrays, the validation-split
  measurement, the executed notebooks' parameters). A computed line records the computation
  and its arguments (names, never numbers), and the check runs it again on the data: a literal
  passed as a computed value has no computation to come from, and a registered computation may
  hold no number literal (:func:`computations_with_literals`);
- ``finding``: a key finding quoted verbatim from an executed notebook of this build (see
  :mod:`mnist_analysis.findings`): pixel statistics, label errors, near duplicates, the writer
  split, the clusters, sub-styles and intrinsic dimension of the digit space, and the known
  failure modes of classifiers (perturbations and failing slices);
- ``cited``: a statement of the table :data:`mnist_analysis.build.citations.CITATIONS`, with the work
  and the page or section where it states each number the line holds;
- ``reference``: an entry of the reference list, word for word from :data:`SOURCES`;
- ``text``: connecting prose, which may hold no digit at all.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..findings import METADATA_KEY
from ..utils import atomic_write_bytes
from .citations import CITATIONS, LOCATOR, SOURCES, Citation, Source, numbers_in
from .datasheet_values import COMPUTATIONS, BuildData, computations_with_literals, evaluate, selected

__all__ = [
    "CITATIONS",
    "COMPUTATIONS",
    "SOURCES",
    "BuildData",
    "Citation",
    "Datasheet",
    "Line",
    "Source",
    "build_datasheet",
    "computations_with_literals",
    "make_datasheet",
    "notebook_findings",
    "unsourced_numbers",
    "write_datasheet",
]

MARKDOWN_NAME = "datasheet.md"
HTML_NAME = "datasheet.html"
INDEX_NAME = "index.html"  #: the report index the datasheet links back to (in the same folder)
#: Executed notebooks whose findings the datasheet quotes, and the section that quotes them.
QUOTED_NOTEBOOKS = {
    "01_pixel_statistics": "Preprocessing, cleaning and labelling",
    "04_writer_split": "Composition",
    "05_data_quality": "Composition",
    "06_digit_space": "Composition",
    "07_robustness": "Uses",
}
KINDS = ("computed", "finding", "cited", "reference", "text")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Line:
    """One line of the datasheet and where its content comes from."""

    text: str
    kind: str  #: one of :data:`KINDS`
    origin: str = ""  #: notebook stem (finding), citation key (cited) or source key (reference)
    template: str = ""  #: computed: the digit-free template that ``values`` fill
    values: dict = field(default_factory=dict)  #: computed: the values, formatted
    source: tuple = ()  #: computed: ``(computation, arguments, row)`` that gave ``values``


def _fields(template: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@dataclass
class Datasheet:
    """The lines of a datasheet, computed from ``data``; :meth:`markdown` and :meth:`html` render them."""

    lines: list = field(default_factory=list)
    data: BuildData | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    def _add(self, line: Line) -> None:
        if line.kind == "text" and _DIGIT.search(line.text):
            raise ValueError(f"datasheet text line holds a number that was neither computed nor cited: {line.text!r}")
        self.lines.append(line)

    def text(self, text: str = "") -> None:
        """Prose or a heading: no digits allowed."""
        self._add(Line(text, "text"))

    def computed(self, template: str, computation: str | None = None, *args: str, row=None, **literals) -> None:
        """A line whose values come from ``COMPUTATIONS[computation](data, *args)`` (row ``row`` of a table).

        Values given directly (``n="70,000"``) are refused: a number in a computed line is
        computed from the build's data, never typed.
        """
        if literals:
            raise TypeError(
                "computed values come from a registered computation on the build's data, not from literals: "
                f"found {literals!r}"
            )
        if _DIGIT.search(template):
            raise ValueError(f"computed-line template holds a literal number: {template!r}")
        result = selected(evaluate(self.data, computation, tuple(args), self._memo), row, computation)
        missing = _fields(template) - set(result)
        if missing:
            raise ValueError(f"{computation}: gives {sorted(result)}, the template needs {sorted(missing)}")
        values = {name: result[name] for name in _fields(template)}
        if not all(isinstance(value, str) for value in values.values()):
            raise TypeError(f"{computation}: values must be formatted strings, found {values!r}")
        line = Line(
            template.format(**values),
            "computed",
            template=template,
            values=values,
            source=(computation, tuple(args), row),
        )
        self._add(line)

    def computed_rows(self, template: str, computation: str, *args: str) -> None:
        """One computed line per row of the table that ``computation`` returns."""
        rows = evaluate(self.data, computation, tuple(args), self._memo)
        for row in range(len(rows)):
            self.computed(template, computation, *args, row=row)

    def cited(self, key: str, text: str | None = None, *, prefix: str = "") -> None:
        """A statement of ``CITATIONS[key]`` (or ``text``, holding only its numbers), followed by the citation."""
        if key not in CITATIONS:
            raise ValueError(f"citation: expected one of {sorted(CITATIONS)}, found {key!r}")
        entry = CITATIONS[key]
        text = f"{prefix}{entry.statement if text is None else text} {entry.suffix()}"
        self._add(Line(text if text.startswith("- ") else f"{text}.", "cited", origin=key))

    def reference(self, source: str) -> None:
        """The reference of ``SOURCES[source]`` as an item of the reference list."""
        self._add(Line(f"- {SOURCES[source].reference}", "reference", origin=source))

    def finding(self, notebook: str, finding: str) -> None:
        """A finding quoted verbatim from the executed ``notebook``."""
        self._add(Line(f"- {finding}", "finding", origin=notebook))

    def markdown(self) -> str:
        """The lines as Markdown: one paragraph per line, except rows of a table and items of a list."""
        texts = [line.text for line in self.lines]
        out = []
        for text, following in zip(texts, [*texts[1:], ""]):
            out.append(text)
            together = (
                (text.startswith("|") and following.startswith("|"))
                or following.startswith("  - ")
                or (text.lstrip().startswith("- ") and following.startswith("- "))
            )
            if text and following and not together:
                out.append("")
        return "\n".join(out) + "\n"

    def html(self, title: str = "Datasheet for MNIST") -> str:
        import mistune
        from markupsafe import Markup

        from .pages import render_page

        body = mistune.create_markdown(plugins=["table"])(self.markdown())  # mistune escapes the text
        return render_page("datasheet.html.j2", title=title, body=Markup(body))


def _one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _quoted_findings(path: Path) -> tuple:
    """``(findings, parameters)`` of one executed notebook, refused with the file and cell named when malformed."""
    import nbformat

    try:
        node = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook, not UTF-8: the file is named, never a traceback
        raise ValueError(
            f"datasheet: {path} is not a readable notebook (expected nbformat JSON): {_one_line(error)}"
        ) from None
    findings = []
    for index, cell in enumerate(node.cells):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            tagged = output.get("metadata", {}).get(METADATA_KEY, {})
            said = tagged.get("findings", []) if isinstance(tagged, dict) else tagged
            if not isinstance(said, list) or not all(isinstance(f, str) and f.strip() for f in said):
                raise ValueError(
                    f"datasheet: {path}, cell {index}: findings must be a list of non-empty sentences (strings), "
                    f"found {type(said).__name__} {str(said)[:80]!r}"
                )
            findings += said
    parameters = node.metadata.get("papermill", {}).get("parameters", {})
    if not isinstance(parameters, dict):
        raise ValueError(
            f"datasheet: {path}: papermill parameters must be a mapping, found {type(parameters).__name__}"
        )
    return findings, dict(parameters)


def notebook_findings(reports_dir) -> dict:
    """``{notebook stem: (findings, parameters)}`` of the executed notebooks the datasheet quotes.

    Raises FileNotFoundError naming the missing executed notebook (run ``mnist-analysis report``
    first) and ValueError naming the file (and the cell) of one that is not a notebook, whose
    findings are not a list of sentences, or that states no findings (it failed before its summary).
    """
    found = {}
    for stem in QUOTED_NOTEBOOKS:
        path = Path(reports_dir) / f"{stem}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(
                f"datasheet: {path} not found; the datasheet quotes the executed notebooks, so "
                f"run `mnist-analysis report --output {reports_dir}` first"
            )
        findings, parameters = _quoted_findings(path)
        if not findings:
            raise ValueError(f"datasheet: {path} states no findings (did the notebook fail before its summary?)")
        found[stem] = (findings, parameters)
    return found


# --------------------------------------------------------------------------- sections
def _motivation(sheet):
    sheet.text("## Motivation")
    sheet.cited("mnist_from_nist")
    sheet.cited("nist_designation")
    sheet.cited("qmnist_traced")
    sheet.text("Who funded the creation of MNIST is not stated in the sources cited here.")
    sheet.text("")


def _composition(sheet, data):
    sheet.text("## Composition")
    _instances(sheet, data)
    _writers(sheet, data)
    _checked_claims(sheet)
    _writer_findings(sheet, data)
    _digit_space(sheet, data)


def _instances(sheet, data):
    """What an instance is, how many there are, and how many of each class in each split."""
    if len({array.shape[1:] for spec, array in data.verified if spec.key.endswith("-images")}) == 1:
        sheet.computed(
            "Each instance is one greyscale image of a handwritten digit ({height}x{width} pixels in the "
            "verified files) with its label.",
            "image_size",
        )
    sheet.computed(
        "There are {total} instances, {train} in the training split and {test} in the test split.", "instances"
    )
    sheet.text("")
    sheet.text("Images per class and split:")
    sheet.text("")
    sheet.text("| class | train | test | all |")
    sheet.text("|---|---|---|---|")
    sheet.computed_rows("| {label} | {train} | {test} | {all} |", "class_counts")
    sheet.text("")


def _writers(sheet, data):
    """Who wrote the digits: the two writer groups, their series, and how the splits order them."""
    sheet.cited("writer_groups")
    sheet.cited("qmnist_extended_labels")
    if "hsf_series" in data.frame.columns:
        sheet.computed(
            "In this build QMNIST's extended labels put the census digits in HSF series {census_series} and the "
            "student digits in series {student_series}.",
            "series",
        )
    sheet.text("")
    sheet.text("| split | writer group | digits | writers | median digits per writer | share of split |")
    sheet.text("|---|---|---|---|---|---|")
    sheet.computed_rows("| {split} | {group} | {digits} | {writers} | {median} | {share} |", "group_rows")
    sheet.text("")
    sheet.computed(
        "{train_writers} writers wrote the training split and {test_writers} the test split; {shared} wrote in both.",
        "writers",
    )
    split = data.frame["split"].astype(str)
    if (split == "test").any():
        sheet.computed("The test split is ordered by writer group: {order}.", "order_of_test_split")
    if (data.frame.loc[split == "train", "writer_group"].astype(str) == "student").any():
        sheet.computed(
            "The training split interleaves the groups up to position {last}, its last student digit; "
            "the {tail} digits after it are census digits.",
            "training_tail",
        )
    sheet.text("")


def _checked_claims(sheet):
    """The claims made about the data, each with its verdict in this build (or where to find it)."""
    from ..card_audit import CLAIMS

    sheet.text("### Claims made about the data, checked in this build")
    sheet.text("")
    for row, claim in enumerate(CLAIMS):
        sheet.cited(f"claim:{claim.id}", f"Claim: {claim.claim}", prefix="- ")
        if claim.needs is None:
            sheet.computed(
                "  - measured in this build: {measured}; verdict: **{verdict}** ({evidence}).", "claims", row=row
            )
        else:
            sheet.text(f"  - needs {claim.needs}: its verdict is among the writer-split notebook's findings below.")
    sheet.text("")


def _writer_findings(sheet, data):
    """The writer-split and data-quality notebooks' findings, quoted."""
    sheet.text("### Writers, errors and redundancy: findings of the executed notebooks")
    sheet.text("")
    for stem in ("04_writer_split", "05_data_quality"):
        sheet.computed("From `{stem}` (parameters: {parameters}):", "quoted_notebook", stem)
        sheet.text("")
        for finding in data.findings[stem][0]:
            sheet.finding(stem, finding)
        sheet.text("")
    sheet.cited("confident_learning")
    sheet.text("The data-quality report names the models and the ranking that produced the estimate above.")
    sheet.text("")


def _digit_space(sheet, data):
    """The digit space notebook's findings, and what the instances do not hold."""
    sheet.text("### Kinds of digit and degrees of freedom: the shape of the digit space")
    sheet.text("")
    sheet.text(
        "Clusters found without the labels (UMAP, then HDBSCAN) and scored against them, the intrinsic dimension "
        "of the digits, and how typicality relates to errors and label issues; the per-image table "
        "(`mnist-analysis export`) carries each digit's cluster, sub-style and typicality."
    )
    _quote(sheet, data, "06_digit_space")
    sheet.text(
        "The instances hold no personal information beyond handwriting; writers are identified only by "
        "NIST's anonymous writer numbers."
    )
    sheet.text("")


def _quote(sheet, data, stem):
    """The findings of one executed notebook, under a line naming it and its parameters."""
    sheet.computed("From `{stem}` (parameters: {parameters}):", "quoted_notebook", stem)
    sheet.text("")
    for finding in data.findings[stem][0]:
        sheet.finding(stem, finding)
    sheet.text("")


def _collection(sheet):
    sheet.text("## Collection process")
    sheet.cited("collected_among")
    sheet.cited("mnist_composition")
    sheet.computed(
        "In this build QMNIST's provenance gives {census} census writers and {student} student writers "
        "across both splits.",
        "group_writers",
    )
    sheet.text("")


def _preprocessing(sheet, data):
    sheet.text("## Preprocessing, cleaning and labelling")
    sheet.cited("normalisation")
    sheet.cited("sd19")
    sheet.cited("qmnist_regenerated")
    stem = "01_pixel_statistics"
    sheet.computed(
        "What the pixel-statistics notebook verified in this build (`{stem}`, parameters: {parameters}):",
        "quoted_notebook",
        stem,
    )
    sheet.text("")
    for finding in data.findings[stem][0]:
        sheet.finding(stem, finding)
    sheet.text("")


def _uses(sheet, data):
    sheet.text("## Uses")
    sheet.cited("classifier_table")
    if data.validation is None:
        sheet.text("The validation-split measurement was not run for this datasheet.")
    else:
        sheet.text(
            "Validation error of models fitted on the rest of the training split, beside their test error "
            "(writer-clustered bootstrap intervals):"
        )
        sheet.text("")
        sheet.text(
            "| model | validation split | shared writers | validation error | interval | test error | interval |"
        )
        sheet.text("|---|---|---|---|---|---|---|")
        sheet.computed_rows(
            "| {model} | {kind} | {shared} | {error} | {low} to {high} | {test} | {test_low} to {test_high} |",
            "validation_rows",
        )
        sheet.text("")
        sheet.computed(
            "Recommendation: tune models on a **{best}** validation split. Its interval covered the test "
            "error for {covered} of {models} models (the {other} split's: {other_covered}), with a mean "
            "absolute gap of {gap} points to the test error (the {other} split's: {other_gap}). The "
            "random split gave the lower validation error for {optimistic} of {models} models.",
            "recommendation",
        )
        sheet.text("`mnist_analysis.splits.validation_split` makes either kind, stratified by class and writer group.")
    sheet.text("")
    sheet.text("### Known failure modes")
    sheet.text("")
    sheet.text(
        "Where the project's classifiers fail: under Morpho-MNIST's stroke perturbations (thinning, thickening, "
        "swelling, fractures) and under slant, by writer group, and on the slices of the data (writer group, "
        "class, bins of the measurements) with the highest error, corrected for the number of slices tried."
    )
    _quote(sheet, data, "07_robustness")
    sheet.text(
        "Results on MNIST say little about handwriting outside its two writer populations, about other "
        "scripts, or about whole documents; the student and census digits differ in style and difficulty "
        "(see the writer-split findings above)."
    )
    sheet.text("")


def _distribution(sheet):
    sheet.text("## Distribution")
    sheet.cited("four_files")
    sheet.cited("qmnist_license")
    sheet.text("No license for the MNIST files is stated in the sources cited here.")
    sheet.text("")
    sheet.computed(
        "The {n} files this project uses, verified in this build against their pinned hashes "
        "({algorithm} of the decompressed content):",
        "verified_files",
    )
    sheet.text("")
    sheet.computed("| file | array | {algorithm} (decompressed) |", "verified_files")
    sheet.text("|---|---|---|")
    sheet.computed_rows("| `{file}` | {shape} {dtype} | `{sha}` |", "file_rows")
    sheet.text("")
    sheet.text(
        "`mnist-analysis croissant` writes Croissant metadata (MLCommons) for these files and a record per "
        "image, readable with `mlcroissant`."
    )
    sheet.text("")


def _maintenance(sheet):
    sheet.text("## Maintenance")
    sheet.text("The sources cited here state no maintenance plan or erratum process for MNIST.")
    sheet.cited("qmnist_kept")
    sheet.computed(
        "This datasheet is regenerated by `make report` (mnist-analysis {version}); this copy was built {built}.",
        "build_facts",
    )
    sheet.text("")


def _version() -> str:
    from .. import __version__

    return __version__


def _references(sheet):
    sheet.text("## References")
    sheet.text("")
    for key in SOURCES:
        sheet.reference(key)


def build_datasheet(
    frame: pd.DataFrame, findings: dict, *, verified=(), validation=None, built: str | None = None
) -> Datasheet:
    """Assemble the datasheet from the data and the notebooks' findings.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`mnist_analysis.load_frame` of all images.
    findings : dict
        ``{notebook stem: (findings, parameters)}`` for every notebook of
        :data:`QUOTED_NOTEBOOKS`, as :func:`notebook_findings` returns.
    verified : sequence of (DataFile, numpy.ndarray)
        Files verified in this build and their arrays.
    validation : pandas.DataFrame, optional
        :func:`mnist_analysis.splits.compare_validation_splits` output.
    built : str, optional
        When the build ran (default: now, UTC).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"split": ["train", "test"], "index": [0, 0], "label": [3, 5],
    ...                       "writer_id": [1, 2], "writer_group": ["census", "student"]})
    >>> findings = {stem: (["A finding."], {}) for stem in QUOTED_NOTEBOOKS}
    >>> sheet = build_datasheet(frame, findings, built="today")
    >>> print(next(line.text for line in sheet.lines if line.text.startswith("There are")))
    There are 2 instances, 1 in the training split and 1 in the test split.
    >>> unsourced_numbers(sheet, findings)
    []
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a DataFrame from load_frame, found {type(frame).__name__}")
    missing = [stem for stem in QUOTED_NOTEBOOKS if stem not in findings]
    if missing:
        raise ValueError(f"findings: missing the notebooks {missing}")
    built = built or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    data = BuildData(frame, findings, tuple(verified), validation, built, _version())
    sheet = Datasheet(data=data)
    sheet.text("# Datasheet for MNIST")
    sheet.text("")
    sheet.text(f"[Back to the report index]({INDEX_NAME})")
    sheet.text("")
    sheet.cited("datasheet_sections")
    sheet.text(
        "Every number below is computed by mnist-analysis from the verified data in this build, quoted from a "
        "key finding of a notebook executed in this build, or quoted from the cited source, with the page or "
        "section that states it."
    )
    sheet.text("")
    _motivation(sheet)
    _composition(sheet, data)
    _collection(sheet)
    _preprocessing(sheet, data)
    _uses(sheet, data)
    _distribution(sheet)
    _maintenance(sheet)
    _references(sheet)
    return sheet


def make_datasheet(
    reports_dir="reports", *, data_dir=None, seed: int = 0, n_boot: int = 2000, built: str | None = None
) -> tuple[Datasheet, dict]:
    """Build the datasheet of the executed notebooks in ``reports_dir``; return it and the findings it quotes.

    Verifies the six data files, loads every row, measures the validation splits
    (:func:`mnist_analysis.splits.compare_validation_splits`, cached model fits) and quotes the
    findings of the executed notebooks of ``reports_dir``.
    """
    from ..data.loaders import load_frame, load_images
    from ..data.registry import REGISTRY
    from ..data.sources import fetch, load_array
    from ..splits import compare_validation_splits

    reports_dir = Path(reports_dir)
    findings = notebook_findings(reports_dir)
    verified = []
    for key, spec in REGISTRY.items():
        fetch(key, data_dir=data_dir, progressbar=False)
        verified.append((spec, load_array(key, data_dir=data_dir)))
    frame = load_frame("all", data_dir=data_dir)
    validation = compare_validation_splits(load_images("all", data_dir=data_dir), frame, seed=seed, n_boot=n_boot)
    return build_datasheet(frame, findings, verified=verified, validation=validation, built=built), findings


def write_datasheet(
    reports_dir="reports", *, data_dir=None, seed: int = 0, n_boot: int = 2000, built: str | None = None
) -> dict:
    """Write ``datasheet.md`` and ``datasheet.html`` into ``reports_dir`` (see :func:`make_datasheet`).

    Returns ``{"markdown": Path, "html": Path}``; each file is written whole or not at all.
    """
    reports_dir = Path(reports_dir)
    sheet, _ = make_datasheet(reports_dir, data_dir=data_dir, seed=seed, n_boot=n_boot, built=built)
    paths = {"markdown": reports_dir / MARKDOWN_NAME, "html": reports_dir / HTML_NAME}
    atomic_write_bytes(paths["markdown"], sheet.markdown().encode("utf-8"))
    atomic_write_bytes(paths["html"], sheet.html().encode("utf-8"))
    return paths


# --------------------------------------------------------------------------- the check
def _computed_ok(line: Line, data: BuildData | None, memo: dict, literals: dict) -> bool:
    if _DIGIT.search(line.template) or len(line.source) != 3 or data is None:
        return False
    computation, args, row = line.source
    if computation not in COMPUTATIONS or computation in literals or not isinstance(args, tuple):
        return False
    try:
        result = selected(evaluate(data, computation, args, memo), row, computation)
    except Exception:  # a computation that cannot run on this data does not source the line
        return False
    fields = _fields(line.template)
    values = line.values  # noqa: PD011 (a dict of the line's values, not pandas)
    return (
        set(values) == fields
        and all(values[name] == result.get(name) for name in fields)
        and line.template.format(**values) == line.text
    )


def _cited_ok(line: Line) -> bool:
    entry = CITATIONS.get(line.origin)
    if entry is None or entry.source not in SOURCES:
        return False
    suffix = " " + entry.suffix()
    statement = line.text.removesuffix(".")
    if not statement.endswith(suffix):
        return False
    numbers = numbers_in(statement.removesuffix(suffix))
    located = bool(LOCATOR.match(entry.locator))
    return not numbers or (located and set(numbers) <= set(entry.numbers))


def unsourced_numbers(sheet: Datasheet, findings: dict, data: BuildData | None = None) -> list[str]:
    """Lines of ``sheet`` holding a number that is not computed from the data, quoted from ``findings`` or cited.

    - computed: its registered computation, run again on ``data`` (default: the data the sheet
      was built from, with nothing remembered), gives the line's values, the template has no
      digit, and the computation's code holds no number literal (:func:`computations_with_literals`);
    - finding: a finding of its notebook in ``findings``, verbatim;
    - cited: its entry of :data:`CITATIONS` ends the line, and every number of the line (digits or
      words) is one the entry says its source states, at a page or section given;
    - reference: the reference of its source, verbatim; text: no digit.

    Returns the offending lines (empty when every number is accounted for).

    Examples
    --------
    >>> sheet = Datasheet()
    >>> sheet.cited("four_files")
    >>> sheet.lines.append(Line("about 250 writers", "text"))  # bypasses the check on adding
    >>> sheet.lines.append(Line("70,000 images", "computed", template="{n} images", values={"n": "70,000"}))
    >>> unsourced_numbers(sheet, {})
    ['about 250 writers', '70,000 images']
    """
    data = sheet.data if data is None else data
    data = data.fresh() if data is not None else None
    memo: dict = {}
    used = {line.source[0] for line in sheet.lines if line.kind == "computed" and line.source}
    literals = computations_with_literals(name for name in used if isinstance(name, str))
    bad = []
    for line in sheet.lines:
        if line.kind == "computed":
            ok = _computed_ok(line, data, memo, literals)
        elif line.kind == "finding":
            ok = line.text.removeprefix("- ") in findings.get(line.origin, ([], {}))[0]
        elif line.kind == "cited":
            ok = _cited_ok(line)
        elif line.kind == "reference":
            ok = line.origin in SOURCES and line.text == f"- {SOURCES[line.origin].reference}"
        else:
            ok = line.kind == "text" and not _DIGIT.search(line.text)
        if not ok:
            bad.append(line.text)
    return bad
