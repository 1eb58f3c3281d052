"""The values of a datasheet: registered computations run on the build's own data.

:class:`BuildData` holds what one build computed from (the loaded frame, the verified arrays,
the validation-split measurement, the executed notebooks' findings and parameters).
:data:`COMPUTATIONS` maps a name to a function ``(data, *names) -> values`` that returns the
formatted values of one line (a dict of strings) or of the rows of a table (a list of such
dicts). A computed line of :mod:`mnist_analysis.build.datasheet` names its computation and arguments,
so :func:`mnist_analysis.build.datasheet.unsourced_numbers` can run it again on the data; and a
computation may hold no number literal (:func:`computations_with_literals`), so a value typed
into the code cannot pass as computed.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass, field

import pandas as pd

_DIGIT = re.compile(r"\d")


@dataclass(eq=False)
class BuildData:
    """What a datasheet is computed from: the data and the executed notebooks of one build.

    ``frame`` is :func:`mnist_analysis.load_frame` of all images; ``findings`` is
    ``{notebook stem: (findings, parameters)}``
    (:func:`mnist_analysis.build.datasheet.notebook_findings`); ``verified`` holds
    ``(DataFile, array)`` for each verified file; ``validation`` the output of
    :func:`mnist_analysis.splits.compare_validation_splits` (or None); ``built`` the build time
    and ``version`` the package version that built it.
    """

    frame: pd.DataFrame
    findings: dict
    verified: tuple = ()
    validation: pd.DataFrame | None = None
    built: str = ""
    version: str = ""
    memo: dict = field(default_factory=dict, repr=False)  #: results of shared steps (the audit), per data

    def fresh(self) -> BuildData:
        """The same data with nothing remembered (the check recomputes everything)."""
        return BuildData(self.frame, self.findings, tuple(self.verified), self.validation, self.built, self.version)


#: Registered computations: ``name -> function(data, *names)`` returning the formatted values of
#: one line (a dict of strings) or of the rows of a table (a list of such dicts).
COMPUTATIONS: dict = {}


def _computation(function):
    """Register ``function`` in :data:`COMPUTATIONS` under its name."""
    COMPUTATIONS[function.__name__] = function
    return function


def evaluate(data: BuildData, computation: str, args: tuple, memo: dict):
    """Run a registered computation on ``data`` (once per name and arguments)."""
    if computation not in COMPUTATIONS:
        raise ValueError(f"computation: expected one of {sorted(COMPUTATIONS)}, found {computation!r}")
    if not all(isinstance(arg, str) for arg in args):
        raise TypeError(f"{computation}: arguments name things (strings), found {args!r}")
    if data is None:
        raise ValueError("computed line: the datasheet has no build data to compute from")
    key = (computation, args)
    if key not in memo:
        memo[key] = COMPUTATIONS[computation](data, *args)
    return memo[key]


def selected(result, row, computation: str) -> dict:
    """The values of one line: ``result`` itself, or its row ``row`` for a table."""
    if row is None:
        if not isinstance(result, dict):
            raise TypeError(f"{computation}: returns rows; give row=")
        return result
    if not isinstance(result, list):
        raise TypeError(f"{computation}: returns one line, not rows")
    return result[row]


def _percent(value: float) -> str:
    return f"{value:.2%}".replace("%", " %")


def _points(value: float) -> str:
    """A share as percentage points, without the sign."""
    return f"{value:.2%}".removesuffix("%")


# --------------------------------------------------------------------------- computations on the build's data
def _split(frame) -> pd.Series:
    return frame["split"].astype(str)


def _count(value) -> str:
    return f"{int(value):,}"


@_computation
def image_size(data):
    """Height and width of the verified images (one shape for all image files)."""
    (shape,) = {array.shape[1:] for spec, array in data.verified if spec.key.endswith("-images")}
    return {"height": str(shape[0]), "width": str(shape[-1])}


@_computation
def instances(data):
    counts = _split(data.frame).value_counts()
    return {
        "total": _count(len(data.frame)),
        "train": _count(counts.get("train", 0)),
        "test": _count(counts.get("test", 0)),
    }


@_computation
def class_counts(data):
    table = pd.crosstab(data.frame["label"], _split(data.frame)).reindex(columns=["train", "test"], fill_value=0)
    return [
        {"label": str(label), "train": _count(row["train"]), "test": _count(row["test"]), "all": _count(row.sum())}
        for label, row in table.iterrows()
    ]


@_computation
def group_rows(data):
    from ..writer_groups import group_summary

    return [
        {
            "split": split,
            "group": group,
            "digits": _count(row["digits"]),
            "writers": _count(row["writers"]),
            "median": f"{row['digits_per_writer']:.0f}",
            "share": _percent(row["share_of_split"]),
        }
        for (split, group), row in group_summary(data.frame).iterrows()
    ]


@_computation
def writers(data):
    from ..writer_groups import shared_writers

    per_split = data.frame.groupby(_split(data.frame))["writer_id"].nunique()
    return {
        "train_writers": _count(per_split.get("train", 0)),
        "test_writers": _count(per_split.get("test", 0)),
        "shared": _count(len(shared_writers(data.frame))),
    }


@_computation
def order_of_test_split(data):
    """Share of student digits in as many equal blocks of the test split as there are writer groups."""
    from ..writer_groups import block_composition

    split = _split(data.frame)
    groups = data.frame["writer_group"].astype(str).nunique()
    blocks = block_composition(data.frame, split="test", block_size=-(-int((split == "test").sum()) // groups))
    order = "; ".join(
        f"positions {block}: {_percent(row['student_share'])} student" for block, row in blocks.iterrows()
    )
    return {"order": order}


@_computation
def training_tail(data):
    train = data.frame[_split(data.frame) == "train"]
    student = train["writer_group"].astype(str) == "student"
    last = int(train.loc[student, "index"].max())
    return {"last": _count(last), "tail": _count((train["index"] > last).sum())}


@_computation
def series(data):
    """The HSF series of each writer group, as QMNIST's extended labels give them."""
    by_group = data.frame.groupby(data.frame["writer_group"].astype(str))["hsf_series"].unique()
    return {f"{group}_series": ", ".join(str(s) for s in sorted(values)) for group, values in by_group.items()}


