"""Duplicate finders on synthetic images with planted copies and near copies."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mnist_analysis.duplicates import PAIR_COLUMNS, exact_duplicates, near_duplicates


def random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28)).astype(np.uint8)


def brute_force_pairs(images, threshold):
    pixels = images.reshape(len(images), -1).astype(float) / 255
    pairs = []
    for i, j in itertools.combinations(range(len(images)), 2):
        distance = np.linalg.norm(pixels[i] - pixels[j])
        if distance <= threshold:
            pairs.append((i, j, distance))
    return pairs


def test_exact_duplicates_lists_every_pair_of_identical_images():
    images = random_images(8)
    images[5] = images[1]
    images[7] = images[1]
    images[6] = images[2]
    pairs = exact_duplicates(images)
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    assert pairs[["first", "second"]].to_numpy().tolist() == [[1, 5], [1, 7], [2, 6], [5, 7]]
    assert pairs["exact"].all()
    assert (pairs["distance"] == 0).all()


def test_exact_duplicates_flags_pairs_that_cross_splits():
    images = random_images(4)
    images[3] = images[0]
    images[2] = images[1]
    pairs = exact_duplicates(images, splits=np.array(["train", "train", "train", "test"]))
    assert pairs[["first", "second", "split_first", "split_second", "cross_split"]].to_numpy().tolist() == [
        [0, 3, "train", "test", True],
        [1, 2, "train", "train", False],
    ]


def test_exact_duplicates_of_distinct_images_is_an_empty_frame_with_the_columns():
    pairs = exact_duplicates(random_images(5), splits=list("aabbb"))
    assert len(pairs) == 0
    assert list(pairs.columns) == [*PAIR_COLUMNS, "split_first", "split_second", "cross_split"]


def test_near_duplicates_finds_planted_near_copies_and_exact_copies():
    images = random_images(30)
    images[20] = images[3]
    images[21] = images[4]
    images[21, 10, 10:20] = np.clip(images[4, 10, 10:20].astype(int) + 40, 0, 255)  # a small change
    pairs = near_duplicates(images, cache=False)
    assert pairs[["first", "second"]].to_numpy().tolist() == [[3, 20], [4, 21]]
    assert pairs["exact"].tolist() == [True, False]
    expected = np.linalg.norm(images[21].astype(float) / 255 - images[4].astype(float) / 255)
    assert pairs["distance"].tolist() == pytest.approx([0.0, expected])


def test_near_duplicates_respects_the_threshold():
    images = random_images(10)
    images[9] = images[0]
    images[9, 0, :4] = images[0, 0, :4] ^ 0x80  # four pixels changed by 128: distance about 1.0
    distance = np.linalg.norm(images[9].astype(float) / 255 - images[0].astype(float) / 255)
    assert len(near_duplicates(images, threshold=distance + 1e-6, cache=False)) == 1
    assert len(near_duplicates(images, threshold=distance - 1e-3, cache=False)) == 0


def test_near_duplicates_misses_no_pair_a_brute_force_search_finds():
    # Clusters of jittered copies: many pairs at many distances around the threshold.
    rng = np.random.default_rng(1)
    centres = rng.integers(0, 256, size=(6, 28, 28))
    images = np.clip(np.repeat(centres, 8, axis=0) + rng.normal(0, 6, size=(48, 28, 28)), 0, 255).astype(np.uint8)
    within_clusters = [d for *_, d in brute_force_pairs(images, np.inf) if d < 5]
    threshold = 0.95 * np.median(within_clusters)  # some pairs fall on each side of it
    expected = sorted(brute_force_pairs(images, threshold), key=lambda pair: (pair[2], pair[0], pair[1]))
    found = near_duplicates(images, threshold=threshold, n_components=5, cache=False)
    assert 0 < len(expected) < len(within_clusters)
    assert found[["first", "second"]].to_numpy().tolist() == [[i, j] for i, j, _ in expected]
    np.testing.assert_allclose(found["distance"], [d for *_, d in expected])


def test_near_duplicates_cross_split_and_float_input():
    images = random_images(6).astype(np.float64) / 255
    images[5] = images[0] + 0.001
    pairs = near_duplicates(images, splits=["train"] * 3 + ["test"] * 3, cache=False)
    assert pairs[["first", "second", "cross_split"]].to_numpy().tolist() == [[0, 5, True]]
    assert pairs["distance"].iloc[0] == pytest.approx(0.001 * 28)


def test_near_duplicates_of_fewer_than_two_images_is_empty():
    assert len(near_duplicates(random_images(1), cache=False)) == 0


def test_near_duplicates_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path))
    images = random_images(12)
    images[11] = images[2]
    first = near_duplicates(images)
    assert any(tmp_path.rglob("entry.json"))
    pd.testing.assert_frame_equal(first, near_duplicates(images.copy()))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: exact_duplicates(np.zeros(5)), "images: expected an array of shape"),
        (lambda: exact_duplicates(random_images(3), splits=["a", "b"]), r"splits: expected 3 values \(one per row\)"),
        (lambda: near_duplicates(random_images(3), threshold=-1, cache=False), "threshold"),
        (lambda: near_duplicates(random_images(3), n_components=0, cache=False), "n_components"),
        (lambda: near_duplicates(np.array([["a", "b"]]), cache=False), "images: expected integer or float"),
    ],
)
def test_bad_input_raises_naming_the_parameter(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
