"""Exact and near-duplicate images, within a collection or across its splits.

Both finders take a stack of images (any shape ``(n, ...)``) and return a DataFrame with
one row per pair of images:

=================  ==================================================================
column             meaning
=================  ==================================================================
``first``          position of the first image of the pair in ``images``
``second``         position of the second image (always ``first < second``)
``distance``       Euclidean distance between the two images with grey levels scaled
                   to 0-1 (0 for identical images)
``exact``          True when the two images are byte-for-byte identical
``split_first``    ``splits[first]`` (only when ``splits`` is given)
``split_second``   ``splits[second]`` (only when ``splits`` is given)
``cross_split``    True when the pair spans two splits, e.g. a training image that also
                   sits in the test set (only when ``splits`` is given)
=================  ==================================================================

**Near-duplicate threshold.** A pair is near-duplicate when its distance is at most
``threshold`` (default :data:`NEAR_DUPLICATE_THRESHOLD` = 1.0). A squared distance of 1 is
the difference of one pixel going from white to black, so the default keeps pairs whose
whole difference weighs no more than a single fully changed pixel (or, say, 25 pixels
each differing by a fifth of the grey scale).

The search projects images on their first principal components and looks up all pairs
within ``threshold`` there. Projecting on orthonormal components never lengthens a
distance, so no pair within the threshold in pixel space is missed; every candidate is
then measured on the full pixels.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .validation import vector

NEAR_DUPLICATE_THRESHOLD = 1.0
"""Default largest pixel distance (grey levels scaled to 0-1) between near duplicates."""

PAIR_COLUMNS = ("first", "second", "distance", "exact")


def _flatten(images):
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(
            f"images: expected an array of shape (n, ...) with one image per row, found shape {images.shape}"
        )
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise TypeError(f"images: expected integer or float grey levels, found dtype {images.dtype}")
    return np.ascontiguousarray(images.reshape(len(images), -1))


def _pairs_frame(first, second, distance, exact, splits):
    order = np.lexsort((second, first, distance))
    frame = pd.DataFrame(
        {
            "first": np.asarray(first, dtype=np.int64)[order],
            "second": np.asarray(second, dtype=np.int64)[order],
            "distance": np.asarray(distance, dtype=np.float64)[order],
            "exact": np.asarray(exact, dtype=bool)[order],
        }
    )
    if splits is not None:
        frame["split_first"] = splits[frame["first"].to_numpy()]
        frame["split_second"] = splits[frame["second"].to_numpy()]
        frame["cross_split"] = frame["split_first"].to_numpy() != frame["split_second"].to_numpy()
    return frame


def _unit_grey_levels(flat):
    """Grey levels on a 0-1 scale: uint8 data is divided by 255, floats are used as given."""
    if flat.dtype == np.uint8:
        return flat.astype(np.float32) / 255.0
    return flat.astype(np.float64)


def exact_duplicates(images, splits=None) -> pd.DataFrame:
    """Pairs of byte-for-byte identical images, found by hashing each image's bytes.

    A group of ``k`` identical images gives its ``k * (k - 1) / 2`` pairs.

    Parameters
    ----------
    images : array of shape (n, ...)
    splits : array-like of shape (n,), optional
        The split (or any group) of each image, e.g. ``"train"``/``"test"``.

    Returns
    -------
    pandas.DataFrame
        Columns as described in the module docstring, sorted by ``first`` then ``second``.

    Examples
    --------
    >>> images = np.zeros((4, 2, 2), dtype=np.uint8)
    >>> images[1, 0, 0] = images[3, 0, 0] = 9
    >>> exact_duplicates(images, splits=["a", "a", "b", "a"])[["first", "second", "cross_split"]].values.tolist()
    [[0, 2, True], [1, 3, False]]
    """
    flat = _flatten(images)
    splits = None if splits is None else vector(splits, "splits", len(flat))
    digests = pd.Series([hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat], dtype=object)
    first, second = [], []
    for positions in digests.groupby(digests, sort=False).indices.values():
        if len(positions) > 1:
            i, j = np.triu_indices(len(positions), k=1)
            first.append(np.sort(positions)[i])
            second.append(np.sort(positions)[j])
    first = np.concatenate(first) if first else np.zeros(0, np.int64)
    second = np.concatenate(second) if second else np.zeros(0, np.int64)
    zeros = np.zeros(len(first))
    return _pairs_frame(first, second, zeros, np.ones(len(first), bool), splits)


def _near_duplicates_uncached(flat, splits, threshold, n_components, random_state):
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    n, n_features = flat.shape
    if n < 2:
        return _pairs_frame([], [], [], [], splits)
    pixels = _unit_grey_levels(flat)
    n_components = min(n_components, n, n_features)
    projected = PCA(n_components=n_components, random_state=random_state).fit_transform(pixels)
    # A hair above the threshold absorbs float32 rounding in the projection.
    radius = threshold * (1 + 1e-4) + 1e-6
    neighbours = NearestNeighbors(radius=radius).fit(projected)
    _, candidates = neighbours.radius_neighbors(projected, return_distance=True)
    counts = np.fromiter((len(c) for c in candidates), dtype=np.int64, count=n)
    first = np.repeat(np.arange(n), counts)
    second = np.concatenate(candidates) if n else np.zeros(0, np.int64)
    keep = first < second
    first, second = first[keep], second[keep]
    distance = np.empty(len(first))
    for start in range(0, len(first), 100_000):
        block = slice(start, start + 100_000)
        difference = pixels[first[block]].astype(np.float64) - pixels[second[block]]
        distance[block] = np.sqrt((difference**2).sum(axis=1))
    keep = distance <= threshold
    first, second, distance = first[keep], second[keep], distance[keep]
    exact = (flat[first] == flat[second]).all(axis=1)
    distance[exact] = 0.0
    return _pairs_frame(first, second, distance, exact, splits)


def near_duplicates(
    images,
    splits=None,
    *,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    n_components: int = 30,
    random_state: int = 0,
    cache: bool = True,
) -> pd.DataFrame:
    """All pairs of images within ``threshold`` of each other in pixel space (exact ones included).

    Parameters
    ----------
    images : array of shape (n, ...)
        Grey levels: uint8 (0-255, scaled to 0-1) or floats already on a 0-1 scale.
    splits : array-like of shape (n,), optional
        The split (or any group) of each image; adds ``split_*`` and ``cross_split`` columns.
    threshold : float, default 1.0
        Largest Euclidean distance, on the 0-1 grey scale, for a pair to count (see the
        module docstring for what 1.0 means).
    n_components : int, default 30
        Principal components used to find candidate pairs; fewer is faster and never loses
        a pair, only makes more candidates to check.
    random_state : int, default 0
        Seed of the randomised PCA solver.
    cache : bool, default True
        Reuse a result computed before for the same images and parameters.

    Returns
    -------
    pandas.DataFrame
        One row per pair, sorted by ``distance`` then ``first``, ``second``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, size=(5, 8, 8)).astype(np.uint8)
    >>> images[4] = images[1]; images[4, 0, 0] ^= 1     # a near copy: one grey level off
    >>> near_duplicates(images, cache=False)[["first", "second", "exact"]].values.tolist()
    [[1, 4, False]]
    """
    flat = _flatten(images)
    splits = None if splits is None else vector(splits, "splits", len(flat))
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold: expected a finite distance >= 0, found {threshold}")
    if int(n_components) < 1:
        raise ValueError(f"n_components: expected a positive integer, found {n_components}")
    args = (flat, splits, float(threshold), int(n_components), int(random_state))
    from mnist_analysis.caching.cache import cached_call

    return cached_call("duplicates", _near_duplicates_uncached, *args, cache=cache)
