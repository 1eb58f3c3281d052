"""The IDX reader and writer: round trips and every kind of bad file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnist_analysis.data.idx import (
    IdxFormatError,
    encode_idx,
    parse_idx,
    read_idx,
    read_labelled_images,
    write_idx,
)
from mnist_analysis.utils import atomic_output

IDX_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])


@settings(max_examples=60, deadline=None)
@given(
    array=IDX_DTYPES.flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
            elements={"allow_nan": False} if np.dtype(dtype).kind == "f" else None,
        )
    ),
    compress=st.booleans(),
)
def test_round_trip_keeps_shape_dtype_and_values(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / ("data.gz" if compress else "data")
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress


def test_big_endian_int32_matches_the_qmnist_layout():
    data = encode_idx(np.array([[1, -2]], dtype=np.int32))
    assert data[:4] == bytes([0, 0, 0x0C, 2])  # magic 3074
    assert int.from_bytes(data[:4], "big") == 3074
    assert data[12:] == (1).to_bytes(4, "big") + (-2).to_bytes(4, "big", signed=True)
    assert parse_idx(data).tolist() == [[1, -2]]


@pytest.fixture
def images_file(tmp_path):
    """An uncompressed file shaped like MNIST's test images (10,000 x 28 x 28)."""
    path = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(path, np.zeros((10_000, 28, 28), dtype=np.uint8))
    return path


def test_truncated_file_says_how_many_bytes_of_how_many(images_file):
    images_file.write_bytes(images_file.read_bytes()[:7_839_000])
    with pytest.raises(IdxFormatError, match="truncated: 7,839,000 of 7,840,016 bytes") as info:
        read_idx(images_file)
    assert str(images_file) in str(info.value)


def test_extra_bytes_after_the_data_are_refused(images_file):
    images_file.write_bytes(images_file.read_bytes() + b"\0" * 5)
    with pytest.raises(IdxFormatError, match="5 unexpected bytes after the data"):
        read_idx(images_file)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (bytes([0x12, 0x34, 0x08, 0x01]), "wrong magic number 0x12340801"),
        (bytes([0, 0, 0x42, 0x01]), "wrong magic number 0x00004201"),
        (bytes([0, 0, 0x08, 0x00]), "at least one dimension"),
    ],
)
def test_wrong_magic_number_is_refused(tmp_path, header, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(header + bytes(12))
    with pytest.raises(IdxFormatError, match=message):
        read_idx(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"")
    with pytest.raises(IdxFormatError, match=r"empty file \(0 bytes\)"):
        read_idx(path)


def test_gzip_of_garbage_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"not an idx file at all"))
    with pytest.raises(IdxFormatError, match="wrong magic number"):
        read_idx(path)


def test_corrupt_gzip_stream_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    good = gzip.compress(encode_idx(np.arange(1000, dtype=np.uint8) % 10))
    path.write_bytes(good[:10] + b"\xff" * 40 + good[50:])
    with pytest.raises(IdxFormatError, match="not a valid gzip file"):
        read_idx(path)


def test_cut_gzip_stream_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros(5000, dtype=np.uint8)))[:30])
    with pytest.raises(IdxFormatError, match="not a valid gzip file"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_html_page_saved_as_gz_is_recognised(tmp_path, compress):
    page = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>Access denied</body></html>"
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(page) if compress else page)
    with pytest.raises(IdxFormatError, match="HTML page"):
        read_idx(path)


def test_expectations_on_type_dimensions_and_shape(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.zeros((3, 2), dtype=np.int32))
    with pytest.raises(IdxFormatError, match=r"element type is int32.*expected uint8"):
        read_idx(path, dtype=np.uint8)
    with pytest.raises(IdxFormatError, match="has 2 dimensions, expected 1"):
        read_idx(path, ndim=1)
    with pytest.raises(IdxFormatError, match="has shape 3x2, expected \\?x8"):
        read_idx(path, shape=(None, 8))
    assert read_idx(path, dtype=np.int32, ndim=2, shape=(None, 2)).shape == (3, 2)


def test_image_and_label_counts_must_agree(tmp_path):
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte"
    write_idx(images, np.zeros((60_000, 1, 1), dtype=np.uint8))
    write_idx(labels, np.zeros(10_000, dtype=np.uint8))
    with pytest.raises(IdxFormatError, match="labels say 10,000 items, images say 60,000") as info:
        read_labelled_images(images, labels)
    assert str(labels) in str(info.value)
    assert str(images) in str(info.value)


def test_encoding_refuses_types_idx_cannot_hold():
    with pytest.raises(ValueError, match="found dtype int64"):
        encode_idx(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="found 0"):
        encode_idx(np.uint8(3))


def test_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="interrupted"), atomic_output(target) as tmp:  # noqa: PT012 (a write cut short)
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
