"""Embedding quality metrics on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from mnist_analysis import embedding_quality
from mnist_analysis.utils import sample_rows
from tests.helpers import stored_computations


@pytest.fixture(scope="module")
def points():
    return np.random.default_rng(0).normal(size=(300, 8))


def test_identical_embedding_scores_perfectly(points):
    assert embedding_quality.trustworthiness(points, points, n_neighbors=10) == 1.0
    assert embedding_quality.neighbourhood_preservation(points, points, n_neighbors=10) == 1.0


def test_scaled_and_rotated_copy_scores_perfectly(points):
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 8)))
    moved = 3 * points @ rotation + 5
    assert embedding_quality.trustworthiness(points, moved, n_neighbors=10) == pytest.approx(1.0)
    assert embedding_quality.neighbourhood_preservation(points, moved, n_neighbors=10) == 1.0


def test_random_embedding_scores_low(points):
    random_embedding = np.random.default_rng(2).normal(size=(300, 2))
    assert embedding_quality.trustworthiness(points, random_embedding, n_neighbors=10) < 0.6
    # a random k-NN set among 299 candidates holds about 10/299 of the true neighbours
    assert embedding_quality.neighbourhood_preservation(points, random_embedding, n_neighbors=10) < 0.1


def test_projection_scores_between_random_and_perfect(points):
    flattened = points[:, :2]
    score = embedding_quality.neighbourhood_preservation(points, flattened, n_neighbors=10)
    assert 0.05 < score < 0.9


def test_metrics_on_a_sample_use_only_that_many_rows(points):
    scrambled = points.copy()
    rows = np.arange(len(points))
    outside = np.setdiff1d(rows, sample_rows(len(points), 100, seed=0))
    scrambled[outside] = np.random.default_rng(3).normal(size=(len(outside), 8))
    # trustworthiness only looks at the sampled rows, which are unchanged
    assert embedding_quality.trustworthiness(points, scrambled, n_neighbors=5, sample_size=100, seed=0) == 1.0


def test_duplicate_points_do_not_break_preservation():
    data = np.repeat(np.arange(20, dtype=float)[:, None], 2, axis=0)  # every point twice
    assert embedding_quality.neighbourhood_preservation(data, data, n_neighbors=3) == 1.0


def test_knn_accuracy_known_cases():
    data, labels = make_blobs(n_samples=200, centers=[[0, 0], [20, 0], [0, 20]], random_state=0)
    is_train = np.arange(200) % 4 != 0
    assert embedding_quality.knn_accuracy(data, labels, is_train) == 1.0
    shuffled = np.random.default_rng(0).permutation(labels)
    assert embedding_quality.knn_accuracy(data, shuffled, is_train) < 0.6


def test_embedding_scores_collects_the_three_metrics(points):
    labels = (points[:, 0] > 0).astype(int)
    scores = embedding_quality.embedding_scores(
        points, points, labels, np.arange(300) < 200, n_neighbors=5, sample_size=300
    )
    assert scores == {
        "trustworthiness": 1.0,
        "knn_accuracy": pytest.approx(scores["knn_accuracy"]),
        "neighbourhood_preservation": 1.0,
    }
    assert 0.5 < scores["knn_accuracy"] <= 1.0


def test_cached_scores_are_read_back_and_keyed_by_the_data(points, monkeypatch, isolated_cache):
    labels, is_train = (points[:, 0] > 0).astype(int), np.arange(300) < 200
    first = embedding_quality.embedding_scores(points, points[:, :2], labels, is_train, n_neighbors=5, cache=True)
    pixels_first = embedding_quality.knn_accuracy(points, labels, is_train, cache=True)
    assert any((isolated_cache / "computed" / "embedding_quality").rglob("entry.json"))

    computed = stored_computations(monkeypatch)
    assert (
        embedding_quality.embedding_scores(points, points[:, :2], labels, is_train, n_neighbors=5, cache=True) == first
    )
    assert embedding_quality.knn_accuracy(points, labels, is_train, cache=True) == pixels_first
    assert computed == []  # both read back
    embedding_quality.embedding_scores(points, points[:, 1:3], labels, is_train, n_neighbors=5, cache=True)
    assert computed == ["mnist_analysis.embedding_quality._embedding_scores"]  # other data: a miss

    def recomputed(*args, **kwargs):
        raise AssertionError("computed")

    monkeypatch.setattr(embedding_quality, "trustworthiness", recomputed)
    monkeypatch.setattr("sklearn.neighbors.KNeighborsClassifier", recomputed)
    with pytest.raises(AssertionError, match="computed"):  # no cache: computed
        embedding_quality.embedding_scores(points, points[:, :2], labels, is_train, n_neighbors=5)
    with pytest.raises(AssertionError, match="computed"):
        embedding_quality.knn_accuracy(points, labels, is_train)


def overlapping_classes():
    """Classes 0 and 1 overlap; class 2 is far away."""
    rng = np.random.default_rng(0)
    embedding = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(0.5, 1, (100, 2)), rng.normal(50, 1, (100, 2))])
    return embedding, np.repeat([0, 1, 2], 100)


def test_class_mixing_finds_the_overlapping_pair():
    embedding, labels = overlapping_classes()
    mixing = embedding_quality.class_mixing(embedding, labels, n_neighbors=10)
    np.testing.assert_allclose(mixing.sum(axis=1), 1.0)
    assert mixing.loc[2, 2] == 1.0
    assert mixing.loc[0, 1] > 0.2
    pairs = embedding_quality.mixing_pairs(mixing)
    assert (pairs.loc[0, "class_a"], pairs.loc[0, "class_b"]) == (0, 1)
    assert pairs["share"].iloc[-1] == 0.0
    assert len(pairs) == 3


def test_border_points_are_the_class_members_surrounded_by_the_other_class():
    embedding, labels = overlapping_classes()
    border = embedding_quality.border_points(embedding, labels, 0, 1, n_neighbors=10, n_examples=5)
    assert len(border) == 5
    assert np.all(labels[border] == 0)
    centre_of_1 = embedding[labels == 1].mean(axis=0)
    distance = np.linalg.norm(embedding - centre_of_1, axis=1)
    assert distance[border].mean() < distance[labels == 0].mean()
    assert embedding_quality.border_points(embedding, labels, 0, 2, n_neighbors=10).size == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: embedding_quality.trustworthiness(p, p[:10]), "embedding"),
        (lambda p: embedding_quality.trustworthiness(p, p, n_neighbors=0), "n_neighbors"),
        (lambda p: embedding_quality.neighbourhood_preservation(p, p, n_neighbors=300), "n_neighbors"),
        (lambda p: embedding_quality.knn_accuracy(p, np.zeros(300), np.ones(300)), "is_train"),
        (lambda p: embedding_quality.knn_accuracy(p, np.zeros(10), np.ones(300)), "labels"),
        (lambda p: embedding_quality.border_points(p, np.zeros(300), 0, 9), "class_b"),
        (lambda p: embedding_quality.mixing_pairs(np.eye(3)), "mixing"),
    ],
)
def test_bad_input_names_the_parameter(points, call, message):
    with pytest.raises(ValueError, match=message):
        call(points)


def test_group_mixing_is_chance_for_random_groups_and_high_for_separated_ones():
    rng = np.random.default_rng(0)
    points, labels = make_blobs(n_samples=600, centers=3, random_state=0)
    random_groups = rng.choice(["train", "test"], size=600, p=[0.7, 0.3])
    table = embedding_quality.group_mixing(points, labels, random_groups, n_neighbors=10)
    assert list(table.columns) == ["same_group", "chance", "excess"]
    assert sorted(table.index) == ["test", "train"]
    assert np.all(np.abs(table["excess"]) < 0.06)
    # chance: each point's group share within its class, averaged over the group
    for group in ("train", "test"):
        expected = np.mean([np.mean(random_groups[labels == c] == group) for c in labels[random_groups == group]])
        assert table.loc[group, "chance"] == pytest.approx(expected)
    # groups that sit apart within every class keep to themselves
    separated = np.where(points[:, 0] > np.median(points[:, 0]), "east", "west")
    assert (embedding_quality.group_mixing(points, labels, separated)["excess"] > 0.15).all()
