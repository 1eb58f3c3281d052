"""Shared pytest fixtures for the tests and the package's doctests.

Every test runs with its own empty cache folder and no data folder, so nothing touches the
user's cache and no test depends on another's leftovers. Tests that need the real MNIST and
QMNIST files ask for ``real_data``: it points ``MNIST_ANALYSIS_DATA_DIR`` at the folder given
in the environment, and is skipped only outside CI; with ``CI=true`` missing data fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

from mnist_analysis.data.registry import REGISTRY
from mnist_analysis.data.sources import DATA_DIR_ENV, candidate_paths

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"

#: The data folder given to the test run (read once, before the fixtures clear it per test).
REAL_DATA_DIR = os.environ.get(DATA_DIR_ENV)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """A fresh cache folder and no data folder or mirror override for every test."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(cache))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("MNIST_ANALYSIS_MIRRORS", raising=False)
    return cache


def _missing_real_files(folder) -> list[str]:
    return [spec.filename for spec in REGISTRY.values() if not any(p.is_file() for p in candidate_paths(folder, spec))]


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder with the real data files; fails under CI, skips elsewhere, when it is missing."""
    problem = None
    if not REAL_DATA_DIR:
        problem = f"{DATA_DIR_ENV} is not set"
    elif not Path(REAL_DATA_DIR).is_dir():
        problem = f"{DATA_DIR_ENV}={REAL_DATA_DIR} is not a folder"
    elif missing := _missing_real_files(REAL_DATA_DIR):
        problem = f"{DATA_DIR_ENV}={REAL_DATA_DIR} lacks {', '.join(missing)}"
    if problem:
        message = f"real-data test needs the MNIST/QMNIST files: {problem} (see README, 'Working offline')"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return Path(REAL_DATA_DIR).resolve()


@pytest.fixture(scope="session")
def shared_real_cache(tmp_path_factory) -> Path:
    """One cache for all real-data tests of a session, so the 70,000 images are decoded once."""
    return tmp_path_factory.mktemp("real-cache")


@pytest.fixture
def real_data(isolated_cache, real_data_dir, shared_real_cache, monkeypatch) -> Path:
    """Point the loaders at the real data (and the session's shared cache)."""
    monkeypatch.setenv(DATA_DIR_ENV, str(real_data_dir))
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(shared_real_cache))
    return real_data_dir


@pytest.fixture(scope="session")
def quick_reports(real_data_dir, shared_real_cache, tmp_path_factory):
    """The quick report build of every notebook (built once a session): ``(results, reports folder)``."""
    from mnist_analysis.build.reports import build_reports

    reports = tmp_path_factory.mktemp("quick-reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_DIR_ENV, str(real_data_dir))
        patch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(shared_real_cache))
        results = build_reports(NOTEBOOKS, reports, quick=True, log=lambda *_: None)
    return results, reports


#: Doctests whose examples load the real data.
REAL_DATA_DOCTESTS = {
    "mnist_analysis.data.loaders.load_images",
    "mnist_analysis.data.loaders.load_labels",
    "mnist_analysis.data.loaders.load_frame",
    "mnist_analysis.data.sources.load_array",
}


@pytest.fixture(autouse=True)
def doctest_real_data(request, isolated_cache):
    """Give the data-loading doctests the real data, under the same CI rules as ``real_data``."""
    if isinstance(request.node, DoctestItem) and request.node.name in REAL_DATA_DOCTESTS:
        request.getfixturevalue("real_data")
