"""Clustering helpers on synthetic blobs whose clusters are known by construction."""

import numpy as np
import pytest

from mnist_analysis import clusters as cl
from tests.helpers import stored_computations


def blobs(n_per=200, centres=((0, 0), (20, 0), (0, 20)), seed=0):
    rng = np.random.default_rng(seed)
    points = np.concatenate([rng.normal(c, 1.0, (n_per, 2)) for c in centres])
    return points, np.repeat(np.arange(len(centres)), n_per)


def test_well_separated_blobs_give_ari_and_ami_of_one():
    points, labels = blobs()
    found = cl.hdbscan_clusters(points, min_cluster_size=50, min_samples=5, cache=False)
    scores = cl.cluster_scores(labels, found)
    assert scores["ari"] == pytest.approx(1.0)
    assert scores["ami"] == pytest.approx(1.0)
    assert scores["n_clusters"] == 3
    assert scores["clustered"] > 0.95


def test_a_size_cap_keeps_two_touching_blobs_from_being_taken_for_one():
    points, labels = blobs(centres=((0, 0), (4, 0), (30, 0)))
    merged = cl.cluster_scores(labels, cl.hdbscan_clusters(points, min_cluster_size=50, min_samples=10, cache=False))
    assert merged["n_clusters"] == 2  # without the cap the touching pair is one cluster
    capped = cl.hdbscan_clusters(points, min_cluster_size=50, min_samples=10, max_cluster_size=300, cache=False)
    scores = cl.cluster_scores(labels, capped)
    assert scores["n_clusters"] == 3
    assert scores["ari"] > 0.95
    assert scores["ari"] > merged["ari"] + 0.3
    with pytest.raises(ValueError, match=r"max_cluster_size: expected 0 .* at least min_cluster_size=50, found 20"):
        cl.hdbscan_clusters(points, min_cluster_size=50, max_cluster_size=20, cache=False)


def test_cluster_digits_scales_the_settings_and_the_cap_with_the_stack(monkeypatch):
    seen = {}
    monkeypatch.setattr(cl, "cluster_map", lambda images, **_: np.zeros((len(images), 2)))
    monkeypatch.setattr(cl, "hdbscan_clusters", lambda points, **kw: seen.update(kw) or np.zeros(len(points), int))
    cl.cluster_digits(np.zeros((7_000, 28, 28), np.uint8), cache=False)
    assert (seen["min_cluster_size"], seen["min_samples"], seen["max_cluster_size"]) == (50, 40, 1_000)
    cl.cluster_digits(np.zeros((7_000, 28, 28), np.uint8), cap=False, cache=False)
    assert seen["max_cluster_size"] == 0
    cl.cluster_digits(np.zeros((140, 28, 28), np.uint8), cache=False)
    assert (seen["min_cluster_size"], seen["min_samples"], seen["max_cluster_size"]) == (10, 10, 20)


def test_scores_leave_noise_out_and_fall_for_a_wrong_clustering():
    labels = np.repeat([0, 1], 50)
    assert cl.cluster_scores(labels, np.where(np.arange(100) % 10 == 0, -1, labels))["clustered"] == 0.9
    random = np.random.default_rng(0).integers(0, 2, 100)
    assert abs(cl.cluster_scores(labels, random)["ari"]) < 0.1
    with pytest.raises(ValueError, match="every row is noise"):
        cl.cluster_scores(labels, np.full(100, -1))


def test_composition_names_the_mixed_cluster():
    labels = np.array([4] * 6 + [9] * 4 + [1] * 5)
    found = np.array([0] * 10 + [1] * 5)
    table = cl.cluster_composition(labels, found)
    assert table.loc[0, ["size", "majority", "second", "second_count"]].tolist() == [10, 4, 9, 4]
    assert table.loc[0, "purity"] == pytest.approx(0.6)
    assert table.loc[1, "purity"] == 1.0
    assert table.loc[1, "second"] == -1


def test_kmeans_baseline_is_seeded_and_cached(monkeypatch):
    computed = stored_computations(monkeypatch)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 50, (60, 6, 6), dtype=np.uint8)
    images[30:, :3] += 200
    first = cl.kmeans_pixels(images, 2, seed=1)
    assert np.array_equal(first, cl.kmeans_pixels(images, 2, seed=1))
    assert computed == ["mnist_analysis.clusters._kmeans"]
    assert cl.cluster_scores(np.repeat([0, 1], 30), first)["ari"] == pytest.approx(1.0)


def test_cluster_digits_finds_two_kinds_of_synthetic_digit():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 30, (400, 28, 28), dtype=np.uint8)
    images[:200, 4:24, 12:16] = 255  # a bar
    images[200:, 12:16, 4:24] = 255  # a dash
    found, embedding = cl.cluster_digits(images, seed=0, cap=False, cache=False)  # two kinds: each half the stack
    assert embedding.shape == (400, 2)
    assert cl.cluster_scores(np.repeat([0, 1], 200), found)["ari"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cl.hdbscan_clusters(np.zeros((10, 2)), min_cluster_size=20, cache=False), "min_cluster_size"),
        (lambda: cl.hdbscan_clusters(np.full((10, 2), np.nan), cache=False), "finite"),
        (lambda: cl.cluster_scores([0, 1], [0]), "clusters"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_hdbscan_leaves_no_worker_processes_behind():
    # hdbscan's default core_dist_n_jobs=4 starts joblib workers that outlive the call by minutes.
    import psutil

    points = np.random.default_rng(0).normal(size=(20_000, 2))  # large enough for the parallel search
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    cl.hdbscan_clusters(points, min_cluster_size=50, min_samples=10, cache=False)
    after = {child.pid for child in psutil.Process().children(recursive=True)}
    assert after <= before