@_computation
def claims(data):
    """The card audit of the frame: measured value, verdict and evidence of each claim, in CLAIMS order."""
    from ..card_audit import CLAIMS, audit_dataset_card

    if "audit" not in data.memo:
        data.memo["audit"] = audit_dataset_card(data.frame)
    audit = data.memo["audit"]
    return [{name: str(audit.loc[claim.id, name]) for name in ("measured", "verdict", "evidence")} for claim in CLAIMS]


@_computation
def quoted_notebook(data, stem):
    """The stem and the parameters of an executed notebook of this build."""
    _, parameters = data.findings[stem]
    return {"stem": stem, "parameters": ", ".join(f"{k}={v}" for k, v in parameters.items()) or "defaults"}


@_computation
def group_writers(data):
    groups = data.frame.groupby(data.frame["writer_group"].astype(str))["writer_id"].nunique()
    return {"census": _count(groups.get("census", 0)), "student": _count(groups.get("student", 0))}


@_computation
def validation_rows(data):
    return [
        {
            "model": model,
            "kind": kind,
            "shared": _count(row["shared_writers"]),
            "error": _percent(row["validation_error"]),
            "low": _percent(row["validation_low"]),
            "high": _percent(row["validation_high"]),
            "test": _percent(row["test_error"]),
            "test_low": _percent(row["test_low"]),
            "test_high": _percent(row["test_high"]),
        }
        for (model, kind), row in data.validation.iterrows()
    ]


@_computation
def recommendation(data):
    from ..splits import recommend_split

    choice = recommend_split(data.validation)
    best = choice["recommended"]
    other = next(kind for kind in choice["covered"] if kind != best)
    return {
        "best": best,
        "other": other,
        "covered": str(choice["covered"][best]),
        "models": str(choice["models"]),
        "other_covered": str(choice["covered"][other]),
        "gap": _points(choice["mean_absolute_gap"][best]),
        "other_gap": _points(choice["mean_absolute_gap"][other]),
        "optimistic": str(choice["lower_validation_error"].get("random", 0)),
    }


def _content_hash(array):
    """The hash the registry pins, of the file's decompressed content, recomputed from the verified array."""
    from ..data.idx import encode_idx

    return hashlib.sha256(encode_idx(array))


@_computation
def verified_files(data):
    return {"n": str(len(data.verified)), "algorithm": hashlib.sha256().name.upper()}


@_computation
def file_rows(data):
    return [
        {
            "file": spec.filename,
            "shape": "x".join(_count(n) for n in array.shape),
            "dtype": str(array.dtype),
            "sha": _content_hash(array).hexdigest(),
        }
        for spec, array in data.verified
    ]


@_computation
def build_facts(data):
    return {"version": data.version, "built": data.built}


def _number_literals(function, seen: set) -> list[str]:
    """Number literals (and strings holding digits) in ``function`` and the helpers of this module it calls.

    Format specifications (``:,``, ``.2%``) and docstrings are not values; ``0`` and ``1`` are
    positions and counts of one, not data.
    """
    if function in seen:
        return []
    seen.add(function)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError) as error:
        return [f"{getattr(function, '__qualname__', function)}: source not readable ({error})"]
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            skipped.update(id(part) for part in ast.walk(node.format_spec))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node) is not None:
            skipped.add(id(node.body[0].value))
    module = sys.modules.get(function.__module__)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skipped:
            value = node.value
            number = isinstance(value, (int, float, complex)) and not isinstance(value, bool) and value not in (0, 1)
            if number or (isinstance(value, str) and _DIGIT.search(value)):
                found.append(f"{function.__qualname__}: literal {value!r} at line {node.lineno}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and module is not None:
            target = getattr(module, node.id, None)
            if inspect.isfunction(target) and target.__module__ == function.__module__:
                found += _number_literals(target, seen)
            elif isinstance(target, (str, int, float)) and not isinstance(target, bool) and _DIGIT.search(str(target)):
                found.append(f"{function.__qualname__}: constant {node.id} = {target!r}")
    return found


def computations_with_literals(names=None) -> dict:
    """``{computation: [literals]}`` for registered computations whose code holds a number literal.

    A computed value must come from the build's data; a number typed into a computation's code
    would pass the recomputation of :func:`unsourced_numbers`, so such computations are refused.

    Examples
    --------
    >>> computations_with_literals()
    {}
    """
    names = COMPUTATIONS if names is None else names
    found = {}
    for name in names:
        literals = _number_literals(COMPUTATIONS[name], set()) if name in COMPUTATIONS else ["not registered"]
        if literals:
            found[name] = literals
    return found
