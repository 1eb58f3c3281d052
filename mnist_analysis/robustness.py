"""Robustness curves: the zoo's error on perturbed digits, with writer-clustered intervals.

A *condition* is one row of the table :func:`mnist_analysis.perturbations.perturbation_grid`
returns (``kind``, ``strength``, ``label``), and ``stacks`` its perturbed copies of the
same test digits. :func:`perturbed_predictions` fits each model once and predicts every
condition; the other functions turn the predictions into tables:

- :func:`robustness_curves`: error of each model under each condition, overall and in
  each writer group, with percentile intervals of a bootstrap that resamples writers;
- :func:`group_gaps`: the difference in error between two writer groups under each
  condition, with its writer-clustered interval;
- :func:`growing_confusions`: the (true, predicted) pairs whose count grows most from a
  reference condition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import positive_int, vector


def _conditions(conditions, n_conditions=None):
    if not isinstance(conditions, pd.DataFrame) or not {"kind", "strength", "label"} <= set(conditions.columns):
        raise ValueError("conditions: expected the DataFrame of perturbation_grid (columns kind, strength, label)")
    if n_conditions is not None and len(conditions) != n_conditions:
        raise ValueError(f"conditions: expected {n_conditions} rows (one per stack), found {len(conditions)}")
    if conditions["label"].duplicated().any():
        raise ValueError("conditions: labels must be unique")
    return conditions.reset_index(drop=True)


def _grid(predictions, n_conditions, n):
    if not predictions:
        raise ValueError("predictions: expected a non-empty mapping of model name to (conditions, digits) labels")
    out = {}
    for name, predicted in predictions.items():
        predicted = np.asarray(predicted)
        if predicted.shape != (n_conditions, n):
            raise ValueError(f"predictions[{name!r}]: expected shape {(n_conditions, n)}, found {predicted.shape}")
        out[name] = predicted
    return out


def perturbed_predictions(
    X_train, y_train, stacks, *, names=None, seed: int = 0, n_jobs: int = 2, cache: bool = True
) -> dict:
    """Fit each model of the zoo once and predict every perturbed copy of the test digits.

    Parameters
    ----------
    X_train, y_train : training images (n_train, 28, 28) and labels
    stacks : array of shape (n_conditions, n, 28, 28)
        From :func:`mnist_analysis.perturbations.perturbation_grid`.
    names : list of str, optional
        Models of :data:`mnist_analysis.models.MODELS` (default: all).
    seed : int
    n_jobs : int, default 2
        Models fitted and predicting at the same time, each in a thread of this process
        (their heavy loops release the GIL). Each model's result is the same whatever this is.
    cache : bool
        Each model is fitted once (:func:`mnist_analysis.models.predict_many`) and each
        condition's predictions are cached on their own: the original digits share
        :func:`mnist_analysis.models.fit_predict`'s entry, and a changed condition is the
        only one predicted again. Fits the zoo keeps (``keep_fitted``) stay in memory, so a
        later ``fit_predict`` on the same training digits does not fit again.

    Returns
    -------
    dict
        ``{model name: predicted labels of shape (n_conditions, n)}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(120, 28, 28)), np.repeat([0, 1], 60)
    >>> X[y == 1, :14] = 255
    >>> stacks = np.stack([X[1::2], 255 - X[1::2]])
    >>> predicted = perturbed_predictions(X[::2], y[::2], stacks, names=["knn_pca"], cache=False)
    >>> predicted["knn_pca"].shape, float((predicted["knn_pca"][0] == y[1::2]).mean())
    ((2, 60), 1.0)
    """
    from .models import MODELS, model_names, predict_many

    stacks = np.asarray(stacks)
    if stacks.ndim != 4 or stacks.shape[2:] != (28, 28):
        raise ValueError(f"stacks: expected shape (n_conditions, n, 28, 28), found {stacks.shape}")
    names = [name for name in MODELS if name in model_names(names)]
    n_jobs = positive_int(n_jobs, "n_jobs")

    def predicted(name):
        return np.stack([r.predictions for r in predict_many(name, X_train, y_train, stacks, seed=seed, cache=cache)])

    if n_jobs == 1 or len(names) == 1:
        return {name: predicted(name) for name in names}
    from concurrent.futures import ThreadPoolExecutor

    from .models import single_blas_thread

    # Set once around the threads: a limit each thread set and restored would race.
    with single_blas_thread(), ThreadPoolExecutor(n_jobs) as threads:
        # Slowest first, so the last to finish is a short one.
        slowest_first = sorted(names, key=lambda name: -MODELS[name].cost)
        running = {name: threads.submit(predicted, name) for name in slowest_first}
        return {name: running[name].result() for name in names}


def robustness_curves(
    y_true, conditions, predictions, writers, group=None, *, n_boot: int = 1000, seed=0, confidence: float = 0.95
) -> pd.DataFrame:
    """Error of every model under every condition, with writer-clustered bootstrap intervals.

    Parameters
    ----------
    y_true, writers : array of shape (n,)
        True labels and writer ids of the test digits.
    conditions : pandas.DataFrame
        From :func:`mnist_analysis.perturbations.perturbation_grid`.
    predictions : mapping
        ``{model: (n_conditions, n) predicted labels}`` (:func:`perturbed_predictions`).
    group : array of shape (n,), optional
        Writer group of each digit: adds one row per group besides ``"all"``.

    Returns
    -------
    pandas.DataFrame
        One row per model, condition and group: ``model``, ``label``, ``kind``,
        ``strength``, ``group``, ``error``, ``ci_low``, ``ci_high``, ``n``, ``n_writers``.

    Examples
    --------
    >>> conditions = pd.DataFrame(
    ...     {"kind": ["original", "thin"], "strength": [np.nan, 1.0], "label": ["original", "thin 1"]}
    ... )
    >>> y, writers = np.zeros(4, int), np.array([0, 0, 1, 1])
    >>> curves = robustness_curves(y, conditions, {"m": [[0, 0, 0, 1], [1, 1, 0, 1]]}, writers, n_boot=100)
    >>> curves[["label", "error"]].values.tolist()
    [['original', 0.25], ['thin 1', 0.75]]
    """
    from .clustered_statistics import clustered_bootstrap_ci

    y_true = vector(y_true, "y_true")
    writers = vector(writers, "writers", len(y_true))
    conditions = _conditions(conditions)
    predictions = _grid(predictions, len(conditions), len(y_true))
    groups = {"all": np.ones(len(y_true), bool)}
    if group is not None:
        group = vector(group, "group", len(y_true)).astype(str)
        groups.update({g: group == g for g in sorted(set(group))})
    rows = []
    for name, predicted in predictions.items():
        for c, condition in conditions.iterrows():
            wrong = (predicted[c] != y_true).astype(float)
            for g, rows_of_group in groups.items():
                ci = clustered_bootstrap_ci(
                    wrong[rows_of_group], writers[rows_of_group], n_boot=n_boot, seed=seed, confidence=confidence
                )
                rows.append(
                    {
                        "model": name,
                        "label": condition["label"],
                        "kind": condition["kind"],
                        "strength": condition["strength"],
                        "group": g,
                        "error": ci["estimate"],
                        "ci_low": ci["ci_low"],
                        "ci_high": ci["ci_high"],
                        "n": ci["n"],
                        "n_writers": ci["n_groups"],
                    }
                )
    return pd.DataFrame(rows)


def group_gaps(
    y_true,
    conditions,
    predictions,
    writers,
    group,
    *,
    first: str = "census",
    second: str = "student",
    n_boot: int = 1000,
    seed=0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Error of ``second`` minus error of ``first`` under every condition, writer-clustered interval.

    Returns
    -------
    pandas.DataFrame
        One row per model and condition: ``model``, ``label``, ``kind``, ``strength``,
        ``difference``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> conditions = pd.DataFrame({"kind": ["original"], "strength": [np.nan], "label": ["original"]})
    >>> y, writers = np.zeros(8, int), np.arange(8) // 2
    >>> group = np.repeat(["census", "student"], 4)
    >>> gaps = group_gaps(y, conditions, {"m": [[0, 0, 0, 1, 1, 1, 0, 1]]}, writers, group, n_boot=100)
    >>> float(gaps["difference"].iloc[0])
    0.5
    """
    from .clustered_statistics import group_difference_ci

    y_true = vector(y_true, "y_true")
    writers = vector(writers, "writers", len(y_true))
    group = vector(group, "group", len(y_true)).astype(str)
    conditions = _conditions(conditions)
    predictions = _grid(predictions, len(conditions), len(y_true))
    rows = []
    for name, predicted in predictions.items():
        for c, condition in conditions.iterrows():
            wrong = (predicted[c] != y_true).astype(float)
            ci = group_difference_ci(
                wrong, writers, group, first=first, second=second, n_boot=n_boot, seed=seed, confidence=confidence
            )
            rows.append(
                {
                    "model": name,
                    "label": condition["label"],
                    "kind": condition["kind"],
                    "strength": condition["strength"],
                    "difference": ci["estimate"],
                    "ci_low": ci["ci_low"],
                    "ci_high": ci["ci_high"],
                }
            )
    return pd.DataFrame(rows)


