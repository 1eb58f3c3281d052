"""The public loaders' logic on synthetic data: the provenance join and sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mnist_analysis.data.loaders import ProvenanceMismatchError, load_images, provenance_frame, sample_frame


def qmnist_rows(labels, series, writers):
    n = len(labels)
    return np.column_stack(
        [labels, series, writers, np.arange(n), np.zeros(n), 1000 + np.arange(n), np.zeros(n), np.zeros(n)]
    ).astype(np.int32)


def test_provenance_join_maps_series_to_writer_groups():
    labels = np.array([3, 1, 4, 1, 5])
    rows = qmnist_rows(labels, [0, 1, 2, 3, 4], [7, 7, 8, 9, 2100])
    frame = provenance_frame("train", labels, rows)
    assert frame.columns.tolist() == [
        "split",
        "index",
        "label",
        "hsf_series",
        "writer_id",
        "writer_group",
        "writer_digit_index",
        "nist_index",
    ]
    assert frame["writer_group"].tolist() == ["census"] * 4 + ["student"]
    assert frame["index"].tolist() == [0, 1, 2, 3, 4]
    assert frame["nist_index"].tolist() == [1000, 1001, 1002, 1003, 1004]
    assert (frame["split"] == "train").all()


def test_extra_qmnist_rows_beyond_mnist_are_ignored():
    labels = np.array([7, 2])
    rows = qmnist_rows(np.array([7, 2, 9, 9]), [4, 0, 0, 0], [1, 2, 3, 4])
    assert len(provenance_frame("test", labels, rows)) == 2


def test_join_is_refused_when_qmnist_classes_disagree_with_mnist_labels():
    labels = np.array([3, 1, 4, 1, 5])
    rows = qmnist_rows(np.array([3, 1, 4, 7, 5]), [0] * 5, [1] * 5)
    with pytest.raises(
        ProvenanceMismatchError, match="at 1 of 5 rows \\(first at index 3: QMNIST says 7, MNIST says 1\\)"
    ):
        provenance_frame("train", labels, rows)


def test_join_is_refused_for_unknown_series_or_too_few_rows():
    labels = np.array([3, 1])
    with pytest.raises(ProvenanceMismatchError, match="HSF series 6"):
        provenance_frame("train", labels, qmnist_rows(labels, [0, 6], [1, 1]))
    with pytest.raises(ProvenanceMismatchError, match="at least 2 rows of 8 columns, found shape \\(1, 8\\)"):
        provenance_frame("train", labels, qmnist_rows(labels[:1], [0], [1]))


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"split": ["train"] * 900 + ["test"] * 300, "label": rng.integers(0, 10, 1200)})


def test_sample_is_stratified_ordered_and_seeded(frame):
    sample = sample_frame(frame, 300, seed=3)
    assert len(sample) == 300
    assert sample.index.is_monotonic_increasing
    assert (sample["split"] == "test").sum() == 75
    by_label = sample["label"].value_counts(normalize=True).sort_index()
    pd.testing.assert_series_equal(by_label, frame["label"].value_counts(normalize=True).sort_index(), atol=0.02)
    assert sample.index.equals(sample_frame(frame, 300, seed=3).index)
    assert not sample.index.equals(sample_frame(frame, 300, seed=4).index)


def test_no_size_or_a_large_size_returns_everything(frame):
    assert sample_frame(frame, None) is frame
    assert sample_frame(frame, 5000) is frame


@pytest.mark.parametrize(
    ("size", "error"), [(0, ValueError), (-5, ValueError), (2.5, TypeError), ("100", TypeError), (True, TypeError)]
)
def test_bad_sample_sizes_are_refused(frame, size, error):
    with pytest.raises(error, match="size: expected a positive integer or None"):
        sample_frame(frame, size)


def test_bad_split_names_the_parameter():
    with pytest.raises(ValueError, match="split: expected 'train', 'test' or 'all', found 'validation'"):
        load_images("validation")


def test_load_sample_gives_the_sampled_rows_and_their_images(real_data):
    import mnist_analysis as mx

    frame, images = mx.load_sample(500, seed=4)
    expected = sample_frame(mx.load_frame(), 500, seed=4)
    pd.testing.assert_frame_equal(frame, expected)
    assert images.shape == (500, 28, 28)
    assert images.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(images, load_images("all")[expected.index.to_numpy()])
    everything, all_images = mx.load_sample(None)
    assert len(everything) == len(all_images) == 70_000
