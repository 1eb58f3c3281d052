"""Finding, verifying, downloading and caching data files, against a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from mnist_analysis.data import registry, sources
from mnist_analysis.data.downloads import DownloadError, download
from mnist_analysis.data.idx import IdxFormatError, encode_idx, write_idx
from mnist_analysis.data.registry import DataFile
from mnist_analysis.data.sources import ChecksumError, Located, load_array, locate, verify
from tests.hostile_tools import make_spec
from tests.mirror_server import MirrorServer


@pytest.fixture
def labels() -> np.ndarray:
    return (np.arange(5000) * 7 % 10).astype(np.uint8)


@pytest.fixture
def spec(labels, monkeypatch) -> DataFile:
    """A synthetic file, registered so the public loaders can find it by key."""
    spec = make_spec(labels)
    monkeypatch.setitem(registry.REGISTRY, spec.key, spec)
    return spec


@pytest.fixture
def server(labels):
    server = MirrorServer(gzip.compress(encode_idx(labels)), gzip.compress(encode_idx((labels + 1) % 10)))
    yield server
    server.close()


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_falls_back_from_403_and_html_to_the_real_bytes(spec, server, labels, isolated_cache):
    urls = [server.url(route, spec.filename) for route in ("forbidden", "html", "good")]
    path = download(spec, urls=urls, progressbar=False)
    assert path == isolated_cache / "mnist" / spec.filename
    assert [r.split("/")[1] for r in server.requests] == ["forbidden", "html", "good"]
    np.testing.assert_array_equal(verify(path, spec), labels)
    assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == spec.sha256
    assert leftovers(isolated_cache) == [path]


def test_every_mirror_failing_gives_one_error_naming_each_url_and_what_to_do(spec, server, isolated_cache):
    urls = [server.url(route, spec.filename) for route in ("forbidden", "html", "corrupt", "missing")]
    with pytest.raises(DownloadError) as info:
        download(spec, urls=urls, progressbar=False)
    message = str(info.value)
    for url, reason in zip(urls, ["HTTP 403", "HTML page", "SHA-256", "HTTP 404"]):
        assert f"{url}: " in message
        assert reason in message.split(f"{url}: ")[1].splitlines()[0]
    assert str(isolated_cache / "mnist" / spec.filename) in message
    assert "MNIST_ANALYSIS_DATA_DIR" in message
    assert leftovers(isolated_cache) == []


def test_interrupted_download_leaves_nothing_at_the_final_path(spec, server, isolated_cache):
    with pytest.raises(DownloadError, match="cut/"):
        download(spec, urls=[server.url("cut", spec.filename)], progressbar=False)
    assert not (isolated_cache / "mnist" / spec.filename).exists()
    assert leftovers(isolated_cache) == []


def test_a_timeout_moves_on_to_the_next_mirror(spec, server):
    urls = [server.url("slow", spec.filename), server.url("good", spec.filename)]
    path = download(spec, urls=urls, timeout=0.5, progressbar=False)
    assert path.is_file()
    assert [r.split("/")[1] for r in server.requests] == ["slow", "good"]


def test_with_the_cache_filled_a_load_makes_no_network_request(spec, server, labels, monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", server.url("good", "").rsplit("/", 1)[0])
    np.testing.assert_array_equal(load_array(spec.key, progressbar=False), labels)
    assert len(server.requests) == 1
    server.close()  # from here on, any request would fail
    again = load_array(spec.key, progressbar=False)
    np.testing.assert_array_equal(again, labels)
    assert isinstance(again, np.memmap)
    assert not again.flags.writeable
    assert len(server.requests) == 1


def test_mirrors_can_be_replaced_by_environment(spec, monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://a.example/x/, http://b.example/")
    assert spec.urls() == [f"http://a.example/x/{spec.filename}", f"http://b.example/{spec.filename}"]


@pytest.mark.parametrize(
    "relative",
    [
        "tiny-labels-idx1-ubyte.gz",
        "tiny-labels-idx1-ubyte",
        "mnist/tiny-labels-idx1-ubyte.gz",
        "mnist/tiny-labels-idx1-ubyte",
    ],
)
def test_a_data_folder_may_hold_files_flat_or_in_subfolders_gzipped_or_not(
    spec, labels, tmp_path, monkeypatch, relative
):
    write_idx(tmp_path / relative, labels)
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", str(tmp_path))
    assert locate(spec) == Located(tmp_path / relative, "data folder")
    np.testing.assert_array_equal(load_array(spec.key), labels)


def test_lookup_order_is_argument_then_data_folder_then_cache(spec, labels, tmp_path, monkeypatch, isolated_cache):
    argument, environment = tmp_path / "argument", tmp_path / "environment"
    for folder in (argument, environment, isolated_cache / "mnist"):
        write_idx(folder / spec.filename, labels)
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", str(environment))
    assert locate(spec, argument) == Located(argument / spec.filename, "argument")
    assert locate(spec) == Located(environment / spec.filename, "data folder")
    monkeypatch.delenv("MNIST_ANALYSIS_DATA_DIR")
    assert locate(spec) == Located(isolated_cache / "mnist" / spec.filename, "cache")


def test_a_named_data_folder_that_does_not_exist_is_an_error(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"MNIST_ANALYSIS_DATA_DIR=.*nowhere: not an existing folder"):
        locate(spec)
    with pytest.raises(FileNotFoundError, match=r"data_dir=.*elsewhere"):
        locate(spec, tmp_path / "elsewhere")


def test_a_bad_file_in_the_data_folder_is_refused_not_skipped(spec, labels, tmp_path):
    bad = labels.copy()
    bad[0] += 1
    write_idx(tmp_path / spec.filename, bad)
    with pytest.raises(ChecksumError, match=f"{tmp_path / spec.filename}.*content SHA-256 is .*expected {spec.sha256}"):
        load_array(spec.key, data_dir=tmp_path)


def test_swapped_files_are_named_for_what_they_hold(labels, tmp_path, monkeypatch):
    train = make_spec(labels, "tiny-train", "tiny-train-labels-idx1-ubyte.gz")
    test = make_spec(labels[:1000], "tiny-test", "tiny-t10k-labels-idx1-ubyte.gz")
    monkeypatch.setattr(registry, "REGISTRY", {train.key: train, test.key: test})
    write_idx(tmp_path / train.filename, labels[:1000])
    with pytest.raises(ChecksumError, match=r"holds the content of tiny-t10k-labels-idx1-ubyte.gz, not of tiny-train"):
        verify(tmp_path / train.filename, train)


def test_a_file_of_the_wrong_shape_names_both_shapes(spec, labels, tmp_path):
    write_idx(tmp_path / spec.filename, labels[:10])
    with pytest.raises(ChecksumError, match="has shape 10, expected 5,000"):
        verify(tmp_path / spec.filename, spec)


def test_a_changed_source_file_is_verified_again(spec, labels, tmp_path):
    path = tmp_path / spec.filename
    write_idx(path, labels)
    load_array(spec.key, data_dir=tmp_path)
    corrupted = gzip.compress(encode_idx(labels)[:-10])
    path.write_bytes(corrupted)
    with pytest.raises(IdxFormatError, match="truncated"):
        load_array(spec.key, data_dir=tmp_path)


def test_a_corrupt_array_cache_is_rebuilt(spec, labels, tmp_path):
    write_idx(tmp_path / spec.filename, labels)
    load_array(spec.key, data_dir=tmp_path)
    npy = sources.array_cache_path(spec)
    npy.write_bytes(b"garbage")
    np.testing.assert_array_equal(load_array(spec.key, data_dir=tmp_path), labels)
    assert np.load(npy).shape == labels.shape
