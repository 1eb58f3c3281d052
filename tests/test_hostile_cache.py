"""The result cache against a hostile or unlucky disk: entries reaching outside, files omitted or added, read-only."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import embeddings, measurements
from mnist_analysis.caching import cache
from mnist_analysis.cli import main
from mnist_analysis.utils import sha256_of_file
from tests.helpers import read_only


def digits(n: int = 6) -> np.ndarray:
    images = np.zeros((n, 28, 28), np.uint8)
    for i, image in enumerate(images):
        image[4 + i : 20 + i, 10 : 13 + i % 3] = 255
    return images


def only_entry(kind: str) -> Path:
    (entry,) = [p.parent for p in (cache.cache_dir() / cache.COMPUTED / kind).glob("*/entry.json")]
    return entry


def rewrite(entry: Path, change) -> None:
    manifest = json.loads((entry / "entry.json").read_text())
    change(manifest)
    (entry / "entry.json").write_text(json.dumps(manifest))


def listing(path: Path) -> dict:
    return {"sha256": sha256_of_file(path), "size": path.stat().st_size}


@pytest.mark.parametrize("where", ["parent", "absolute"])
def test_an_entry_naming_a_file_outside_its_folder_is_refused(tmp_path, where):
    images = digits()
    expected = measurements.measure(images)
    entry = only_entry("measurements")
    outside = tmp_path / "planted.parquet"
    expected.assign(ink=-1.0).to_parquet(outside)  # a plausible table with wrong numbers
    name = str(outside) if where == "absolute" else os.path.relpath(outside, entry)  # ../../../planted.parquet

    def plant(manifest):
        manifest["layout"]["frame"] = name
        manifest["files"] = {name: listing(outside)}

    rewrite(entry, plant)
    with pytest.warns(UserWarning, match="not a numbered data file of the entry"):
        result = measurements.measure(images)
    pd.testing.assert_frame_equal(result, expected)


def test_an_entry_whose_file_list_omits_a_file_its_layout_uses_is_refused():
    images = digits()
    expected = measurements.measure(images)
    entry = only_entry("measurements")
    data = entry / "0.parquet"
    expected.assign(ink=-1.0).to_parquet(data)  # altered, and no longer listed
    rewrite(entry, lambda manifest: manifest.update(files={}))
    with pytest.warns(UserWarning, match="the entry's list of verified files omits"):
        result = measurements.measure(images)
    pd.testing.assert_frame_equal(result, expected)


def test_an_entry_listing_a_file_its_layout_does_not_use_is_refused():
    images = digits()
    measurements.measure(images)
    entry = only_entry("measurements")
    extra = entry / "1.npy"
    np.save(extra, np.zeros(3))
    rewrite(entry, lambda manifest: manifest["files"].update({"1.npy": listing(extra)}))
    with pytest.warns(UserWarning, match="lists files its layout does not use"):
        measurements.measure(images)


@pytest.mark.parametrize("change", ["added", "removed"])
def test_a_table_with_a_column_added_or_removed_is_refused_even_with_its_hash_updated(change):
    images = digits()
    expected = measurements.measure(images)
    entry = only_entry("measurements")
    data = entry / "0.parquet"
    altered = expected.assign(extra=1.0) if change == "added" else expected.drop(columns="ink")
    altered.to_parquet(data)
    rewrite(entry, lambda manifest: manifest["files"].update({"0.parquet": listing(data)}))
    with pytest.warns(UserWarning, match="other columns or types than the result stored"):
        result = measurements.measure(images)
    pd.testing.assert_frame_equal(result, expected)


def test_a_bad_entry_that_cannot_be_removed_is_named_once_and_bypassed():
    images = digits()
    expected = measurements.measure(images)
    entry = only_entry("measurements")
    (entry / "0.parquet").write_bytes(b"garbage")
    with read_only(entry, entry.parent), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [measurements.measure(images) for _ in range(3)]
    for result in results:
        pd.testing.assert_frame_equal(result, expected)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert str(entry) in messages[0]
    assert "cannot be removed" in messages[0]


def test_cache_clear_with_a_read_only_entry_clears_the_rest_and_names_what_is_left(capsys):
    measurements.measure(digits())
    embeddings.pca(np.random.default_rng(0).normal(size=(20, 5)))
    stuck = only_entry("measurements")
    with read_only(stuck.parent):
        assert main(["cache", "clear"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "Traceback" not in error
    assert str(stuck) in error
    assert "could not remove" in error
    assert not list((cache.cache_dir() / cache.COMPUTED / "embeddings").glob("*/entry.json"))  # the rest went


def test_cache_lists_and_clears_the_executed_notebooks(capsys):
    executed = cache.cache_dir() / "notebooks" / "executed"
    for run in ("0a", "1b"):
        (executed / run).mkdir(parents=True)
        (executed / run / "base.ipynb").write_text("{}")
    profile = cache.cache_dir() / "notebooks" / "profile.json"
    profile.write_text("{}")
    set_aside = cache.cache_dir() / "notebooks.broken-20261205-051500-123"  # a damaged cache a build set aside
    (set_aside / "executed").mkdir(parents=True)
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert "notebooks" in shown
    assert "3 entries" in shown
    assert str(set_aside) in shown
    assert main(["cache", "clear", "notebooks"]) == 0
    assert not executed.exists()
    assert not set_aside.exists()
    assert profile.is_file()
