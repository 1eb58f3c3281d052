"""Evaluate classifiers: confusion matrices, per-class scores, confused pairs, error rates.

Every helper takes plain label arrays (``y_true``, ``y_pred``) or class probabilities and
returns arrays or DataFrames, so it works with any model, not only the zoo in
:mod:`mnist_analysis.models`. Confidence intervals for error rates come from
:meth:`scipy.stats.binomtest` (Wilson score or Clopper-Pearson "exact" interval).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import validation
from .validation import probability_rows

DIGITS = tuple(range(10))
INTERVAL_METHODS = {"wilson": "wilson", "clopper-pearson": "exact", "exact": "exact"}


def _labels_pair(y_true, y_pred):
    """Return ``y_true`` and ``y_pred`` as 1-D integer arrays of equal length."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array of labels, found shape {values.shape}")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_pred: expected {len(y_true)} labels like y_true, found {len(y_pred)}")
    return y_true, y_pred


def _checked_predictions(y_true, predictions: Mapping) -> dict:
    """Check a ``{model name: predicted labels}`` mapping against ``y_true``."""
    validation.non_empty_mapping(predictions, "predictions", "model name to labels")
    return {name: _labels_pair(y_true, y_pred)[1] for name, y_pred in predictions.items()}


def confusion_matrix(y_true, y_pred, *, labels=DIGITS, normalize: str | None = None) -> pd.DataFrame:
    """Count how often each true class (rows) is predicted as each class (columns).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels.
    labels : sequence, default 0-9
        Classes, in the order of the rows and columns.
    normalize : {None, "true"}
        ``"true"`` divides each row by its number of true examples, so the diagonal is
        the recall of each class and each row sums to 1 (rows without examples stay 0).

    Returns
    -------
    pandas.DataFrame
        Index ``true``, columns ``predicted``.

    Examples
    --------
    >>> confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1])
    predicted  0  1
    true
    0          1  1
    1          0  2
    """
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    y_true, y_pred = _labels_pair(y_true, y_pred)
    if normalize not in (None, "true"):
        raise ValueError(f"normalize: expected None or 'true', found {normalize!r}")
    labels = list(labels)
    counts = sk_confusion_matrix(y_true, y_pred, labels=labels)
    values = counts
    if normalize == "true":
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    return pd.DataFrame(values, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


def per_class_report(y_true, y_pred, *, labels=DIGITS) -> pd.DataFrame:
    """Precision, recall, F1 and support (number of true examples) of every class.

    Examples
    --------
    >>> per_class_report([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1]).round(3)
           precision  recall     f1  support
    class
    0          1.000     0.5  0.667        2
    1          0.667     1.0  0.800        2
    """
    from sklearn.metrics import precision_recall_fscore_support

    y_true, y_pred = _labels_pair(y_true, y_pred)
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support}, index=pd.Index(labels, name="class")
    )


def most_confused_pairs(y_true, y_pred, *, top: int | None = 10, labels=DIGITS) -> pd.DataFrame:
    """Rank the (true, predicted) pairs of different classes by how often they occur.

    Parameters
    ----------
    top : int or None
        Keep this many pairs (None keeps every pair that occurs at least once).

    Returns
    -------
    pandas.DataFrame
        Columns ``true``, ``predicted``, ``count`` and ``rate`` (the count divided by the
        number of examples of the true class), sorted by count, then rate, descending;
        ties keep the order of the labels.

    Examples
    --------
    >>> most_confused_pairs([4, 4, 4, 9, 9], [9, 9, 4, 4, 9], labels=[4, 9])
       true  predicted  count      rate
    0     4          9      2  0.666667
    1     9          4      1  0.500000
    """
    if top is not None and (not isinstance(top, (int, np.integer)) or top < 1):
        raise ValueError(f"top: expected a positive integer or None, found {top!r}")
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    totals = counts.sum(axis=1)
    pairs = counts.stack().rename("count").reset_index()
    pairs = pairs[(pairs["true"] != pairs["predicted"]) & (pairs["count"] > 0)]
    pairs["rate"] = pairs["count"] / pairs["true"].map(totals)
    pairs = pairs.sort_values(["count", "rate"], ascending=False, kind="stable").reset_index(drop=True)
    return pairs if top is None else pairs.head(top)


