"""Data-quality audit: out-of-sample probabilities, likely label errors and outlier scores.

Three steps, each taking arrays and returning arrays or DataFrames:

- :func:`model_probabilities`: class probabilities for every image from models that never
  saw its label, for all images given at once (for example train and test pooled), from the
  audit's four models (:data:`TABLE_MODELS`; any of the five candidates of
  :data:`AUDIT_MODELS` on request); :func:`out_of_sample_probabilities` averages those of
  :data:`ENSEMBLE_MODELS` and :func:`disagreeing_models` names the models that miss each label;
- :func:`label_issues`: confident learning (Northcutt, Jiang and Chuang, "Confident
  learning: estimating uncertainty in dataset labels", JAIR 2021) with the cleanlab
  library: which labels are likely wrong, the label the models suggest instead, a label
  quality score and a rank (by :data:`RANKING`, the one the label-issue benchmark chose);
- :func:`outlier_scores`: the distance of each image to its k-th nearest other image in
  principal-component space (large = unlike any other digit).

The models
----------
``knn`` and ``logistic`` (the earlier audit, :data:`BASELINE_MODELS`) work on one shared
projection on the first 50 principal components (:func:`mnist_analysis.embeddings.fit_pca`,
fitted without labels on all images given); the neighbour vote is leave-one-out and reuses
the neighbour search of the outlier scores. ``knn_deskewed`` and ``svm_deskewed`` work on
the principal components of the deskewed images (:func:`deskewed_scores`). ``svm_hog`` is the
same support vector machine on 100 principal components of the deskewed images' histograms
of oriented gradients (:func:`hog_scores`, :mod:`mnist_analysis.gradient_features`). The
SVMs' probabilities come from a logistic regression on their out-of-fold decision values
(stacking), which costs one SVM fit per fold where Platt scaling costs six. No model goes
through :func:`mnist_analysis.models.out_of_fold_probabilities`, which refits PCA in every fold.

Out-of-fold errors on all 70,000 images (``benchmarks/results/label_issues.json``): knn
2.32 %, logistic 9.31 %, knn_deskewed 1.77 %, svm_deskewed 1.72 %, svm_hog 0.95 %; averaging
svm_hog with the others gave more errors (0.97 % with knn_deskewed, 1.01 % with svm_deskewed,
1.08 % with both), and the planted-noise benchmark found most planted errors with svm_hog
alone, so :data:`ENSEMBLE_MODELS` is ``svm_hog``. Also measured and left out: a small
convolutional network (PyTorch, CPU, 2 threads) trained 2 epochs on 20,000 images reached
1.74 % test errors in 78 s, about 530 images a second: five folds of 56,000 images would cost
several times the audit's budget of 300 s. An MLP was left out earlier for the same reason
(five folds cost about 100 s of one core).

Which ranking (:data:`RANKING`) and which ensemble ``benchmarks/bench_label_issues.py``
measured, with planted label errors that look like real ones, is in
``benchmarks/results/label_issues.json`` (:mod:`mnist_analysis.label_noise`).
Near-duplicate pairs come from :mod:`mnist_analysis.duplicates`.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .caching.cache import cached_call
from .validation import class_labels, image_stack, integer, probability_rows

#: Principal components of the shared projection.
N_COMPONENTS = 50
#: Neighbours of the leave-one-out vote and of the outlier score.
N_NEIGHBOURS = 10

#: Regularisation of the support vector machine (as the model zoo's ``svm_rbf_pca``).
SVM_C = 10.0
#: Inverse penalty of the logistic regression that calibrates the SVM's decision values: at
#: 1.0 it overfitted the 45 decision values of 400 synthetic images (2.75 % errors where the
#: SVM's own vote made none), at 0.1 it did not. With tens of thousands of rows the penalty
#: weighs little either way.
CALIBRATION_C = 0.1
#: Processes that fit the support vector machine's folds side by side (one core each).
SVM_PROCESSES = 2
#: Principal components of the HOG features (:mod:`mnist_analysis.gradient_features`) that
#: ``svm_hog`` works on: 100 gave 0.92 % test errors trained on 10,000 images, 70 gave 1.03 %.
N_HOG_COMPONENTS = 100

#: Every model the audit can compute (name -> description), each giving out-of-sample
#: probabilities: the candidates ``benchmarks/bench_label_issues.py`` compares. The audit's
#: own table computes :data:`TABLE_MODELS` of them.
AUDIT_MODELS = {
    "knn": f"{N_NEIGHBOURS} nearest neighbours (leave-one-out vote) on {N_COMPONENTS} principal components",
    "logistic": f"logistic regression on {N_COMPONENTS} standardised principal components (K-fold)",
    "knn_deskewed": (
        f"{N_NEIGHBOURS} nearest neighbours (leave-one-out vote) on {N_COMPONENTS} principal "
        "components of the deskewed images"
    ),
    "svm_deskewed": (
        f"RBF support vector machine (C={SVM_C:g}) on {N_COMPONENTS} principal components of the "
        "deskewed images (K-fold), calibrated by a logistic regression on its decision values"
    ),
    "svm_hog": (
        f"RBF support vector machine (C={SVM_C:g}) on {N_HOG_COMPONENTS} principal components of the "
        "histograms of oriented gradients of the deskewed images (K-fold), calibrated like svm_deskewed"
    ),
}
#: The earlier audit's ensemble (the baseline of ``benchmarks/bench_label_issues.py``).
BASELINE_MODELS = ("knn", "logistic")
#: The models whose out-of-sample predictions the audit computes (per-image columns
#: ``predicted_*`` and ``disagreeing_models``; :func:`model_probabilities`' default): the
#: ensemble, the baseline's two (which share the outlier scores' projection and neighbour
#: search) and ``knn_deskewed`` (the nearest-neighbour view of the deskewed digits, beside
#: the SVM). ``svm_deskewed`` is left out: it cost more than every other model together
#: (``benchmarks/results/audit.json``), is in no chosen ensemble and adds errors to
#: ``svm_hog``'s (1.01 % together against 0.95 % alone); the benchmark still measures it.
TABLE_MODELS = ("knn", "logistic", "knn_deskewed", "svm_hog")
#: The models whose probabilities are averaged for the label-quality ranking: the HOG SVM
#: alone, the fewest out-of-fold errors and the most planted errors found
#: (``benchmarks/bench_label_issues.py`` compares it with every other combination).
ENSEMBLE_MODELS = ("svm_hog",)

#: How the audit ranks labels (:func:`label_issues`' ``label_issue_rank``): one of
#: :data:`mnist_analysis.label_noise.RANKINGS`, the one ``benchmarks/bench_label_issues.py``
#: chooses. Its rule: the highest recall at twice the planted count on instance-dependent
#: noise (mean of the seeds, 1 % and 3 %), then the highest average precision. Self-confidence
#: (lowest probability of the given label first) ties cleanlab's flags-first order on recall
#: and leads it on average precision in every one of the 10 seed-and-rate runs (+0.0014,
#: interval over seeds 0.0008 to 0.0021), so the audit uses it; ``is_label_issue`` still
#: holds cleanlab's flags.
RANKING = "self_confidence"
#: The rankings :func:`label_issues` can give ``label_issue_rank``.
ISSUE_RANKINGS = ("self_confidence", "flagged_first")

#: Columns of :func:`label_issues`, with what each holds.
LABEL_ISSUE_COLUMNS = {
    "given_label": "the label in the data set",
    "suggested_label": "the most probable class out of sample (the label the models suggest)",
    "suggested_probability": "out-of-sample probability of the suggested label",
    "label_quality": "cleanlab label quality score in [0, 1]: low means the given label is likely wrong",
    "is_label_issue": "flagged by confident learning (cleanlab.filter.find_label_issues)",
    "label_issue_rank": (
        "1 = most likely label error: by label quality, lowest first (ranking='self_confidence', the audit's), "
        "or flagged rows first, each group by label quality (ranking='flagged_first')"
    ),
}


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

    images = image_stack(images)
    n_components = min(integer(n_components, "n_components", minimum=1), len(images), images[0].size)
    return fit_pca(images, n_components, seed=seed, cache=cache).transform(images)


def _nearest_others(scores, k):
    from .utils import nearest_other_rows

    distances, indices = nearest_other_rows(scores, k, algorithm="brute")
    return distances.astype(np.float64), indices


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
    k = integer(k, "k", minimum=1)
    if k >= len(scores):
        raise ValueError(f"k: expected fewer than the number of rows ({len(scores)}), found {k}")
    return cached_call("label_quality", _nearest_others, scores, k, cache=cache)


def _logistic(features, labels, n_splits, seed, inverse_penalty=1.0):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # tol=1e-3: a quarter of the default's iterations for the same held-out accuracy.
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), LogisticRegression(C=inverse_penalty, tol=1e-3, max_iter=300))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    # One BLAS thread: the products are small, and a spinning BLAS pool on a busy 2-core machine
    # (the SVM's worker processes run beside it) cost many times the work itself.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
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
    labels = class_labels(labels, len(features))
    n_splits = integer(n_splits, "n_splits", minimum=2)
    if np.bincount(labels).min() < n_splits:
        raise ValueError(
            f"n_splits: expected at most the size of the smallest class ({np.bincount(labels).min()}), found {n_splits}"
        )
    return cached_call("label_quality", _logistic, features, labels, n_splits, int(seed), cache=cache)


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
    labels = class_labels(labels)
    if neighbour_indices.ndim != 2 or len(neighbour_indices) != len(labels):
        raise ValueError(f"neighbour_indices: expected shape ({len(labels)}, k), found shape {neighbour_indices.shape}")
    votes = labels[neighbour_indices]
    n_classes = labels.max() + 1
    counts = np.stack([(votes == c).sum(axis=1) for c in range(n_classes)], axis=1)
    return counts / neighbour_indices.shape[1]


# --------------------------------------------------------------------------- support vector machine
def _svm_fold(features, labels, train, held_out, seed):
    from sklearn.svm import SVC

    model = SVC(C=SVM_C, gamma="scale", decision_function_shape="ovo", cache_size=500, random_state=seed)
    return model.fit(features[train], labels[train]).decision_function(features[held_out])


def _svm_decisions(features, labels, n_splits, seed):
    from joblib import delayed
    from sklearn.model_selection import StratifiedKFold

    from .utils import in_worker_processes

    folds = list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(features, labels))
    # One fold per process (an SVM fit runs on one core); small problems are not worth a process.
    n_jobs = SVM_PROCESSES if len(labels) >= 5_000 else 1
    parts = in_worker_processes(
        (delayed(_svm_fold)(features, labels, train, held_out, seed) for train, held_out in folds), n_jobs
    )
    decisions = np.empty((len(labels), parts[0].size // len(folds[0][1])))
    for (_, held_out), part in zip(folds, parts):
        decisions[held_out] = part.reshape(len(held_out), -1)
    return decisions


def svm_probabilities(features, labels, *, n_splits: int = 5, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Out-of-fold probabilities of an RBF support vector machine, calibrated by stacking.

    An RBF SVM (``C`` = :data:`SVM_C`, ``gamma="scale"``) is fitted on the other folds of
    a stratified K-fold (shuffled with ``seed``) and gives each held-out row its 45
    one-vs-one decision values. A multinomial logistic regression on those decision values
    (standardised, ``C`` = :data:`CALIBRATION_C`), itself cross-validated with the same folds,
    turns them into probabilities. This costs one SVM per fold; Platt scaling
    (``SVC(probability=True)``) would fit five more per fold. From 5,000 rows on,
    :data:`SVM_PROCESSES` folds are fitted at the same time.

    Parameters
    ----------
    features : array of shape (n, d)
        For example principal-component scores (scaled to about unit pixel range).
    labels : array of shape (n,)
    n_splits, seed : int
        Folds, and the seed of their shuffle and of the SVM.
    cache : bool
        Read and write the on-disk cache.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 30)
    >>> features = rng.normal(size=(90, 2)) + 4 * np.eye(3)[labels, :2]
    >>> p = svm_probabilities(features, labels, n_splits=3, cache=False)
    >>> p.shape, float(np.mean(p.argmax(axis=1) == labels)) > 0.9
    ((90, 3), True)
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features: expected an array of shape (n, features), found shape {features.shape}")
    labels = class_labels(labels, len(features))
    n_splits = _check_splits(n_splits, labels)
    decisions = _svm_decision_values({"svm": features}, labels, n_splits, seed, cache)["svm"]
    return _calibrated(decisions, labels, n_splits, seed, cache)


# --------------------------------------------------------------------------- probabilities
def deskewed_scores(images, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """The first :data:`N_COMPONENTS` principal components of the deskewed images (0-1 scale).

    :func:`mnist_analysis.measurements.deskew` removes each digit's slant, then
    :func:`pca_scores` projects the result; scores are divided by 255.

    Examples
    --------
    >>> deskewed_scores(np.random.default_rng(0).integers(0, 256, (60, 28, 28)), cache=False).shape
    (60, 50)
    """
    images = image_stack(images)
    # Cached whole as well as step by step: a warm run reads these 50 columns, not the
    # deskewed images (53 MB for all 70,000).
    return cached_call("label_quality", _deskewed_scores, images, int(seed), cache, cache=cache)


def _deskewed_scores(images, seed, cache):
    from mnist_analysis.measurements import deskew

    upright = cached_deskew(images) if cache else deskew(images)
    return pca_scores(upright, seed=seed, cache=cache) / 255.0


def hog_scores(images, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """The first :data:`N_HOG_COMPONENTS` principal components of the deskewed images' HOG features.

    :func:`mnist_analysis.measurements.deskew` removes each digit's slant,
    :func:`mnist_analysis.gradient_features.hog_features` describes the result (1,296 values
    for a 28 x 28 image) and :func:`mnist_analysis.embeddings.fit_pca` (fitted without labels
    on all images given, seeded) projects it.

    Examples
    --------
    >>> hog_scores(np.random.default_rng(0).integers(0, 256, (120, 28, 28)), cache=False).shape
    (120, 100)
    """
    images = image_stack(images)
    # Cached whole as well as step by step: a warm run reads these 100 columns, not the
    # deskewed images and their HOG features (400 MB for all 70,000).
    return cached_call("label_quality", _hog_scores, images, int(seed), cache, cache=cache)


def _hog_scores(images, seed, cache):
    from mnist_analysis.embeddings import fit_pca
    from mnist_analysis.gradient_features import hog_features
    from mnist_analysis.measurements import deskew

    upright = cached_deskew(images) if cache else deskew(images)
    features = cached_call("label_quality", hog_features, upright, cache=cache)
    n_components = min(N_HOG_COMPONENTS, len(images), features.shape[1])
    return fit_pca(features, n_components, seed=seed, cache=cache).transform(features)


def cached_deskew(images) -> np.ndarray:
    """:func:`mnist_analysis.measurements.deskew` through the project cache.

    Examples
    --------
    >>> cached_deskew(np.zeros((2, 28, 28), np.uint8)).shape
    (2, 28, 28)
    """
    from mnist_analysis.measurements import deskew

    return cached_call("label_quality", deskew, image_stack(images))


def model_probabilities(images, labels, *, models=None, n_splits: int = 5, seed: int = 0, cache: bool = True) -> dict:
    """Out-of-sample class probabilities of models of :data:`AUDIT_MODELS`, for every image.

    ``"knn"`` and ``"knn_deskewed"``: the vote of the :data:`N_NEIGHBOURS` nearest other
    images (leave-one-out); ``"logistic"``: logistic regression, stratified
    ``n_splits``-fold (shuffled with ``seed``); ``"svm_deskewed"``: :func:`svm_probabilities`
    with the same folds. The first two work on :func:`pca_scores`, the deskewed ones on
    :func:`deskewed_scores` (:data:`N_COMPONENTS` components each).

    Parameters
    ----------
    images : array of shape (n, 28, 28)
        Raw images, 0-255.
    labels : array of shape (n,)
        Integer classes 0..K-1, each present at least ``n_splits`` times.
    models : sequence of str, optional
        Which of :data:`AUDIT_MODELS` to compute (default: the audit's, :data:`TABLE_MODELS`).
    n_splits, seed, cache
        Folds of the cross-validated models; seed of the folds, the models and the PCA;
        on-disk cache.

    Returns
    -------
    dict
        ``{model name: (n, K) probabilities}``, in the order of :data:`AUDIT_MODELS`.

    Notes
    -----
    The SVMs' folds are fitted in :data:`SVM_PROCESSES` worker processes, started from a
    thread; meanwhile this process computes the neighbour votes and the logistic regression,
    so both cores stay busy through the folds' last, odd round.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images, labels = rng.integers(0, 256, (200, 28, 28)), np.repeat([0, 1], 100)
    >>> images[labels == 1, :14] = 255
    >>> p = model_probabilities(images, labels, n_splits=2, cache=False)
    >>> {name: float(np.mean(q.argmax(1) == labels)) for name, q in p.items()}
    {'knn': 1.0, 'logistic': 1.0, 'knn_deskewed': 1.0, 'svm_hog': 1.0}
    """
    images = image_stack(images)
    labels = class_labels(labels, len(images))
    models = _model_names(models)
    if len(images) <= N_NEIGHBOURS:
        raise ValueError(f"images: expected more than {N_NEIGHBOURS} images, found {len(images)}")
    n_splits = _check_splits(n_splits, labels)
    wanted = set(models)
    if {"knn_deskewed", "svm_deskewed"} & wanted:
        upright = deskewed_scores(images, seed=seed, cache=cache)
    svm_features = {}
    if "svm_deskewed" in wanted:
        svm_features["svm_deskewed"] = upright
    if "svm_hog" in wanted:
        svm_features["svm_hog"] = hog_scores(images, seed=seed, cache=cache)
    result = {}
    with ThreadPoolExecutor(max_workers=1) as background:
        # The SVMs' folds run in worker processes started from a thread; meanwhile this thread
        # computes the other models, which keeps both cores busy through the folds' last round.
        decisions = background.submit(_svm_decision_values, svm_features, labels, n_splits, seed, cache)
        if {"knn", "logistic"} & wanted:
            scores = pca_scores(images, seed=seed, cache=cache)
        if "knn" in wanted:
            result["knn"] = neighbour_vote(nearest_others(scores, N_NEIGHBOURS, cache=cache)[1], labels)
        if "logistic" in wanted:
            result["logistic"] = logistic_probabilities(scores, labels, n_splits=n_splits, seed=seed, cache=cache)
        if "knn_deskewed" in wanted:
            result["knn_deskewed"] = neighbour_vote(nearest_others(upright, N_NEIGHBOURS, cache=cache)[1], labels)
        for name, values in decisions.result().items():
            result[name] = _calibrated(values, labels, n_splits, seed, cache)
    return {name: result[name] for name in models}


def _svm_decision_values(features: dict, labels, n_splits, seed, cache) -> dict:
    """Out-of-fold decision values of the SVM on each of ``features`` (name -> array), cached."""
    return {
        name: cached_call(
            "label_quality",
            _svm_decisions,
            np.asarray(values, dtype=np.float64),
            labels,
            n_splits,
            int(seed),
            cache=cache,
        )
        for name, values in features.items()
    }


def _calibrated(decisions, labels, n_splits, seed, cache) -> np.ndarray:
    """Probabilities from an SVM's out-of-fold decision values (:func:`svm_probabilities`' second step)."""
    return cached_call("label_quality", _logistic, decisions, labels, n_splits, int(seed), CALIBRATION_C, cache=cache)


def _model_names(models) -> tuple:
    if models is None:
        return TABLE_MODELS
    if isinstance(models, str) or not all(isinstance(m, str) for m in models):
        raise TypeError(f"models: expected a sequence of model names, found {models!r}")
    unknown = [m for m in models if m not in AUDIT_MODELS]
    if unknown or not models:
        raise ValueError(f"models: expected names from {list(AUDIT_MODELS)}, found {list(models)!r}")
    return tuple(m for m in AUDIT_MODELS if m in models)


def _check_splits(n_splits, labels) -> int:
    n_splits = integer(n_splits, "n_splits", minimum=2)
    if np.bincount(labels).min() < n_splits:
        raise ValueError(
            f"n_splits: expected at most the size of the smallest class ({np.bincount(labels).min()}), found {n_splits}"
        )
    return n_splits


def combine(per_model: dict, models=ENSEMBLE_MODELS) -> np.ndarray:
    """Average the probabilities of ``models`` (names of :data:`AUDIT_MODELS`) from ``per_model``.

    Each model's rows must be finite, non-negative and sum to 1; a model whose rows do not
    is refused with its name, the first bad row and its sum.

    Examples
    --------
    >>> combine({"knn": np.array([[1.0, 0.0]]), "logistic": np.array([[0.5, 0.5]])}, ("knn", "logistic"))
    array([[0.75, 0.25]])
    >>> combine({"knn": np.array([[0.9, 0.3]]), "logistic": np.array([[0.5, 0.5]])}, ("knn", "logistic"))
    Traceback (most recent call last):
    ...
    ValueError: per_model['knn']: expected finite non-negative rows that sum to 1, found row 0 summing to 1.2
    """
    if not isinstance(per_model, dict):
        raise TypeError(f"per_model: expected a dict model name -> probabilities, found {type(per_model).__name__}")
    names = _model_names(models)
    missing = [m for m in names if m not in per_model]
    if missing:
        raise ValueError(f"per_model: expected probabilities of {list(models)}, missing {missing}")
    checked = [probability_rows(per_model[m], f"per_model[{m!r}]") for m in names]
    shapes = {m: c.shape for m, c in zip(names, checked)}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"per_model: expected one shape for every model, found {shapes}")
    return np.mean(checked, axis=0)


def out_of_sample_probabilities(
    images, labels, *, models=ENSEMBLE_MODELS, n_splits: int = 5, seed: int = 0, cache: bool = True
) -> np.ndarray:
    """Out-of-sample class probabilities of every image: the mean of ``models``' probabilities.

    The default, :data:`ENSEMBLE_MODELS`, is the audit's ensemble; pass
    :data:`BASELINE_MODELS` for the earlier one.

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
    models = _model_names(models)
    per_model = model_probabilities(images, labels, models=models, n_splits=n_splits, seed=seed, cache=cache)
    return combine(per_model, models)


