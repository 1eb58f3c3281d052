"""The data-quality audit on synthetic digits with known label errors and outliers."""

import numpy as np
import pytest

from mnist_analysis import label_quality

N_CLASSES = 10
FLIPPED = np.array([3, 57, 118, 201, 260, 333, 371])  # rows whose labels are made wrong


def striped_digits(n_per_class=40, seed=0):
    """Noisy 28x28 images whose class is the position of a bright horizontal band."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(N_CLASSES), n_per_class)
    images = rng.integers(0, 50, size=(len(labels), 28, 28))
    for k in range(N_CLASSES):
        images[labels == k, 2 + 2 * k : 5 + 2 * k, 4:24] = 240
    return images.astype(np.uint8), labels


@pytest.fixture(scope="module")
def noisy():
    images, labels = striped_digits()
    given = labels.copy()
    given[FLIPPED] = (labels[FLIPPED] + 1 + np.arange(len(FLIPPED)) % 8) % N_CLASSES
    assert (given[FLIPPED] != labels[FLIPPED]).all()
    probabilities = label_quality.out_of_sample_probabilities(images, given, n_splits=4, seed=0, cache=False)
    return images, labels, given, probabilities


def test_out_of_sample_probabilities_are_rows_of_class_probabilities(noisy):
    images, labels, _, probabilities = noisy
    assert probabilities.shape == (len(images), N_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    # Cross-validated: the models never saw the flipped labels of the rows they score,
    # so they still predict the true class there.
    assert (probabilities.argmax(axis=1)[FLIPPED] == labels[FLIPPED]).all()


def test_out_of_sample_probabilities_are_the_mean_of_the_ensemble(noisy):
    images, _, given, probabilities = noisy
    per_model = label_quality.model_probabilities(images, given, n_splits=4, seed=0, cache=False)
    assert list(per_model) == list(label_quality.TABLE_MODELS)
    ensemble = [per_model[name] for name in label_quality.ENSEMBLE_MODELS]
    np.testing.assert_allclose(np.mean(ensemble, axis=0), probabilities)
    baseline = label_quality.out_of_sample_probabilities(
        images, given, models=label_quality.BASELINE_MODELS, n_splits=4, cache=False
    )
    np.testing.assert_allclose(baseline, (per_model["knn"] + per_model["logistic"]) / 2)
    for name, p in per_model.items():
        np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-6, err_msg=name)


def test_model_probabilities_compute_only_the_models_asked_for(noisy):
    images, _, given, _ = noisy
    only_svm = label_quality.model_probabilities(images, given, models=["svm_deskewed"], n_splits=4, cache=False)
    assert list(only_svm) == ["svm_deskewed"]
    # The folds fitted from a background thread give what svm_probabilities gives directly.
    upright = label_quality.deskewed_scores(images, cache=False)
    direct = label_quality.svm_probabilities(upright, given, n_splits=4, cache=False)
    np.testing.assert_array_equal(only_svm["svm_deskewed"], direct)
    # A candidate only the benchmark compares is not computed by default.
    assert "svm_deskewed" in label_quality.AUDIT_MODELS
    assert "svm_deskewed" not in label_quality.TABLE_MODELS
    assert set(label_quality.ENSEMBLE_MODELS) | set(label_quality.BASELINE_MODELS) <= set(label_quality.TABLE_MODELS)
    with pytest.raises(ValueError, match="models: expected names from"):
        label_quality.model_probabilities(images, given, models=["svm"], cache=False)
    with pytest.raises(TypeError, match="models: expected a sequence of model names"):
        label_quality.model_probabilities(images, given, models="knn", cache=False)


def test_disagreeing_models_names_the_models_that_miss_the_label(noisy):
    images, _labels, given, _ = noisy
    per_model = label_quality.model_probabilities(images, given, n_splits=4, seed=0, cache=False)
    named = label_quality.disagreeing_models(given, per_model)
    assert named.shape == (len(given),)
    # The flipped rows: every model predicts the true class, so all disagree with the given label.
    assert set(named[FLIPPED]) == {"+".join(label_quality.TABLE_MODELS)}
    for name, p in per_model.items():
        says_wrong = np.array([name in entry.split("+") for entry in named])
        np.testing.assert_array_equal(says_wrong, p.argmax(axis=1) != given)
    assert ((named == "none") == (np.stack([p.argmax(1) for p in per_model.values()]) == given).all(axis=0)).all()
    with pytest.raises(TypeError, match="per_model: expected a non-empty dict"):
        label_quality.disagreeing_models(given, {})


def test_same_seed_same_probabilities_and_the_cache_returns_them(noisy):
    images, _, given, probabilities = noisy
    first = label_quality.out_of_sample_probabilities(images, given, n_splits=4, seed=0, cache=True)
    again = label_quality.out_of_sample_probabilities(images, given, n_splits=4, seed=0, cache=True)
    np.testing.assert_array_equal(first, probabilities)
    np.testing.assert_array_equal(again, probabilities)


def test_flipped_labels_rank_at_the_top_with_the_true_label_suggested(noisy):
    images, labels, given, probabilities = noisy
    issues = label_quality.label_issues(given, probabilities)
    assert list(issues.columns) == list(label_quality.LABEL_ISSUE_COLUMNS)
    assert len(issues) == len(images)
    top = issues.sort_values("label_issue_rank").head(len(FLIPPED) + 3)
    assert set(FLIPPED) <= set(top.index)
    # Only wrong labels are flagged. On 400 synthetic images the calibrated SVM is too unsure
    # of the true class for confident learning to count every flipped row; the baseline's
    # sharper probabilities flag them all.
    flagged = set(np.flatnonzero(issues["is_label_issue"]))
    assert flagged
    assert flagged <= set(FLIPPED)
    baseline = label_quality.out_of_sample_probabilities(
        images, given, models=label_quality.BASELINE_MODELS, n_splits=4, cache=False
    )
    assert label_quality.label_issues(given, baseline).loc[FLIPPED, "is_label_issue"].all()
    np.testing.assert_array_equal(issues.loc[FLIPPED, "suggested_label"], labels[FLIPPED])
    np.testing.assert_array_equal(issues["given_label"], given)
    assert sorted(issues["label_issue_rank"]) == list(range(1, len(images) + 1))


def test_the_audit_ranks_by_label_quality_alone(noisy):
    _, _, given, probabilities = noisy
    issues = label_quality.label_issues(given, probabilities)
    assert label_quality.RANKING == "self_confidence"
    ranked = issues.sort_values("label_issue_rank")
    assert ranked["label_quality"].is_monotonic_increasing
    ties = ranked["label_quality"].duplicated(keep=False)
    assert ranked.index[ties].is_monotonic_increasing, "ties go to the earlier row"
    with pytest.raises(ValueError, match="ranking: expected one of"):
        label_quality.label_issues(given, probabilities, ranking="margin")


def test_the_audit_ranking_is_the_one_the_benchmark_chose():
    import json
    from pathlib import Path

    result = json.loads((Path(__file__).resolve().parents[1] / "benchmarks/results/label_issues.json").read_text())
    chosen = result["audit"]["best_on_instance_noise"]
    assert chosen == {"ensemble": "+".join(label_quality.ENSEMBLE_MODELS), "ranking": label_quality.RANKING}


def test_flagged_rows_come_first_ordered_by_label_quality(noisy):
    _, _, given, probabilities = noisy
    ranked = label_quality.label_issues(given, probabilities, ranking="flagged_first").sort_values("label_issue_rank")
    flagged = ranked["is_label_issue"].to_numpy()
    assert not (np.diff(flagged.astype(int)) > 0).any(), "an unflagged row ranks above a flagged one"
    for part in (ranked[flagged], ranked[~flagged]):
        assert part["label_quality"].is_monotonic_increasing


def test_label_quality_is_the_probability_of_the_given_label():
    labels = np.array([0, 1, 1, 0])
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    issues = label_quality.label_issues(labels, probabilities)
    np.testing.assert_allclose(issues["label_quality"], [0.9, 0.8, 0.3, 0.6])
    assert issues["suggested_label"].tolist() == [0, 1, 0, 0]
    assert issues.loc[2, "label_issue_rank"] == 1


def test_clean_labels_give_no_issues():
    labels = np.repeat(np.arange(3), 20)
    probabilities = np.full((60, 3), 0.1)
    probabilities[np.arange(60), labels] = 0.8
    assert not label_quality.label_issues(labels, probabilities)["is_label_issue"].any()


@pytest.mark.parametrize(
    ("labels", "probabilities", "message"),
    [
        (np.array([0, 1, 2]), np.full((3, 3), 1 / 3)[:2], "probabilities: expected shape"),
        (np.array([0, 2, 2]), np.full((3, 3), 1 / 3), "labels: expected the classes 0..K-1"),
        (np.array([0.0, 1.5, 1.0]), np.full((3, 2), 0.5), "labels: expected whole-number class labels"),
        (np.array([0, 1, 1]), np.full((3, 2), 0.4), "sum to 1"),
        (np.array([0, 1, 1]), np.full((3, 3), 1 / 3), "one column per class"),
    ],
)
def test_label_issues_reject_bad_input(labels, probabilities, message):
    with pytest.raises(ValueError, match=message):
        label_quality.label_issues(labels, probabilities)


def test_probabilities_reject_bad_input():
    images, labels = striped_digits(12)
    with pytest.raises(ValueError, match="labels: expected one label per item"):
        label_quality.out_of_sample_probabilities(images, labels[:-1], cache=False)
    with pytest.raises(ValueError, match=r"images: expected an array of shape \(n, height, width\)"):
        label_quality.out_of_sample_probabilities(images.reshape(len(images), -1), labels, cache=False)
    with pytest.raises(ValueError, match="n_splits: expected at most the size of the smallest class"):
        label_quality.out_of_sample_probabilities(images, labels, n_splits=13, cache=False)


def test_each_model_is_scored_without_the_label_of_the_image_itself():
    images, labels = striped_digits(12)
    per_model = label_quality.model_probabilities(images, labels, n_splits=3, cache=False)
    changed = labels.copy()
    changed[5] = 9
    again = label_quality.model_probabilities(images, changed, n_splits=3, cache=False)
    # The neighbour vote of row 5 ignores row 5's own label; rows that count 5 among
    # their neighbours see the change.
    np.testing.assert_array_equal(again["knn"][5], per_model["knn"][5])
    assert not np.array_equal(again["knn"], per_model["knn"])


def test_nearest_others_never_return_the_row_itself_even_among_copies():
    points = np.array([[0.0], [0.0], [0.0], [5.0], [6.0]])
    distances, indices = label_quality.nearest_others(points, k=2, cache=False)
    assert (indices != np.arange(5)[:, None]).all()
    assert set(indices[0]) == {1, 2}
    assert distances[0].tolist() == [0.0, 0.0]
    assert indices[3, 0] == 4
    assert indices[3, 1] in {0, 1, 2}
    assert distances[3].tolist() == [1.0, 5.0]


def test_neighbour_vote_counts_the_neighbours_labels():
    votes = label_quality.neighbour_vote(np.array([[1, 2, 3], [0, 0, 0], [3, 3, 1], [0, 1, 2]]), np.array([0, 1, 1, 2]))
    np.testing.assert_allclose(votes, [[0, 2 / 3, 1 / 3], [1, 0, 0], [0, 1 / 3, 2 / 3], [1 / 3, 2 / 3, 0]])


def test_planted_outliers_score_highest_and_duplicates_lowest():
    images, _ = striped_digits(20, seed=1)
    images = images.copy()
    rng = np.random.default_rng(5)
    strange = [17, 150]
    images[strange] = rng.integers(0, 256, size=(2, 28, 28))  # pure noise, unlike any digit
    images[42] = images[43]  # an exact duplicate pair
    scores = label_quality.outlier_scores(images, k=1, n_components=20, cache=False)
    assert scores.shape == (len(images),)
    assert set(np.argsort(scores)[-2:]) == set(strange)
    assert scores[42] == scores[43] == 0


def test_outlier_score_is_the_distance_to_the_kth_neighbour():
    points = np.zeros((5, 1, 2))
    points[:, 0, 0] = [0.0, 1.0, 3.0, 7.0, 15.0]
    scores = label_quality.outlier_scores(points, k=2, n_components=2, cache=False)
    np.testing.assert_allclose(scores, [3.0, 2.0, 3.0, 6.0, 12.0], atol=1e-5)
    cached = label_quality.outlier_scores(points, k=2, n_components=2, cache=True)
    np.testing.assert_allclose(cached, scores)


@pytest.mark.parametrize(("k", "error"), [(0, ValueError), (5, ValueError), (2.5, TypeError)])
def test_outlier_scores_reject_bad_k(k, error):
    with pytest.raises(error, match="k: expected"):
        label_quality.outlier_scores(np.zeros((5, 4, 4)), k=k, cache=False)


def test_combine_names_the_model_whose_rows_do_not_sum_to_one():
    good = np.array([[0.75, 0.25], [0.5, 0.5]])
    bad = np.array([[0.75, 0.25], [0.9, 0.3]])
    with pytest.raises(ValueError, match=r"per_model\['logistic'\]: .*sum to 1, found row 1 summing to 1\.2"):
        label_quality.combine({"knn": good, "logistic": bad}, ("knn", "logistic"))
    with pytest.raises(ValueError, match=r"per_model\['knn'\]: .*found row 0 summing to nan"):
        label_quality.combine({"knn": np.array([[np.nan, 1.0]]), "logistic": good[:1]}, ("knn", "logistic"))
    with pytest.raises(ValueError, match=r"per_model: expected one shape for every model, found \{'knn': \(2, 2\)"):
        label_quality.combine({"knn": good, "logistic": good[:1]}, ("knn", "logistic"))
    with pytest.raises(TypeError, match="per_model: expected a dict"):
        label_quality.combine([good], ("knn",))
    np.testing.assert_allclose(label_quality.combine({"knn": good, "logistic": good}, ("knn", "logistic")), good)


def test_hog_scores_give_the_svm_features_that_separate_the_digits(noisy):
    images, labels, _, _ = noisy
    scores = label_quality.hog_scores(images, cache=False)
    assert scores.shape == (len(images), label_quality.N_HOG_COMPONENTS)
    np.testing.assert_array_equal(scores, label_quality.hog_scores(images, cache=False))
    p = label_quality.model_probabilities(images, labels, models=["svm_hog"], n_splits=4, cache=False)["svm_hog"]
    assert np.mean(p.argmax(axis=1) == labels) > 0.95
