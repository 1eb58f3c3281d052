"""Clusters of digits: UMAP with clustering settings, then HDBSCAN; scores against the labels.

:func:`cluster_map` embeds the digits with :data:`CLUSTER_UMAP` (umap-learn's clustering advice:
more neighbours, ``min_dist=0``; on 50 principal components), :func:`hdbscan_clusters` clusters
any points with the ``hdbscan`` package (chosen by ``benchmarks/bench_clusters.py``: on the
70,000 digits' map, scikit-learn's HDBSCAN, ``hdbscan`` and ``fast-hdbscan`` agree within 0.001
in ARI, and ``hdbscan`` took 3.6 s where scikit-learn's took 53.7 s), and :func:`cluster_digits`
does both, with a cap on a cluster's size that keeps two classes from being taken for one.
Both steps are seeded where they are random and cached. :func:`cluster_scores` compares
clusters with the labels the way umap-learn's clustering guide does (ARI and AMI on the
clustered points, and the share clustered); :func:`kmeans_pixels` is its baseline;
:func:`cluster_composition` says which classes each cluster holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import image_stack, integer, positive_int, vector

#: UMAP settings for clustering (see ``benchmarks/bench_clusters.py``).
CLUSTER_UMAP = {
    "n_components": 2,
    "n_neighbors": 30,
    "min_dist": 0.0,
    "pca_components": 50,
    "init": "pca",
}

#: HDBSCAN settings for 70,000 digits; smaller stacks scale them with their size (see
#: :func:`cluster_digits`). ``min_cluster_size`` is umap-learn's guide's. ``max_cluster_size``
#: (a seventh of the digits; MNIST's largest class, the 1s, holds 11.3 %) stops HDBSCAN from
#: keeping two classes as one cluster: with the guide's settings alone, 4 of 10 seeds' maps gave
#: one cluster of the 4s and 9s together (``benchmarks/bench_clusters.py``). ``min_samples=40``
#: keeps the share clustered above 99.2 % on those maps once the cap splits the pair.
HDBSCAN_SETTINGS = {"min_samples": 40, "min_cluster_size": 500, "max_cluster_size": 10_000}

#: The settings of umap-learn's clustering guide (the project's settings until issue 27's
#: steadiness work), scored beside :data:`HDBSCAN_SETTINGS` by ``benchmarks/bench_clusters.py``.
GUIDE_HDBSCAN_SETTINGS = {"min_samples": 10, "min_cluster_size": 500}

#: The number of digits :data:`HDBSCAN_SETTINGS` are set for.
SETTINGS_DIGITS = 70_000

#: Published figures of umap-learn's clustering guide ("Using UMAP for Clustering"), one run
#: on all 70,000 MNIST digits.
PUBLISHED = pd.DataFrame(
    [
        {"method": "UMAP + HDBSCAN (umap-learn guide)", "ari": 0.9239, "ami": 0.9031, "clustered": 0.9916},
        {"method": "k-means on pixels (umap-learn guide)", "ari": 0.3667, "ami": 0.4963, "clustered": 1.0},
    ]
).set_index("method")


def _hdbscan(points, min_cluster_size, min_samples, max_cluster_size):
    import hdbscan

    # core_dist_n_jobs=1: the same clusters. The default (4) starts four joblib worker processes that
    # stay for minutes after the call, holding 0.8 GB, for a core-distance search that takes 1.6 CPU s
    # in this process on the 70,000 digits' map.
    model = hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        max_cluster_size=max_cluster_size,
        core_dist_n_jobs=1,
    )
    return model.fit_predict(points).astype(np.int64)


def hdbscan_clusters(
    points, *, min_cluster_size: int = 500, min_samples: int = 10, max_cluster_size: int = 0, cache: bool = True
) -> np.ndarray:
    """Cluster rows with HDBSCAN (the ``hdbscan`` package): a cluster number per row, -1 for noise.

    ``max_cluster_size`` (0: no limit) keeps HDBSCAN from choosing a cluster of more rows: it
    takes that cluster's children instead (rows of a leaf that is too large become noise).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(10, 0.1, (50, 2))])
    >>> clusters = hdbscan_clusters(points, min_cluster_size=10, min_samples=5, cache=False)
    >>> len(set(clusters[:50])), len(set(clusters[50:])), bool(clusters[0] != clusters[-1])
    (1, 1, True)
    """
    from .caching.cache import cached_call

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or not np.isfinite(points).all():
        raise ValueError(f"points: expected finite rows (n, features), found shape {points.shape}")
    min_cluster_size = positive_int(min_cluster_size, "min_cluster_size")
    min_samples = positive_int(min_samples, "min_samples")
    if min_cluster_size < 2 or min_cluster_size > len(points):
        raise ValueError(f"min_cluster_size: expected 2..{len(points)} (the rows), found {min_cluster_size}")
    max_cluster_size = integer(max_cluster_size, "max_cluster_size", minimum=0)
    if 0 < max_cluster_size < min_cluster_size:
        raise ValueError(
            f"max_cluster_size: expected 0 (no limit) or at least min_cluster_size={min_cluster_size}, "
            f"found {max_cluster_size}"
        )
    return cached_call("clusters", _hdbscan, points, min_cluster_size, min_samples, max_cluster_size, cache=cache)


def cluster_map(images, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """The 2-D UMAP of :data:`CLUSTER_UMAP` (cached with the embeddings).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cluster_map(rng.integers(0, 256, (60, 28, 28), dtype=np.uint8), cache=False).shape
    (60, 2)
    """
    from .embeddings import umap

    images = image_stack(images, min_images=3)
    settings = {
        **CLUSTER_UMAP,
        "n_neighbors": min(CLUSTER_UMAP["n_neighbors"], len(images) - 1),
        "pca_components": min(CLUSTER_UMAP["pca_components"], len(images), images[0].size),
    }
    return umap(images, seed=seed, cache=cache, **settings)


def cluster_digits(images, *, seed: int = 0, cap: bool = True, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cluster_map` then :func:`hdbscan_clusters`; returns ``(clusters, embedding)``.

    :data:`HDBSCAN_SETTINGS` are for 70,000 digits and scale with the number of images, so a
    sample is clustered at the same relative grain: ``min_cluster_size`` (at least 10) and
    ``max_cluster_size`` (a seventh of the images); ``min_samples`` is at most
    ``min_cluster_size``. The cap assumes what holds for MNIST and its stratified samples: ten
    kinds of digit, none holding more than a seventh of the stack. For a stack of fewer kinds
    (one class's digits, a synthetic pair) pass ``cap=False``, or its kinds would be split or
    left as noise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clusters, embedding = cluster_digits(rng.integers(0, 256, (80, 28, 28), dtype=np.uint8), cache=False)
    >>> clusters.shape, embedding.shape
    ((80,), (80, 2))
    """
    embedding = cluster_map(images, seed=seed, cache=cache)
    share = len(embedding) / SETTINGS_DIGITS
    size = max(10, round(HDBSCAN_SETTINGS["min_cluster_size"] * share))
    samples = min(HDBSCAN_SETTINGS["min_samples"], size)
    largest = max(size, round(HDBSCAN_SETTINGS["max_cluster_size"] * share)) if cap else 0
    found = hdbscan_clusters(
        embedding, min_cluster_size=size, min_samples=samples, max_cluster_size=largest, cache=cache
    )
    return found, embedding