def disagreeing_models(labels, per_model: dict) -> np.ndarray:
    """Which models' out-of-sample prediction (most probable class) differs from each label.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
        The names of the disagreeing models of ``per_model``, in its order, joined by
        ``"+"``; ``"none"`` when every model predicts the label.

    Examples
    --------
    >>> per_model = {"knn": np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]),
    ...              "svm": np.array([[0.3, 0.7], [0.1, 0.9], [0.1, 0.9]])}
    >>> disagreeing_models(np.array([0, 1, 0]), per_model).tolist()
    ['svm', 'none', 'knn+svm']
    """
    labels = class_labels(labels)
    if not isinstance(per_model, dict) or not per_model:
        raise TypeError(f"per_model: expected a non-empty dict of probabilities, found {type(per_model).__name__}")
    wrong = {}
    for name, probabilities in per_model.items():
        wrong[name] = probability_rows(probabilities, "probabilities", len(labels)).argmax(axis=1) != labels
    names = np.array(list(wrong), dtype=object)
    mask = np.column_stack(list(wrong.values()))
    joined = np.array(["+".join(names[row]) or "none" for row in mask], dtype=object)
    return joined.astype(str)


# --------------------------------------------------------------------------- label issues
def label_issues(
    labels,
    probabilities,
    *,
    method: str = "self_confidence",
    filter_by: str = "prune_by_noise_rate",
    ranking: str = RANKING,
) -> pd.DataFrame:
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
    ranking : {"self_confidence", "flagged_first"}
        ``label_issue_rank`` by label quality alone, lowest first (the audit's
        :data:`RANKING`), or the flagged rows first, each group by label quality. Ties go to
        the earlier row.

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

    if ranking not in ISSUE_RANKINGS:
        raise ValueError(f"ranking: expected one of {list(ISSUE_RANKINGS)}, found {ranking!r}")
    labels = class_labels(labels)
    probabilities = probability_rows(probabilities, "probabilities", len(labels))
    if probabilities.shape[1] != labels.max() + 1:
        raise ValueError(
            f"probabilities: expected one column per class ({labels.max() + 1}), found {probabilities.shape[1]}"
        )
    quality = get_label_quality_scores(labels, probabilities, method=method)
    flagged = find_label_issues(labels, probabilities, filter_by=filter_by, n_jobs=1)  # one process: deterministic
    first = ~flagged if ranking == "flagged_first" else np.zeros(len(labels), bool)
    order = np.lexsort((np.arange(len(labels)), quality, first))
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(1, len(labels) + 1)
    suggested = probabilities.argmax(axis=1)
    return pd.DataFrame(
        {
            "given_label": labels,
            "suggested_label": suggested,
            "suggested_probability": probabilities[np.arange(len(labels)), suggested],
            "label_quality": quality.astype(np.float64),
            "is_label_issue": flagged.astype(bool),
            "label_issue_rank": rank,
        }
    )


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
    images = image_stack(images)
    positions = np.column_stack([pairs["first"].to_numpy(), pairs["second"].to_numpy()]).ravel()
    return images[positions.astype(np.int64)]


# --------------------------------------------------------------------------- outliers
def outlier_scores(
    images, *, k: int = N_NEIGHBOURS, n_components: int = N_COMPONENTS, seed: int = 0, cache: bool = True
) -> np.ndarray:
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
    images = image_stack(images)
    k = integer(k, "k", minimum=1)
    if k >= len(images):
        raise ValueError(f"k: expected fewer than the number of images ({len(images)}), found {k}")
    scores = pca_scores(images, n_components=n_components, seed=seed, cache=cache)
    distances, _ = nearest_others(scores, k, cache=cache)
    return distances[:, k - 1]
