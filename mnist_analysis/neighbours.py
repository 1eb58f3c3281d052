"""Exact k-nearest-neighbour votes in the pixel space, several times faster than brute force.

:class:`ExactNeighboursClassifier` is the zoo's k-NN on raw and on deskewed pixels. It
finds the same neighbours as a brute-force search, without computing every distance in
784 dimensions:

1. At fit, the training rows are projected on their leading principal axes
   (``n_components`` of them, orthonormal). The distance between two projections is never
   more than the distance between the images, so it is a *lower bound*.
2. For a query, one matrix product gives the lower bound to every training row. The
   exact distances to the few rows with the smallest bounds give a first k-th distance;
   then only the rows whose bound is below the best k-th distance found so far are
   measured exactly. A row whose bound exceeds it cannot be among the k nearest.

The bound is computed in float32 and shrunk by a margin far larger than its rounding
error; exact distances are summed in float64 from the float32 rows, which is exact for
whole-number pixels (0-255) and within one part in 10^15 otherwise. Ties at equal distance
go to the training row that comes first, so the result depends on nothing but the data
(not on ``n_jobs``, the threads that search batches of queries side by side).

On all 60,000 training digits and 10,000 test digits the neighbours equal scikit-learn's
brute-force ones (``tests/test_neighbours.py`` checks a part), at a fraction of the CPU time
(``benchmarks/bench_robustness.py`` times both on the same digits in the same run, and
compares their probabilities).
"""

from __future__ import annotations

import threading

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .validation import finite_array, positive_int, real_array, vector

#: Queries per matrix product: the bounds of one batch take ``batch_size * n_train * 4`` bytes
#: (61 MB for 256 queries against 60,000 training rows).
BATCH_SIZE = 256
#: Relative margin taken off each lower bound, in units of the two projections' squared
#: norms: float32 rounding of the product over (at most a few hundred) axes stays below 1e-5 of them.
BOUND_MARGIN = 1e-4
#: Training rows (at most, evenly spaced) whose principal axes define the bound.
AXES_SAMPLE = 10_000
#: Rows measured exactly first (or twice k, if more), those with the smallest bounds: they set
#: the first k-th distance.
FIRST_ROWS = 8


def _smallest(row, count):
    """Indices of the ``count`` smallest values of ``row``, smallest first (one pass, insertion)."""
    chosen = np.full(count, -1, np.int64)
    values = np.full(count, np.inf, row.dtype)
    for t in range(len(row)):
        if row[t] < values[count - 1]:
            j = count - 1
            while j > 0 and values[j - 1] > row[t]:
                values[j], chosen[j] = values[j - 1], chosen[j - 1]
                j -= 1
            values[j], chosen[j] = row[t], t
    return chosen


def _squared_distance(a, b):
    """Sum of squared differences, in float64."""
    total = 0.0
    for f in range(len(a)):
        difference = np.float64(a[f]) - np.float64(b[f])
        total += difference * difference
    return total


def _keep_if_nearer(best, best_distance, t, distance):
    """Insert row ``t`` into the sorted ``best`` rows if nearer (the earlier row on a tie)."""
    j = len(best) - 1
    if distance > best_distance[j] or (distance == best_distance[j] and t > best[j]):
        return
    while j > 0 and (best_distance[j - 1] > distance or (best_distance[j - 1] == distance and best[j - 1] > t)):
        best_distance[j], best[j] = best_distance[j - 1], best[j - 1]
        j -= 1
    best_distance[j], best[j] = distance, t


_kernel = None
_compiling = threading.Lock()