def error_indices(y_true, y_pred) -> np.ndarray:
    """Positions where the prediction differs from the truth.

    Examples
    --------
    >>> error_indices([1, 2, 3, 4], [1, 0, 3, 0])
    array([1, 3])
    """
    y_true, y_pred = _labels_pair(y_true, y_pred)
    return np.flatnonzero(y_true != y_pred)


def errors_by_model(y_true, predictions: Mapping) -> pd.DataFrame:
    """One boolean column per model: True where that model misclassifies the example.

    ``frame.all(axis=1)`` marks the examples every model gets wrong and
    ``frame.sum(axis=1)`` counts how many models fail on each.

    Examples
    --------
    >>> errors_by_model([1, 2, 3], {"a": [1, 0, 0], "b": [0, 2, 0]})
           a      b
    0  False   True
    1   True  False
    2   True   True
    """
    predictions = _checked_predictions(y_true, predictions)
    y_true = np.asarray(y_true)
    return pd.DataFrame({name: y_pred != y_true for name, y_pred in predictions.items()})


def model_agreement(predictions: Mapping) -> pd.DataFrame:
    """Fraction of examples on which each pair of models predicts the same label.

    Examples
    --------
    >>> model_agreement({"a": [1, 2, 3, 4], "b": [1, 2, 0, 0]})
         a    b
    a  1.0  0.5
    b  0.5  1.0
    """
    validation.non_empty_mapping(predictions, "predictions", "model name to labels")
    first = np.asarray(next(iter(predictions.values())))
    predictions = _checked_predictions(first, predictions)
    names = list(predictions)
    stacked = np.stack([predictions[name] for name in names])
    agreement = (stacked[:, None, :] == stacked[None, :, :]).mean(axis=2)
    return pd.DataFrame(agreement, index=names, columns=names)


def error_rate(y_true, y_pred, *, confidence: float = 0.95, method: str = "wilson") -> dict:
    """Error rate with a binomial confidence interval.

    Parameters
    ----------
    confidence : float
        Coverage of the interval, between 0 and 1.
    method : {"wilson", "clopper-pearson"}
        Wilson score interval, or the conservative Clopper-Pearson ("exact") interval,
        both computed by :meth:`scipy.stats.binomtest` ``.proportion_ci``.

    Returns
    -------
    dict
        ``errors``, ``n``, ``error_rate``, ``ci_low``, ``ci_high`` (rates as fractions).

    Examples
    --------
    >>> result = error_rate([0] * 100, [1] * 5 + [0] * 95)
    >>> result["error_rate"], round(result["ci_low"], 4), round(result["ci_high"], 4)
    (0.05, 0.0215, 0.1118)
    """
    from scipy.stats import binomtest

    y_true, y_pred = _labels_pair(y_true, y_pred)
    if len(y_true) == 0:
        raise ValueError("y_true: expected at least one label, found none")
    if method not in INTERVAL_METHODS:
        raise ValueError(f"method: expected one of {sorted(INTERVAL_METHODS)}, found {method!r}")
    confidence = validation.confidence(confidence)
    errors, n = int(np.sum(y_true != y_pred)), len(y_true)
    interval = binomtest(errors, n).proportion_ci(confidence_level=confidence, method=INTERVAL_METHODS[method])
    return {
        "errors": errors,
        "n": n,
        "error_rate": errors / n,
        "ci_low": float(interval.low),
        "ci_high": float(interval.high),
    }


