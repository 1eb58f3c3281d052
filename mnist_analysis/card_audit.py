"""Audit the quantitative claims made about MNIST against the data itself.

:func:`audit_dataset_card` checks each number and each comparison that the Hugging Face
dataset card (``mnist``) and the MNIST page of LeCun, Cortes and Burges state about the
data: sizes, classes, the census/student split, disjoint writers, the 20x20 box and the
centre-of-mass centring, and which writers are easier to read. Every claim gets the value
measured, a verdict and the evidence behind it:

- ``holds``: the data matches the claim (exactly, for counts);
- ``approximately``: close (within the stated tolerance) or in the claimed direction but
  not distinguishable from no difference;
- ``contradicted``: the data disagrees;
- ``not measured``: the claim needs inputs (measurements, predictions) that were not given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

VERDICTS = ("holds", "approximately", "contradicted", "not measured")
CARD = "Hugging Face dataset card (mnist)"
LECUN = "LeCun, Cortes & Burges, MNIST page"
COLUMNS = ("claim", "source", "expected", "measured", "verdict", "evidence")
IMAGE_CENTRE = 13.5  #: centre of a 28x28 image in pixel coordinates (pixel centres at 0..27)


@dataclass(frozen=True)
class _Inputs:
    frame: pd.DataFrame
    measurements: pd.DataFrame | None
    predictions: pd.Series | None
    count_tolerance: float
    share_tolerance: float
    fraction_holds: float
    n_boot: int
    seed: int
    confidence: float


@dataclass(frozen=True)
class Claim:
    """One checkable statement: its id, wording, source, expected value and how to check it."""

    id: str
    claim: str
    source: str
    expected: str
    check: Callable[[_Inputs], tuple[str, str, str]]  #: -> (measured, verdict, evidence)
    needs: str | None = None  #: "measurements" or "predictions" when the check needs them


# --------------------------------------------------------------------------- verdict rules
def _count_verdict(measured: int, expected: int, tolerance: float) -> str:
    if measured == expected:
        return "holds"
    return "approximately" if abs(measured - expected) <= tolerance * expected else "contradicted"


def _share_verdict(share: float, expected: float, tolerance: float) -> str:
    if share == expected:
        return "holds"
    return "approximately" if abs(share - expected) <= tolerance else "contradicted"


def _fraction_verdict(fraction: float, holds_from: float) -> str:
    if fraction >= holds_from:
        return "holds"
    return "approximately" if fraction >= 0.9 else "contradicted"


def _direction_verdict(difference: dict) -> str:
    """Claim: the second group's mean is larger. Holds when the whole interval is above 0."""
    if difference["ci_low"] > 0:
        return "holds"
    return "approximately" if difference["estimate"] > 0 else "contradicted"


def _split(frame, name):
    return frame[frame["split"].astype(str) == name]


def _census_share(rows) -> float:
    return float((rows["writer_group"].astype(str) == "census").mean())


def _group_counts(rows) -> dict:
    counts = rows["writer_group"].astype(str).value_counts()
    return {g: int(counts.get(g, 0)) for g in ("census", "student")}


# --------------------------------------------------------------------------- the checks
def _total_images(inputs):
    n = len(inputs.frame)
    return f"{n:,}", _count_verdict(n, 70_000, 0), f"{n:,} rows in the frame (train and test)"


def _split_sizes(inputs):
    train, test = len(_split(inputs.frame, "train")), len(_split(inputs.frame, "test"))
    verdict = "holds" if (train, test) == (60_000, 10_000) else "contradicted"
    return f"{train:,} / {test:,}", verdict, f"{train:,} training rows and {test:,} test rows"


def _class_counts(rows, expected, tolerance):
    counts = rows["label"].value_counts().sort_index()
    low, high = int(counts.min()), int(counts.max())
    verdicts = {_count_verdict(int(c), expected, tolerance) for c in counts}
    verdict = next(v for v in ("contradicted", "approximately", "holds") if v in verdicts)
    worst = int(counts.sub(expected).abs().idxmax())
    evidence = (
        f"class sizes from {low:,} (digit {int(counts.idxmin())}) to {high:,} (digit "
        f"{int(counts.idxmax())}); mean {counts.mean():,.0f}; largest deviation digit {worst} "
        f"({(counts[worst] - expected) / expected:+.1%}); tolerance ±{tolerance:.0%}"
    )
    return f"{low:,}-{high:,}", verdict, evidence


def _per_class(inputs):
    return _class_counts(inputs.frame, 7_000, inputs.count_tolerance)


def _per_class_per_split(inputs):
    train = _class_counts(_split(inputs.frame, "train"), 6_000, inputs.count_tolerance)
    test = _class_counts(_split(inputs.frame, "test"), 1_000, inputs.count_tolerance)
    verdict = next(v for v in ("contradicted", "approximately", "holds") if v in (train[1], test[1]))
    return f"train {train[0]}; test {test[0]}", verdict, f"train: {train[2]}. Test: {test[2]}"


