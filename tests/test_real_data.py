"""The real MNIST and QMNIST files: shapes, counts, published checksums and the provenance join.

These run whenever the data folder is given, and fail under CI when it is not (see conftest).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pytest

import mnist_analysis as mx
from mnist_analysis.data.downloads import download
from mnist_analysis.data.idx import encode_idx
from mnist_analysis.data.registry import REGISTRY
from mnist_analysis.data.sources import ChecksumError, load_array, locate, verify

pytestmark = pytest.mark.realdata

#: Images per class, as published with MNIST.
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_shapes_and_types(real_data):
    for split, n in (("train", 60_000), ("test", 10_000), ("all", 70_000)):
        images, labels = mx.load_images(split), mx.load_labels(split)
        assert images.shape == (n, 28, 28)
        assert images.dtype == np.uint8
        assert labels.shape == (n,)
        assert labels.dtype == np.uint8
    assert mx.load_images("train").max() == 255
    assert mx.load_images("train").min() == 0


def test_label_counts_match_the_published_ones(real_data):
    assert np.bincount(mx.load_labels("train")).tolist() == TRAIN_CLASS_COUNTS
    assert np.bincount(mx.load_labels("test")).tolist() == TEST_CLASS_COUNTS


@pytest.mark.parametrize("key", ["train-images", "train-labels", "test-images", "test-labels"])
def test_loaded_arrays_reencode_to_the_published_md5(real_data, key):
    array = mx.load_images(key.split("-")[0]) if key.endswith("images") else mx.load_labels(key.split("-")[0])
    assert hashlib.md5(encode_idx(array)).hexdigest() == REGISTRY[key].md5


@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_file_verifies_against_its_pinned_hash(real_data, key):
    spec = REGISTRY[key]
    located = locate(spec)
    assert located.origin == "data folder"
    array = verify(located.path, spec)
    assert array.shape == spec.shape
    assert hashlib.sha256(encode_idx(array)).hexdigest() == spec.sha256


def test_warm_loads_are_read_only_memory_maps_with_the_same_content(real_data):
    first = np.array(mx.load_images("test"))
    warm = mx.load_images("test")
    assert isinstance(warm, np.memmap)
    assert not warm.flags.writeable
    np.testing.assert_array_equal(warm, first)


def test_provenance_columns(real_data):
    frame = mx.load_frame()
    assert len(frame) == 70_000
    assert frame.groupby("split", observed=True).size().to_dict() == {"train": 60_000, "test": 10_000}
    np.testing.assert_array_equal(frame["label"], mx.load_labels("all"))
    np.testing.assert_array_equal(frame["index"], np.r_[np.arange(60_000), np.arange(10_000)])
    assert set(frame["hsf_series"]) <= {0, 1, 2, 3, 4}
    assert ((frame["writer_group"] == "student") == (frame["hsf_series"] == 4)).all()
    assert frame["writer_id"].between(0, 2599).all()
    assert frame[["nist_index", "writer_id", "writer_digit_index"]].notna().all().all()
    assert frame["nist_index"].is_unique
    # LeCun's page: the test set's first 5,000 digits and its last 5,000 come from different NIST sets.
    test = frame[frame["split"] == "test"]
    assert test["writer_group"].iloc[:5000].nunique() == 1
    assert test["writer_group"].iloc[:5000].iloc[0] != test["writer_group"].iloc[5000:].mode()[0]


def test_qmnist_classes_agree_with_mnist_labels(real_data):
    for split, key in (("train", "qmnist-train"), ("test", "qmnist-test")):
        qmnist = load_array(key)
        labels = mx.load_labels(split)
        np.testing.assert_array_equal(qmnist[: len(labels), 0], labels)


def test_swapped_train_and_test_files_are_refused(real_data, tmp_path, monkeypatch):
    shutil.copy(real_data / "mnist" / "t10k-labels-idx1-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz")
    # With a good copy further down the search order, the bad one is named and skipped.
    with pytest.warns(UserWarning, match="holds the content of t10k-labels-idx1-ubyte.gz, not of train-labels"):
        labels = mx.load_labels("train", data_dir=tmp_path)
    assert labels.shape == (60_000,)
    assert labels[:3].tolist() == [5, 0, 4]
    # With no other copy, it is refused.
    monkeypatch.delenv("MNIST_ANALYSIS_DATA_DIR")
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(ChecksumError, match=r"holds the content of t10k-labels-idx1-ubyte.gz, not of train-labels"):
        mx.load_labels("train", data_dir=tmp_path)


def test_uncompressed_and_recompressed_copies_verify(real_data, tmp_path):
    spec = REGISTRY["test-labels"]
    content = gzip.decompress((real_data / "mnist" / spec.filename).read_bytes())
    (tmp_path / spec.stem).write_bytes(content)
    np.testing.assert_array_equal(mx.load_labels("test", data_dir=tmp_path), mx.load_labels("test"))
    (tmp_path / spec.stem).unlink()
    (tmp_path / spec.filename).write_bytes(gzip.compress(content, compresslevel=1))
    np.testing.assert_array_equal(mx.load_labels("test", data_dir=tmp_path), mx.load_labels("test"))


def test_real_file_downloads_over_loopback_and_verifies(real_data, isolated_cache, monkeypatch):
    from tests.mirror_server import MirrorServer

    spec = REGISTRY["test-labels"]
    server = MirrorServer((real_data / "mnist" / spec.filename).read_bytes(), b"")
    try:
        monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(isolated_cache))
        path = download(
            spec, urls=[server.url("forbidden", spec.filename), server.url("good", spec.filename)], progressbar=False
        )
    finally:
        server.close()
    assert path == isolated_cache / "mnist" / spec.filename
    assert hashlib.md5(gzip.decompress(path.read_bytes())).hexdigest() == spec.md5
