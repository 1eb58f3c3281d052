"""Hostile data files, folders and mirrors (issue 13): each gets a clear error, nothing good is lost."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_analysis.data import registry
from mnist_analysis.data.downloads import CacheNotWritableError, DownloadError, download
from mnist_analysis.data.idx import IdxFormatError, encode_idx, write_idx
from mnist_analysis.data.sources import (
    Located,
    NotAFileError,
    NoVerifiedCopyError,
    file_status,
    load_array,
    locate,
    locate_verified,
    verify,
)
from tests.hostile_tools import make_spec
from tests.mirror_server import MirrorServer


@pytest.fixture
def labels() -> np.ndarray:
    return (np.arange(5000) * 7 % 10).astype(np.uint8)


@pytest.fixture
def spec(labels, monkeypatch):
    spec = make_spec(labels)
    monkeypatch.setitem(registry.REGISTRY, spec.key, spec)
    return spec


def write_bad(path: Path, labels: np.ndarray) -> Path:
    """A gzip'd copy cut short: a well-formed gzip stream holding a truncated IDX file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(encode_idx(labels)[:-100]))
    return path


# ------------------------------------------------------------------ bad copy first, good copy later
def test_a_bad_gz_found_first_falls_through_to_a_good_uncompressed_copy_with_a_warning(spec, labels, tmp_path):
    bad = write_bad(tmp_path / spec.filename, labels)
    write_idx(tmp_path / spec.stem, labels)
    with pytest.warns(UserWarning, match="truncated") as caught:
        found = locate_verified(spec, tmp_path)
    assert found.located == Located(tmp_path / spec.stem, "argument")
    assert not found.reused
    np.testing.assert_array_equal(found.array, labels)
    message = str(caught[0].message)
    assert str(bad) in message
    assert "truncated" in message
    assert f"using {tmp_path / spec.stem}" in message


def test_a_bad_copy_in_the_data_folder_falls_through_to_the_good_copy_in_mnist(spec, labels, tmp_path, monkeypatch):
    write_bad(tmp_path / spec.stem, labels)
    write_idx(tmp_path / "mnist" / spec.filename, labels)
    monkeypatch.setenv("MNIST_ANALYSIS_DATA_DIR", str(tmp_path))
    with pytest.warns(UserWarning, match=f"skipped bad copies: {tmp_path / spec.stem}"):
        found = locate_verified(spec)
    assert found.located == Located(tmp_path / "mnist" / spec.filename, "data folder")


def test_when_no_copy_verifies_the_error_names_every_bad_copy(spec, labels, tmp_path):
    first = write_bad(tmp_path / spec.filename, labels)
    second = tmp_path / "mnist" / spec.stem
    write_idx(second, (labels + 1) % 10)
    with pytest.raises(NoVerifiedCopyError) as info:
        locate_verified(spec, tmp_path)
    message = str(info.value)
    assert f"{first}: " in message
    assert "truncated" in message
    assert f"{second}: content SHA-256" in message
    assert "2 found" in message
    assert "mnist-analysis fetch" in message
    assert [path for path, _ in info.value.failures] == [first, second]


def test_a_single_bad_copy_raises_its_own_error(spec, labels, tmp_path):
    bad = write_bad(tmp_path / spec.filename, labels)
    with pytest.raises(IdxFormatError, match="truncated") as info:
        locate_verified(spec, tmp_path)
    assert info.value.path == str(bad)
    assert not isinstance(info.value, NoVerifiedCopyError)


def test_no_copy_at_all_means_a_download_is_needed(spec, tmp_path):
    assert locate_verified(spec, tmp_path) is None


def test_reuse_serves_a_vouched_copy_without_reading_it(spec, labels, tmp_path):
    write_bad(tmp_path / spec.filename, labels)  # would fail if it were read
    vouched = np.zeros(3)
    found = locate_verified(spec, tmp_path, reuse=lambda located: vouched)
    assert found.reused
    assert found.array is vouched
    assert found.located.path == tmp_path / spec.filename