def _half_and_half(inputs):
    share = _census_share(inputs.frame)
    counts = _group_counts(inputs.frame)
    evidence = (
        f"{counts['census']:,} census (HSF series 0-3) and {counts['student']:,} student (series 4) "
        f"digits; tolerance ±{inputs.share_tolerance:.1%} points"
    )
    return f"{share:.2%} census", _share_verdict(share, 0.5, inputs.share_tolerance), evidence


def _even_in_both(inputs):
    shares = {s: _census_share(_split(inputs.frame, s)) for s in ("train", "test")}
    verdicts = {_share_verdict(v, 0.5, inputs.share_tolerance) for v in shares.values()}
    verdict = next(v for v in ("contradicted", "approximately", "holds") if v in verdicts)
    measured = f"train {shares['train']:.2%}, test {shares['test']:.2%} census"
    return measured, verdict, f"census share of each split; tolerance ±{inputs.share_tolerance:.1%} points"


def _group_split_counts(split, expected):
    def check(inputs):
        counts = _group_counts(_split(inputs.frame, split))
        verdicts = {_count_verdict(c, expected, inputs.count_tolerance) for c in counts.values()}
        verdict = next(v for v in ("contradicted", "approximately", "holds") if v in verdicts)
        off = max(abs(c - expected) for c in counts.values())
        evidence = (
            f"{split}: {counts['census']:,} census + {counts['student']:,} student digits; "
            f"off by up to {off:,} ({off / expected:.2%}); tolerance ±{inputs.count_tolerance:.0%}"
        )
        return f"{counts['census']:,} + {counts['student']:,}", verdict, evidence

    return check


def _disjoint_writers(inputs):
    from mnist_analysis.writer_groups import shared_writers

    shared = shared_writers(inputs.frame)
    train, test = (_split(inputs.frame, s)["writer_id"].nunique() for s in ("train", "test"))
    evidence = f"{train:,} training writers, {test:,} test writers, {len(shared):,} in both"
    return f"{len(shared):,} shared writers", "holds" if len(shared) == 0 else "contradicted", evidence


def _training_writers(inputs):
    train = _split(inputs.frame, "train")
    writers = train.groupby(train["writer_group"].astype(str))["writer_id"].nunique()
    total = int(train["writer_id"].nunique())
    evidence = (
        f"{int(writers.get('census', 0)):,} census and {int(writers.get('student', 0)):,} student writers "
        f"in the training set (QMNIST writer ids); tolerance ±{inputs.count_tolerance:.0%}"
    )
    return f"{total:,} writers", _count_verdict(total, 250, inputs.count_tolerance), evidence


def _box(inputs):
    rows = inputs.measurements
    longest = np.maximum(rows["bbox_height"].to_numpy(), rows["bbox_width"].to_numpy())
    inside, exactly = float(np.mean(longest <= 20)), float(np.mean(longest == 20))
    evidence = (
        f"longer side of the box of non-zero pixels is at most 20 for {inside:.3%} and exactly 20 for "
        f"{exactly:.3%} of {len(rows):,} measured images (anti-aliasing grey included)"
    )
    return f"{inside:.2%} fit in 20x20", _fraction_verdict(inside, inputs.fraction_holds), evidence


def _centre_of_mass(inputs):
    rows = inputs.measurements
    com = rows[["com_row", "com_col"]].to_numpy(dtype=float)
    within = float(np.mean(np.abs(com - IMAGE_CENTRE).max(axis=1) <= 1))
    mean = np.nanmean(com, axis=0)
    evidence = (
        f"centre of mass within 1 pixel of the image centre ({IMAGE_CENTRE}, {IMAGE_CENTRE}) in both "
        f"directions for {within:.3%} of {len(rows):,} images; mean centre ({mean[0]:.2f}, {mean[1]:.2f})"
    )
    return f"{within:.2%} within 1 px", _fraction_verdict(within, inputs.fraction_holds), evidence


def _first_5000_source(inputs):
    test = _split(inputs.frame, "test")
    first, last = test[test["index"] < 5000], test[test["index"] >= 5000]
    share_first, share_last = _census_share(first), _census_share(last)
    verdict = _fraction_verdict(share_first, inputs.fraction_holds)
    evidence = (
        f"census (SD-3, NIST's original training set) share: {share_first:.2%} of the first 5,000 "
        f"({len(first):,} rows) and {share_last:.2%} of the last 5,000 ({len(last):,} rows)"
    )
    return f"{share_first:.2%} census", verdict, evidence


