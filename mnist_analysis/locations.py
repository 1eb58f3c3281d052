"""Where the project reads and writes, and every environment variable that moves or changes it.

One home for the names a user may set (the README's "Working offline" section and
``mnist-analysis info`` list them), so that no module spells them on its own:

=============================  ==========================================================
``MNIST_ANALYSIS_CACHE_DIR``   the cache folder (default: the OS user cache folder)
``MNIST_ANALYSIS_DATA_DIR``    a folder holding the data files, used before any download
``MNIST_ANALYSIS_MIRRORS``     comma-separated base URLs to download from, in order
``MNIST_ANALYSIS_STATIC_HTML`` set by the report build: the explorer renders as a static page
=============================  ==========================================================

Nothing here creates a folder: that happens only when something is written into it.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MNIST_ANALYSIS_CACHE_DIR"
DATA_DIR_ENV = "MNIST_ANALYSIS_DATA_DIR"
MIRRORS_ENV = "MNIST_ANALYSIS_MIRRORS"
STATIC_ENV = "MNIST_ANALYSIS_STATIC_HTML"
#: Sub-folder of :func:`cache_dir` that holds computed results, one folder per kind.
COMPUTED = "computed"


def cache_dir() -> Path:
    """Return the cache folder: ``$MNIST_ANALYSIS_CACHE_DIR`` or the OS user cache.

    Examples
    --------
    >>> cache_dir().is_absolute() or CACHE_ENV in os.environ
    True
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mnist-analysis"))


def cached_path(spec) -> Path:
    """Where a downloaded copy of the registered file ``spec`` is kept in the cache."""
    return cache_dir() / spec.subdir / spec.filename
