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

The keyed stores
----------------
Seven stores keep work for reuse; this list is their one inventory (a new store is added here).
Each is reused only when its key matches and its content verifies; anything else is recomputed
or fetched again, never served.

- **downloaded files**, ``<cache>/<subdir>/<file name>`` (:func:`cached_path`): named by the
  registry's entry; used only after its decompressed content matches the registered SHA-256
  (:mod:`mnist_analysis.data.checksums`), written whole or not at all
  (:mod:`mnist_analysis.data.downloads`).

- **computed results**, ``<cache>/computed/<kind>/<key>/``: keyed by the inputs' content, the
  code that runs and its changed settings, the storage format and the library versions
  (:mod:`mnist_analysis.caching.cache`); every file verified by SHA-256, every table by its columns.
- **decoded arrays**, ``<cache>/arrays/*.npy`` with ``*.stamp.json``: named by the registered
  file's SHA-256, verified by content when written; the stamp records the ``.npy`` file's and
  its source's size, times and inode, so a replaced file is re-hashed
  (:mod:`mnist_analysis.data.sources` says what it cannot detect; ``mnist-analysis fetch`` re-hashes).
- **executed notebooks**, ``<cache>/notebooks/`` (jupyter-cache): keyed by the code cells,
  the parameters, the project code they import and the library versions; each run bound to
  its notebook's path and code, its outputs checksummed (:mod:`mnist_analysis.build.execution_cache`).
- **rendered pages**, ``<reports>/.<notebook>.render.json``: keyed by the executed
  notebook's SHA-256 and the renderer's (the reports module's source, the ``mnist_report``
  template, ``hide_code``, nbconvert and the libraries it requires); the page verified by its
  SHA-256 (:mod:`mnist_analysis.build.reports`).
- **schedule profiles**, ``<cache>/notebooks/profile.json``: one per set of notebook
  parameters; only positive times and peaks are read (:mod:`mnist_analysis.build.schedule`).
- **import names**, ``<cache>/computed/.import-names.json``: which installed distribution
  provides each import name, keyed by the folders of ``sys.path`` and their modification times;
  the versions themselves are always read fresh (:mod:`mnist_analysis.caching.fingerprints`).
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