# ------------------------------------------------------------------ a flipped header byte
@pytest.mark.parametrize(
    ("position", "flipped", "expected"),
    [
        (7, 0x89, "header dimension 1 of 1 (bytes 4-7) is 5,001, expected 5,000"),
        (6, 0x12, "header dimension 1 of 1 (bytes 4-7) is 4,744, expected 5,000"),
        (2, 0x09, "element type is int8 (header byte 2 is 0x09), expected uint8"),
        (3, 0x02, "has 2 dimensions, expected 1 (header byte 3 is the number of dimensions)"),
        (0, 0x01, "header bytes 0-1 are 0x0100, expected 0x0000"),
    ],
)
def test_a_flipped_header_byte_names_the_field_and_the_values(spec, labels, tmp_path, position, flipped, expected):
    data = bytearray(encode_idx(labels))
    data[position] = flipped
    path = tmp_path / spec.filename
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(IdxFormatError) as info:
        verify(path, spec)
    assert expected in str(info.value)
    assert str(path) in str(info.value)
    assert "truncated" not in str(info.value)


# ------------------------------------------------------------------ a folder or dangling link instead of a file
def test_a_folder_where_the_file_should_be_is_named_not_skipped(spec, tmp_path, monkeypatch):
    (tmp_path / spec.filename).mkdir()
    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", "http://127.0.0.1:9/")
    with pytest.raises(
        NotAFileError, match=f"{tmp_path / spec.filename}: is a folder, not a file, where {spec.filename} is looked for"
    ):
        locate(spec, tmp_path)
    with pytest.raises(NotAFileError, match="is a folder"):  # no download that would hide the problem
        load_array(spec.key, data_dir=tmp_path, progressbar=False)


def test_a_dangling_symlink_is_named_with_its_target(spec, tmp_path):
    (tmp_path / spec.stem).symlink_to(tmp_path / "gone" / "labels")
    with pytest.raises(NotAFileError) as info:
        locate(spec, tmp_path)
    assert str(info.value) == (
        f"{tmp_path / spec.stem}: is a symbolic link to {tmp_path / 'gone' / 'labels'}, which "
        f"does not exist, where {spec.filename} is looked for; remove it or put the real file there"
    )


def test_a_folder_in_front_of_a_good_file_is_skipped_with_a_warning(spec, labels, tmp_path):
    (tmp_path / spec.filename).mkdir()
    write_idx(tmp_path / "mnist" / spec.filename, labels)
    with pytest.warns(UserWarning, match=f"skipped {tmp_path / spec.filename} \\(a folder, not a file\\)"):
        assert locate(spec, tmp_path) == Located(tmp_path / "mnist" / spec.filename, "argument")
    with pytest.warns(UserWarning, match="a folder, not a file"):
        assert locate_verified(spec, tmp_path).located.path == tmp_path / "mnist" / spec.filename


def test_file_status_tells_verified_missing_mismatch_and_unreadable(spec, labels, tmp_path):
    assert file_status(spec, tmp_path).state == "missing"
    write_bad(tmp_path / spec.filename, labels)
    status = file_status(spec, tmp_path)
    assert (status.state, status.ok) == ("mismatch", False)
    assert "truncated" in status.detail
    assert str(tmp_path / spec.filename) in status.detail
    (tmp_path / spec.filename).unlink()
    (tmp_path / spec.filename).mkdir()
    assert file_status(spec, tmp_path).state == "unreadable"
    write_idx(tmp_path / spec.stem, labels)
    status = file_status(spec, tmp_path)
    assert (status.state, status.located.path) == ("verified", tmp_path / spec.stem)
    assert "a folder" in status.detail


# ------------------------------------------------------------------ mirrors and the cache folder
@pytest.fixture
def mirror(labels):
    mirror = MirrorServer(gzip.compress(encode_idx(labels)))
    yield mirror
    mirror.close()