def _error_difference(inputs, group, first, second, description):
    from mnist_analysis.clustered_statistics import group_difference_ci

    rows = inputs.frame.loc[inputs.predictions.index]
    wrong = (inputs.predictions.to_numpy() != rows["label"].to_numpy()).astype(float)
    difference = group_difference_ci(
        wrong,
        rows["writer_id"].to_numpy(),
        group(rows),
        first=first,
        second=second,
        n_boot=inputs.n_boot,
        seed=inputs.seed,
        confidence=inputs.confidence,
    )
    measured = f"error {difference['first_mean']:.2%} ({first}) vs {difference['second_mean']:.2%} ({second})"
    evidence = (
        f"{description}: difference {100 * difference['estimate']:+.2f} points, "
        f"{inputs.confidence:.0%} writer-clustered bootstrap interval "
        f"[{100 * difference['ci_low']:+.2f}, {100 * difference['ci_high']:+.2f}] "
        f"({difference['n']:,} predictions, {difference['n_groups']:,} writers)"
    )
    return measured, _direction_verdict(difference), evidence


def _census_easier(inputs):
    return _error_difference(
        inputs,
        lambda rows: rows["writer_group"].astype(str).to_numpy(),
        "census",
        "student",
        "recognisability as the classifier's error; student minus census error rate",
    )


def _first_5000_easier(inputs):
    def half(rows):
        if not (rows["split"].astype(str) == "test").all():
            raise ValueError("predictions: the first/last 5,000 claim needs predictions of test rows only")
        return np.where(rows["index"].to_numpy() < 5000, "first 5,000", "last 5,000")

    return _error_difference(
        inputs,
        half,
        "first 5,000",
        "last 5,000",
        "easiness as the classifier's error; last minus first 5,000 error rate",
    )


CLAIMS = (
    Claim("total_images", "70,000 images", CARD, "70,000", _total_images),
    Claim("split_sizes", "60,000 training and 10,000 test images", CARD, "60,000 / 10,000", _split_sizes),
    Claim("images_per_class", "7,000 images per class", CARD, "7,000 per class", _per_class),
    Claim(
        "images_per_class_split",
        "6,000 training and 1,000 test images per class",
        CARD,
        "train 6,000; test 1,000",
        _per_class_per_split,
    ),
    Claim(
        "half_census",
        "half written by Census Bureau employees, half by high-school students",
        CARD,
        "50% census",
        _half_and_half,
    ),
    Claim(
        "even_split",
        "the split is evenly distributed in the training and testing sets",
        CARD,
        "50% census in each split",
        _even_in_both,
    ),
    Claim(
        "train_30k_30k",
        "the training set has 30,000 census-employee and 30,000 student images",
        CARD,
        "30,000 + 30,000",
        _group_split_counts("train", 30_000),
    ),
    Claim(
        "test_5k_5k",
        "the test set has 5,000 census-employee and 5,000 student images",
        CARD,
        "5,000 + 5,000",
        _group_split_counts("test", 5_000),
    ),
    Claim(
        "disjoint_writers",
        "test images were drawn by different individuals than training images",
        CARD,
        "0 shared writers",
        _disjoint_writers,
    ),
    Claim(
        "training_writers",
        "the training set contains examples from approximately 250 writers",
        LECUN,
        "about 250 writers",
        _training_writers,
    ),
    Claim(
        "census_easier",
        "census employees' digits are more easily recognizable than students'",
        CARD,
        "lower error on census digits",
        _census_easier,
        needs="predictions",
    ),
    Claim(
        "box_20x20",
        "digits size-normalised to fit in a 20x20 pixel box",
        CARD,
        "longer side <= 20 px",
        _box,
        needs="measurements",
    ),
    Claim(
        "centre_of_mass",
        "digits centred in the 28x28 image by their centre of mass",
        CARD,
        "centre of mass at the image centre",
        _centre_of_mass,
        needs="measurements",
    ),
    Claim(
        "first_5000_from_sd3",
        "the first 5,000 test examples are taken from the original NIST training set (SD-3, census)",
        LECUN,
        "100% census in the first 5,000",
        _first_5000_source,
    ),
    Claim(
        "first_5000_easier",
        "the first 5,000 test examples are cleaner and easier than the last 5,000",
        LECUN,
        "lower error in the first 5,000",
        _first_5000_easier,
        needs="predictions",
    ),
)


# --------------------------------------------------------------------------- entry point
def _aligned(frame, rows, name):
    """Check that ``rows`` (a DataFrame or Series indexed by frame rows, or one value per frame row) fits."""
    if rows is None:
        return None
    if not isinstance(rows, (pd.Series, pd.DataFrame)):
        values = np.asarray(rows)
        if values.ndim != 1 or len(values) != len(frame):
            raise ValueError(
                f"{name}: expected a Series indexed by frame rows or one value per frame row "
                f"({len(frame)}), found shape {values.shape}"
            )
        rows = pd.Series(values, index=frame.index)
    unknown = rows.index.difference(frame.index)
    if len(unknown):
        raise ValueError(
            f"{name}: expected an index of frame rows, found {len(unknown):,} unknown labels (first {unknown[0]!r})"
        )
    return rows


