"""A datasheet for MNIST (Gebru et al., 2021) whose every number is computed in the build.

:func:`write_datasheet` writes ``datasheet.md`` and ``datasheet.html`` into the reports folder,
after ``mnist-analysis report`` has executed the notebooks there. It follows the datasheet's
sections (motivation, composition, collection process, preprocessing, uses, distribution,
maintenance). Each line of the datasheet is one of four kinds, and :class:`Datasheet` keeps the
kind with the line so a test can check where every number comes from:

- ``computed``: a template without digits, filled with values computed by this module from the
  verified data in this build (counts, writers, orders, card-claim verdicts, file hashes and the
  validation-split measurement of :mod:`mnist_analysis.splits`);
- ``finding``: a key finding quoted verbatim from an executed notebook of this build (see
  :mod:`mnist_analysis.findings`): pixel statistics, label errors, near duplicates, the writer
  split;
- ``cited``: a statement taken from a source in :data:`SOURCES`, with the source and a locator;
- ``text``: connecting prose, which may hold no digit at all.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .findings import read_findings
from .utils import atomic_write_bytes

MARKDOWN_NAME = "datasheet.md"
HTML_NAME = "datasheet.html"
#: Executed notebooks whose findings the datasheet quotes, and the section that quotes them.
QUOTED_NOTEBOOKS = {
    "01_pixel_statistics": "Preprocessing, cleaning and labelling",
    "04_writer_split": "Composition",
    "05_data_quality": "Composition",
}
KINDS = ("computed", "finding", "cited", "text")
HASH_NAME = "SHA-256"  #: the hash of mnist_analysis.registry (a name that holds digits, so it goes in as a value)
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Source:
    """A cited work: how the datasheet names it, and the full reference."""

    short: str
    reference: str


SOURCES = {
    "gebru": Source(
        "Gebru et al. 2021",
        "T. Gebru, J. Morgenstern, B. Vecchione, J. Wortman Vaughan, H. Wallach, "
        "H. Daumé III and K. Crawford. Datasheets for Datasets. Communications of "
        "the ACM 64(12):86-92, 2021.",
    ),
    "lecun1998": Source(
        "LeCun et al. 1998",
        "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning "
        "applied to document recognition. Proceedings of the IEEE "
        "86(11):2278-2324, 1998.",
    ),
    "mnist_page": Source(
        "MNIST page",
        "Y. LeCun, C. Cortes and C. J. C. Burges. The MNIST database of handwritten "
        "digits. http://yann.lecun.com/exdb/mnist/",
    ),
    "hf_card": Source("Hugging Face card", "Hugging Face dataset card of mnist. https://huggingface.co/datasets/mnist"),
    "qmnist": Source(
        "Yadav & Bottou 2019",
        "C. Yadav and L. Bottou. Cold Case: The Lost MNIST Digits. Advances in "
        "Neural Information Processing Systems 32 (NeurIPS 2019).",
    ),
    "qmnist_repo": Source(
        "QMNIST repository",
        "facebookresearch/qmnist on GitHub: README (extended labels) and "
        "LICENSE. https://github.com/facebookresearch/qmnist",
    ),
    "grother": Source(
        "Grother 1995",
        "P. J. Grother. NIST Special Database 19: Handprinted Forms and Characters "
        "Database. National Institute of Standards and Technology, 1995.",
    ),
    "northcutt": Source(
        "Northcutt et al. 2021",
        "C. Northcutt, L. Jiang and I. Chuang. Confident learning: "
        "estimating uncertainty in dataset labels. Journal of Artificial "
        "Intelligence Research 70:1373-1411, 2021.",
    ),
}
_CARD_SOURCES = {"Hugging Face dataset card (mnist)": "hf_card", "LeCun, Cortes & Burges, MNIST page": "mnist_page"}


@dataclass(frozen=True)
class Line:
    """One line of the datasheet and where its content comes from."""

    text: str
    kind: str  #: one of :data:`KINDS`
    origin: str = ""  #: notebook stem (finding) or source key (cited)
    template: str = ""  #: computed: the digit-free template that ``values`` fill
    values: dict = field(default_factory=dict)  #: computed: the values, formatted


@dataclass
class Datasheet:
    """The lines of a datasheet; :meth:`markdown` and :meth:`html` render them."""

    lines: list = field(default_factory=list)

    def _add(self, line: Line) -> None:
        if line.kind in ("text",) and _DIGIT.search(line.text):
            raise ValueError(f"datasheet text line holds a number that was neither computed nor cited: {line.text!r}")
        self.lines.append(line)

    def text(self, text: str = "") -> None:
        """Prose or a heading: no digits allowed."""
        self._add(Line(text, "text"))

    def computed(self, template: str, **values) -> None:
        """A line whose every number is one of ``values`` (computed in this build)."""
        if _DIGIT.search(template):
            raise ValueError(f"computed-line template holds a literal number: {template!r}")
        values = {name: str(value) for name, value in values.items()}
        self._add(Line(template.format(**values), "computed", template=template, values=values))

    def cited(self, text: str, source: str, locator: str = "") -> None:
        """A statement from ``SOURCES[source]``, followed by the citation."""
        if source not in SOURCES:
            raise ValueError(f"source: expected one of {sorted(SOURCES)}, found {source!r}")
        citation = SOURCES[source].short + (f", {locator}" if locator else "")
        end = "" if text.startswith("- ") else "."
        self._add(Line(f"{text} ({citation}){end}", "cited", origin=source))

    def finding(self, notebook: str, finding: str) -> None:
        """A finding quoted verbatim from the executed ``notebook``."""
        self._add(Line(f"- {finding}", "finding", origin=notebook))

    def markdown(self) -> str:
        """The lines as Markdown: one paragraph per line, except rows of a table and items of a list."""
        texts = [line.text for line in self.lines]
        out = []
        for text, following in zip(texts, texts[1:] + [""]):
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

        body = mistune.create_markdown(plugins=["table"])(self.markdown())
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n{body}</body></html>\n"
        )


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;line-height:1.5;"
    "color:#222}table{border-collapse:collapse;font-size:.9rem}td,th{border-bottom:1px solid #ddd;"
    "padding:.2rem .6rem;text-align:left}code{font-size:.85rem}"
)


def _percent(value: float, digits: int = 2) -> str:
    return f"{100 * value:.{digits}f} %"


def notebook_findings(reports_dir) -> dict:
    """``{notebook stem: (findings, parameters)}`` of the executed notebooks the datasheet quotes.

    Raises FileNotFoundError naming the missing executed notebook (run ``mnist-analysis report``
    first) and ValueError for one that states no findings (it failed before its summary).
    """
    import nbformat

    found = {}
    for stem in QUOTED_NOTEBOOKS:
        path = Path(reports_dir) / f"{stem}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(
                f"datasheet: {path} not found; the datasheet quotes the executed notebooks, so "
                f"run `mnist-analysis report --output {reports_dir}` first"
            )
        node = nbformat.read(path, as_version=4)
        findings = read_findings(node)
        if not findings:
            raise ValueError(f"datasheet: {path} states no findings (did the notebook fail before its summary?)")
        found[stem] = (findings, dict(node.metadata.get("papermill", {}).get("parameters", {})))
    return found


# --------------------------------------------------------------------------- sections
def _motivation(sheet):
    sheet.text("## Motivation")
    sheet.cited(
        "MNIST was assembled from NIST's Special Databases 3 and 1 to benchmark handwritten digit "
        "recognition on a training and a test set written by disjoint writers",
        "lecun1998",
        "Sec. III-A",
    )
    sheet.cited(
        "NIST had designated SD-3 as its training set and SD-1 as its test set, but SD-3 is much cleaner; "
        "MNIST mixes both in each of its sets",
        "mnist_page",
    )
    sheet.cited(
        "QMNIST reconstructed the lost part of MNIST's test pool and traced every MNIST digit to its NIST "
        "writer, which is where this datasheet's writer ids and writer groups come from",
        "qmnist",
    )
    sheet.text("Who funded the creation of MNIST is not stated in the sources cited here.")
    sheet.text("")


def _composition(sheet, frame, findings, verified):
    from .card_audit import CLAIMS, audit_dataset_card
    from .writer_groups import block_composition, group_summary, shared_writers

    sheet.text("## Composition")
    split = frame["split"].astype(str)
    counts = split.value_counts()
    shapes = {array.shape[1:] for spec, array in verified if spec.key.endswith("-images")}
    if len(shapes) == 1:
        height, width = shapes.pop()
        sheet.computed(
            "Each instance is one greyscale image of a handwritten digit ({height}x{width} pixels in the "
            "verified files) with its label.",
            height=height,
            width=width,
        )
    sheet.computed(
        "There are {total} instances, {train} in the training split and {test} in the test split.",
        total=f"{len(frame):,}",
        train=f"{counts.get('train', 0):,}",
        test=f"{counts.get('test', 0):,}",
    )
    sheet.text("")
    sheet.text("Images per class and split:")
    sheet.text("")
    per_class = pd.crosstab(frame["label"], split).reindex(columns=["train", "test"], fill_value=0)
    sheet.text("| class | train | test | all |")
    sheet.text("|---|---|---|---|")
    for label, row in per_class.iterrows():
        sheet.computed(
            "| {label} | {train} | {test} | {all} |",
            label=label,
            train=f"{row['train']:,}",
            test=f"{row['test']:,}",
            all=f"{row.sum():,}",
        )
    sheet.text("")
    sheet.cited(
        "Writer groups: NIST's handwriting sample forms of series zero to three were filled in by Census "
        "Bureau employees (here census) and those of series four by high-school students (here student)",
        "grother",
    )
    sheet.cited("QMNIST's extended labels give each MNIST digit's form series and writer", "qmnist_repo", "README")
    sheet.text("")
    summary = group_summary(frame)
    sheet.text("| split | writer group | digits | writers | median digits per writer | share of split |")
    sheet.text("|---|---|---|---|---|---|")
    for (split_name, group), row in summary.iterrows():
        sheet.computed(
            "| {split} | {group} | {digits} | {writers} | {median} | {share} |",
            split=split_name,
            group=group,
            digits=f"{int(row['digits']):,}",
            writers=f"{int(row['writers']):,}",
            median=f"{row['digits_per_writer']:.0f}",
            share=_percent(row["share_of_split"]),
        )
    sheet.text("")
    shared = shared_writers(frame)
    writers = frame.groupby(split)["writer_id"].nunique()
    sheet.computed(
        "{train_writers} writers wrote the training split and {test_writers} the test split; {shared} wrote in both.",
        train_writers=f"{writers.get('train', 0):,}",
        test_writers=f"{writers.get('test', 0):,}",
        shared=f"{len(shared):,}",
    )
    if (split == "test").any():
        blocks = block_composition(frame, split="test", block_size=5000)
        order = "; ".join(
            f"positions {block}: {_percent(row['student_share'])} student" for block, row in blocks.iterrows()
        )
        sheet.computed("The test split is ordered by writer group: {order}.", order=order)
    train = frame[split == "train"]
    if (train["writer_group"].astype(str) == "student").any():
        last_student = int(train.loc[train["writer_group"].astype(str) == "student", "index"].max())
        sheet.computed(
            "The training split interleaves the groups up to position {last}, its last student digit; "
            "the {tail} digits after it are census digits.",
            last=f"{last_student:,}",
            tail=f"{int((train['index'] > last_student).sum()):,}",
        )
    sheet.text("")
    sheet.text("### Claims made about the data, checked in this build")
    sheet.text("")
    audit = audit_dataset_card(frame)
    for claim in CLAIMS:
        row = audit.loc[claim.id]
        sheet.cited(f"- Claim: {claim.claim}", _CARD_SOURCES[claim.source])
        if claim.needs is None:
            sheet.computed(
                "  - measured in this build: {measured}; verdict: **{verdict}** ({evidence}).",
                measured=row["measured"],
                verdict=row["verdict"],
                evidence=row["evidence"],
            )
        else:
            sheet.text(f"  - needs {claim.needs}: its verdict is among the writer-split notebook's findings below.")
    sheet.text("")
    sheet.text("### Writers, errors and redundancy: findings of the executed notebooks")
    sheet.text("")
    for stem in ("04_writer_split", "05_data_quality"):
        quoted, parameters = findings[stem]
        sheet.computed(
            "From `{stem}` (parameters: {parameters}):",
            stem=stem,
            parameters=", ".join(f"{k}={v}" for k, v in parameters.items()) or "defaults",
        )
        sheet.text("")
        for finding in quoted:
            sheet.finding(stem, finding)
        sheet.text("")
    sheet.cited(
        "Label errors are estimated with confident learning, which compares out-of-sample predicted "
        "probabilities with the given labels through per-class thresholds",
        "northcutt",
    )
    sheet.text("The data-quality report names the models and the ranking that produced the estimate above.")
    sheet.text(
        "The instances hold no personal information beyond handwriting; writers are identified only by "
        "NIST's anonymous writer numbers."
    )
    sheet.text("")


def _collection(sheet, frame):
    sheet.text("## Collection process")
    sheet.cited("SD-3 was collected among Census Bureau employees and SD-1 among high-school students", "mnist_page")
    sheet.cited(
        "The MNIST page states that the training set took thirty thousand patterns from each database and "
        "the test set five thousand from each, with the writers of the two sets disjoint",
        "mnist_page",
    )
    groups = frame.groupby(frame["writer_group"].astype(str))["writer_id"].nunique()
    sheet.computed(
        "In this build QMNIST's provenance gives {census} census writers and {student} student writers "
        "across both splits.",
        census=f"{groups.get('census', 0):,}",
        student=f"{groups.get('student', 0):,}",
    )
    sheet.text("")


def _preprocessing(sheet, findings):
    sheet.text("## Preprocessing, cleaning and labelling")
    sheet.cited(
        "NIST's bilevel images were size-normalised to fit a box of twenty by twenty pixels keeping their "
        "aspect ratio, anti-aliased to grey levels, and centred in a field of twenty-eight by twenty-eight "
        "pixels by their centre of mass",
        "mnist_page",
    )
    sheet.cited("The raw NIST forms and segmented characters are published as NIST Special Database 19", "grother")
    sheet.cited(
        "QMNIST regenerated MNIST-like images from them to recover MNIST's preprocessing and its unpublished "
        "test digits",
        "qmnist",
    )
    quoted, parameters = findings["01_pixel_statistics"]
    sheet.computed(
        "What the pixel-statistics notebook verified in this build (`{stem}`, parameters: {parameters}):",
        stem="01_pixel_statistics",
        parameters=", ".join(f"{k}={v}" for k, v in parameters.items()) or "defaults",
    )
    sheet.text("")
    for finding in quoted:
        sheet.finding("01_pixel_statistics", finding)
    sheet.text("")


def _uses(sheet, validation):
    from .splits import recommend_split

    sheet.text("## Uses")
    sheet.cited(
        "MNIST was used to compare classifiers for handwritten digit recognition, with a table of test error "
        "rates kept on its page",
        "mnist_page",
    )
    if validation is None:
        sheet.text("The validation-split measurement was not run for this datasheet.")
    else:
        choice = recommend_split(validation)
        sheet.text(
            "Validation error of models fitted on the rest of the training split, beside their test error "
            "(writer-clustered bootstrap intervals):"
        )
        sheet.text("")
        sheet.text(
            "| model | validation split | shared writers | validation error | interval | test error | interval |"
        )
        sheet.text("|---|---|---|---|---|---|---|")
        for (model, kind), row in validation.iterrows():
            sheet.computed(
                "| {model} | {kind} | {shared} | {error} | {low} to {high} | {test} | {test_low} to {test_high} |",
                model=model,
                kind=kind,
                shared=f"{int(row['shared_writers']):,}",
                error=_percent(row["validation_error"]),
                low=_percent(row["validation_low"]),
                high=_percent(row["validation_high"]),
                test=_percent(row["test_error"]),
                test_low=_percent(row["test_low"]),
                test_high=_percent(row["test_high"]),
            )
        sheet.text("")
        best = choice["recommended"]
        other = next(kind for kind in choice["covered"] if kind != best)
        sheet.computed(
            "Recommendation: tune models on a **{best}** validation split. Its interval covered the test "
            "error for {covered} of {models} models (the {other} split's: {other_covered}), with a mean "
            "absolute gap of {gap} points to the test error (the {other} split's: {other_gap}). The "
            "random split gave the lower validation error for {optimistic} of {models} models.",
            best=best,
            other=other,
            covered=choice["covered"][best],
            models=choice["models"],
            other_covered=choice["covered"][other],
            gap=f"{100 * choice['mean_absolute_gap'][best]:.2f}",
            other_gap=f"{100 * choice['mean_absolute_gap'][other]:.2f}",
            optimistic=choice["lower_validation_error"].get("random", 0),
        )
        sheet.text("`mnist_analysis.splits.validation_split` makes either kind, stratified by class and writer group.")
    sheet.text("")
    sheet.text(
        "Results on MNIST say little about handwriting outside its two writer populations, about other "
        "scripts, or about whole documents; the student and census digits differ in style and difficulty "
        "(see the writer-split findings above)."
    )
    sheet.text("")


def _distribution(sheet, verified):
    sheet.text("## Distribution")
    sheet.cited("MNIST is distributed as four gzip-compressed IDX files on its page", "mnist_page")
    sheet.cited(
        "QMNIST's extended labels are distributed in its repository under a BSD license", "qmnist_repo", "LICENSE"
    )
    sheet.text("No license for the MNIST files is stated in the sources cited here.")
    sheet.text("")
    sheet.computed(
        "The {n} files this project uses, verified in this build against their pinned hashes "
        "({algorithm} of the decompressed content):",
        n=len(verified),
        algorithm=HASH_NAME,
    )
    sheet.text("")
    sheet.computed("| file | array | {algorithm} (decompressed) |", algorithm=HASH_NAME)
    sheet.text("|---|---|---|")
    for spec, array in verified:
        sheet.computed(
            "| `{file}` | {shape} {dtype} | `{sha}` |",
            file=spec.filename,
            shape="x".join(f"{n:,}" for n in array.shape),
            dtype=array.dtype,
            sha=spec.sha256,
        )
    sheet.text("")
    sheet.text(
        "`mnist-analysis croissant` writes Croissant metadata (MLCommons) for these files and a record per "
        "image, readable with `mlcroissant`."
    )
    sheet.text("")


def _maintenance(sheet, built):
    sheet.text("## Maintenance")
    sheet.text("The sources cited here state no maintenance plan or erratum process for MNIST.")
    sheet.cited("QMNIST's files and documentation are kept in its public repository", "qmnist_repo")
    sheet.computed(
        "This datasheet is regenerated by `make report` (mnist-analysis {version}); this copy was built {built}.",
        version=_version(),
        built=built,
    )
    sheet.text("")


def _version() -> str:
    from . import __version__

    return __version__


def _references(sheet):
    sheet.text("## References")
    sheet.text("")
    for key, source in SOURCES.items():
        sheet.cited(f"- {source.reference}", key)


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
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a DataFrame from load_frame, found {type(frame).__name__}")
    missing = [stem for stem in QUOTED_NOTEBOOKS if stem not in findings]
    if missing:
        raise ValueError(f"findings: missing the notebooks {missing}")
    built = built or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sheet = Datasheet()
    sheet.text("# Datasheet for MNIST")
    sheet.text("")
    sheet.cited("The sections and their questions follow Datasheets for Datasets", "gebru")
    sheet.text(
        "Every number below is computed by mnist-analysis from the verified data in this build, quoted from a "
        "key finding of a notebook executed in this build, or quoted from the cited source."
    )
    sheet.text("")
    _motivation(sheet)
    _composition(sheet, frame, findings, verified)
    _collection(sheet, frame)
    _preprocessing(sheet, findings)
    _uses(sheet, validation)
    _distribution(sheet, verified)
    _maintenance(sheet, built)
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
    from .data import load_frame, load_images
    from .registry import REGISTRY
    from .sources import fetch, load_array
    from .splits import compare_validation_splits

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


def unsourced_numbers(sheet: Datasheet, findings: dict) -> list[str]:
    """Lines of ``sheet`` holding a number that is not computed, quoted from ``findings`` or cited.

    A computed line must be its digit-free template filled with its values; a finding line must
    quote a finding of its notebook verbatim; a cited line must cite a source of
    :data:`SOURCES`; a text line must hold no digit. Returns the offending lines (empty when
    every number is accounted for).

    Examples
    --------
    >>> sheet = Datasheet()
    >>> sheet.computed("{n} images", n="70,000")
    >>> sheet.lines.append(Line("about 250 writers", "text"))  # bypasses the check on adding
    >>> unsourced_numbers(sheet, {})
    ['about 250 writers']
    """
    bad = []
    for line in sheet.lines:
        if line.kind == "computed":
            ok = not _DIGIT.search(line.template) and line.template.format(**line.values) == line.text
        elif line.kind == "finding":
            ok = line.text.removeprefix("- ") in findings.get(line.origin, ([], {}))[0]
        elif line.kind == "cited":
            source = SOURCES.get(line.origin)
            ok = (
                source is not None and re.search(rf"\({re.escape(source.short)}(, [^)]*)?\)\.?$", line.text) is not None
            )
        else:
            ok = not _DIGIT.search(line.text)
        if not ok:
            bad.append(line.text)
    return bad
