"""The result cache: keyed by inputs, code and library versions; verified; never a pickle; safe to share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mnist_analysis
from mnist_analysis import measurements
from mnist_analysis.caching import cache, fingerprints
from mnist_analysis.cli import main
from mnist_analysis.utils import sha256_of_file
from tests.helpers import bar_digits as digits
from tests.helpers import cache_entries as entries
from tests.helpers import edit

PACKAGE = Path(mnist_analysis.__file__).resolve().parent


@pytest.fixture
def package_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the package's sources that the key is computed from (edit it freely)."""
    copy = tmp_path / "copy" / "mnist_analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "_ROOT", copy)
    return copy


def closure(module: str = "mnist_analysis.measurements") -> dict:
    """The code part of a key as the package's files now say (what a fresh process would run)."""
    return fingerprints.code_closure(module)[0]


# ----------------------------------------------------------------------------- what the key covers
def test_editing_a_helper_the_computation_calls_changes_the_key(package_copy):
    before = closure()
    edit(
        package_copy / "measurements.py",
        "def _skeleton_length(",
        "def _unused_helper():\n    return 0\n\n\ndef _skeleton_length(",
    )
    assert closure() != before
    assert closure()["mnist_analysis.measurements"] != before["mnist_analysis.measurements"]


def test_editing_an_unrelated_module_keeps_the_key(package_copy):
    before = closure()
    for unrelated in ("plotting.py", "cli.py", "build/reports.py", "embeddings.py"):
        edit(package_copy / unrelated, '"""', '"""Edited. ')
    assert closure() == before


def test_editing_a_module_imported_indirectly_changes_the_key(package_copy):
    # models -> measurements (deskewing): editing measurements must recompute model results.
    before = closure("mnist_analysis.models")
    edit(package_copy / "measurements.py", "def deskew(", "def _added():\n    return 1\n\n\ndef deskew(")
    assert closure("mnist_analysis.models") != before


def test_the_key_names_the_library_versions_the_code_imports():
    parts = cache.key_parts(measurements._measure_uncached, digits(), 128)
    assert {"scikit-image", "scipy", "numpy", "pandas", "python"} <= set(parts["libraries"])
    assert "umap-learn" not in parts["libraries"]  # measurements never import umap
    assert "mnist_analysis.measurements" in parts["code"]
    assert "mnist_analysis.plotting" not in parts["code"]


def test_a_changed_library_version_recomputes(monkeypatch):
    images = digits()
    first = measurements.measure(images)
    assert len(entries("measurements")) == 1
    measurements.measure(images)
    assert len(entries("measurements")) == 1
    real_version = fingerprints._version
    monkeypatch.setattr(fingerprints, "_version", lambda d: "0.0.1" if d == "scikit-image" else real_version(d))
    pd.testing.assert_frame_equal(measurements.measure(images), first)
    assert len(entries("measurements")) == 2


def test_inputs_are_keyed_by_content_shape_and_dtype():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert fingerprints.inputs_digest(a) == fingerprints.inputs_digest(np.asfortranarray(a))
    assert fingerprints.inputs_digest(a) != fingerprints.inputs_digest(a.reshape(4, 3))
    assert fingerprints.inputs_digest(a) != fingerprints.inputs_digest(a.astype(np.uint16))
    b = a.copy()
    b[2, 3] = 0
    assert fingerprints.inputs_digest(a) != fingerprints.inputs_digest(b)
    frame = pd.DataFrame({"x": [1, 2]})
    assert fingerprints.inputs_digest(frame) != fingerprints.inputs_digest(frame.assign(x=[1, 3]))
    assert fingerprints.inputs_digest(np.array(["train", "test"], dtype=object)) != fingerprints.inputs_digest(
        np.array(["test", "train"], dtype=object)
    )
    assert fingerprints.inputs_digest(1) != fingerprints.inputs_digest(1.0) != fingerprints.inputs_digest("1")


def test_arguments_without_a_content_key_are_refused():
    with pytest.raises(TypeError, match="cannot key an argument of type object"):
        cache.cached_call("examples", measurements.measure, object())
    with pytest.raises(TypeError, match="module-level function of mnist_analysis"):
        cache.cached_call("examples", np.sum, np.zeros(3))


def test_cache_false_reads_and_writes_nothing():
    measurements.measure(digits(), cache=False)
    assert not (cache.cache_dir() / cache.COMPUTED).exists()


# ----------------------------------------------------------------------------- stored safely, read verified
def test_results_round_trip_without_pickle():
    from mnist_analysis.models import fit_predict

    images, labels = digits(80), np.arange(80) % 2
    result = fit_predict("knn_pca", images, labels, images, seed=0)
    again = fit_predict("knn_pca", images, labels, images, seed=0)
    assert type(again).__name__ == "ModelResult"
    assert again.fit_seconds == result.fit_seconds
    np.testing.assert_array_equal(again.probabilities, result.probabilities)
    (entry,) = entries("models")
    assert sorted(p.suffix for p in entry.iterdir()) == [".json", ".npy", ".npy", ".npy"]
    for array in entry.glob("*.npy"):
        np.load(array, allow_pickle=False)  # raises if anything in it needs pickle


