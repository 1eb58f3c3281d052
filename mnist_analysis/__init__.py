"""mnist-analysis: know MNIST, not just train on it.

The names most analyses need are importable from the package itself::

    import mnist_analysis as mx
    images = mx.load_images("train")      # (60000, 28, 28) uint8, read-only
    labels = mx.load_labels("train")      # (60000,) uint8
    frame = mx.load_frame()               # one row per image, with QMNIST provenance

Importing the package reads no file, touches no network and changes no matplotlib
state: submodules load on first use, through an import hook that records the source each
one runs (:mod:`mnist_analysis.running_code`, so that cached results follow the code that
runs, not the files on disk).
"""

from __future__ import annotations

import importlib

from . import running_code

running_code.install()

__version__ = "0.1.0"

_EXPORTS = {
    "load_images": "mnist_analysis.data.loaders",
    "load_labels": "mnist_analysis.data.loaders",
    "load_frame": "mnist_analysis.data.loaders",
    "sample_frame": "mnist_analysis.data.loaders",
    "load_sample": "mnist_analysis.data.loaders",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mnist_analysis' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
