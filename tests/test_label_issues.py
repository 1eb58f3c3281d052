"""Planted label noise: how it is planted, how its recovery is counted, and recovery on real digits."""

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import label_noise, label_quality


def test_uniform_noise_flips_exactly_the_planted_rows_to_other_classes():
    labels = np.tile(np.arange(10), 50)
    rows = np.arange(100, 400)
    noisy, planted = label_noise.plant_label_noise(labels, rows, fraction=0.1, seed=3)
    assert len(planted) == 30 and np.isin(planted, rows).all()
    assert np.array_equal(np.flatnonzero(noisy != labels), planted)
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert len(np.unique(noisy[planted] - labels[planted])) > 3  # spread over several classes, not one shift


def test_confusable_noise_flips_each_digit_to_its_partner():
    labels = np.tile(np.arange(10), 30)
    confusions = np.array([6, 7, 7, 5, 9, 3, 0, 2, 3, 4])
    noisy, planted = label_noise.plant_label_noise(
        labels, np.arange(300), fraction=0.2, kind="confusable", confusions=confusions, seed=0
    )
    np.testing.assert_array_equal(noisy[planted], confusions[labels[planted]])
    assert (noisy != labels).sum() == 60


def test_same_seed_same_noise_and_another_seed_other_noise():
    labels = np.tile(np.arange(10), 100)
    first = label_noise.plant_label_noise(labels, np.arange(1000), seed=7)
    again = label_noise.plant_label_noise(labels, np.arange(1000), seed=7)
    other = label_noise.plant_label_noise(labels, np.arange(1000), seed=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"kind": "random"}, ValueError, "kind: expected one of"),
        ({"fraction": 0.0}, ValueError, r"fraction: expected a share in \(0, 1\]"),
        ({"fraction": "1%"}, TypeError, "fraction: expected a number"),
        ({"kind": "confusable"}, ValueError, "confusions: expected the class each class is confused with"),
        ({"kind": "confusable", "confusions": np.arange(10)}, ValueError, "each different from its position"),
        ({"rows": np.array([0, 5000])}, ValueError, "rows: expected distinct positions in 0..99"),
        ({"seed": -1}, ValueError, "seed: expected an integer"),
    ],
)
def test_plant_label_noise_rejects_bad_input(kwargs, error, message):
    arguments = {"rows": np.arange(100), **kwargs}
    with pytest.raises(error, match=message):
        label_noise.plant_label_noise(np.tile(np.arange(10), 10), **arguments)


def test_most_confused_with_reads_the_confusions_of_the_predictions():
    labels = np.repeat([0, 1, 2], 4)
    predicted = np.array([0, 2, 2, 1, 1, 1, 0, 1, 2, 2, 2, 0])
    np.testing.assert_array_equal(label_noise.most_confused_with(labels, np.eye(3)[predicted]), [2, 0, 0])
    with pytest.raises(ValueError, match="probabilities: expected shape"):
        label_noise.most_confused_with(labels, np.eye(3)[predicted][:, :2])


def test_recovery_counts_planted_rows_at_the_top_of_the_ranking_of_the_rows_only():
    # Row 0 ranks first overall but is not among the rows ranked.
    issues = pd.DataFrame({"label_issue_rank": [1, 2, 5, 3, 4, 6]})
    found = label_noise.recovery(issues, planted=[3, 2], rows=np.arange(1, 6), ks=[2, 4])
    assert found.to_dict("list") == {
        "k": [2, 4],
        "planted": [2, 2],
        "found": [1, 2],
        "precision": [0.5, 0.5],
        "recall": [0.5, 1.0],
    }
    with pytest.raises(ValueError, match="k: expected an integer from 1 to 5"):
        label_noise.recovery(issues, [3], np.arange(1, 6), ks=[6])


@pytest.fixture
def real_subset(real_data):
    """2,000 real test digits, a sample stratified by label (seeded)."""
    import mnist_analysis as mx

    frame = mx.sample_frame(mx.load_frame("test"), 2000, 0)
    images = mx.load_images("test")[frame["index"].to_numpy()]
    return images, frame["label"].to_numpy()


@pytest.mark.realdata
@pytest.mark.slow
def test_planted_flips_in_real_digits_come_back_far_better_than_chance(real_subset):
    images, labels = real_subset
    ensembles = {"baseline": label_quality.BASELINE_MODELS, "audit": label_quality.ENSEMBLE_MODELS}
    table = label_noise.planted_noise_recovery(
        images, labels, np.arange(len(labels)), ensembles, fraction=0.02, seed=0, cache=False
    )
    assert set(table["kind"]) == set(label_noise.NOISE_KINDS)
    assert (table["planted"] == 40).all()
    at_2x = table[table["k_over_planted"] == 2].set_index(["kind", "ensemble"])["recall"]
    chance = 2 * 40 / len(labels)  # recall of 80 rows drawn at random
    assert (at_2x > 5 * chance).all(), at_2x
    # The stronger models find more of the realistic, confusable flips than the baseline does.
    assert at_2x[("confusable", "audit")] >= at_2x[("confusable", "baseline")]
    assert at_2x[("uniform", "audit")] >= 0.8
    again = label_noise.planted_noise_recovery(
        images, labels, np.arange(len(labels)), ensembles, fraction=0.02, seed=0, cache=False
    )
    pd.testing.assert_frame_equal(table, again)