def cluster_scores(labels, clusters) -> dict:
    """ARI and AMI of the clustered rows against the labels, the share clustered and the clusters found.

    As in umap-learn's clustering guide, rows marked noise (-1) are left out of ARI and AMI
    and counted in ``clustered`` instead.

    Examples
    --------
    >>> scores = cluster_scores([0, 0, 1, 1, 1], [5, 5, 7, 7, -1])
    >>> scores["ari"], scores["ami"], scores["clustered"], scores["n_clusters"]
    (1.0, 1.0, 0.8, 2)
    """
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    labels = vector(labels, "labels")
    clusters = vector(clusters, "clusters", len(labels)).astype(np.int64)
    kept = clusters >= 0
    if not kept.any():
        raise ValueError("clusters: every row is noise (-1); nothing to score")
    return {
        "ari": float(adjusted_rand_score(labels[kept], clusters[kept])),
        "ami": float(adjusted_mutual_info_score(labels[kept], clusters[kept])),
        "clustered": float(kept.mean()),
        "n_clusters": len(np.unique(clusters[kept])),
    }


def _kmeans(images, n_clusters, seed):
    from sklearn.cluster import KMeans

    points = images.reshape(len(images), -1).astype(np.float32)  # here, not before the key: a warm read makes no copy
    return KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit_predict(points).astype(np.int64)


def kmeans_pixels(images, n_clusters: int = 10, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Baseline: k-means (one seeded k-means++ start) on the raw pixels, a cluster per image.

    Examples
    --------
    >>> images = np.zeros((20, 4, 4), np.uint8)
    >>> images[10:, 0, 0] = 255
    >>> kmeans_pixels(images, 2, cache=False).tolist() in ([0] * 10 + [1] * 10, [1] * 10 + [0] * 10)
    True
    """
    from .caching.cache import cached_call

    images = image_stack(images)
    n_clusters = positive_int(n_clusters, "n_clusters", maximum=len(images))
    return cached_call("clusters", _kmeans, images, n_clusters, int(seed), cache=cache)


def cluster_composition(labels, clusters) -> pd.DataFrame:
    """One row per cluster (noise as -1): size, majority class, its share (purity) and the second class.

    Examples
    --------
    >>> cluster_composition([1, 1, 1, 7, 7], [0, 0, 0, 0, 1])[["size", "majority", "purity"]]
             size  majority  purity
    cluster
    0           4         1    0.75
    1           1         7    1.00
    """
    labels = vector(labels, "labels")
    clusters = vector(clusters, "clusters", len(labels)).astype(np.int64)
    counts = pd.crosstab(pd.Series(clusters, name="cluster"), pd.Series(labels, name="label"))
    ordered = np.argsort(-counts.to_numpy(), axis=1, kind="stable")
    values = np.take_along_axis(counts.to_numpy(), ordered, axis=1)
    size = counts.sum(axis=1)
    second = np.where(values[:, 1] > 0, counts.columns.to_numpy()[ordered[:, 1]], -1) if counts.shape[1] > 1 else -1
    return pd.DataFrame(
        {
            "size": size,
            "majority": counts.columns.to_numpy()[ordered[:, 0]],
            "purity": values[:, 0] / size.to_numpy(),
            "second": second,
            "second_count": values[:, 1] if counts.shape[1] > 1 else 0,
        },
        index=counts.index,
    )
