"""Data-quality audit: out-of-sample probabilities, likely label errors and outlier scores.

Three steps, each taking arrays and returning arrays or DataFrames:

- :func:`out_of_sample_probabilities`: class probabilities for every image from models
  that never saw its label, for all images given at once (for example train and test
  pooled): a 10-nearest-neighbour vote that leaves the image itself out, averaged with a
  logistic regression scored by stratified K-fold cross-validation;
- :func:`label_issues`: confident learning (Northcutt, Jiang and Chuang, "Confident
  learning: estimating uncertainty in dataset labels", JAIR 2021) with the cleanlab
  library: which labels are likely wrong, the label the models suggest instead, a label
  quality score and a rank;
- :func:`outlier_scores`: the distance of each image to its k-th nearest other image in
  principal-component space (large = unlike any other digit).

Both models work on one shared projection on the first 50 principal components
(:func:`mnist_analysis.embeddings.fit_pca`, fitted without labels on all images given),
and the neighbour vote reuses the neighbour search of the outlier scores. That is why
they do not go through :func:`mnist_analysis.models.out_of_fold_probabilities`, which
refits each model's PCA in every fold: on all 70,000 images its ``knn_pca`` and
``logistic_regression`` took about 100 s and 320 s on the project's 2-core machine, against
a budget of 5 minutes for the whole audit (``benchmarks/bench_audit.py``). Near-duplicate
pairs come from :mod:`mnist_analysis.duplicates`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

#: Principal components of the shared projection.
N_COMPONENTS = 50
#: Neighbours of the leave-one-out vote and of the outlier score.
N_NEIGHBOURS = 10

#: The audit's models: name -> description. Their probabilities are averaged: a local
#: model (neighbours) and a smooth global one (linear) make graded, accurate probabilities.
AUDIT_MODELS = {
    "knn": f"{N_NEIGHBOURS} nearest neighbours (leave-one-out vote) on {N_COMPONENTS} principal components",
    "logistic": f"logistic regression on {N_COMPONENTS} standardised principal components (K-fold)",
}

#: Columns of :func:`label_issues`, with what each holds.
LABEL_ISSUE_COLUMNS = {
    "given_label": "the label in the data set",
    "suggested_label": "the most probable class out of sample (the label the models suggest)",
    "suggested_probability": "out-of-sample probability of the suggested label",
    "label_quality": "cleanlab label quality score in [0, 1]: low means the given label is likely wrong",
    "is_label_issue": "flagged by confident learning (cleanlab.filter.find_label_issues)",
    "label_issue_rank": "1 = most likely label error: flagged rows first, each group by label quality, lowest first",
}


def _images(images, name: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"{name}: expected numeric images of shape (n, height, width), "
                         f"found {images.dtype} array of shape {images.shape}")
    return images


def _class_labels(labels, n: int | None = None, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or (n is not None and len(labels) != n):
        expected = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"{name}: expected one label per row, shape {expected}, found shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class labels, found dtype {labels.dtype}")
    present = np.unique(labels)
    if len(present) < 2 or not np.array_equal(present, np.arange(len(present))):
        raise ValueError(f"{name}: expected the classes 0..K-1 (K >= 2) each at least once, "
                         f"found {present.tolist()}")
    return labels.astype(np.int64)


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer of at least {minimum}, found {value!r}")
    return int(value)


def _cached(function, cache: bool):
    if not cache:
        return function
    from mnist_analysis.cache import memory

    return memory("quality").cache(function)


# --------------------------------------------------------------------------- shared steps
def pca_scores(images, *, n_components: int = N_COMPONENTS, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Project images on their first ``n_components`` principal components (0-255 scale).

    :func:`mnist_analysis.embeddings.fit_pca` fits the basis (randomised SVD seeded with
    ``seed``, cached); ``n_components`` is capped at ``min(n, pixels)``.

    Examples
    --------
    >>> pca_scores(np.random.default_rng(0).normal(size=(30, 4, 4)), n_components=3, cache=False).shape
    (30, 3)
    """
    from mnist_analysis.embeddings import fit_pca

    images = _images(images)
    n_components = min(_positive_int(n_components, "n_components"), len(images), images[0].size)
    return fit_pca(images, n_components, seed=seed, cache=cache).transform(images)


