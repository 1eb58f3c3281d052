"""How faithful is an embedding? Neighbourhood metrics and where classes meet.

* :func:`trustworthiness` — scikit-learn's trustworthiness on a seeded sample of rows.
* :func:`knn_accuracy` — a k-NN classifier fitted on the training points of the
  embedding, scored on its test points.
* :func:`neighbourhood_preservation` — recall of each point's k nearest input-space
  neighbours among its k nearest embedding neighbours.
* :func:`class_mixing`, :func:`mixing_pairs`, :func:`border_points` — which classes share
  neighbourhoods in the k-NN graph of the embedding, and the digits on those borders.

All take arrays (``data`` may be images ``(n, h, w)`` or rows ``(n, features)``) and
return numbers, arrays or DataFrames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mnist_analysis.caching.cache import cached_call
from mnist_analysis.embeddings import as_feature_matrix
from mnist_analysis.utils import nearest_other_rows, sample_rows
from mnist_analysis.validation import integer, positive_int, vector


def _paired(data, embedding):
    matrix = as_feature_matrix(data, name="data")
    embedding = as_feature_matrix(embedding, name="embedding")
    if embedding.ndim != 2 or len(embedding) != len(matrix):
        raise ValueError(f"embedding: expected {len(matrix)} rows like data, found shape {embedding.shape}")
    return matrix, embedding


def _n_neighbors(value, n_rows: int) -> int:
    if not 1 <= integer(value, "n_neighbors") < n_rows:
        raise ValueError(f"n_neighbors: expected an integer between 1 and n rows - 1 ({n_rows - 1}), found {value!r}")
    return int(value)


def trustworthiness(data, embedding, *, n_neighbors: int = 10, sample_size: int | None = 5000, seed: int = 0) -> float:
    """Return :func:`sklearn.manifold.trustworthiness` on a seeded sample of the rows.

    1 means no point has embedding neighbours that were far away in the input.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> trustworthiness(X, X, n_neighbors=5)
    1.0
    """
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    matrix, embedding = _paired(data, embedding)
    rows = sample_rows(len(matrix), sample_size, seed)
    n_neighbors = _n_neighbors(n_neighbors, len(rows))
    if n_neighbors >= len(rows) / 2:
        raise ValueError(f"n_neighbors: expected fewer than half the sampled rows ({len(rows)}), found {n_neighbors}")
    return float(sklearn_trustworthiness(matrix[rows], embedding[rows], n_neighbors=n_neighbors))


def knn_accuracy(embedding, labels, is_train, *, n_neighbors: int = 5, cache: bool = False) -> float:
    """Return the accuracy of a k-NN classifier fitted on train points and scored on test points.

    Parameters
    ----------
    embedding : array (n, dims)
    labels : array (n,)
    is_train : bool array (n,)
        True for points the classifier is fitted on; the others are scored.
    n_neighbors : int
    cache : bool
        Keep the result in the project cache, keyed by the arrays' content: worth it for
        high-dimensional input such as raw pixels (seconds to score), not for a 2-D map.

    Examples
    --------
    >>> embedding = np.array([[0.0], [0.1], [5.0], [5.1], [0.05], [5.05]])
    >>> knn_accuracy(embedding, [0, 0, 1, 1, 0, 1], [1, 1, 1, 1, 0, 0], n_neighbors=1)
    1.0
    """
    embedding = as_feature_matrix(embedding, name="embedding")
    labels = vector(labels, "labels", len(embedding))
    is_train = vector(is_train, "is_train", len(embedding)).astype(bool)
    if is_train.all() or not is_train.any():
        raise ValueError("is_train: expected both train (True) and test (False) points, found only one kind")
    n_neighbors = _n_neighbors(n_neighbors, int(is_train.sum()) + 1)
    return cached_call("embedding_quality", _knn_accuracy, embedding, labels, is_train, n_neighbors, cache=cache)


def _knn_accuracy(embedding, labels, is_train, n_neighbors):
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=n_neighbors).fit(embedding[is_train], labels[is_train])
    return float(model.score(embedding[~is_train], labels[~is_train]))


def neighbourhood_preservation(
    data, embedding, *, n_neighbors: int = 10, sample_size: int | None = 2000, seed: int = 0
) -> float:
    """Return the mean recall of input-space k-NN among embedding k-NN (1 = all kept).

    Neighbours are searched among all rows; the recall is averaged over a seeded sample of
    query rows (``sample_size=None``: every row).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> neighbourhood_preservation(X, X, n_neighbors=5)
    1.0
    >>> neighbourhood_preservation(X, rng.normal(size=(200, 2)), n_neighbors=5) < 0.2
    True
    """
    matrix, embedding = _paired(data, embedding)
    n_neighbors = _n_neighbors(n_neighbors, len(matrix))
    rows = sample_rows(len(matrix), sample_size, seed)
    in_input = nearest_other_rows(matrix, n_neighbors, queries=rows, algorithm="brute")[1]
    in_embedding = nearest_other_rows(embedding, n_neighbors, queries=rows)[1]
    kept = [np.intersect1d(a, b).size for a, b in zip(in_input, in_embedding)]
    return float(np.mean(kept) / n_neighbors)


def embedding_scores(
    data,
    embedding,
    labels,
    is_train,
    *,
    n_neighbors: int = 10,
    sample_size: int = 5000,
    queries: int = 2000,
    seed: int = 0,
    cache: bool = False,
) -> dict:
    """Return the three quality metrics of an embedding as a dict.

    Keys: ``trustworthiness`` (at ``n_neighbors``, on ``sample_size`` rows), ``knn_accuracy``
    (5-NN, train to test) and ``neighbourhood_preservation`` (recall at ``n_neighbors``,
    averaged over ``queries`` rows). With ``cache=True`` the scores are kept in the project
    cache, keyed by the content of the arrays and the parameters (the input-space
    neighbour searches take seconds on all 70,000 digits).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> scores = embedding_scores(X, X, X[:, 0] > 0, np.arange(100) < 70, n_neighbors=5)
    >>> scores["trustworthiness"], scores["neighbourhood_preservation"]
    (1.0, 1.0)
    """
    return cached_call(
        "embedding_quality",
        _embedding_scores,
        np.asarray(data),
        np.asarray(embedding),
        np.asarray(labels),
        np.asarray(is_train),
        n_neighbors=n_neighbors,
        sample_size=sample_size,
        queries=queries,
        seed=seed,
        cache=cache,
    )


def _embedding_scores(data, embedding, labels, is_train, *, n_neighbors, sample_size, queries, seed):
    return {
        "trustworthiness": trustworthiness(
            data, embedding, n_neighbors=n_neighbors, sample_size=sample_size, seed=seed
        ),
        "knn_accuracy": knn_accuracy(embedding, labels, is_train, n_neighbors=5),
        "neighbourhood_preservation": neighbourhood_preservation(
            data, embedding, n_neighbors=n_neighbors, sample_size=queries, seed=seed
        ),
    }


def _graph_neighbour_labels(embedding, labels, n_neighbors):
    embedding = as_feature_matrix(embedding, name="embedding")
    labels = vector(labels, "labels", len(embedding))
    n_neighbors = _n_neighbors(n_neighbors, len(embedding))
    neighbours = nearest_other_rows(embedding, n_neighbors)[1]
    return labels, labels[neighbours]


def class_mixing(embedding, labels, *, n_neighbors: int = 10) -> pd.DataFrame:
    """Return the share of each class's k-NN edges that land on each class (rows sum to 1).

    Row ``a``, column ``b``: of all edges from points of class ``a`` to their
    ``n_neighbors`` nearest embedding neighbours, the fraction ending on class ``b``.

    Examples
    --------
    >>> embedding = np.array([[0.0], [0.1], [0.3], [5.0], [5.1], [5.3]])
    >>> class_mixing(embedding, [0, 0, 1, 1, 1, 1], n_neighbors=1).values.tolist()
    [[1.0, 0.0], [0.25, 0.75]]
    """
    labels, neighbour_labels = _graph_neighbour_labels(embedding, labels, n_neighbors)
    classes = np.unique(labels)
    counts = pd.crosstab(np.repeat(labels, neighbour_labels.shape[1]), neighbour_labels.ravel())
    counts = counts.reindex(index=classes, columns=classes, fill_value=0)
    counts.index.name, counts.columns.name = "class", "neighbour class"
    return counts.div(counts.sum(axis=1), axis=0)


def group_mixing(embedding, labels, groups, *, n_neighbors: int = 10) -> pd.DataFrame:
    """How much each group (split, writer group) keeps to itself on a map, against chance.

    ``same_group`` is the share of the k-NN edges from a group's points that end on the same
    group (the diagonal of :func:`class_mixing` with groups as classes). Since a point's map
    neighbours are mostly of its own class, ``chance`` is what random group membership within
    each class would give: for each point, its group's share among the points of its class,
    averaged over the group. ``excess`` is ``same_group - chance``.

    Examples
    --------
    >>> embedding = np.array([[0.0], [0.1], [1.0], [1.1], [5.0], [5.1], [6.0], [6.1]])
    >>> labels = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> groups = ["a", "a", "b", "b", "a", "a", "b", "b"]
    >>> group_mixing(embedding, labels, groups, n_neighbors=1).round(2).to_dict("index")
    {'a': {'same_group': 1.0, 'chance': 0.5, 'excess': 0.5}, 'b': {'same_group': 1.0, 'chance': 0.5, 'excess': 0.5}}
    """
    groups = np.asarray(groups)
    labels = vector(labels, "labels", len(groups))
    mixing = class_mixing(embedding, groups, n_neighbors=n_neighbors)
    frame = pd.DataFrame({"label": labels, "group": groups})
    share_in_class = frame.groupby("label")["group"].value_counts(normalize=True)
    point_chance = share_in_class.reindex(pd.MultiIndex.from_frame(frame[["label", "group"]])).to_numpy()
    chance = pd.Series(point_chance).groupby(groups).mean().reindex(mixing.index)
    table = pd.DataFrame({"same_group": np.diag(mixing), "chance": chance.to_numpy()}, index=mixing.index)
    table["excess"] = table["same_group"] - table["chance"]
    table.index.name = "group"
    return table


def mixing_pairs(mixing: pd.DataFrame) -> pd.DataFrame:
    """Rank unordered class pairs by how much their k-NN neighbourhoods mix.

    ``share`` is the mean of the ``a -> b`` and ``b -> a`` shares of :func:`class_mixing`.

    Examples
    --------
    >>> m = pd.DataFrame([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    >>> first = mixing_pairs(m).iloc[0]
    >>> int(first["class_a"]), int(first["class_b"]), round(float(first["share"]), 3)
    (0, 1, 0.15)
    """
    if not isinstance(mixing, pd.DataFrame) or mixing.shape[0] != mixing.shape[1]:
        raise ValueError(f"mixing: expected a square DataFrame from class_mixing, found {type(mixing).__name__}")
    classes = list(mixing.index)
    rows = [
        {"class_a": a, "class_b": b, "a_to_b": float(mixing.loc[a, b]), "b_to_a": float(mixing.loc[b, a])}
        for i, a in enumerate(classes)
        for b in classes[i + 1 :]
    ]
    pairs = pd.DataFrame(rows, columns=["class_a", "class_b", "a_to_b", "b_to_a"])
    pairs["share"] = (pairs["a_to_b"] + pairs["b_to_a"]) / 2
    return pairs.sort_values("share", ascending=False, kind="stable").reset_index(drop=True)


def border_points(embedding, labels, class_a, class_b, *, n_neighbors: int = 10, n_examples: int = 8) -> np.ndarray:
    """Return rows of class ``class_a`` whose embedding neighbours are most often ``class_b``.

    Ordered from the most mixed; ties keep row order. At most ``n_examples`` rows, and only
    rows with at least one neighbour of ``class_b``.

    Examples
    --------
    >>> embedding = np.array([[0.0], [1.5], [2.0], [2.4], [10.0], [11.0]])
    >>> border_points(embedding, [0, 0, 0, 1, 1, 1], 0, 1, n_neighbors=2).tolist()
    [1, 2]
    """
    labels, neighbour_labels = _graph_neighbour_labels(embedding, labels, n_neighbors)
    positive_int(n_examples, "n_examples")
    for name, value in (("class_a", class_a), ("class_b", class_b)):
        if value not in set(labels.tolist()):
            raise ValueError(f"{name}: expected one of the labels {sorted(set(labels.tolist()))}, found {value!r}")
    toward_b = (neighbour_labels == class_b).sum(axis=1)
    candidates = np.flatnonzero((labels == class_a) & (toward_b > 0))
    order = np.argsort(-toward_b[candidates], kind="stable")
    return candidates[order][:n_examples]
