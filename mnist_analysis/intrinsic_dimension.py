"""Intrinsic dimension from nearest-neighbour distances: Levina-Bickel MLE and TwoNN.

:func:`neighbour_distances` finds each row's ``k`` nearest other rows (optionally only among
rows of the same group, such as the same class) and returns their exact Euclidean distances,
cached. From those distances:

- :func:`mle_inverse` gives, per row, the inverse of Levina and Bickel's local maximum-likelihood
  estimate, ``u_k(x) = 1/(k-1) * sum_{j<k} log(T_k(x) / T_j(x))``, and :func:`twonn_inverse`
  gives TwoNN's ``log(T_2(x) / T_1(x))`` (Facco et al., 2017). Each estimator's dimension over a
  set of rows is ``1 / mean(u)``: the pooled maximum-likelihood estimate (for the MLE, MacKay and
  Ghahramani's correction of averaging the inverses rather than the local estimates).
- :func:`dimension_estimates` turns them into a table of estimates with intervals from a
  bootstrap that resamples writers (:func:`mnist_analysis.clustered_statistics.clustered_bootstrap_ci`
  on the mean of ``u``, inverted): it says how much the estimate depends on which writers were
  sampled, with the neighbour graph held fixed.

A row whose nearest neighbour is at distance 0 (an exact duplicate) has no finite local
estimate; it is left out and counted (``excluded``) rather than given a made-up value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import positive_int, vector

#: Query rows handled at once by the neighbour search (a block of squared distances to every row).
_BLOCK_ROWS = 256

#: Candidates beyond ``k`` kept from the float32 search before the exact distances decide.
_EXTRA_CANDIDATES = 5


def _exact_neighbours(points, k, queries):
    """The ``k`` nearest other rows of each query: float32 matrix products pick candidates, exact distances decide.

    Candidates are every row whose float32 score ``|y|^2 / 2 - x.y`` (the squared distance less the
    query's own constant, halved) is within the ``k + _EXTRA_CANDIDATES`` smallest, ties at that
    threshold included; their distances are then computed exactly (integers in int32 or int64, floats
    in float64) and sorted nearest first, ties by row position. Selecting by threshold (``np.partition``)
    instead of ``np.argpartition`` costs a seventh as much and keeps a superset of its candidates.
    """
    candidates = min(k + _EXTRA_CANDIDATES, len(points) - 1)
    matrix = points.astype(np.float32)
    half_norms = 0.5 * np.einsum("ij,ij->i", matrix, matrix)
    # Exact squared distances: in int32 when they cannot overflow it (bytes such as MNIST's pixels:
    # a tenth of the time of int64), else in int64 for integers and float64 for floats.
    if np.issubdtype(points.dtype, np.integer):
        largest = max(abs(int(points.min(initial=0))), abs(int(points.max(initial=0))))
        exact_type = np.int32 if points.shape[1] * (2 * largest) ** 2 < 2**31 else np.int64
    else:
        exact_type = np.float64
    distances = np.empty((len(queries), k), dtype=np.float64)
    found = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), _BLOCK_ROWS):
        block = queries[start : start + _BLOCK_ROWS]
        score = matrix[block] @ matrix.T
        np.subtract(half_norms[None, :], score, out=score)
        score[np.arange(len(block)), block] = np.inf  # a row is not its own neighbour
        threshold = np.partition(score, candidates - 1, axis=1)[:, candidates - 1 : candidates]
        rows, columns = np.nonzero(score <= threshold)
        counts = np.bincount(rows, minlength=len(block))
        slots = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        near = np.zeros((len(block), counts.max()), dtype=np.int64)
        near[rows, slots] = columns
        difference = np.subtract(points[near], points[block, None], dtype=exact_type)
        exact = np.sqrt(np.einsum("ijk,ijk->ij", difference, difference).astype(np.float64))
        exact[np.arange(near.shape[1])[None, :] >= counts[:, None]] = np.inf  # padding
        order = np.lexsort((near, exact), axis=1)[:, :k]  # nearest first, ties by row position
        distances[start : start + len(block)] = np.take_along_axis(exact, order, axis=1)
        found[start : start + len(block)] = np.take_along_axis(near, order, axis=1)
    return distances, found


def _neighbour_distances(points, k, groups, queries):
    distances = np.full((len(queries), k), np.nan)
    indices = np.full((len(queries), k), -1, dtype=np.int64)
    for value in pd.unique(groups):
        members = np.flatnonzero(groups == value)
        asked = np.flatnonzero(groups[queries] == value)  # positions in queries
        if len(asked) == 0:
            continue
        local = np.searchsorted(members, queries[asked])
        found_distances, found = _exact_neighbours(points[members], k, local)
        distances[asked], indices[asked] = found_distances, members[found]
    return distances, indices


def neighbour_distances(points, k: int = 20, *, groups=None, queries=None, cache: bool = True):
    """Exact distances to the ``k`` nearest other rows, optionally within each group.

    Parameters
    ----------
    points : array of shape (n, features) or images (n, height, width)
    k : int
        Neighbours per row; every group needs more than ``k`` rows.
    groups : array of shape (n,), optional
        Search neighbours only among rows of the same group (for example the class).
    queries : array of int, optional
        Row positions to find neighbours for (default: every row); the search still runs
        over all rows (of the query's group).
    cache : bool
        Read and write the result cache (kind ``intrinsic_dimension``).

    Returns
    -------
    distances : numpy.ndarray of shape (len(queries), k)
        Increasing along each row.
    indices : numpy.ndarray of shape (len(queries), k)
        Row positions of the neighbours in ``points``.

    Examples
    --------
    >>> distances, indices = neighbour_distances(np.array([[0.0], [1.0], [3.0], [7.0]]), 2, cache=False)
    >>> distances.tolist(), indices[0].tolist()
    ([[1.0, 3.0], [1.0, 2.0], [2.0, 3.0], [4.0, 6.0]], [1, 2])
    """
    from .caching.cache import cached_call

    points = np.asarray(points)
    if points.ndim == 3:
        points = points.reshape(len(points), -1)
    if points.ndim != 2 or not (np.issubdtype(points.dtype, np.integer) or np.issubdtype(points.dtype, np.floating)):
        raise ValueError(f"points: expected real rows or images, found dtype {points.dtype}, shape {points.shape}")
    if np.issubdtype(points.dtype, np.floating) and not np.isfinite(points).all():
        raise ValueError("points: expected finite values, found NaN or infinity")
    k = positive_int(k, "k")
    groups = np.zeros(len(points), dtype=np.int64) if groups is None else vector(groups, "groups", len(points))
    queries = np.arange(len(points)) if queries is None else vector(queries, "queries").astype(np.int64)
    if len(queries) and (queries.min() < 0 or queries.max() >= len(points)):
        raise ValueError(f"queries: expected positions in [0, {len(points)}), found {queries.min()}..{queries.max()}")
    sizes = pd.Series(groups).value_counts()
    if (sizes <= k).any():
        small = sizes[sizes <= k]
        raise ValueError(f"k: every group needs more than k={k} rows; group {small.index[0]!r} has {small.iloc[0]}")
    return cached_call("intrinsic_dimension", _neighbour_distances, points, k, groups, queries, cache=cache)


def _distances(distances, k_needed: int) -> np.ndarray:
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[1] < k_needed:
        raise ValueError(f"distances: expected shape (n, >= {k_needed}), found shape {distances.shape}")
    if not np.isfinite(distances).all() or (distances < 0).any():
        raise ValueError("distances: expected finite non-negative distances")
    if (np.diff(distances, axis=1) < 0).any():
        raise ValueError("distances: expected each row sorted nearest first")
    return distances


def mle_inverse(distances, k: int) -> np.ndarray:
    """Per row, the inverse of Levina and Bickel's local estimate with ``k`` neighbours (NaN: duplicate).

    ``u_k(x) = 1/(k-1) * sum_{j=1}^{k-1} log(T_k(x) / T_j(x))``; NaN where ``T_1(x) = 0``.

    Examples
    --------
    >>> mle_inverse(np.array([[1.0, 2.0], [0.0, 1.0]]), 2).round(4).tolist()
    [0.6931, nan]
    """
    k = positive_int(k, "k")
    if k < 2:
        raise ValueError(f"k: expected at least 2 neighbours, found {k}")
    distances = _distances(distances, k)[:, :k]
    duplicate = distances[:, 0] == 0
    with np.errstate(divide="ignore"):
        logs = np.log(distances[:, -1:]) - np.log(distances[:, :-1])
    inverse = logs.mean(axis=1)
    inverse[duplicate] = np.nan
    return inverse


def twonn_inverse(distances) -> np.ndarray:
    """Per row, TwoNN's ``log(T_2(x) / T_1(x))`` (NaN where ``T_1(x) = 0``, a duplicate).

    Examples
    --------
    >>> twonn_inverse(np.array([[1.0, np.e, 5.0]])).tolist()
    [1.0]
    """
    distances = _distances(distances, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.log(distances[:, 1]) - np.log(distances[:, 0])
    inverse[distances[:, 0] == 0] = np.nan
    return inverse


def dimension_from_inverse(inverse) -> float:
    """Pooled estimate ``1 / mean(u)`` over the rows with a defined ``u``.

    Examples
    --------
    >>> dimension_from_inverse([0.5, 0.25, np.nan])
    2.6666666666666665
    """
    inverse = np.asarray(inverse, dtype=np.float64)
    kept = inverse[np.isfinite(inverse)]
    if len(kept) == 0:
        raise ValueError("inverse: no row has a defined local estimate (all are duplicates)")
    mean = kept.mean()
    if mean <= 0:
        raise ValueError("inverse: the neighbour distances do not grow (all ties): the dimension is undefined")
    return float(1.0 / mean)


def dimension_estimates(distances, ks=(5, 10, 20), *, writers=None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Levina-Bickel MLE for each ``k`` in ``ks`` and TwoNN, with writer-bootstrap intervals.

    Parameters
    ----------
    distances : array of shape (n, >= max(ks))
        From :func:`neighbour_distances`.
    ks : sequence of int
        Neighbourhood sizes of the MLE (each at least 2).
    writers : array of shape (n,), optional
        Writer of each row; without it, no interval (NaN).
    n_boot : int
        Bootstrap resamples of the writers.
    seed : int

    Returns
    -------
    pandas.DataFrame
        One row per estimator (``"MLE k=5"``, ..., ``"TwoNN"``): ``estimator``, ``k``,
        ``dimension``, ``ci_low``, ``ci_high``, ``n`` (rows used) and ``excluded`` (duplicates).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> line = np.outer(rng.uniform(size=2000), np.ones(5))
    >>> table = dimension_estimates(neighbour_distances(line, 10, cache=False)[0], ks=(5, 10))
    >>> table["dimension"].round(0).tolist()
    [1.0, 1.0, 1.0]
    """
    from .clustered_statistics import clustered_bootstrap_ci

    ks = [positive_int(k, "ks") for k in ks]
    distances = _distances(distances, max([*ks, 2]))
    if writers is not None:
        writers = vector(writers, "writers", len(distances))
    rows = []
    for name, k, inverse in [(f"MLE k={k}", k, mle_inverse(distances, k)) for k in ks] + [
        ("TwoNN", 2, twonn_inverse(distances))
    ]:
        kept = np.isfinite(inverse)
        row = {
            "estimator": name,
            "k": k,
            "dimension": dimension_from_inverse(inverse),
            "ci_low": np.nan,
            "ci_high": np.nan,
            "n": int(kept.sum()),
            "excluded": int((~kept).sum()),
        }
        if writers is not None:
            interval = clustered_bootstrap_ci(inverse[kept], writers[kept], n_boot=n_boot, seed=seed)
            row["ci_low"], row["ci_high"] = 1.0 / interval["ci_high"], 1.0 / interval["ci_low"]
        rows.append(row)
    return pd.DataFrame(rows)
