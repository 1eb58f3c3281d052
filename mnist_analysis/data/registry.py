"""The six data files the project uses, with pinned hashes and where to download them.

Hashes are SHA-256 of the *decompressed* content, so the originally distributed archives
and any recompressed copy (or an uncompressed file) verify alike. The MD5 values published
with MNIST for the uncompressed files are kept too, as a cross-check a reader can do by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..locations import MIRRORS_ENV

#: Base URLs tried in order; a file's URL is the base followed by its file name.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
QMNIST_MIRRORS = ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/",)


@dataclass(frozen=True)
class DataFile:
    """One registered file: its name, what it holds and how to verify it."""

    key: str  #: short name used by the API, e.g. ``"train-images"``
    filename: str  #: the distributed file name, ``.gz`` included
    subdir: str  #: ``"mnist"`` or ``"qmnist"``: subfolder in a data folder and in the cache
    sha256: str  #: of the decompressed content
    size: int  #: decompressed size in bytes
    shape: tuple  #: the array it holds
    dtype: str  #: its element type
    mirrors: tuple  #: base URLs, tried in order
    md5: str | None = None  #: published MD5 of the decompressed content, where there is one

    @property
    def stem(self) -> str:
        """The file name without ``.gz`` (how an uncompressed copy is named)."""
        return self.filename.removesuffix(".gz")

    def urls(self) -> list[str]:
        """Download URLs in order; ``$MNIST_ANALYSIS_MIRRORS`` (comma-separated bases) replaces the defaults."""
        configured = os.environ.get(MIRRORS_ENV, "").strip()
        bases = [b.strip() for b in configured.split(",") if b.strip()] if configured else list(self.mirrors)
        return [base.rstrip("/") + "/" + self.filename for base in bases]


REGISTRY = {
    f.key: f
    for f in (
        DataFile(
            "train-images",
            "train-images-idx3-ubyte.gz",
            "mnist",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            47_040_016,
            (60_000, 28, 28),
            "uint8",
            MNIST_MIRRORS,
            md5="6bbc9ace898e44ae57da46a324031adb",
        ),
        DataFile(
            "train-labels",
            "train-labels-idx1-ubyte.gz",
            "mnist",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            60_008,
            (60_000,),
            "uint8",
            MNIST_MIRRORS,
            md5="a25bea736e30d166cdddb491f175f624",
        ),
        DataFile(
            "test-images",
            "t10k-images-idx3-ubyte.gz",
            "mnist",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            7_840_016,
            (10_000, 28, 28),
            "uint8",
            MNIST_MIRRORS,
            md5="2646ac647ad5339dbf082846283269ea",
        ),
        DataFile(
            "test-labels",
            "t10k-labels-idx1-ubyte.gz",
            "mnist",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            10_008,
            (10_000,),
            "uint8",
            MNIST_MIRRORS,
            md5="27ae3e4e09519cfbb04c329615203637",
        ),
        DataFile(
            "qmnist-train",
            "qmnist-train-labels-idx2-int.gz",
            "qmnist",
            "bb1b6e1ec7b04fd5696f1ed50b5f58f8ef195118edd5c93c81783df9740b8ac5",
            1_920_012,
            (60_000, 8),
            "int32",
            QMNIST_MIRRORS,
        ),
        DataFile(
            "qmnist-test",
            "qmnist-test-labels-idx2-int.gz",
            "qmnist",
            "92d0ccb8c25f9c6534270fb4be7e1d24a1c6d315edfc8a638bfbd31c70f362dd",
            1_920_012,
            (60_000, 8),
            "int32",
            QMNIST_MIRRORS,
        ),
    )
}


def get(key: str) -> DataFile:
    """Return the registered file ``key``, or raise a KeyError that lists the valid keys."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown data file {key!r}; expected one of {', '.join(REGISTRY)}") from None


def identify(sha256: str) -> DataFile | None:
    """Return the registered file whose content has this hash, if any (to explain a swapped file)."""
    return next((f for f in REGISTRY.values() if f.sha256 == sha256), None)
