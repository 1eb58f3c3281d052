"""The result cache's key follows the code that runs: edits after import, reloads, settings, frames, callables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mnist_analysis
from mnist_analysis import measurements, morphometrics, running_code
from mnist_analysis.caching import cache, fingerprints
from tests.helpers import bar_digits as digits
from tests.helpers import cache_entries as entries
from tests.helpers import edit

PACKAGE = Path(mnist_analysis.__file__).resolve().parent


def package_site(tmp_path: Path) -> Path:
    """A copy of the package on a folder of its own, for child processes to import (PYTHONPATH)."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "mnist_analysis", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def run_child(code: str, site: Path) -> dict:
    """Run ``code`` in a fresh Python on the copy ``site``; return the JSON it printed last, with its warnings."""
    env = {**os.environ, "PYTHONPATH": str(site), "MNIST_ANALYSIS_CACHE_DIR": str(cache.cache_dir())}
    process = subprocess.run(
        [sys.executable, "-W", "always", "-c", textwrap.dedent(code)],
        env=env,
        cwd=site,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return {**json.loads(process.stdout.strip().splitlines()[-1]), "stderr": process.stderr}


# ----------------------------------------------------------------------------- the code that runs
@pytest.mark.slow
def test_a_file_edited_after_import_leaves_nothing_the_new_code_would_not_compute(tmp_path):
    """The issue's reproduction: a kernel imports, the file is edited, the kernel computes; then a fresh process."""
    site = package_site(tmp_path)
    source = site / "mnist_analysis" / "measurements.py"
    kernel = f"""
        import json, pathlib, numpy as np
        from mnist_analysis import measurements
        assert measurements.__file__.startswith({str(site)!r})
        path = pathlib.Path(measurements.__file__)
        path.write_text(path.read_text().replace('"ink": mass / 255.0', '"ink": 2 * mass / 255.0'))
        images = np.full((2, 28, 28), 200, np.uint8)
        print(json.dumps({{"ink": measurements.measure(images)["ink"].tolist()}}))
    """
    fresh = """
        import json, numpy as np
        from mnist_analysis import measurements
        print(json.dumps({"ink": measurements.measure(np.full((2, 28, 28), 200, np.uint8))["ink"].tolist()}))
    """
    old_code = run_child(kernel, site)
    assert "restart the process (the kernel)" in old_code["stderr"]
    assert entries("measurements") == []  # the old code's result is not stored under the new code's key
    new_code = run_child(fresh, site)
    assert new_code["ink"] == [2 * ink for ink in old_code["ink"]]
    assert len(entries("measurements")) == 1
    assert run_child(fresh, site)["ink"] == new_code["ink"]  # and it is cached for the next process
    assert "ink" in source.read_text()


@pytest.mark.slow
def test_a_reloaded_module_whose_old_functions_others_hold_is_not_cached(tmp_path):
    site = package_site(tmp_path)
    kernel = """
        import importlib, json, pathlib, warnings, numpy as np
        from mnist_analysis import measurements, validation
        path = pathlib.Path(validation.__file__)
        path.write_text(path.read_text() + "\\n\\nRELOADED = True\\n")
        importlib.reload(validation)  # measurements still holds the old grey_levels, image_stack...
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            measurements.measure(np.full((2, 28, 28), 200, np.uint8))
        print(json.dumps({"warnings": [str(w.message) for w in caught]}))
    """
    child = run_child(kernel, site)
    assert any("validation was reloaded with other code" in w for w in child["warnings"]), child["warnings"]
    assert entries("measurements") == []


def test_a_module_file_that_differs_from_what_runs_is_neither_read_nor_written(tmp_path, monkeypatch):
    images = digits()
    expected = measurements.measure(images)
    assert len(entries("measurements")) == 1
    copy = tmp_path / "copy" / "mnist_analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "_ROOT", copy)  # the files on disk, as an editor left them
    edit(copy / "measurements.py", "def _skeleton_length(", "def _edited():\n    return 0\n\n\ndef _skeleton_length(")
    shutil.rmtree(entries("measurements")[0])
    with pytest.warns(UserWarning, match="measurements changed on disk after this process imported it"):
        pd.testing.assert_frame_equal(measurements.measure(images), expected)
    assert entries("measurements") == []
    with pytest.raises(fingerprints.CodeChangedError, match="restart the process"):
        cache.key_parts(measurements._measure_uncached, images, 128)


def test_the_recorded_source_is_the_source_that_was_compiled():
    (recorded,) = running_code.imported_digests("mnist_analysis.measurements")
    assert recorded == fingerprints.hashlib.sha256((PACKAGE / "measurements.py").read_bytes()).hexdigest()
    code = cache.key_parts(measurements._measure_uncached, digits(), 128)["code"]
    assert code["mnist_analysis.measurements"] == recorded


# ----------------------------------------------------------------------------- settings
def test_a_changed_setting_is_keyed_and_reaches_the_worker_processes():
    images = digits(300)  # more than one chunk: the work goes to two worker processes
    default = morphometrics.morphometrics(images)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(morphometrics, "THRESHOLD", 0.2)
        key = cache.key_parts(morphometrics._morphometrics_table, images)
        assert key["settings"] == {"mnist_analysis.morphometrics.THRESHOLD": "0.2"}
        changed = morphometrics.morphometrics(images)
        assert not np.allclose(changed["area"], default["area"])
        pd.testing.assert_frame_equal(changed, morphometrics.morphometrics(images, n_jobs=1, cache=False))
        assert len(entries("morphometrics")) == 2
    assert cache.key_parts(morphometrics._morphometrics_table, images)["settings"] == {}
    pd.testing.assert_frame_equal(morphometrics.morphometrics(images), default)
    assert len(entries("morphometrics")) == 2


def test_a_setting_mutated_in_place_is_keyed(monkeypatch):
    from mnist_analysis import embeddings

    before = cache.key_parts(embeddings._compute_umap, np.zeros((4, 2)))
    monkeypatch.setitem(embeddings.FAST_UMAP, "n_neighbors", 5)
    after = cache.key_parts(embeddings._compute_umap, np.zeros((4, 2)))
    assert after["settings"] != before["settings"]
    assert '"n_neighbors": {"int": 5}' in after["settings"]["mnist_analysis.embeddings.FAST_UMAP"]


def test_a_setting_given_an_object_or_a_replaced_function_is_computed_without_the_cache(monkeypatch):
    images = digits()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(measurements, "_skeleton_length", lambda *args: 0)
        with pytest.warns(UserWarning, match="_skeleton_length was replaced in this process"):
            measurements.measure(images)
    monkeypatch.setattr(measurements, "INK_THRESHOLD", object())
    with pytest.warns(UserWarning, match="measurements.INK_THRESHOLD was set to a value the cache cannot key"):
        measurements.measure(images)
    assert entries("measurements") == []


# ----------------------------------------------------------------------------- inputs and callables
def test_frames_are_keyed_by_category_order_index_and_names():
    frame = pd.DataFrame({"group": pd.Categorical(["census", "student"], categories=["census", "student"])})
    digest = fingerprints.inputs_digest
    reordered = frame.assign(group=frame["group"].cat.reorder_categories(["student", "census"]))
    assert digest(frame) != digest(reordered)
    assert digest(frame) != digest(frame.assign(group=frame["group"].cat.as_ordered()))
    assert digest(frame) != digest(frame.rename_axis("row"))
    assert digest(frame) != digest(frame.set_axis([5, 6]))
    assert digest(frame) != digest(frame.rename(columns={"group": "writers"}))
    assert digest(frame) != digest(frame.rename_axis(columns="fields"))
    assert digest(frame["group"]) != digest(reordered["group"])
    assert digest(frame["group"]) != digest(frame["group"].rename_axis("row"))
    assert digest(frame) == digest(frame.copy())


def test_names_the_package_reexports_are_followed_to_their_module(tmp_path, monkeypatch):
    copy = tmp_path / "copy" / "mnist_analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "_ROOT", copy)
    (copy / "probe.py").write_text("from mnist_analysis import load_frame\nfrom . import load_sample\n")
    modules = fingerprints.code_closure("mnist_analysis.probe")[0]
    assert "mnist_analysis.data.loaders" in modules
    assert "mnist_analysis.data.idx" in modules


def test_the_closure_follows_imports_into_and_within_a_wing_and_runs_each_wings_init(tmp_path, monkeypatch):
    copy = tmp_path / "copy" / "mnist_analysis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "_ROOT", copy)
    (copy / "probe.py").write_text("def f():\n    from .data.loaders import load_frame\n")  # inside a function
    modules = fingerprints.code_closure("mnist_analysis.probe")[0]
    # the loaders' own relative imports (`from .registry`, `from ..validation`) are followed, and
    # importing `data.loaders` runs `data/__init__.py`, which is part of the code too
    assert {"mnist_analysis.data", "mnist_analysis.data.registry", "mnist_analysis.validation"} <= set(modules)
    assert (
        modules["mnist_analysis.data"]
        == fingerprints.hashlib.sha256((copy / "data" / "__init__.py").read_bytes()).hexdigest()
    )
    # a module of a wing has its own wing's __init__ in its closure
    assert "mnist_analysis.data" in fingerprints.code_closure("mnist_analysis.data.idx")[0]
    # the caching wing stores results and makes keys: counted as storage, not as code that computes
    closure = fingerprints.code_closure("mnist_analysis.measurements")[0]
    assert closure["mnist_analysis.caching.cache"] == closure["mnist_analysis.caching"] == "storage"


def test_callables_without_a_key_are_refused():
    class Holder:
        def method(self, images):
            return images

    images = digits()
    refused = [
        Holder().method,
        partial(measurements.measure, threshold=100),
        lambda images: images,
        np.sum,
    ]
    for function in refused:
        with pytest.raises(TypeError, match="module-level function of mnist_analysis"):
            cache.cached_call("examples", function, images)


def test_an_old_function_object_from_before_a_reload_is_refused(monkeypatch):
    stale = measurements._measure_uncached
    monkeypatch.setattr(measurements, "_measure_uncached", lambda images, threshold: images)
    with pytest.raises(TypeError, match=r"not what mnist_analysis.measurements defines now"):
        cache.cached_call("examples", stale, digits(), 128)


def test_the_storage_format_is_keyed_by_its_code():
    parts = cache.key_parts(measurements._measure_uncached, digits(), 128)
    stored = (PACKAGE / "caching" / "stored_results.py").read_bytes()
    assert parts["format"] == fingerprints.hashlib.sha256(stored).hexdigest()