def _checked_inputs(
    frame, measurements, predictions, count_tolerance, share_tolerance, fraction_holds, n_boot, seed, confidence
) -> _Inputs:
    """The audit's inputs, checked: the frame's columns, the optional tables aligned to it, the fractions."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a DataFrame from load_frame, found {type(frame).__name__}")
    missing = {"split", "index", "label", "writer_id", "writer_group"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame: missing columns {sorted(missing)} (expected the output of load_frame)")
    measurements = _aligned(frame, measurements, "measurements")
    if measurements is not None:
        missing = {"bbox_height", "bbox_width", "com_row", "com_col"} - set(measurements.columns)
        if missing:
            raise ValueError(f"measurements: missing columns {sorted(missing)}")
    predictions = _aligned(frame, predictions, "predictions")
    for name, value in (
        ("count_tolerance", count_tolerance),
        ("share_tolerance", share_tolerance),
        ("fraction_holds", fraction_holds),
    ):
        if not 0 <= value <= 1:
            raise ValueError(f"{name}: expected a fraction between 0 and 1, found {value!r}")
    return _Inputs(
        frame, measurements, predictions, count_tolerance, share_tolerance, fraction_holds, n_boot, seed, confidence
    )


def _claim_row(claim, inputs: _Inputs) -> dict:
    """One row of the audit: the claim, what was measured and the verdict ("not measured" without its input)."""
    given = {"measurements": inputs.measurements, "predictions": inputs.predictions}.get(claim.needs, inputs.frame)
    if given is None:
        measured, verdict, evidence = "", "not measured", f"needs {claim.needs}, which were not given"
    else:
        measured, verdict, evidence = claim.check(inputs)
    return {
        "claim": claim.claim,
        "source": claim.source,
        "expected": claim.expected,
        "measured": measured,
        "verdict": verdict,
        "evidence": evidence,
    }


def audit_dataset_card(
    frame: pd.DataFrame,
    measurements: pd.DataFrame | None = None,
    predictions=None,
    *,
    count_tolerance: float = 0.15,
    share_tolerance: float = 0.025,
    fraction_holds: float = 0.99,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Check each quantitative claim of the dataset card and the MNIST page against the data.

    Parameters
    ----------
    frame : pandas.DataFrame
        The *whole* dataset from :func:`mnist_analysis.load_frame` (counting claims are about
        all 70,000 images; a sample contradicts them).
    measurements : pandas.DataFrame, optional
        :func:`mnist_analysis.measurements.measure` output (at least ``bbox_height``,
        ``bbox_width``, ``com_row``, ``com_col``) indexed by the frame rows it describes; a
        sample of rows is fine. Without it the box and centring claims are "not measured".
    predictions : pandas.Series or array, optional
        Predicted labels of a classifier, indexed by the frame rows they describe (for
        example the test rows), or one per frame row. Without them the "easier" claims
        are "not measured".
    count_tolerance : float
        Relative deviation from a stated count still called "approximately".
    share_tolerance : float
        Deviation of a share from one half (in share units) still called "approximately".
    fraction_holds : float
        Share of images that must satisfy a per-image claim for it to "hold" (from 0.9,
        "approximately").
    n_boot, seed, confidence
        Writer-clustered bootstrap of error-rate differences
        (:func:`mnist_analysis.clustered_statistics.group_difference_ci`).

    Returns
    -------
    pandas.DataFrame
        One row per claim of :data:`CLAIMS` (index: claim id), columns ``claim``,
        ``source``, ``expected``, ``measured``, ``verdict`` (one of :data:`VERDICTS`) and
        ``evidence``.

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train"] * 6 + ["test"] * 4, "index": [0, 1, 2, 3, 4, 5, 0, 1, 2, 3],
    ...                       "label": [0, 1] * 5, "writer_id": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
    ...                       "writer_group": ["census", "student"] * 5})
    >>> audit = audit_dataset_card(frame)
    >>> audit.loc["total_images", ["measured", "verdict"]].tolist()
    ['10', 'contradicted']
    >>> audit.loc["box_20x20", "verdict"]
    'not measured'
    """
    inputs = _checked_inputs(
        frame, measurements, predictions, count_tolerance, share_tolerance, fraction_holds, n_boot, seed, confidence
    )
    rows = {claim.id: _claim_row(claim, inputs) for claim in CLAIMS}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    table.index.name = "claim_id"
    return table