def growing_confusions(y_true, conditions, predicted, *, reference: str = "original", top: int = 3) -> pd.DataFrame:
    """The confusions (true, predicted) of one model whose count grows most from ``reference``.

    Parameters
    ----------
    y_true : array of shape (n,)
    conditions : pandas.DataFrame
        From :func:`mnist_analysis.perturbations.perturbation_grid`.
    predicted : array of shape (n_conditions, n)
        One model's predictions (a value of :func:`perturbed_predictions`).
    reference : str
        Label of the condition to compare with.
    top : int
        Pairs kept per condition.

    Returns
    -------
    pandas.DataFrame
        Up to ``top`` rows per other condition, largest growth first: ``label``, ``kind``,
        ``strength``, ``true``, ``predicted``, ``count``, ``reference_count``, ``growth``
        (only pairs that grow).

    Examples
    --------
    >>> conditions = pd.DataFrame(
    ...     {"kind": ["original", "thin"], "strength": [np.nan, 1.0], "label": ["original", "thin 1"]}
    ... )
    >>> grown = growing_confusions([7, 7, 1], conditions, [[7, 7, 1], [1, 1, 1]])
    >>> grown[["true", "predicted", "growth"]].values.tolist()
    [[7, 1, 2]]
    """
    from .validation import integer

    y_true = vector(y_true, "y_true")
    conditions = _conditions(conditions)
    predicted = _grid({"predicted": predicted}, len(conditions), len(y_true))["predicted"]
    top = integer(top, "top", minimum=1)
    if reference not in set(conditions["label"]):
        raise ValueError(f"reference: expected one of {conditions['label'].tolist()}, found {reference!r}")

    def counts(row):
        wrong = predicted[row] != y_true
        return pd.Series(list(zip(y_true[wrong], predicted[row][wrong]))).value_counts()

    base = counts(int(np.flatnonzero(conditions["label"] == reference)[0]))
    frames = []
    for c, condition in conditions.iterrows():
        if condition["label"] == reference:
            continue
        now = counts(c)
        growth = now.sub(base, fill_value=0).sort_values(ascending=False, kind="stable")
        growth = growth[growth > 0].head(top)
        frames.append(
            pd.DataFrame(
                {
                    "label": condition["label"],
                    "kind": condition["kind"],
                    "strength": condition["strength"],
                    "true": [pair[0] for pair in growth.index],
                    "predicted": [pair[1] for pair in growth.index],
                    "count": [int(now.get(pair, 0)) for pair in growth.index],
                    "reference_count": [int(base.get(pair, 0)) for pair in growth.index],
                    "growth": growth.to_numpy().astype(int),
                }
            )
        )
    columns = ["label", "kind", "strength", "true", "predicted", "count", "reference_count", "growth"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return table.astype(dict.fromkeys(columns[3:], np.int64))
