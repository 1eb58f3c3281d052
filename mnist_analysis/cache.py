"""Where the project keeps what it can recompute: verified downloads, decoded arrays, results.

The cache lives in the operating system's user cache folder (for example
``~/.cache/mnist-analysis`` on Linux); set ``MNIST_ANALYSIS_CACHE_DIR`` to move it.
Nothing here creates a folder until something is written into it.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MNIST_ANALYSIS_CACHE_DIR"


def cache_dir() -> Path:
    """Return the cache folder: ``$MNIST_ANALYSIS_CACHE_DIR`` or the OS user cache.

    Examples
    --------
    >>> from mnist_analysis.cache import cache_dir
    >>> cache_dir().is_absolute() or "MNIST_ANALYSIS_CACHE_DIR" in os.environ
    True
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # what pooch.os_cache uses, without importing pooch (and its tqdm) here

    return Path(platformdirs.user_cache_dir("mnist-analysis"))


def memory(name: str = "results"):
    """Return a :class:`joblib.Memory` rooted in ``cache_dir() / name``.

    Results cached through it are keyed by the function's code and the content of its
    arguments, so computed embeddings and fitted models survive between sessions.

    Examples
    --------
    >>> from mnist_analysis.cache import memory
    >>> mem = memory()
    >>> mem.location.endswith("results")
    True
    """
    import joblib

    return joblib.Memory(location=str(cache_dir() / name), verbose=0)