def _compiled_search():
    """The search of one batch, compiled with numba once per process (a second or two).

    It releases the GIL, so threads search batches side by side (:meth:`NeighbourIndex.search`).
    """
    global _kernel
    with _compiling:
        if _kernel is None:
            import numba

            smallest, squared_distance, keep_if_nearer = (
                numba.njit(nogil=True)(f) for f in (_smallest, _squared_distance, _keep_if_nearer)
            )

            @numba.njit(nogil=True)
            def search(bounds, queries, train, exclude, first_rows, out_index, out_distance):
                k = out_index.shape[1]
                for q in range(len(queries)):
                    best, best_distance = np.full(k, -1, np.int64), np.full(k, np.inf)
                    if exclude[q] >= 0:  # the query's own row, when it is one of the rows
                        bounds[q, exclude[q]] = np.inf
                    first = smallest(bounds[q], first_rows)  # -1 where fewer rows have a finite bound
                    for t in first:
                        if t >= 0:
                            keep_if_nearer(best, best_distance, t, squared_distance(queries[q], train[t]))
                    for t in range(len(train)):
                        if bounds[q, t] <= best_distance[k - 1] and t not in first and t != exclude[q]:
                            keep_if_nearer(best, best_distance, t, squared_distance(queries[q], train[t]))
                    out_index[q], out_distance[q] = best, best_distance

            _kernel = search
    return _kernel