def _nearest_others(scores, k):
    from sklearn.neighbors import NearestNeighbors

    n = len(scores)
    distances, indices = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(scores).kneighbors(scores)
    # Drop each row's own entry (an exact copy may come first; with more than k copies
    # the row itself may be missing, and the farthest entry is dropped instead).
    is_self = indices == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
    keep = np.ones(indices.shape, bool)
    keep[np.arange(n), drop] = False
    return distances[keep].reshape(n, k).astype(np.float64), indices[keep].reshape(n, k)


def nearest_others(scores, k: int = N_NEIGHBOURS, *, cache: bool = True):
    """The ``k`` nearest other rows of every row (Euclidean, exact brute-force search).

    Returns
    -------
    distances : numpy.ndarray of shape (n, k)
        Increasing along each row.
    indices : numpy.ndarray of shape (n, k)
        Row positions of the neighbours; a row is never its own neighbour.

    Examples
    --------
    >>> distances, indices = nearest_others(np.array([[0.0], [1.0], [3.0]]), k=1, cache=False)
    >>> indices.ravel().tolist(), distances.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores: expected an array of shape (n, features), found shape {scores.shape}")
    k = _positive_int(k, "k")
    if k >= len(scores):
        raise ValueError(f"k: expected fewer than the number of rows ({len(scores)}), found {k}")
    return _cached(_nearest_others, cache)(scores, k)


def _logistic(features, labels, n_splits, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # tol=1e-3: a quarter of the default's iterations for the same held-out accuracy.
    model = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-3, max_iter=300))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cross_val_predict(model, features, labels, cv=folds, method="predict_proba")


def logistic_probabilities(features, labels, *, n_splits: int = 5, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Out-of-fold probabilities of a logistic regression on standardised ``features``.

    Stratified K-fold (shuffled with ``seed``): every row is scored by a model fitted on
    the other folds.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1], 20)
    >>> features = rng.normal(size=(40, 3)) + 3 * labels[:, None]
    >>> p = logistic_probabilities(features, labels, n_splits=4, cache=False)
    >>> p.shape, float(np.mean(p.argmax(axis=1) == labels))
    ((40, 2), 1.0)
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features: expected an array of shape (n, features), found shape {features.shape}")
    labels = _class_labels(labels, len(features))
    n_splits = _positive_int(n_splits, "n_splits", minimum=2)
    if np.bincount(labels).min() < n_splits:
        raise ValueError(f"n_splits: expected at most the size of the smallest class ({np.bincount(labels).min()}), "
                         f"found {n_splits}")
    return _cached(_logistic, cache)(features, labels, n_splits, int(seed))


def neighbour_vote(neighbour_indices, labels) -> np.ndarray:
    """Class probabilities from the labels of each row's neighbours (a k-NN vote).

    Pass neighbours that exclude the row itself (:func:`nearest_others`) and the vote is
    leave-one-out: no row is scored by its own label.

    Examples
    --------
    >>> neighbour_vote(np.array([[1, 2], [0, 2], [0, 1]]), np.array([0, 1, 1]))
    array([[0. , 1. ],
           [0.5, 0.5],
           [0.5, 0.5]])
    """
    neighbour_indices = np.asarray(neighbour_indices)
    labels = _class_labels(labels)
    if neighbour_indices.ndim != 2 or len(neighbour_indices) != len(labels):
        raise ValueError(f"neighbour_indices: expected shape ({len(labels)}, k), found shape {neighbour_indices.shape}")
    votes = labels[neighbour_indices]
    n_classes = labels.max() + 1
    counts = np.stack([(votes == c).sum(axis=1) for c in range(n_classes)], axis=1)
    return counts / neighbour_indices.shape[1]


# --------------------------------------------------------------------------- probabilities
def model_probabilities(images, labels, *, n_splits: int = 5, seed: int = 0, cache: bool = True) -> dict:
    """Out-of-sample class probabilities of each model of :data:`AUDIT_MODELS`, for every image.

    ``"knn"``: the vote of the :data:`N_NEIGHBOURS` nearest other images (leave-one-out);
    ``"logistic"``: logistic regression, stratified ``n_splits``-fold (shuffled with
    ``seed``). Both on :func:`pca_scores` (:data:`N_COMPONENTS` components).

    Parameters
    ----------
    images : array of shape (n, 28, 28)
        Raw images, 0-255.
    labels : array of shape (n,)
        Integer classes 0..K-1, each present at least ``n_splits`` times.
    n_splits, seed, cache
        Folds of the logistic regression; seed of the folds and of the PCA; on-disk cache.

    Returns
    -------
    dict
        ``{model name: (n, K) probabilities}``, in the order of :data:`AUDIT_MODELS`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images, labels = rng.integers(0, 256, (200, 28, 28)), np.repeat([0, 1], 100)
    >>> images[labels == 1, :14] = 255
    >>> p = model_probabilities(images, labels, n_splits=2, cache=False)
    >>> {name: float(np.mean(q.argmax(1) == labels)) for name, q in p.items()}
    {'knn': 1.0, 'logistic': 1.0}
    """
    images = _images(images)
    labels = _class_labels(labels, len(images))
    if len(images) <= N_NEIGHBOURS:
        raise ValueError(f"images: expected more than {N_NEIGHBOURS} images, found {len(images)}")
    scores = pca_scores(images, seed=seed, cache=cache)
    _, neighbours = nearest_others(scores, N_NEIGHBOURS, cache=cache)
    return {"knn": neighbour_vote(neighbours, labels),
            "logistic": logistic_probabilities(scores, labels, n_splits=n_splits, seed=seed, cache=cache)}


def out_of_sample_probabilities(images, labels, *, n_splits: int = 5, seed: int = 0,
                                cache: bool = True) -> np.ndarray:
    """Out-of-sample class probabilities of every image: the mean of :func:`model_probabilities`.

    Returns
    -------
    numpy.ndarray of shape (n, K)
        Rows sum to 1; column ``k`` is class ``k``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images, labels = rng.integers(0, 256, (40, 28, 28)), np.repeat([0, 1], 20)
    >>> images[labels == 1, :14] = 255
    >>> p = out_of_sample_probabilities(images, labels, n_splits=2, cache=False)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
    ((40, 2), True)
    """
    per_model = model_probabilities(images, labels, n_splits=n_splits, seed=seed, cache=cache)
    return np.mean(list(per_model.values()), axis=0)


# --------------------------------------------------------------------------- label issues
def _probabilities(probabilities, n: int) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != n:
        raise ValueError(f"probabilities: expected shape ({n}, n_classes), found shape {probabilities.shape}")
    if not np.isfinite(probabilities).all() or (probabilities < 0).any() \
            or not np.allclose(probabilities.sum(axis=1), 1, atol=1e-4):
        raise ValueError("probabilities: expected finite non-negative rows that sum to 1")
    return probabilities


def label_issues(labels, probabilities, *, method: str = "self_confidence",
                 filter_by: str = "prune_by_noise_rate") -> pd.DataFrame:
    """Rank likely label errors by confident learning (cleanlab).

    ``cleanlab.filter.find_label_issues`` estimates the joint distribution of given and
    true labels from out-of-sample probabilities (the *confident joint*: an image counts
    as truly of class ``j`` when its probability of ``j`` reaches the average probability
    of ``j`` among images labelled ``j``) and flags, within each (given, true) cell off the
    diagonal, as many images as the estimated number of errors there (``filter_by``).
    ``cleanlab.rank.get_label_quality_scores`` scores every label (``method``):
    ``"self_confidence"`` is the probability of the given label.

    Parameters
    ----------
    labels : array of shape (n,)
        Given classes 0..K-1.
    probabilities : array of shape (n, K)
        Out-of-sample probabilities, for example from :func:`out_of_sample_probabilities`.
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
    filter_by : str
        cleanlab's rule for flagging, for example ``"prune_by_noise_rate"`` or ``"both"``.

    Returns
    -------
    pandas.DataFrame
        One row per image, in input order, with the columns of :data:`LABEL_ISSUE_COLUMNS`.
        Sort by ``label_issue_rank`` for the ranking.

    Examples
    --------
    >>> labels = np.repeat(np.arange(3), 30)
    >>> probabilities = np.full((90, 3), 0.05)
    >>> probabilities[np.arange(90), labels] = 0.9
    >>> labels[[4, 40]] = [2, 0]   # two wrong labels
    >>> issues = label_issues(labels, probabilities)
    >>> issues.sort_values("label_issue_rank").head(2)[["given_label", "suggested_label", "is_label_issue"]]
        given_label  suggested_label  is_label_issue
    4             2                0            True
    40            0                1            True
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = _class_labels(labels)
    probabilities = _probabilities(probabilities, len(labels))
    if probabilities.shape[1] != labels.max() + 1:
        raise ValueError(f"probabilities: expected one column per class ({labels.max() + 1}), "
                         f"found {probabilities.shape[1]}")
    quality = get_label_quality_scores(labels, probabilities, method=method)
    flagged = find_label_issues(labels, probabilities, filter_by=filter_by, n_jobs=1)  # one process: deterministic
    order = np.lexsort((np.arange(len(labels)), quality, ~flagged))
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(1, len(labels) + 1)
    suggested = probabilities.argmax(axis=1)
    return pd.DataFrame({
        "given_label": labels,
        "suggested_label": suggested,
        "suggested_probability": probabilities[np.arange(len(labels)), suggested],
        "label_quality": quality.astype(np.float64),
        "is_label_issue": flagged.astype(bool),
        "label_issue_rank": rank,
    })


