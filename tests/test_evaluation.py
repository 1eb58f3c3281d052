"""Evaluation helpers against hand-computed examples and known binomial intervals."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from mnist_analysis import evaluation as ev
from mnist_analysis.plotting import plot_confusion_matrix, plot_reliability_diagram

# Ten examples of three classes, worked by hand:
#   true 0 (3 examples): predicted 0, 0, 1
#   true 1 (3 examples): predicted 1, 2, 2
#   true 2 (4 examples): predicted 2, 2, 2, 0
Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 2, 2, 0])
LABELS = [0, 1, 2]


def test_confusion_matrix_counts_by_hand():
    matrix = ev.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS)
    assert matrix.to_numpy().tolist() == [[2, 1, 0], [0, 1, 2], [1, 0, 3]]
    assert matrix.index.name == "true"
    assert matrix.columns.name == "predicted"


def test_confusion_matrix_normalised_by_true_class():
    matrix = ev.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS, normalize="true")
    expected = [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3], [1 / 4, 0, 3 / 4]]
    np.testing.assert_allclose(matrix.to_numpy(), expected)


def test_confusion_matrix_keeps_absent_classes_as_zero_rows():
    matrix = ev.confusion_matrix([0, 0], [0, 1], labels=[0, 1, 2], normalize="true")
    np.testing.assert_allclose(matrix.to_numpy(), [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 0]])


def test_per_class_report_by_hand():
    report = ev.per_class_report(Y_TRUE, Y_PRED, labels=LABELS)
    # precision: column diagonal / column sum; recall: row diagonal / row sum
    np.testing.assert_allclose(report["precision"], [2 / 3, 1 / 2, 3 / 5])
    np.testing.assert_allclose(report["recall"], [2 / 3, 1 / 3, 3 / 4])
    f1 = [2 * p * r / (p + r) for p, r in zip([2 / 3, 1 / 2, 3 / 5], [2 / 3, 1 / 3, 3 / 4])]
    np.testing.assert_allclose(report["f1"], f1)
    assert report["support"].tolist() == [3, 3, 4]


def test_most_confused_pairs_ranked_by_count_then_rate():
    pairs = ev.most_confused_pairs(Y_TRUE, Y_PRED, labels=LABELS, top=None)
    # (1 -> 2) twice; (0 -> 1) and (2 -> 0) once each, (0 -> 1) first by its higher rate 1/3 > 1/4
    assert list(zip(pairs["true"], pairs["predicted"], pairs["count"])) == [(1, 2, 2), (0, 1, 1), (2, 0, 1)]
    np.testing.assert_allclose(pairs["rate"], [2 / 3, 1 / 3, 1 / 4])
    assert len(ev.most_confused_pairs(Y_TRUE, Y_PRED, labels=LABELS, top=1)) == 1


def test_most_confused_pairs_empty_when_all_correct():
    assert ev.most_confused_pairs([1, 2], [1, 2]).empty


def test_error_indices_and_errors_by_model():
    assert ev.error_indices(Y_TRUE, Y_PRED).tolist() == [2, 4, 5, 9]
    frame = ev.errors_by_model(Y_TRUE, {"hand": Y_PRED, "perfect": Y_TRUE, "zero": np.zeros(10, int)})
    assert np.flatnonzero(frame["hand"]).tolist() == [2, 4, 5, 9]
    assert not frame["perfect"].any()
    assert np.flatnonzero(frame[["hand", "zero"]].all(axis=1)).tolist() == [4, 5, 9]


def test_model_agreement_by_hand():
    agreement = ev.model_agreement({"hand": Y_PRED, "truth": Y_TRUE, "zero": np.zeros(10, int)})
    assert agreement.loc["hand", "truth"] == pytest.approx(0.6)
    assert agreement.loc["hand", "zero"] == pytest.approx(0.3)
    assert agreement.loc["truth", "zero"] == pytest.approx(0.3)
    np.testing.assert_allclose(np.diag(agreement), 1.0)
    np.testing.assert_allclose(agreement, agreement.T)


def wilson(errors, n, z=1.959963984540054):
    """The Wilson score interval, written out from its formula."""
    p = errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("errors", "n"), [(5, 100), (140, 10_000), (0, 50)])
def test_error_rate_matches_the_wilson_formula(errors, n):
    result = ev.error_rate(np.zeros(n), np.r_[np.ones(errors), np.zeros(n - errors)])
    assert (result["errors"], result["n"]) == (errors, n)
    assert result["error_rate"] == pytest.approx(errors / n)
    low, high = wilson(errors, n)
    assert result["ci_low"] == pytest.approx(max(low, 0), abs=1e-12)
    assert result["ci_high"] == pytest.approx(high)


def test_clopper_pearson_interval_of_zero_errors_has_closed_form():
    # With no error in n trials the exact upper bound solves (1 - p)^n = alpha / 2.
    n = 40
    result = ev.error_rate(np.zeros(n), np.zeros(n), method="clopper-pearson")
    assert result["ci_low"] == 0
    assert result["ci_high"] == pytest.approx(1 - 0.025 ** (1 / n))


def test_clopper_pearson_is_wider_than_wilson():
    y_pred = np.r_[np.ones(5), np.zeros(95)]
    exact = ev.error_rate(np.zeros(100), y_pred, method="clopper-pearson")
    score = ev.error_rate(np.zeros(100), y_pred, method="wilson")
    assert exact["ci_low"] < score["ci_low"]
    assert exact["ci_high"] > score["ci_high"]


def test_error_rate_table_sorted_best_first():
    table = ev.error_rate_table(Y_TRUE, {"hand": Y_PRED, "truth": Y_TRUE})
    assert table.index.tolist() == ["truth", "hand"]
    assert table.loc["hand", "errors"] == 4
    assert table.loc["hand", "ci_low"] < 0.4 < table.loc["hand", "ci_high"]


def test_reliability_table_by_hand():
    probabilities = np.array([[0.95, 0.05], [0.85, 0.15], [0.4, 0.6], [0.3, 0.7], [0.45, 0.55]])
    y_true = np.array([0, 1, 1, 1, 0])
    table = ev.reliability_table(y_true, probabilities, classes=[0, 1], n_bins=5)
    # confidences 0.95, 0.85 -> bin (0.8, 1]; 0.6, 0.7, 0.55 -> bin (0.4, 0.6] holds 0.6 and 0.55, (0.6, 0.8] holds 0.7
    assert table["count"].tolist() == [2, 1, 2]
    np.testing.assert_allclose(table["confidence"], [0.575, 0.7, 0.9])
    np.testing.assert_allclose(table["accuracy"], [0.5, 1.0, 0.5])
    np.testing.assert_allclose(table["bin_low"], [0.4, 0.6, 0.8])
    ece = ev.expected_calibration_error(y_true, probabilities, classes=[0, 1], n_bins=5)
    assert ece == pytest.approx((2 * 0.075 + 1 * 0.3 + 2 * 0.4) / 5)


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: ev.confusion_matrix([0, 1], [0]), "y_pred"),
        (lambda: ev.confusion_matrix([[0, 1]], [[0, 1]]), "y_true"),
        (lambda: ev.confusion_matrix([0], [0], normalize="all"), "normalize"),
        (lambda: ev.most_confused_pairs([0], [0], top=0), "top"),
        (lambda: ev.error_rate([0], [0], method="normal"), "method"),
        (lambda: ev.error_rate([], []), "y_true"),
        (lambda: ev.error_rate([0], [0], confidence=95), "confidence"),
        (lambda: ev.model_agreement({}), "predictions"),
        (lambda: ev.reliability_table([0], [[0.5, 0.5]], classes=[0, 1, 2]), "probabilities"),
    ],
)
def test_bad_input_names_the_parameter(call, parameter):
    with pytest.raises(ValueError, match=parameter):
        call()


def test_plots_return_labelled_axes():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_confusion_matrix(ev.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS, normalize="true"), title="hand")
    assert ax.get_title() == "hand"
    assert ax.get_xlabel() == "predicted label"
    annotations = [text.get_text() for text in ax.texts]
    assert "66.7" in annotations
    assert "75.0" in annotations
    table = ev.reliability_table(Y_TRUE, np.eye(3)[Y_PRED], classes=LABELS)
    ax = plot_reliability_diagram({"hand": table})
    assert ax.get_ylabel() == "accuracy"
    assert len(ax.lines) == 2
    plt.close("all")
    assert isinstance(table, pd.DataFrame)


def test_neighbourhood_labels_take_the_local_majority():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    labels = np.repeat([3, 5, 8], 50)
    points = centres[np.repeat([0, 1, 2], 50)] + rng.normal(size=(150, 2))
    queries = np.array([[0.2, -0.1], [9.5, 0.5], [0.1, 10.3], [1, 1]])
    assert ev.neighbourhood_labels(points, labels, queries, n_neighbors=7).tolist() == [3, 5, 8, 3]
    with pytest.raises(ValueError, match="n_neighbors"):
        ev.neighbourhood_labels(points, labels, queries, n_neighbors=0)
    with pytest.raises(ValueError, match="query_points"):
        ev.neighbourhood_labels(points, labels, queries[:, :1])