def _principal_axes(rows: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``n_components`` leading orthonormal principal axes (columns) of a sample of ``rows``.

    Any orthonormal axes give a valid lower bound; the leading principal ones give a tight
    one, and about :data:`AXES_SAMPLE` evenly spaced rows find them as well as all rows do.
    """
    rows = rows[:: max(1, len(rows) // AXES_SAMPLE)]
    mean = rows.mean(axis=0, dtype=np.float64)
    gram = rows.T.astype(np.float64) @ rows.astype(np.float64)
    covariance = gram / len(rows) - np.outer(mean, mean)
    _, axes = np.linalg.eigh(covariance)
    return mean, np.ascontiguousarray(axes[:, ::-1][:, :n_components])


def _rows(values, name: str) -> np.ndarray:
    """``values`` as contiguous 2-D rows: float32 where that holds every value exactly, else float64."""
    values = real_array(values, name)
    if values.ndim != 2 or len(values) == 0 or values.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty 2-D array of rows, found shape {values.shape}")
    values = finite_array(values, name)
    if values.dtype.kind in "biu":
        exact_in_float32 = values.size == 0 or max(abs(int(values.min())), abs(int(values.max()))) <= 2**24
    else:
        exact_in_float32 = values.dtype.itemsize <= 4 or bool((values.astype(np.float32) == values).all())
    return np.ascontiguousarray(values, dtype=np.float32 if exact_in_float32 else np.float64)


class NeighbourIndex:
    """Exact Euclidean nearest-neighbour search among fixed rows, pruned by a principal-axes bound.

    Parameters
    ----------
    rows : array of shape (n, d)
        The rows searched (kept as float32 when that is exact, as for pixel values, else float64).
    n_components : int
        Principal axes of the lower bound (at most the rows' width): more prunes better and
        costs more per query.

    Examples
    --------
    >>> index = NeighbourIndex(np.array([[0.0], [1.0], [3.0], [7.0]]), n_components=1)
    >>> distances, rows = index.search(np.array([[2.9], [0.4]]), 2)
    >>> rows.tolist(), distances.round(1).tolist()
    ([[2, 1], [0, 1]], [[0.1, 1.9], [0.4, 0.6]])
    """

    def __init__(self, rows, *, n_components: int = 96):
        self.rows = _rows(rows, "rows")
        n_components = min(positive_int(n_components, "n_components"), self.rows.shape[1])
        self._mean, self._axes = _principal_axes(self.rows, n_components)
        projected = (self.rows - self._mean) @ self._axes
        self._projected = projected.astype(np.float32)
        self._shrunk_norms = ((projected**2).sum(axis=1) * (1 - BOUND_MARGIN)).astype(np.float32)

    def search(self, queries, k: int, *, exclude=None, n_jobs: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Distances and row positions of each query's ``k`` nearest rows, nearest first.

        ``exclude`` (one row position per query, or -1) leaves that row out of the query's
        search: with ``search(index.rows[positions], k, exclude=positions)`` each row finds
        its nearest *other* rows (an exact copy of it among them, at distance 0). Ties at equal distance go to the
        earlier row. ``n_jobs`` threads search batches of queries side by side (each one's
        matrix product and search release the GIL); the answer is the same whatever it is.
        """
        queries = _rows(queries, "queries")
        if queries.shape[1] != self.rows.shape[1]:
            raise ValueError(
                f"queries: expected rows of {self.rows.shape[1]} values (as the rows), found {queries.shape[1]}"
            )
        exclude = np.full(len(queries), -1, np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
        if exclude.shape != (len(queries),) or (exclude >= len(self.rows)).any() or (exclude < -1).any():
            raise ValueError(
                f"exclude: expected one row position (or -1) per query, below {len(self.rows)}, found {exclude!r}"
            )
        k = positive_int(k, "k", maximum=len(self.rows) - int((exclude >= 0).any()))
        n_jobs = positive_int(n_jobs, "n_jobs")
        search = _compiled_search()
        first_rows = min(max(FIRST_ROWS, 2 * k), len(self.rows))
        index = np.empty((len(queries), k), np.int64)
        squared = np.empty((len(queries), k))

        def search_batch(start):
            batch = queries[start : start + BATCH_SIZE]
            projected = (batch - self._mean) @ self._axes
            # |p - r|^2 = |p|^2 + |r|^2 - 2 p.r, less BOUND_MARGIN of |p|^2 + |r|^2
            bounds = projected.astype(np.float32) @ self._projected.T
            bounds *= -2
            bounds += self._shrunk_norms
            bounds += ((projected**2).sum(axis=1) * (1 - BOUND_MARGIN)).astype(np.float32)[:, None]
            rows = slice(start, start + len(batch))
            search(bounds, batch, self.rows, exclude[rows], first_rows, index[rows], squared[rows])

        starts = range(0, len(queries), BATCH_SIZE)
        if min(n_jobs, len(starts)) == 1:
            for start in starts:
                search_batch(start)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(n_jobs, len(starts))) as threads:
                list(threads.map(search_batch, starts))
        return np.sqrt(squared), index


class ExactNeighboursClassifier(ClassifierMixin, BaseEstimator):
    """k-nearest-neighbour vote (L2, uniform weights) with an exact, pruned neighbour search.

    Gives the probabilities and predictions of scikit-learn's
    ``KNeighborsClassifier(n_neighbors, algorithm="brute")``: the share of the k nearest
    training rows in each class, and the class with the most votes (the smallest label on a
    tie). Ties at equal distance go to the earlier training row (:class:`NeighbourIndex`).

    Parameters
    ----------
    n_neighbors : int
        Neighbours that vote.
    n_components : int
        Principal axes of the lower bound: more prunes better and costs more per query.
    n_jobs : int
        Threads that search batches of queries side by side. The neighbours are the same
        whatever this is.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(200, 784)).astype(np.float32)
    >>> y = np.arange(200) % 2
    >>> model = ExactNeighboursClassifier(n_neighbors=1).fit(X, y)
    >>> bool((model.predict(X) == y).all())  # each row is its own nearest neighbour
    True
    """

    def __init__(self, n_neighbors: int = 3, n_components: int = 96, n_jobs: int = 2):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.n_jobs = n_jobs

    def fit(self, X, y):
        X = _rows(X, "X")
        y = vector(y, "y", len(X))
        self._k = positive_int(self.n_neighbors, "n_neighbors", maximum=len(X))
        self.classes_, self._codes = np.unique(y, return_inverse=True)
        self._index = NeighbourIndex(X, n_components=self.n_components)
        return self

    def kneighbors(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Distances (L2) and training-row indices of each row's k nearest, nearest first."""
        if not hasattr(self, "_index"):
            raise ValueError("ExactNeighboursClassifier: call fit() before kneighbors() or predict()")
        X = _rows(X, "X")
        width = self._index.rows.shape[1]
        if X.shape[1] != width:
            raise ValueError(f"X: expected rows of {width} values (as in fit), found {X.shape[1]}")
        return self._index.search(X, self._k, n_jobs=self.n_jobs)

    def predict_proba(self, X) -> np.ndarray:
        """Share of each class (in the order of ``classes_``) among the k nearest training rows."""
        _, index = self.kneighbors(X)
        votes = self._codes[index]
        probabilities = np.zeros((len(index), len(self.classes_)))
        np.add.at(probabilities, (np.arange(len(index))[:, None], votes), 1.0)
        return probabilities / self._k

    def predict(self, X) -> np.ndarray:
        """The class with the most votes; the smallest label among classes with as many."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]