def test_a_trickling_mirror_is_given_up_at_the_deadline_and_the_next_one_used(spec, mirror, isolated_cache):
    urls = [mirror.url("trickle", spec.filename), mirror.url("good", spec.filename)]
    start = time.monotonic()
    path = download(spec, urls=urls, timeout=5, deadline=1.0, progressbar=False)
    assert time.monotonic() - start < 5  # every read got a byte within the timeout: only the deadline stops it
    assert path == isolated_cache / "mnist" / spec.filename
    assert verify(path, spec) is not None
    assert [r.split("/")[1] for r in mirror.requests] == ["trickle", "good"]
    assert sorted(p.name for p in (isolated_cache / "mnist").iterdir()) == [spec.filename]  # no .part left


def test_a_deadline_failure_is_named_in_the_error(spec, mirror, isolated_cache):
    with pytest.raises(DownloadError) as info:
        download(spec, urls=[mirror.url("trickle", spec.filename)], timeout=5, deadline=0.5, progressbar=False)
    assert (
        f"{mirror.url('trickle', spec.filename)}: timed out (not finished after the 0.5 s allowed for the whole "
        "file" in str(info.value)
    )
    assert list((isolated_cache / "mnist").iterdir()) == []


def test_stale_part_files_of_killed_downloads_are_removed_and_live_ones_kept(spec, mirror, isolated_cache):
    folder = isolated_cache / "mnist"
    folder.mkdir(parents=True)
    stale, live = folder / f".{spec.filename}.abc.part", folder / f".{spec.filename}.def.part"
    stale.write_bytes(b"")
    live.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    download(spec, urls=[mirror.url("good", spec.filename)], timeout=5, progressbar=False)
    assert not stale.exists()
    assert live.exists()


def test_every_mirror_failing_gives_each_full_reason_on_its_own_line(spec, isolated_cache):
    urls = ["http://127.0.0.1:9/a/" + spec.filename, "http://127.0.0.1:9/b/" + spec.filename]
    with pytest.raises(DownloadError) as info:
        download(spec, urls=urls, timeout=5, progressbar=False)
    lines = str(info.value).splitlines()
    for url in urls:
        line = next(line for line in lines if url in line)
        assert len(line) > 200
        assert line.rstrip().endswith(")")
        assert "Connection refused" in line or "Errno" in line


