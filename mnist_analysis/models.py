"""A small zoo of classic digit classifiers behind one API, with cached results.

Every model in :data:`MODELS` is a scikit-learn pipeline that takes raw images, either
``(n, 28, 28)`` or flattened ``(n, 784)`` with values 0-255, and does its own
preprocessing (scaling to 0-1, deskewing, PCA). Two entry points use them:

- :func:`fit_predict` fits one model on a training set and predicts a test set;
- :func:`predict_many` predicts several test sets with one fit (perturbed copies of a test
  set, say): each set's predictions are cached on their own, and a fitted model is kept in
  this process's memory (:func:`fitted_model`; never pickled or written to disk), so a later
  :func:`fit_predict` or :func:`predict_many` on the same training set does not fit again;
- :func:`out_of_fold_probabilities` gives cross-validated class probabilities for every
  row of a set (optionally with folds that keep each writer's digits together).

Both are cached on disk with :func:`mnist_analysis.caching.cache.cached_call` (kind ``models``),
keyed by the model's name and seed, the content of the data, the code that defines and fits
the models and the library versions, so a notebook's second run reads its results instead
of fitting.

:data:`PUBLISHED_ERROR_RATES` lists the test error rates that the MNIST page reports for
comparable methods, with the model of the zoo that each compares with.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .validation import real_array, vector
from .validation import seed as checked_seed

#: Where :data:`PUBLISHED_ERROR_RATES` come from.
PUBLISHED_SOURCE = (
    "Y. LeCun, C. Cortes and C. J. C. Burges, 'The MNIST database of handwritten digits', "
    "http://yann.lecun.com/exdb/mnist/ (table 'Classifiers')"
)

#: Test error rates (percent) on the MNIST page for methods comparable with the zoo.
#: ``model`` names the model of :data:`MODELS` that each one is compared with.
PUBLISHED_ERROR_RATES = (
    {
        "method": "linear classifier (1-layer NN)",
        "preprocessing": "none",
        "error_percent": 12.0,
        "model": "logistic_regression",
    },
    {
        "method": "K-nearest-neighbors, Euclidean (L2)",
        "preprocessing": "none",
        "error_percent": 3.09,
        "model": "knn_pixels",
    },
    {
        "method": "K-nearest-neighbors, Euclidean (L2)",
        "preprocessing": "deskewing",
        "error_percent": 2.4,
        "model": "knn_deskewed",
    },
    {"method": "40 PCA + quadratic classifier", "preprocessing": "none", "error_percent": 3.3, "model": "qda_pca"},
    {"method": "SVM, Gaussian Kernel", "preprocessing": "none", "error_percent": 1.4, "model": "svm_rbf_pca"},
)

IMAGE_SIDE = 28


def published_error_rates() -> pd.DataFrame:
    """:data:`PUBLISHED_ERROR_RATES` as a DataFrame, one row per published method.

    Examples
    --------
    >>> published_error_rates().set_index("model").loc["knn_pixels", "error_percent"]
    np.float64(3.09)
    """
    return pd.DataFrame(list(PUBLISHED_ERROR_RATES))


# --------------------------------------------------------------------------- preprocessing
def _divided_by_255(pixels):
    """Scale 0-255 pixel rows to 0-1 float32."""
    return np.asarray(pixels, dtype=np.float32) / np.float32(255)


def _deskewed(pixels):
    """Deskew flattened 28x28 images with :func:`mnist_analysis.measurements.deskew`, scaled to 0-1."""
    from mnist_analysis.measurements import deskew

    images = np.asarray(pixels).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    return _divided_by_255(deskew(images).reshape(len(images), -1))


def _steps(*estimators):
    from sklearn.pipeline import make_pipeline

    return make_pipeline(*estimators)


def _scaler():
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(_divided_by_255)


def _pca(n_components: int, seed: int):
    from sklearn.decomposition import PCA

    return PCA(n_components, random_state=seed)


# --------------------------------------------------------------------------- the zoo
def _logistic_regression(seed):
    from sklearn.linear_model import LogisticRegression

    # On 100 principal components: a linear model of the pixels that fits in seconds.
    return _steps(_scaler(), _pca(100, seed), LogisticRegression(max_iter=300, random_state=seed))


def _as_float32(pixels):
    """Pixel rows as float32, values unchanged: whole-number distances, exact in float64."""
    return np.asarray(pixels, dtype=np.float32)


def _knn_pixels(seed):
    from sklearn.preprocessing import FunctionTransformer

    from .neighbours import ExactNeighboursClassifier

    # On the 0-255 values: scaling by 1/255 ranks neighbours alike, but rounds the distances.
    return _steps(FunctionTransformer(_as_float32), ExactNeighboursClassifier(n_neighbors=3))


def _knn_deskewed(seed):
    from sklearn.preprocessing import FunctionTransformer

    from .neighbours import ExactNeighboursClassifier

    return _steps(FunctionTransformer(_deskewed), ExactNeighboursClassifier(n_neighbors=3))


def _knn_pca(seed):
    from sklearn.neighbors import KNeighborsClassifier

    return _steps(_scaler(), _pca(50, seed), KNeighborsClassifier(n_neighbors=3))


def _qda_pca(seed):
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    return _steps(_scaler(), _pca(40, seed), QuadraticDiscriminantAnalysis(solver="eigen", shrinkage="auto"))


def _svm_rbf_pca(seed):
    from sklearn.svm import SVC

    return _steps(_scaler(), _pca(50, seed), SVC(C=10, gamma="scale", cache_size=1000, random_state=seed))


def _extra_trees(seed):
    from sklearn.ensemble import ExtraTreesClassifier

    return _steps(_scaler(), ExtraTreesClassifier(n_estimators=50, n_jobs=-1, random_state=seed))


def _mlp(seed):
    from sklearn.neural_network import MLPClassifier

    return _steps(_scaler(), MLPClassifier(hidden_layer_sizes=(256,), max_iter=20, random_state=seed))


@dataclass(frozen=True)
class ModelSpec:
    """A named model of the zoo: how to build it and whether it gives class probabilities."""

    name: str
    description: str
    build: Callable[[int], object] = field(repr=False)  #: seed -> unfitted scikit-learn pipeline
    gives_probabilities: bool = True
    #: Keep the fitted model in memory for later predictions (:func:`fitted_model`): for the
    #: models that are small once fitted. Not for the nearest-neighbour models (their fit
    #: stores the training set, under 2 s, about 190 MB for all 60,000 training digits) nor
    #: the trees (50 unpruned trees): a notebook kernel would carry them to its end.
    keep_fitted: bool = True
    #: Rough CPU seconds to fit on the 60,000 training digits and predict ten sets of 10,000
    #: (``bench_robustness.py --with-predictions --per-model``): :func:`mnist_analysis.robustness.perturbed_predictions`
    #: starts the costliest first, so that the last model to finish is a quick one.
    cost: float = 10.0


MODELS = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "logistic_regression", "logistic regression on 100 principal components", _logistic_regression, cost=5
        ),
        ModelSpec("knn_pixels", "3-nearest neighbours (L2) on raw pixels", _knn_pixels, keep_fitted=False, cost=37),
        ModelSpec(
            "knn_deskewed", "3-nearest neighbours (L2) on deskewed pixels", _knn_deskewed, keep_fitted=False, cost=40
        ),
        ModelSpec(
            "knn_pca", "3-nearest neighbours (L2) on 50 principal components", _knn_pca, keep_fitted=False, cost=22
        ),
        ModelSpec(
            "qda_pca", "quadratic discriminant (Ledoit-Wolf shrinkage) on 40 principal components", _qda_pca, cost=3
        ),
        ModelSpec(
            "svm_rbf_pca",
            "SVM, RBF kernel (C=10), on 50 principal components",
            _svm_rbf_pca,
            gives_probabilities=False,
            cost=66,
        ),
        ModelSpec(
            "extra_trees", "extremely randomised trees (50) on raw pixels", _extra_trees, keep_fitted=False, cost=18
        ),
        ModelSpec("mlp", "multilayer perceptron, one hidden layer of 256 units", _mlp, cost=23),
    )
}


def model_names(names=None) -> list[str]:
    """Return ``names`` (some of :data:`MODELS`) as a list, or every model's name when None.

    Examples
    --------
    >>> model_names(["knn_pca"])
    ['knn_pca']
    >>> model_names("knn_pca")
    Traceback (most recent call last):
    ...
    TypeError: names: expected a list of model names, found 'knn_pca'
    """
    if names is None:
        return list(MODELS)
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names: expected a list of model names, found {names!r}")
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ValueError(f"names: expected some of {list(MODELS)}, found {list(names)!r}")
    return list(names)


def build_model(name: str, *, seed: int = 0):
    """Return the unfitted scikit-learn pipeline of the model ``name``.

    Examples
    --------
    >>> build_model("knn_pca").steps[-1][0]
    'kneighborsclassifier'
    """
    if name not in MODELS:
        raise ValueError(f"name: expected one of {sorted(MODELS)}, found {name!r}")
    return MODELS[name].build(checked_seed(seed))


# --------------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class ModelResult:
    """What :func:`fit_predict` returns: test predictions, probabilities and timings."""

    name: str
    predictions: np.ndarray  #: (n_test,) predicted labels
    probabilities: np.ndarray | None  #: (n_test, n_classes) in the order of ``classes``, or None
    classes: np.ndarray  #: (n_classes,) labels seen in training
    fit_seconds: float  #: wall time of the fit (of the run that filled the cache)
    predict_seconds: float  #: wall time of predicting (and of the probabilities)


def _pixels(X, name: str) -> np.ndarray:
    """Return ``X`` as ``(n, 784)`` rows, from ``(n, 28, 28)`` images or ``(n, 784)`` rows."""
    X = real_array(X, name)
    if X.ndim == 3 and X.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        X = X.reshape(len(X), -1)
    if X.ndim != 2 or X.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"{name}: expected images of shape (n, 28, 28) or rows of shape (n, 784), found {X.shape}")
    return X


def single_blas_thread():
    """Run BLAS on one thread while fitting and predicting.

    The zoo's matrix products are small (minibatches, 100 components): on a busy 2-core
    machine a spinning BLAS thread pool made the MLP and the logistic regression up to 30
    times slower. k-NN and the trees keep their own (numba, OpenMP, joblib) parallelism.
    A context manager; threads that fit models side by side should enter it once, around
    all of them (the limit is the process's, and nested entries restore what they found).

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with single_blas_thread():
    ...     {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    {1}
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _quietly_fit(model, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # The MLP stops after a fixed number of epochs by design.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


#: Fitted models of this process: (name, seed, training data digest) -> (model, fit seconds).
#: Kept in memory only (never pickled); :func:`forget_fitted_models` empties it.
_fitted_models: dict = {}
#: Names of the models :func:`predict_many` is predicting with: their fits are kept meanwhile.
_holding: list = []


def _fitted(name, X_train, y_train, seed):
    from mnist_analysis.caching.fingerprints import inputs_digest

    key = (name, int(seed), inputs_digest(X_train, y_train))
    if key in _fitted_models:
        return _fitted_models[key]
    model = build_model(name, seed=seed)
    with single_blas_thread():
        start = time.perf_counter()
        _quietly_fit(model, X_train, y_train)
        fitted = (model, time.perf_counter() - start)
    if MODELS[name].keep_fitted or name in _holding:
        _fitted_models[key] = fitted
    return fitted


def _fit_predict(name, X_train, y_train, X_test, *, seed):
    model, fit_seconds = _fitted(name, X_train, y_train, seed)
    with single_blas_thread():
        start = time.perf_counter()
        if MODELS[name].gives_probabilities:
            probabilities = model.predict_proba(X_test)
            predictions = model.classes_[probabilities.argmax(axis=1)]
        else:
            probabilities, predictions = None, model.predict(X_test)
        predict_seconds = time.perf_counter() - start
    return ModelResult(name, predictions, probabilities, model.classes_, fit_seconds, predict_seconds)


def fitted_model(name: str, X_train, y_train, *, seed: int = 0):
    """The model ``name`` fitted on ``X_train``, ``y_train``: fitted once per process, then kept in memory.

    The same training images, labels and seed give back the same fitted pipeline without
    fitting again (models with ``keep_fitted=False`` in :data:`MODELS` are fitted on every
    call). Nothing is written to disk; :func:`forget_fitted_models` lets the kept models go.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(120, 28, 28)), np.repeat([0, 1], 60)
    >>> fitted_model("qda_pca", X, y) is fitted_model("qda_pca", X, y)
    True
    """
    build_model(name, seed=seed)
    X_train = _pixels(X_train, "X_train")
    y_train = vector(y_train, "y_train", len(X_train))
    return _fitted(name, X_train, y_train, int(seed))[0]


def forget_fitted_models() -> int:
    """Let go of the models :func:`fitted_model` kept in memory; return how many there were.

    Examples
    --------
    >>> _ = forget_fitted_models()
    >>> forget_fitted_models()
    0
    """
    count = len(_fitted_models)
    _fitted_models.clear()
    return count


def predict_many(name: str, X_train, y_train, test_sets, *, seed: int = 0, cache: bool = True) -> list:
    """Predict several test sets with one fit of the model ``name``; each set's result cached on its own.

    Each test set's :class:`ModelResult` is the one :func:`fit_predict` gives for it (the same
    cache entry: a set already predicted there is read, not predicted again). The model is
    fitted at most once, and only when some set is not cached; it stays in this process's
    memory afterwards when its :data:`MODELS` entry says ``keep_fitted`` (:func:`fitted_model`).

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    X_train, y_train
        As for :func:`fit_predict`.
    test_sets : sequence of arrays of shape (n, 28, 28) or (n, 784)
        For example the perturbed copies of a test set, one per condition.
    seed, cache
        As for :func:`fit_predict`.

    Returns
    -------
    list of ModelResult
        One per test set, in order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(120, 28, 28)), np.repeat([0, 1], 60)
    >>> X[y == 1, :14] = 255
    >>> results = predict_many("qda_pca", X[:100:2], y[:100:2], [X[1::2], X[::2]], cache=False)
    >>> [r.predictions.shape for r in results]
    [(60,), (60,)]
    """
    build_model(name, seed=seed)
    if isinstance(test_sets, np.ndarray) and test_sets.ndim != 4:
        raise ValueError(
            f"test_sets: expected a sequence of image arrays (n, 28, 28) or (n, 784), "
            f"found one array of shape {test_sets.shape}"
        )
    test_sets = list(test_sets)
    if not test_sets:
        raise ValueError("test_sets: expected at least one test set, found none")
    _holding.append(name)
    try:
        return [fit_predict(name, X_train, y_train, X_test, seed=seed, cache=cache) for X_test in test_sets]
    finally:
        _holding.remove(name)
        if not MODELS[name].keep_fitted and name not in _holding:
            for key in [key for key in _fitted_models if key[0] == name]:
                del _fitted_models[key]


def fit_predict(name: str, X_train, y_train, X_test, *, seed: int = 0, cache: bool = True) -> ModelResult:
    """Fit the model ``name`` of :data:`MODELS` and predict ``X_test``, cached on disk.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    X_train, X_test : array of shape (n, 28, 28) or (n, 784)
        Raw images, pixel values 0-255. Models on principal components need more
        training images than components (100 for the logistic regression).
    y_train : array of shape (n_train,)
    seed : int
        Seeds every random step of the model.
    cache : bool
        Read and write the result cache's ``models`` store (:func:`~mnist_analysis.caching.cache.cached_call`).

    Returns
    -------
    ModelResult
        Predictions, class probabilities (None for models without them; the predictions
        are then the model's own), the classes and the fit/predict seconds. A cached
        result keeps the timings of the run that computed it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(120, 28, 28)), np.repeat([0, 1], 60)
    >>> X[y == 1, :14] = 255
    >>> result = fit_predict("knn_pca", X[::2], y[::2], X[1::2], cache=False)
    >>> float(np.mean(result.predictions == y[1::2])), result.probabilities.shape
    (1.0, (60, 2))
    """
    from mnist_analysis.caching.cache import cached_call

    build_model(name, seed=seed)  # refuses an unknown name or seed before any work
    X_train, X_test = _pixels(X_train, "X_train"), _pixels(X_test, "X_test")
    y_train = vector(y_train, "y_train", len(X_train))
    return cached_call("models", _fit_predict, name, X_train, y_train, X_test, seed=int(seed), cache=cache)


def fit_zoo(X_train, y_train, X_test, *, names=None, seed: int = 0, cache: bool = True) -> dict:
    """:func:`fit_predict` for every model of :data:`MODELS` (or those in ``names``), in that order.

    Each fit is cached on its own, so notebooks that fit the zoo on the same images share
    the results: the second one reads what the first computed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(120, 28, 28)), np.repeat([0, 1], 60)
    >>> X[y == 1, :14] = 255
    >>> results = fit_zoo(X[::2], y[::2], X[1::2], names=["knn_pca", "knn_pixels"], cache=False)  # in MODELS order
    >>> {name: float(np.mean(r.predictions == y[1::2])) for name, r in results.items()}
    {'knn_pixels': 1.0, 'knn_pca': 1.0}
    """
    names = model_names(names)
    return {
        name: fit_predict(name, X_train, y_train, X_test, seed=seed, cache=cache) for name in MODELS if name in names
    }


def _splitter(n_splits: int, seed: int, grouped: bool):
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    kind = StratifiedGroupKFold if grouped else StratifiedKFold
    return kind(n_splits=n_splits, shuffle=True, random_state=seed)


def _out_of_fold(name, X, y, groups, *, n_splits, seed):
    from sklearn.base import clone

    model = build_model(name, seed=seed)
    classes = np.unique(y)
    probabilities = np.zeros((len(X), len(classes)))
    for train, held_out in _splitter(n_splits, seed, groups is not None).split(X, y, groups):
        with single_blas_thread():
            fitted = _quietly_fit(clone(model), X[train], y[train])
            columns = np.searchsorted(classes, fitted.classes_)
            probabilities[np.ix_(held_out, columns)] = fitted.predict_proba(X[held_out])
    return probabilities


def out_of_fold_probabilities(
    name: str, X, y, *, n_splits: int = 5, seed: int = 0, groups=None, cache: bool = True
) -> np.ndarray:
    """Cross-validated class probabilities: each row predicted by a model that never saw it.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS` whose model gives probabilities.
    X : array of shape (n, 28, 28) or (n, 784)
    y : array of shape (n,)
    n_splits : int
        Number of folds (stratified by label, shuffled with ``seed``).
    groups : array of shape (n,), optional
        Group of each row, for example writer ids: rows of one group are held out
        together (:class:`sklearn.model_selection.StratifiedGroupKFold`).
    cache : bool
        Read and write the result cache's ``models`` store (:func:`~mnist_analysis.caching.cache.cached_call`).

    Returns
    -------
    numpy.ndarray of shape (n, n_classes)
        Columns in the order of ``np.unique(y)``; each row sums to 1.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(90, 784)), np.repeat([0, 1, 2], 30)
    >>> out_of_fold_probabilities("qda_pca", X, y, n_splits=3, cache=False).shape
    (90, 3)
    """
    if not (isinstance(n_splits, (int, np.integer)) and n_splits >= 2):
        raise ValueError(f"n_splits: expected an integer of at least 2, found {n_splits!r}")
    build_model(name, seed=seed)  # refuses an unknown name or seed before any work
    if not MODELS[name].gives_probabilities:
        raise ValueError(
            f"name: expected a model that gives probabilities, found {name!r} "
            f"(choose from {sorted(n for n, s in MODELS.items() if s.gives_probabilities)})"
        )
    X = _pixels(X, "X")
    y = vector(y, "y", len(X))
    if groups is not None:
        groups = vector(groups, "groups", len(X))
    from mnist_analysis.caching.cache import cached_call

    return cached_call("models", _out_of_fold, name, X, y, groups, n_splits=int(n_splits), seed=int(seed), cache=cache)


def error_table(results: dict, y_test, *, confidence: float = 0.95) -> pd.DataFrame:
    """Test error of each :class:`ModelResult` with its interval, timings and published rate.

    Parameters
    ----------
    results : dict
        ``{model name: ModelResult}`` from :func:`fit_predict`.
    y_test : array of shape (n_test,)

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``description``, ``errors``, ``n``,
        ``error_percent``, ``ci_low_percent``, ``ci_high_percent`` (Wilson interval),
        ``fit_seconds``, ``predict_seconds``, ``published_method`` and
        ``published_error_percent`` (empty when the MNIST page lists no comparable method).

    Examples
    --------
    >>> result = ModelResult("knn_pixels", np.array([1, 2, 0, 0]), None, np.arange(3), 1.0, 0.5)
    >>> error_table({"knn_pixels": result}, [1, 2, 0, 1])[["error_percent", "published_error_percent"]]
                error_percent  published_error_percent
    model
    knn_pixels           25.0                     3.09
    """
    from mnist_analysis.evaluation import error_rate_table

    rates = error_rate_table(
        y_test, {name: r.predictions for name, r in results.items()}, confidence=confidence, method="wilson"
    )
    table = pd.DataFrame(
        {
            "description": [MODELS[name].description if name in MODELS else "" for name in rates.index],
            "errors": rates["errors"],
            "n": rates["n"],
            "error_percent": 100 * rates["error_rate"],
            "ci_low_percent": 100 * rates["ci_low"],
            "ci_high_percent": 100 * rates["ci_high"],
            "fit_seconds": [results[name].fit_seconds for name in rates.index],
            "predict_seconds": [results[name].predict_seconds for name in rates.index],
        },
        index=rates.index,
    )
    published = (
        published_error_rates()
        .assign(published_method=lambda f: f["method"] + " (" + f["preprocessing"] + ")")
        .set_index("model")
    )
    table["published_method"] = published["published_method"].reindex(table.index)
    table["published_error_percent"] = published["error_percent"].reindex(table.index)
    return table


#: Verdicts of :func:`published_comparison`, from the measured interval against the published rate.
VERDICTS = ("better", "consistent", "worse")


def published_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Set each model's measured error beside the published rate of its comparable method.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`error_table`'s result.

    Returns
    -------
    pandas.DataFrame
        The models that have a published rate, in the table's order, with ``error_percent``,
        ``ci_low_percent``, ``ci_high_percent``, ``published_method``, ``published_error_percent``
        and ``verdict``: ``"better"`` when the whole measured interval lies below the published
        rate, ``"worse"`` when it lies above, else ``"consistent"``.

    Examples
    --------
    >>> table = pd.DataFrame({"error_percent": [1.0, 5.0], "ci_low_percent": [0.8, 4.5],
    ...                       "ci_high_percent": [1.2, 5.5], "published_method": ["SVM", None],
    ...                       "published_error_percent": [1.4, None]}, index=["svm", "other"])
    >>> published_comparison(table)["verdict"].to_dict()
    {'svm': 'better'}
    """
    columns = ["error_percent", "ci_low_percent", "ci_high_percent", "published_method", "published_error_percent"]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table: expected the columns of error_table, missing {missing}")
    compared = table.loc[table["published_error_percent"].notna(), columns].copy()
    published = compared["published_error_percent"]
    compared["verdict"] = np.select(
        [compared["ci_high_percent"] < published, compared["ci_low_percent"] > published],
        ["better", "worse"],
        default="consistent",
    )
    return compared
