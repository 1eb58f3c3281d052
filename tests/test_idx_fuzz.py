"""Property-based fuzzing of the IDX reader: a correct array or the project's own error, nothing else."""

from __future__ import annotations

import gzip
import hashlib
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_analysis.data.idx import IDX_DTYPES, IdxFormatError, encode_idx, parse_idx, read_bytes
from mnist_analysis.data.registry import DataFile
from mnist_analysis.data.sources import verify

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def idx_arrays(draw):
    """Small arrays of every IDX element type and 1 to 3 dimensions."""
    dtype = draw(st.sampled_from([d.newbyteorder("=") for d in IDX_DTYPES.values()]))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    raw = draw(st.binary(min_size=math.prod(shape) * dtype.itemsize, max_size=math.prod(shape) * dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def expected_from_header(data: bytes) -> np.ndarray:
    """What a well-formed ``data`` describes, decoded independently of the parser."""
    dtype = IDX_DTYPES[data[2]]
    shape = struct.unpack(f">{data[3]}I", data[4 : 4 + 4 * data[3]])
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * data[3]).reshape(shape)


def parse_or_project_error(data: bytes, **expectations):
    """Parse ``data``: return the array, or None when the parser refused it with an IdxFormatError."""
    try:
        return parse_idx(data, "fuzz.idx", **expectations)
    except IdxFormatError as error:
        assert error.path == "fuzz.idx"
        assert error.problem
        return None


@FUZZ
@given(st.binary(max_size=64))
def test_random_bytes_give_an_array_or_an_idx_format_error(data):
    array = parse_or_project_error(data)
    if array is not None:
        np.testing.assert_array_equal(array, expected_from_header(data))


@FUZZ
@given(idx_arrays())
def test_every_encodable_array_reads_back_exactly(array):
    parsed = parse_idx(encode_idx(array))
    assert parsed.dtype == array.dtype
    assert parsed.shape == array.shape
    np.testing.assert_array_equal(parsed.view(np.uint8), np.ascontiguousarray(array).view(np.uint8))


@FUZZ
@given(idx_arrays(), st.data())
def test_any_truncation_or_padding_is_refused(array, data):
    encoded = encode_idx(array)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    assert parse_or_project_error(encoded[:cut]) is None
    padding = data.draw(st.binary(min_size=1, max_size=9))
    assert parse_or_project_error(encoded + padding) is None


@FUZZ
@given(idx_arrays(), st.data())
def test_header_edits_give_the_array_the_header_describes_or_an_error(array, data):
    encoded = bytearray(encode_idx(array))
    header_size = 4 + 4 * array.ndim
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, header_size - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    parsed = parse_or_project_error(bytes(encoded))
    if parsed is not None:
        np.testing.assert_array_equal(parsed, expected_from_header(bytes(encoded)))


@FUZZ
@given(idx_arrays(), st.data())
def test_any_header_byte_flip_is_refused_when_the_shape_is_expected(array, data):
    encoded = bytearray(encode_idx(array))
    position = data.draw(st.integers(0, 4 + 4 * array.ndim - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    # every header byte carries meaning, so any changed byte contradicts one of the expectations
    assert parse_or_project_error(bytes(encoded), dtype=array.dtype, ndim=array.ndim, shape=array.shape) is None


@FUZZ
@given(st.binary(max_size=200), st.booleans(), st.integers(0, 200))
def test_files_of_random_or_cut_gzip_content_give_an_array_or_an_idx_format_error(tmp_path, content, compress, cut):
    path = tmp_path / "fuzz-idx1-ubyte.gz"
    path.write_bytes((gzip.compress(content) if compress else content)[: cut or None])
    try:
        parse_idx(read_bytes(path), path)
    except IdxFormatError as error:
        assert error.path == str(path)


@pytest.fixture
def registered():
    array = (np.arange(300) % 10).astype(np.uint8)
    encoded = encode_idx(array)
    return (
        array,
        encoded,
        DataFile(
            "fuzz",
            "fuzz-idx1-ubyte.gz",
            "mnist",
            hashlib.sha256(encoded).hexdigest(),
            len(encoded),
            array.shape,
            "uint8",
            (),
        ),
    )


@FUZZ
@given(st.data())
def test_verify_accepts_only_the_registered_bytes(tmp_path, registered, data):
    array, encoded, spec = registered
    edited = bytearray(encoded)
    for _ in range(data.draw(st.integers(0, 2))):
        edited[data.draw(st.integers(0, len(edited) - 1))] = data.draw(st.integers(0, 255))
    edited = bytes(edited[: data.draw(st.integers(0, len(edited)))])
    path = tmp_path / spec.filename
    path.write_bytes(gzip.compress(edited) if data.draw(st.booleans()) else edited)
    try:
        result = verify(path, spec)
    except IdxFormatError:  # ChecksumError included
        assert edited != encoded
    else:
        assert edited == encoded
        np.testing.assert_array_equal(result, array)