def error_rate_table(y_true, predictions: Mapping, *, confidence: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """:func:`error_rate` of several models, one row per model, best first.

    Examples
    --------
    >>> error_rate_table([0, 1, 2, 3], {"a": [0, 1, 2, 0], "b": [0, 1, 2, 3]})[["errors", "error_rate"]]
           errors  error_rate
    model
    b           0        0.00
    a           1        0.25
    """
    predictions = _checked_predictions(y_true, predictions)
    rows = {
        name: error_rate(y_true, y_pred, confidence=confidence, method=method) for name, y_pred in predictions.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table.sort_values("error_rate", kind="stable")


def reliability_table(y_true, probabilities, *, classes=DIGITS, n_bins: int = 10) -> pd.DataFrame:
    """Top-label calibration: accuracy against confidence in equal-width confidence bins.

    The confidence of an example is its largest class probability; the prediction is the
    class with that probability. A calibrated model has ``accuracy`` close to
    ``confidence`` in every bin. Empty bins are left out.

    Parameters
    ----------
    probabilities : array of shape (n, n_classes)
        Columns in the order of ``classes``.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin_low``, ``bin_high``, ``confidence`` (mean), ``accuracy``, ``count``.

    Examples
    --------
    >>> probabilities = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]
    >>> reliability_table([0, 1, 1, 0], probabilities, classes=[0, 1], n_bins=2)
       bin_low  bin_high  confidence  accuracy  count
    0      0.5       1.0        0.75       0.5      4
    """
    y_true = np.asarray(y_true)
    probabilities = probability_rows(probabilities, "probabilities", len(y_true))
    classes = np.asarray(classes)
    if probabilities.shape[1] != len(classes):
        raise ValueError(
            f"probabilities: expected {len(classes)} columns (one per class), found {probabilities.shape[1]}"
        )
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins: expected a positive integer, found {n_bins!r}")
    confidence = probabilities.max(axis=1)
    correct = classes[probabilities.argmax(axis=1)] == y_true
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    table = (
        pd.DataFrame({"bin": bins, "confidence": confidence, "accuracy": correct})
        .groupby("bin")
        .agg(confidence=("confidence", "mean"), accuracy=("accuracy", "mean"), count=("accuracy", "size"))
    )
    table.insert(0, "bin_high", edges[table.index + 1])
    table.insert(0, "bin_low", edges[table.index])
    return table.reset_index(drop=True)


def expected_calibration_error(y_true, probabilities, *, classes=DIGITS, n_bins: int = 10) -> float:
    """Count-weighted mean gap between accuracy and confidence over the reliability bins.

    Examples
    --------
    >>> expected_calibration_error([0, 1], [[0.9, 0.1], [0.6, 0.4]], classes=[0, 1], n_bins=10)
    0.35
    """
    table = reliability_table(y_true, probabilities, classes=classes, n_bins=n_bins)
    gap = (table["accuracy"] - table["confidence"]).abs()
    return round(float(np.average(gap, weights=table["count"])), 12)


def neighbourhood_labels(reference_points, reference_labels, query_points, *, n_neighbors: int = 15) -> np.ndarray:
    """The most common label among the ``n_neighbors`` nearest reference points of each query.

    Used to ask where an example sits on a 2-D map: in the cluster of its true class, of the
    class it was mistaken for, or elsewhere. Ties go to the smallest label.

    Examples
    --------
    >>> reference = [[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]]
    >>> neighbourhood_labels(reference, [4, 4, 4, 9, 9, 9], [[0.5, 0.5], [9, 9]], n_neighbors=3)
    array([4, 9])
    """
    from sklearn.neighbors import KNeighborsClassifier

    reference_points, query_points = np.asarray(reference_points), np.asarray(query_points)
    if reference_points.ndim != 2 or query_points.ndim != 2 or reference_points.shape[1] != query_points.shape[1]:
        raise ValueError(
            "query_points: expected 2-D point arrays with as many columns as reference_points, "
            f"found shapes {reference_points.shape} and {query_points.shape}"
        )
    reference_labels = _labels_pair(np.arange(len(reference_points)), reference_labels)[1]
    if not isinstance(n_neighbors, (int, np.integer)) or not 1 <= n_neighbors <= len(reference_points):
        raise ValueError(f"n_neighbors: expected an integer from 1 to {len(reference_points)}, found {n_neighbors!r}")
    vote = KNeighborsClassifier(n_neighbors=n_neighbors).fit(reference_points, reference_labels)
    return vote.predict(query_points)
