"""How typical each digit is of its class: local density among the digits of the same class.

:func:`typicality` scores each image by the mean distance to its ``k`` nearest neighbours of
the same class (from :func:`mnist_analysis.intrinsic_dimension.neighbour_distances` with the
labels as groups), turned into its percentile within the class: 1 for the digit in the densest
neighbourhood of its class, near 0 for the most isolated. A percentile rather than the
distance, because classes differ in spread (a 1 has much less ink to vary than an 8): the
score compares a digit only with digits of its own class. :func:`extremes` picks the most and
least typical digits of each class. :func:`image_typicality` does the whole job from images
and labels (the per-image table's ``typicality`` column, and notebook 06's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import positive_int, vector

#: Same-class neighbours whose mean distance scores a digit (notebook 06's ``typicality_k``).
NEIGHBOURS = 10

#: Neighbours searched per digit: notebook 06's largest MLE neighbourhood, so that the notebook and
#: the per-image table share one cached search (the first ``NEIGHBOURS`` columns are the same).
SEARCHED = 20


def image_typicality(images, labels, *, k: int = NEIGHBOURS, cache: bool = True) -> np.ndarray:
    """Typicality of each image within its class, from its ``k`` nearest same-class images in pixel space.

    Searches :data:`SEARCHED` neighbours (fewer when a class is smaller) with
    :func:`mnist_analysis.intrinsic_dimension.neighbour_distances` (exact, cached) and scores
    the first ``k`` with :func:`typicality`.

    Parameters
    ----------
    images : array of shape (n, height, width) or (n, features)
    labels : array of shape (n,)
        Every class needs more than ``k`` images.
    k : int
    cache : bool
        Read and write the result cache (kind ``intrinsic_dimension``).

    Returns
    -------
    numpy.ndarray of shape (n,)
        float64 in (0, 1]: 1 for the densest neighbourhood of its class.

    Examples
    --------
    >>> points = np.array([[0.0], [0.1], [0.3], [5.0], [10.0], [10.1], [10.3], [20.0]])
    >>> image_typicality(points, [0, 0, 0, 0, 1, 1, 1, 1], k=2, cache=False).round(2).tolist()
    [0.75, 1.0, 0.5, 0.25, 0.75, 1.0, 0.5, 0.25]
    """
    from .intrinsic_dimension import neighbour_distances

    labels = vector(labels, "labels")
    k = positive_int(k, "k")
    counts = pd.Series(labels).value_counts()
    if counts.min() <= k:
        raise ValueError(
            f"labels: typicality needs more than k={k} images of every class; "
            f"class {counts.idxmin()} has {counts.min()}"
        )
    searched = max(k, min(SEARCHED, int(counts.min()) - 1))
    distances, _ = neighbour_distances(images, searched, groups=labels, cache=cache)
    return typicality(distances[:, :k], labels)


def typicality(distances, labels) -> np.ndarray:
    """Within-class percentile of the negated mean neighbour distance (1 = most typical).

    Parameters
    ----------
    distances : array of shape (n, k)
        Distances to each image's nearest neighbours of the same class.
    labels : array of shape (n,)

    Returns
    -------
    numpy.ndarray of shape (n,)
        Values in (0, 1]; ties share the average rank.

    Examples
    --------
    >>> distances = np.array([[1.0, 1.0], [2.0, 3.0], [9.0, 9.0], [1.0, 2.0]])
    >>> typicality(distances, [0, 0, 0, 1]).tolist()
    [1.0, 0.6666666666666666, 0.3333333333333333, 1.0]
    """
    distances = np.asarray(distances, dtype=np.float64)
    labels = vector(labels, "labels")
    if distances.ndim != 2 or len(distances) != len(labels) or distances.shape[1] < 1:
        raise ValueError(f"distances: expected shape ({len(labels)}, k), found shape {distances.shape}")
    if not np.isfinite(distances).all() or (distances < 0).any():
        raise ValueError("distances: expected finite non-negative distances")
    spread = pd.Series(-distances.mean(axis=1))
    return spread.groupby(labels).rank(pct=True, method="average").to_numpy()


def extremes(scores, labels, n: int = 8) -> pd.DataFrame:
    """Row positions of the ``n`` most and ``n`` least typical images of each class.

    Returns
    -------
    pandas.DataFrame
        Index: class; columns ``most`` and ``least``, each a list of row positions, most
        extreme first.

    Examples
    --------
    >>> extremes([0.2, 0.9, 0.5, 1.0], [3, 3, 3, 4], n=1)
          most least
    label
    3      [1]   [0]
    4      [3]   [3]
    """
    scores = vector(scores, "scores").astype(np.float64)
    labels = vector(labels, "labels", len(scores))
    n = positive_int(n, "n")
    rows = {}
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = members[np.argsort(scores[members], kind="stable")]
        rows[label] = {"most": order[::-1][:n].tolist(), "least": order[:n].tolist()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("label")
