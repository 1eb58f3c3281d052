"""The decoded-array cache (.npy) hands out only verified arrays, and `fetch` repairs it."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mnist_analysis.cli import main
from mnist_analysis.data.downloads import DownloadError
from mnist_analysis.data.loaders import load_labels
from mnist_analysis.data.registry import get
from mnist_analysis.data.sources import DATA_DIR_ENV, array_cache_path, fetch

pytestmark = pytest.mark.realdata


@pytest.fixture
def private_cache(real_data, tmp_path, monkeypatch):
    """The real data folder, with a cache of this test's own (so damage stays here)."""
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def true_test_labels(private_cache) -> np.ndarray:
    labels = np.array(load_labels("test"))
    assert array_cache_path(get("test-labels")).is_file()
    return labels


def flip_last_byte(path) -> None:
    content = bytearray(path.read_bytes())
    content[-1] ^= 0x01
    stat = path.stat()
    path.write_bytes(bytes(content))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and modification time as before


def test_a_flipped_byte_in_the_decoded_cache_is_detected_and_repaired(true_test_labels):
    npy = array_cache_path(get("test-labels"))
    flip_last_byte(npy)
    with pytest.warns(UserWarning, match=r"test-labels.*does not match the pinned SHA-256"):
        labels = load_labels("test")
    np.testing.assert_array_equal(labels, true_test_labels)
    np.testing.assert_array_equal(np.load(npy), true_test_labels)  # rewritten from the source file


def test_an_untouched_cache_is_served_without_a_warning(true_test_labels, recwarn):
    np.testing.assert_array_equal(load_labels("test"), true_test_labels)
    assert not [w for w in recwarn if "decoded-array" in str(w.message)]


def test_a_planted_npy_without_a_source_is_refused(private_cache, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://127.0.0.1:9/")  # nothing listens: no download
    npy = array_cache_path(get("test-labels"))
    npy.parent.mkdir(parents=True)
    np.save(npy, np.zeros(10_000, np.uint8))
    with pytest.warns(UserWarning, match="does not match the pinned SHA-256"), pytest.raises(DownloadError):
        load_labels("test")
    assert not npy.exists()


def test_a_verified_npy_without_a_source_is_served(true_test_labels, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://127.0.0.1:9/")
    np.testing.assert_array_equal(load_labels("test"), true_test_labels)
    npy = array_cache_path(get("test-labels"))
    npy.with_suffix(".stamp.json").unlink()  # no stamp: its content is hashed instead of trusted
    np.testing.assert_array_equal(load_labels("test"), true_test_labels)


def test_fetch_rehashes_and_repairs(true_test_labels, capsys):
    npy = array_cache_path(get("test-labels"))
    flip_last_byte(npy)
    located = fetch("test-labels")
    assert "rebuilt" in located.note
    np.testing.assert_array_equal(np.load(npy), true_test_labels)
    assert fetch("test-labels").note == ""
    flip_last_byte(npy)
    assert main(["fetch", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("repaired:") == 1
    assert "t10k-labels-idx1-ubyte" in out
    np.testing.assert_array_equal(np.load(npy), true_test_labels)