# --------------------------------------------------------------------------- duplicate pairs
def describe_pairs(pairs: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Add what is known about both images of each pair (from :mod:`mnist_analysis.duplicates`).

    Parameters
    ----------
    pairs : pandas.DataFrame
        With integer columns ``first`` and ``second``: row positions in ``frame``.
    frame : pandas.DataFrame
        One row per image with ``split``, ``index`` and ``label`` (as from
        :func:`mnist_analysis.load_frame` or a sample of it, in image order).

    Returns
    -------
    pandas.DataFrame
        ``pairs`` with ``split_first``, ``index_first``, ``label_first`` (and the same for
        ``second``), ``kind`` (``"train/train"``, ``"test/test"`` or ``"train/test"``: a
        train/test pair is leakage between the splits) and ``same_label``.

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train", "train", "test"], "index": [0, 1, 0], "label": [7, 7, 1]})
    >>> pairs = pd.DataFrame({"first": [0, 1], "second": [1, 2]})
    >>> describe_pairs(pairs, frame)[["kind", "same_label"]].values.tolist()
    [['train/train', True], ['train/test', False]]
    """
    missing = [c for c in ("first", "second") if c not in pairs.columns]
    if missing:
        raise ValueError(f"pairs: expected the columns 'first' and 'second', missing {missing}")
    described = pairs.copy()
    for side in ("first", "second"):
        rows = frame.iloc[pairs[side].to_numpy()]
        for column in ("split", "index", "label"):
            described[f"{column}_{side}"] = rows[column].astype(str if column == "split" else np.int64).to_numpy()
    ordered = np.sort(described[["split_first", "split_second"]].to_numpy(str), axis=1)[:, ::-1]
    described["kind"] = [f"{a}/{b}" for a, b in ordered]
    described["same_label"] = described["label_first"] == described["label_second"]
    return described


def pair_stack(images, pairs: pd.DataFrame) -> np.ndarray:
    """Stack the images of each pair side by side, first then second, for an image grid.

    Examples
    --------
    >>> images = np.arange(3)[:, None, None] * np.ones((3, 2, 2))
    >>> pair_stack(images, pd.DataFrame({"first": [0], "second": [2]}))[:, 0, 0].tolist()
    [0.0, 2.0]
    """
    images = _images(images)
    positions = np.column_stack([pairs["first"].to_numpy(), pairs["second"].to_numpy()]).ravel()
    return images[positions.astype(np.int64)]


# --------------------------------------------------------------------------- outliers
def outlier_scores(images, *, k: int = N_NEIGHBOURS, n_components: int = N_COMPONENTS, seed: int = 0,
                   cache: bool = True) -> np.ndarray:
    """Distance of each image to its ``k``-th nearest other image in principal-component space.

    The images are projected with :func:`pca_scores` and the Euclidean distance to the
    ``k``-th nearest other image (:func:`nearest_others`) is the score: large for digits
    unlike any other, small inside dense groups. Rank the scores to find the outliers.

    Parameters
    ----------
    images : array of shape (n, height, width)
    k : int
        Which neighbour (1 = the nearest other image); must be below ``n``.
    n_components : int
        Principal components kept (at most ``min(n, pixels)``).
    seed : int
        Random state of the randomised PCA.
    cache : bool
        Read and write the on-disk cache.

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images = rng.normal(100, 5, size=(30, 28, 28))
    >>> images[7] += 80                       # one image far from the rest
    >>> int(np.argmax(outlier_scores(images, k=3, n_components=5, cache=False)))
    7
    """
    images = _images(images)
    k = _positive_int(k, "k")
    if k >= len(images):
        raise ValueError(f"k: expected fewer than the number of images ({len(images)}), found {k}")
    scores = pca_scores(images, n_components=n_components, seed=seed, cache=cache)
    distances, _ = nearest_others(scores, k, cache=cache)
    return distances[:, k - 1]