def test_an_unwritable_cache_is_reported_as_such_before_any_mirror_is_tried(spec, mirror, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(CacheNotWritableError) as info:
        download(spec, urls=[mirror.url("good", spec.filename)], progressbar=False)
    message = str(info.value)
    assert f"cache folder {blocker / 'cache' / 'mnist'} is not writable" in message
    assert "MNIST_ANALYSIS_CACHE_DIR" in message
    assert "mirrors were not tried" in message
    assert "could not download" not in message
    assert mirror.requests == []


def test_load_array_serves_the_next_good_copy_when_a_bad_gz_comes_first(spec, labels, tmp_path):
    bad = write_bad(tmp_path / spec.filename, labels)
    write_idx(tmp_path / spec.stem, labels)
    with pytest.warns(UserWarning, match=f"skipped bad copies: {bad}"):
        np.testing.assert_array_equal(load_array(spec.key, data_dir=tmp_path), labels)


def test_fetch_names_every_bad_copy_when_none_verifies(spec, labels, tmp_path):
    from mnist_analysis.data.sources import fetch

    bad = write_bad(tmp_path / spec.filename, labels)
    other = tmp_path / "mnist" / spec.stem
    write_idx(other, (labels + 1) % 10)
    with pytest.raises(NoVerifiedCopyError) as info:
        fetch(spec.key, data_dir=tmp_path, progressbar=False)
    assert str(bad) in str(info.value)
    assert str(other) in str(info.value)


# ------------------------------------------------------------------ issue 25
def test_a_mirror_streaming_endless_data_is_stopped_at_the_registered_size(spec, mirror, isolated_cache):
    from mnist_analysis.data.downloads import max_download_bytes

    urls = [mirror.url("endless", spec.filename), mirror.url("good", spec.filename)]
    start = time.monotonic()
    path = download(spec, urls=urls, timeout=5, progressbar=False)
    assert time.monotonic() - start < 10  # not until the disk fills or the deadline passes
    assert verify(path, spec) is not None
    assert [r.split("/")[1] for r in mirror.requests] == ["endless", "good"]
    assert max_download_bytes(spec) < mirror.bytes_sent < max_download_bytes(spec) + 4 * 2**20
    assert not list(path.parent.glob("*.part"))


def test_an_endless_mirror_is_named_with_the_size_it_exceeded(spec, mirror, isolated_cache):
    from mnist_analysis.data.downloads import max_download_bytes

    with pytest.raises(DownloadError) as caught:
        download(spec, urls=[mirror.url("endless", spec.filename)], timeout=5, progressbar=False)
    message = str(caught.value)
    assert f"sent more than {max_download_bytes(spec):,} bytes, more than the registered file can take" in message


def test_a_decoded_array_whose_stamp_was_rewritten_after_a_byte_flip_is_caught_by_fetch(spec, labels, tmp_path):
    """The stamp is no content hash (re-hashing every load costs ~0.3 s against a 50 ms warm load): a flip
    hidden by a rewritten stamp is caught by ``fetch``, which re-hashes, and the docs say so."""
    from mnist_analysis.data import sources

    write_idx(tmp_path / spec.filename, labels)
    assert (load_array(spec.key, data_dir=tmp_path) == labels).all()
    npy = sources.array_cache_path(spec)
    stamp = sources._read_stamp(npy)
    with open(npy, "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([labels[-1] ^ 1]))
    sources._write_stamp(npy, spec, stamp["source"])  # the hostile part: the stamp rewritten to match
    assert load_array(spec.key, data_dir=tmp_path)[-1] == labels[-1] ^ 1  # what the stamp cannot see ...
    note = sources.fetch(spec.key, data_dir=tmp_path, progressbar=False).note
    assert f"decoded cache failed verification and was rebuilt ({npy})" in note  # ... fetch does
    assert (load_array(spec.key, data_dir=tmp_path) == labels).all()
    doc = sources.__doc__
    assert "The stamp is not a hash of the content" in doc
    assert "`mnist-analysis fetch`" in doc


def test_info_says_truthfully_what_serves_a_cached_array_without_its_source(spec, labels, tmp_path, capsys):
    from mnist_analysis.cli import main

    write_idx(tmp_path / spec.filename, labels)
    load_array(spec.key, data_dir=tmp_path)
    (tmp_path / spec.filename).unlink()
    main(["info", "--data-dir", str(tmp_path)])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(spec.filename))
    assert "served while its stamp shows it unchanged since it was verified; `mnist-analysis fetch` re-hashes" in line
    assert "served only if it verifies" not in line


@pytest.mark.parametrize("setting", [" , ,", ",", "  "])
def test_mirrors_naming_no_url_are_said_so_not_a_crash(spec, tmp_path, setting, monkeypatch, capsys):
    from mnist_analysis.cli import main

    monkeypatch.setenv("MNIST_ANALYSIS_MIRRORS", setting)
    code = main(["info", "--data-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert "unexpected" not in captured.err
    assert "IndexError" not in captured.err
    missing = next(line for line in captured.out.splitlines() if line.startswith(spec.filename))
    if setting.strip():
        assert code == 0
        assert "names no URL" in captured.out
        assert "cannot download it" in missing
        with pytest.raises(
            DownloadError,
            match="no URL to try: MNIST_ANALYSIS_MIRRORS=' , ,' names no base URL"
            if setting == " , ,"
            else "no URL to try",
        ):
            download(spec, progressbar=False)
