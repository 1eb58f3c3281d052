"""Croissant metadata: valid for mlcroissant, hashes that mean something, records equal to the loaders'."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mnist_analysis.build.croissant import (
    METADATA_NAME,
    RECORD_FIELDS,
    RECORD_SET,
    RECORDS_NAME,
    croissant_metadata,
    png_bytes,
    sha256_of_file,
)
from mnist_analysis.cli import main
from mnist_analysis.data.registry import REGISTRY


def import_mlcroissant():
    """``mlcroissant``, a test dependency (pyproject [test], installed by `make test`).

    Without it the tests that read metadata back fail under ``CI=true`` and skip elsewhere, as
    the real-data and browser tests do (see conftest.py and tests/chromium.py).
    """
    try:
        return importlib.import_module("mlcroissant")
    except ImportError as error:
        message = f"mlcroissant cannot be imported ({error}): `make test` installs it (pyproject [test])"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def mlc():
    return import_mlcroissant()


def records(dataset, n):
    found = []
    for record in dataset.records(RECORD_SET):
        found.append(
            {
                key.split("/", 1)[1]: value.decode() if isinstance(value, bytes) else value
                for key, value in record.items()
            }
        )
        if len(found) == n:
            break
    return found


def small_dataset(folder):
    """A Croissant folder with fake raw files and three records, written through croissant_metadata."""
    raw = []
    for spec in REGISTRY.values():
        path = folder / "raw" / spec.filename
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(gzip.compress(spec.key.encode()))
        raw.append((spec, f"raw/{spec.filename}", sha256_of_file(path), "data folder"))
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    table = pd.DataFrame(
        {
            "split": ["train", "train", "test"],
            "index": [0, 1, 0],
            "label": [5, 0, 7],
            "writer_id": [11, 12, 13],
            "writer_group": ["student", "census", "census"],
            "image": png_bytes(images),
        }
    )
    table.to_parquet(folder / RECORDS_NAME, index=False)
    metadata = croissant_metadata(raw, sha256_of_file(folder / RECORDS_NAME))
    (folder / METADATA_NAME).write_text(json.dumps(metadata))
    return folder / METADATA_NAME, table, images


def test_metadata_is_valid_croissant_and_its_records_read_back(mlc, tmp_path):
    path, _table, images = small_dataset(tmp_path)
    dataset = mlc.Dataset(jsonld=str(path))  # raises on any validation error
    assert not dataset.metadata.ctx.issues.errors
    assert "@context" not in str(dataset.metadata.ctx.issues.warnings)  # the standard context
    read = records(dataset, 10)
    assert [r["label"] for r in read] == [5, 0, 7]
    assert [r["writer_group"] for r in read] == ["student", "census", "census"]
    assert [r["split"] for r in read] == ["train", "train", "test"]
    for record, image in zip(read, images):
        assert np.array_equal(np.asarray(record["image"]), image)


def test_metadata_lists_every_file_with_the_hash_of_its_bytes(tmp_path):
    path, _, _ = small_dataset(tmp_path)
    metadata = json.loads(path.read_text())
    files = {f["@id"]: f for f in metadata["distribution"]}
    assert set(files) == set(REGISTRY) | {"records"}
    for key, spec in REGISTRY.items():
        entry = files[key]
        assert entry["sha256"] == hashlib.sha256((tmp_path / entry["contentUrl"]).read_bytes()).hexdigest()
        assert entry["sha256"] != spec.sha256  # the hash of the gzip'd bytes, not the registry's decompressed one
        assert spec.sha256 in entry["description"]
        assert "decompressed" in entry["description"]
        assert entry["encodingFormat"] == "application/gzip"
    fields = metadata["recordSet"][0]["field"]
    assert [f["name"] for f in fields] == list(RECORD_FIELDS)
    assert next(f for f in fields if f["name"] == "image")["dataType"] == "sc:ImageObject"


def test_mlcroissant_refuses_records_that_do_not_match_their_hash(mlc, tmp_path):
    path, table, _ = small_dataset(tmp_path)
    table.assign(label=[5, 0, 1]).to_parquet(tmp_path / RECORDS_NAME, index=False)  # a label changed after hashing
    with pytest.raises(Exception, match="Download\\(records\\)") as raised:
        records(mlc.Dataset(jsonld=str(path)), 3)
    causes, error = [], raised.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__ or error.__context__
    assert any("Hash of downloaded file" in cause for cause in causes), causes


def test_png_bytes_refuses_non_images():
    with pytest.raises(ValueError, match=r"images: expected uint8 images of shape \(n, height, width\), found float64"):
        png_bytes(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="found uint8 array of shape"):
        png_bytes(np.zeros((28, 28), np.uint8))


def test_command_refuses_a_file_as_output_in_one_line(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["croissant", "--output", str(target)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert str(target) in error
    assert "is a file" in error
    assert target.read_text() == "keep me"


@pytest.fixture(scope="module")
def real_croissant(real_data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("croissant")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_ANALYSIS_DATA_DIR", str(real_data_dir))
        patch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path_factory.mktemp("croissant-cache")))
        assert main(["croissant", "--output", str(folder)]) == 0
    return folder


@pytest.mark.realdata
@pytest.mark.slow
def test_real_croissant_validates_and_first_records_match_the_loaders(mlc, real_croissant, real_data):
    from mnist_analysis import load_frame, load_images

    dataset = mlc.Dataset(jsonld=str(real_croissant / METADATA_NAME))
    assert not dataset.metadata.ctx.issues.errors
    n = 25
    read = records(dataset, n)
    frame, images = load_frame("train").iloc[:n], load_images("train")[:n]
    for record, row, image in zip(read, frame.itertuples(), images):
        assert (record["split"], record["index"], record["label"], record["writer_id"], record["writer_group"]) == (
            row.split,
            row.index,
            row.label,
            row.writer_id,
            row.writer_group,
        )
        assert np.array_equal(np.asarray(record["image"]), image)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_croissant_holds_every_image_and_the_verified_raw_files(real_croissant, real_data):
    from mnist_analysis import load_frame, load_images

    table = pd.read_parquet(real_croissant / RECORDS_NAME)
    frame = load_frame("all")
    assert len(table) == 70_000
    assert table[["split", "index", "label", "writer_id"]].equals(
        frame[["split", "index", "label", "writer_id"]].astype({"split": str})
    )
    last = np.asarray(Image.open(io.BytesIO(table["image"].iloc[-1])))
    assert np.array_equal(last, load_images("test")[-1])
    metadata = json.loads((real_croissant / METADATA_NAME).read_text())
    for entry in metadata["distribution"]:
        path = real_croissant / entry["contentUrl"]
        assert entry["sha256"] == sha256_of_file(path)
        if entry["@id"] in REGISTRY:
            data = path.read_bytes()
            content = gzip.decompress(data) if entry["contentUrl"].endswith(".gz") else data
            assert hashlib.sha256(content).hexdigest() == REGISTRY[entry["@id"]].sha256


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_mlcroissant_fails_under_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.setitem(sys.modules, "mlcroissant", None)  # import raises ImportError
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="mlcroissant cannot be imported"):
        import_mlcroissant()
