"""Planted label noise: how it is planted, how its recovery is counted, and recovery on real digits."""

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import label_noise, label_quality


def test_uniform_noise_flips_exactly_the_planted_rows_to_other_classes():
    labels = np.tile(np.arange(10), 50)
    rows = np.arange(100, 400)
    noisy, planted = label_noise.plant_label_noise(labels, rows, fraction=0.1, seed=3)
    assert len(planted) == 30
    assert np.isin(planted, rows).all()
    assert np.array_equal(np.flatnonzero(noisy != labels), planted)
    assert noisy.min() >= 0
    assert noisy.max() <= 9
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
    ("kwargs", "error", "message"),
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


def independent_probabilities(labels, seed=0):
    """A model that is unsure of the first 30 images (it takes them for the next class) and sure of the rest."""
    rng = np.random.default_rng(seed)
    p = np.eye(10)[labels] * 0.999 + rng.dirichlet(np.ones(10), len(labels)) * 0.001
    runner_up = (labels[:30] + 1) % 10
    p[:30] = 0.02
    p[np.arange(30), labels[:30]] = 0.41
    p[np.arange(30), runner_up] = 0.43
    return p / p.sum(axis=1, keepdims=True), runner_up


def test_instance_noise_picks_ambiguous_images_and_flips_them_to_the_runner_up():
    labels = np.tile(np.arange(10), 100)
    rows = np.arange(1000)
    p, runner_up = independent_probabilities(labels)
    noisy, planted = label_noise.plant_label_noise(
        labels, rows, fraction=0.02, kind="instance", probabilities=p, seed=0
    )
    assert len(planted) == 20
    assert np.array_equal(np.flatnonzero(noisy != labels), planted)
    # 30 ambiguous images weigh 1.03 each against 970 sure ones at about 0.012: most flips land among the 30.
    assert np.isin(planted, np.arange(30)).sum() >= 10
    ambiguous = planted[planted < 30]
    np.testing.assert_array_equal(noisy[ambiguous], runner_up[ambiguous])
    others = planted[planted >= 30]
    expected = np.where(np.eye(10, dtype=bool)[labels[others]], -1, p[others]).argmax(axis=1)
    np.testing.assert_array_equal(noisy[others], expected)
    uniform = label_noise.plant_label_noise(labels, rows, fraction=0.02, seed=0)[1]
    assert np.isin(uniform, np.arange(30)).sum() <= 3


def test_asymmetric_noise_follows_the_independent_models_confusions():
    labels = np.tile(np.arange(10), 200)
    predicted = labels.copy()
    predicted[labels == 4] = np.where(np.arange(200) < 60, 9, 4)  # the model takes 30 % of the 4s for 9s
    noisy, planted = label_noise.plant_label_noise(
        labels, np.arange(2000), fraction=0.5, kind="asymmetric", probabilities=np.eye(10)[predicted], seed=1
    )
    fours = planted[labels[planted] == 4]
    assert (noisy[fours] == 9).mean() > 0.9  # 60 confusions against 0.5 pseudo-counts in each other cell
    shares = label_noise.confusion_shares(labels, np.eye(10)[predicted])
    np.testing.assert_allclose(shares.sum(axis=1), 1)
    assert (np.diag(shares) == 0).all()
    assert shares[4].argmax() == 9
    assert (noisy[planted] != labels[planted]).all()


@pytest.mark.parametrize("kind", ["instance", "asymmetric"])
def test_noise_from_an_independent_model_needs_its_probabilities_for_the_rows(kind):
    labels = np.tile(np.arange(10), 10)
    with pytest.raises(
        ValueError, match=f"probabilities: expected an independent model's probabilities .kind='{kind}'"
    ):
        label_noise.plant_label_noise(labels, np.arange(50), kind=kind)
    with pytest.raises(ValueError, match=r"probabilities: expected shape \(50, n_classes\), found shape \(100, 10\)"):
        label_noise.plant_label_noise(labels, np.arange(50), kind=kind, probabilities=np.eye(10)[labels])
    with pytest.raises(ValueError, match="probabilities: expected finite non-negative rows that sum to 1, found row 0"):
        label_noise.plant_label_noise(labels, np.arange(50), kind=kind, probabilities=np.full((50, 10), 0.5))


def test_rankings_and_average_precision():
    labels = np.tile(np.arange(3), 40)
    p = np.full((120, 3), 0.05)
    p[np.arange(120), labels] = 0.9
    given = labels.copy()
    given[[5, 50, 100]] = (labels[[5, 50, 100]] + 1) % 3
    p[7] = [0.5, 0.25, 0.25]  # an unsure but right label: ranks after the flips
    for ranking in label_noise.RANKINGS:
        rank = label_noise.rank_labels(given, p, ranking)
        assert sorted(rank.tolist()) == list(range(1, 121)), ranking
        assert set(np.argsort(rank)[:3]) == {5, 50, 100}, ranking
        assert label_noise.average_precision(rank, [5, 50, 100], np.arange(120)) == 1.0
    rank = label_noise.rank_labels(given, p, "self_confidence")
    assert np.argsort(rank)[3] == 7
    assert label_noise.average_precision(rank, [7], np.arange(120)) == 0.25
    with pytest.raises(ValueError, match="ranking: expected one of"):
        label_noise.rank_labels(given, p, "margin")
    with pytest.raises(ValueError, match="planted: expected some of the rows ranked"):
        label_noise.average_precision(rank, [500], np.arange(120))


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
    assert set(table["kind"]) == {"instance", "asymmetric", "uniform"}
    assert (table["planted"] == 40).all()
    assert (table["independent_model"] == label_noise.INDEPENDENT_MODEL).all()
    at_2x = table[table["k_over_planted"] == 2].set_index(["kind", "ensemble"])["recall"]
    chance = 2 * 40 / len(labels)  # recall of 80 rows drawn at random
    assert (at_2x > 5 * chance).all(), at_2x
    # The stronger models find more of the realistic, instance-dependent flips than the baseline does.
    assert at_2x[("instance", "audit")] >= at_2x[("instance", "baseline")]
    assert at_2x[("uniform", "audit")] >= 0.8
    assert table["average_precision"].between(0, 1).all()
    again = label_noise.planted_noise_recovery(
        images, labels, np.arange(len(labels)), ensembles, fraction=0.02, seed=0, cache=False
    )
    pd.testing.assert_frame_equal(table, again)