def test_a_planted_pickle_cannot_run_code(tmp_path):
    images = digits()
    expected = measurements.measure(images)
    (entry,) = entries("measurements")
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    planted = entry / "0.npy"
    np.save(planted, np.array([Payload()], dtype=object), allow_pickle=True)
    manifest = json.loads((entry / "entry.json").read_text())
    manifest["layout"] = {"array": "0.npy"}
    manifest["files"] = {"0.npy": {"sha256": sha256_of_file(planted), "size": planted.stat().st_size}}
    (entry / "entry.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="unusable"):
        result = measurements.measure(images)
    assert not marker.exists()
    pd.testing.assert_frame_equal(result, expected)


def test_a_layout_naming_a_class_outside_the_package_is_refused(tmp_path):
    images = digits()
    measurements.measure(images)
    (entry,) = entries("measurements")
    manifest = json.loads((entry / "entry.json").read_text())
    manifest["layout"] = {"dataclass": "subprocess:Popen", "fields": {"args": ["touch", str(tmp_path / "ran")]}}
    (entry / "entry.json").write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="refusing to build subprocess.Popen"):
        measurements.measure(images)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "entry-json", "missing"])
def test_damaged_entries_are_recomputed_and_rewritten(damage):
    images = digits()
    expected = measurements.measure(images)
    (entry,) = entries("measurements")
    data = entry / "0.parquet"
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[:100])
    elif damage == "garbage":
        data.write_bytes(os.urandom(data.stat().st_size))
    elif damage == "flip":
        content = bytearray(data.read_bytes())
        content[len(content) // 2] ^= 0xFF
        data.write_bytes(bytes(content))
    elif damage == "entry-json":
        (entry / "entry.json").write_text("{not json")
    else:
        data.unlink()
    with pytest.warns(UserWarning, match="unusable"):
        result = measurements.measure(images)
    pd.testing.assert_frame_equal(result, expected)
    (entry,) = entries("measurements")
    pd.testing.assert_frame_equal(pd.read_parquet(entry / "0.parquet"), expected)


def test_an_unwritable_cache_still_returns_the_result(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(cache.stored_results, "write_entry", refuse)
    with pytest.warns(UserWarning, match="could not store the measurements result"):
        result = measurements.measure(digits())
    pd.testing.assert_frame_equal(result, measurements.measure(digits(), cache=False))


# ----------------------------------------------------------------------------- shared between processes
def run_python(code: str, env: dict, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.slow
def test_two_processes_computing_the_same_result_compute_it_once(tmp_path):
    log = tmp_path / "computed.log"
    code = f"""
        import numpy as np
        from mnist_analysis import measurements
        from mnist_analysis.caching import stored_results
        real = stored_results.write_entry
        def counted(*args, **kwargs):
            with open({str(log)!r}, "a") as handle:
                handle.write("computed\\n")
            return real(*args, **kwargs)
        stored_results.write_entry = counted
        images = np.random.default_rng(0).integers(0, 256, size=(3000, 28, 28)).astype(np.uint8)
        print(float(measurements.measure(images)["thickness"].sum()))
    """
    env = {**os.environ, "MNIST_ANALYSIS_CACHE_DIR": str(cache.cache_dir())}
    processes = [run_python(code, env) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [o[1][-2000:] for o in outputs]
    assert outputs[0][0] == outputs[1][0]
    assert log.read_text().splitlines() == ["computed"]
    assert len(entries("measurements")) == 1
    assert not list((cache.cache_dir() / cache.COMPUTED / "measurements").glob(".*.part"))


@pytest.mark.slow
def test_an_edited_copy_of_the_package_recomputes_end_to_end(tmp_path):
    copy = tmp_path / "site" / "mnist_analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "MNIST_ANALYSIS_CACHE_DIR": str(cache.cache_dir()), "PYTHONPATH": str(copy.parent)}
    code = f"""
        import numpy as np, mnist_analysis
        from mnist_analysis import measurements
        assert mnist_analysis.__file__.startswith({str(copy.parent)!r})
        measurements.measure(np.full((2, 28, 28), 200, np.uint8))
    """

    def run_and_count() -> int:
        process = run_python(code, env, cwd=tmp_path)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        return len(entries("measurements"))

    assert run_and_count() == 1
    assert run_and_count() == 1  # unchanged code: read from the cache
    edit(copy / "plotting.py", '"""', '"""Edited. ')
    assert run_and_count() == 1  # unrelated module
    edit(copy / "measurements.py", "def _skeleton_length(", "def _helper():\n    return 0\n\n\ndef _skeleton_length(")
    assert run_and_count() == 2  # the computation's own code
    edit(copy / "caching" / "stored_results.py", "def _umask(", "def _unused():\n    return 0\n\n\ndef _umask(")
    assert run_and_count() == 3  # how results are encoded: no number to bump by hand


# ----------------------------------------------------------------------------- looking at and clearing it
def test_cache_command_shows_and_clears_kinds(capsys):
    measurements.measure(digits())
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert "measurements" in shown
    assert "1 entries" in shown
    assert str(cache.cache_dir()) in shown
    legacy = cache.cache_dir() / "results" / "joblib"
    legacy.mkdir(parents=True)
    (legacy / "output.pkl").write_bytes(b"old")
    assert main(["cache", "clear", "measurements"]) == 0
    assert entries("measurements") == []
    assert legacy.exists()
    assert main(["cache", "clear"]) == 0
    assert not legacy.exists()
    assert main(["cache", "clear", "nonsense"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "kind: expected one of the cached kinds" in error
