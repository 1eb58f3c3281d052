"""How typical each digit is of its class: local density among the digits of the same class.

:func:`typicality` scores each image by the mean distance to its ``k`` nearest neighbours of
the same class (from :func:`mnist_analysis.intrinsic_dimension.neighbour_distances` with the
labels as groups), turned into its percentile within the class: 1 for the digit in the densest
neighbourhood of its class, near 0 for the most isolated. A percentile rather than the
distance, because classes differ in spread (a 1 has much less ink to vary than an 8): the
score compares a digit only with digits of its own class. :func:`extremes` picks the most and
least typical digits of each class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import positive_int, vector


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
