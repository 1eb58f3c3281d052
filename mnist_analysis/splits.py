"""Validation splits of the training set, and what the choice of split does to validation error.

MNIST's test writers never wrote a training digit, so test error measures how a model reads
*new hands*. A validation set cut at random from the training set shares its writers with the
rows the model trains on, and so measures something easier. :func:`validation_split` cuts the
training set either way:

- ``by_writer=True`` (the default): every writer's digits land on one side, and writers are
  assigned so that each class (and, with ``stratify_by_group``, each writer group within each
  class) gets as close as possible to ``validation_fraction`` of its digits in validation;
- ``by_writer=False``: a plain random split of digits, stratified the same way (scikit-learn's
  ``train_test_split``), for comparison.

:func:`compare_validation_splits` fits models on both kinds of split and puts each validation
error beside the test error, with writer-clustered bootstrap intervals
(:func:`mnist_analysis.clustered_statistics.clustered_bootstrap_ci`).

Writer assignment is a seeded greedy balance: writers are visited in a random order (fixed by
``seed``) and one joins validation when that brings the validation counts of the strata
closer, in squared distance, to their targets; otherwise it stays in training. Then, while it
helps, a validation writer is swapped for the training writer that best closes the remaining
gap. With MNIST's 539 training writers of about 110 digits each, every class lands within a
fraction of a percentage point of its target (see ``tests/test_splits.py``). scikit-learn's
``StratifiedGroupKFold`` balances too, but only cuts fractions of the form ``1 / n_splits``.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .clustered_statistics import clustered_bootstrap_ci

#: Models compared by :func:`compare_validation_splits` unless told otherwise: three fast ones.
DEFAULT_MODELS = ("knn_pca", "logistic_regression", "qda_pca")


def _check_training_frame(frame, stratify_by_group: bool, by_writer: bool) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a DataFrame from load_frame('train'), found {type(frame).__name__}")
    needed = ["label"] + (["writer_id"] if by_writer else []) + (["writer_group"] if stratify_by_group else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: expected columns {needed}, missing {missing}")
    if "split" in frame.columns:
        others = frame["split"].astype(str) != "train"
        if others.any():
            raise ValueError(
                f"frame: expected training rows only (a validation split cuts the training set), "
                f"found {int(others.sum()):,} rows of split "
                f"{sorted(frame.loc[others, 'split'].astype(str).unique())}"
            )
    if frame.index.has_duplicates:
        raise ValueError("frame: expected a unique index (the split returns index labels)")
    if by_writer:
        groups_per_writer = frame.groupby("writer_id")["writer_group"].nunique() if stratify_by_group else None
        if groups_per_writer is not None and (groups_per_writer > 1).any():
            writer = groups_per_writer.index[groups_per_writer > 1][0]
            raise ValueError(
                f"frame: writer {writer} belongs to more than one writer_group; "
                "cannot stratify by group without splitting the writer"
            )
    return frame


def _strata(frame, stratify_by_group: bool) -> pd.Series:
    strata = frame["label"].astype(str)
    if stratify_by_group:
        strata = frame["writer_group"].astype(str) + "/" + strata
    return strata


def _writer_disjoint(frame, strata, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: whole writers, strata balanced greedily toward ``fraction``."""
    counts = pd.crosstab(frame["writer_id"].to_numpy(), strata.to_numpy())  # writers x strata
    per_writer = counts.to_numpy(dtype=np.float64)
    target = fraction * per_writer.sum(axis=0)
    validation = np.zeros(per_writer.shape[1])
    chosen = np.zeros(len(per_writer), dtype=bool)
    for writer in np.random.default_rng(seed).permutation(len(per_writer)):
        with_writer = validation + per_writer[writer]
        if np.sum((with_writer - target) ** 2) < np.sum((validation - target) ** 2):
            validation = with_writer
            chosen[writer] = True
    _improve_by_swaps(per_writer, chosen, target)
    return np.isin(frame["writer_id"].to_numpy(), counts.index.to_numpy()[chosen])


def _improve_by_swaps(per_writer, chosen, target, max_passes: int = 20) -> None:
    """Swap a validation writer for the training writer that best closes the gap, while any swap helps."""
    validation = per_writer[chosen].sum(axis=0)
    for _ in range(max_passes):
        improved = False
        for leaving in np.flatnonzero(chosen):
            without = validation - per_writer[leaving]
            outside = np.flatnonzero(~chosen)
            costs = np.sum((without + per_writer[outside] - target) ** 2, axis=1)
            best = int(np.argmin(costs))
            if costs[best] < np.sum((validation - target) ** 2) - 1e-9:
                chosen[leaving], chosen[outside[best]] = False, True
                validation = without + per_writer[outside[best]]
                improved = True
        if not improved:
            return


def validation_split(
    frame: pd.DataFrame,
    *,
    validation_fraction: float = 0.2,
    seed: int = 0,
    by_writer: bool = True,
    stratify_by_group: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows into a training part and a validation part, stratified by class.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows of :func:`mnist_analysis.load_frame` (or a sample of them): columns
        ``label``, ``writer_id`` and, with ``stratify_by_group``, ``writer_group``. A ``split``
        column, if present, must say ``train`` on every row.
    validation_fraction : float
        Share of the rows (of each stratum) wanted in validation, strictly between 0 and 1.
        A writer-disjoint split reaches it only as closely as whole writers allow.
    seed : int
        Fixes which writers (or digits) go to validation.
    by_writer : bool
        True: no writer has digits on both sides. False: a random split of digits.
    stratify_by_group : bool
        Balance each (writer group, class) stratum instead of each class, so validation also
        keeps the training set's census/student mix.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``train_index, validation_index``: sorted index *labels* of ``frame`` (use
        ``frame.loc[...]``; with :func:`load_frame`'s default index they are also positions in
        ``load_images``). Together they cover every row once.

    Raises
    ------
    TypeError
        ``frame`` is not a DataFrame, or ``seed`` is not an integer.
    ValueError
        Missing columns, test rows, a fraction outside (0, 1), a seed outside 0 to 2**32 - 1,
        fewer than two writers, or a split that leaves one side empty.

    Examples
    --------
    >>> frame = pd.DataFrame({"label": np.tile([0, 1], 50), "writer_id": np.repeat(np.arange(10), 10)})
    >>> train, validation = validation_split(frame, validation_fraction=0.3, seed=1)
    >>> len(train), len(validation)
    (70, 30)
    >>> set(frame.loc[train, "writer_id"]) & set(frame.loc[validation, "writer_id"])
    set()
    """
    _check_training_frame(frame, stratify_by_group, by_writer)
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, numbers.Real):
        raise TypeError(f"validation_fraction: expected a number, found {type(validation_fraction).__name__}")
    if not 0 < validation_fraction < 1:
        raise ValueError(
            f"validation_fraction: expected a fraction strictly between 0 and 1, found {validation_fraction!r}"
        )
    from .validation import seed as checked_seed

    seed = checked_seed(seed)  # names the parameter and the bad value (numpy's own message does not)
    strata = _strata(frame, stratify_by_group)
    if by_writer:
        n_writers = frame["writer_id"].nunique()
        if n_writers < 2:
            raise ValueError(f"frame: a writer-disjoint split needs at least 2 writers, found {n_writers}")
        is_validation = _writer_disjoint(frame, strata, float(validation_fraction), int(seed))
    else:
        from sklearn.model_selection import train_test_split

        stratify = strata if strata.value_counts().min() >= 2 else None
        _, held_out = train_test_split(
            np.arange(len(frame)), test_size=float(validation_fraction), random_state=int(seed), stratify=stratify
        )
        is_validation = np.zeros(len(frame), dtype=bool)
        is_validation[held_out] = True
    if is_validation.all() or not is_validation.any():
        side = "validation" if not is_validation.any() else "training"
        raise ValueError(
            f"validation_fraction: {validation_fraction!r} of {len(frame):,} rows leaves the {side} "
            "part empty; use more rows, more writers or another fraction"
        )
    index = frame.index.to_numpy()
    return np.sort(index[~is_validation]), np.sort(index[is_validation])


def split_balance(frame: pd.DataFrame, train_index, validation_index) -> pd.DataFrame:
    """Rows per class on each side of a split, and the validation share of each class.

    Examples
    --------
    >>> frame = pd.DataFrame({"label": [0, 0, 1, 1]})
    >>> split_balance(frame, [0, 2], [1, 3])["validation_share"].tolist()
    [0.5, 0.5]
    """
    train = frame.loc[np.asarray(train_index), "label"].value_counts()
    validation = frame.loc[np.asarray(validation_index), "label"].value_counts()
    table = pd.DataFrame({"train": train, "validation": validation}).fillna(0).astype(int).sort_index()
    table.index.name = "label"
    table["validation_share"] = table["validation"] / (table["train"] + table["validation"])
    return table


def _error_row(wrong, writers, n_boot, seed):
    ci = clustered_bootstrap_ci(wrong.astype(float), writers, n_boot=n_boot, seed=seed)
    return {
        "error": ci["estimate"],
        "ci_low": ci["ci_low"],
        "ci_high": ci["ci_high"],
        "n": len(wrong),
        "writers": len(np.unique(writers)),
    }


def compare_validation_splits(
    images,
    frame: pd.DataFrame,
    *,
    models=DEFAULT_MODELS,
    validation_fraction: float = 0.2,
    stratify_by_group: bool = True,
    seed: int = 0,
    n_boot: int = 2000,
    cache: bool = True,
) -> pd.DataFrame:
    """Validation error under a random and a writer-disjoint split, each beside the test error.

    For each model and each kind of split, the model is fitted on the training part of the
    training rows (:func:`mnist_analysis.models.fit_predict`, cached) and predicts the
    validation part and every test row. Both errors get writer-clustered bootstrap intervals.

    Parameters
    ----------
    images : array of shape (n, 28, 28)
        The images of ``frame``'s rows, in the same order.
    frame : pandas.DataFrame
        Rows of :func:`load_frame` from both splits (or a sample), columns ``split``, ``label``,
        ``writer_id`` (and ``writer_group`` with ``stratify_by_group``).
    models : sequence of str
        Keys of :data:`mnist_analysis.models.MODELS`.
    validation_fraction, stratify_by_group, seed
        Passed to :func:`validation_split` for both kinds of split (stratifying by group keeps
        the census/student mix equal, so the two splits differ only in sharing writers).

    Returns
    -------
    pandas.DataFrame
        Index (model, split) with split ``random`` or ``writer-disjoint``; columns
        ``validation_error``, ``validation_low``, ``validation_high``, ``validation_n``,
        ``validation_writers``, ``shared_writers`` (validation writers who also wrote training
        rows), ``test_error``, ``test_low``, ``test_high``, ``test_n`` and ``gap``
        (test minus validation error).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"split": ["train"] * 160 + ["test"] * 40, "label": np.tile([0, 1], 100),
    ...                       "writer_id": np.repeat(np.arange(50), 4)})
    >>> images = rng.integers(0, 60, size=(200, 28, 28)); images[frame["label"] == 1, 8:20] = 255
    >>> table = compare_validation_splits(images, frame, models=["knn_pca"], stratify_by_group=False, n_boot=50,
    ...                                   cache=False)
    >>> table["shared_writers"].tolist(), float(table.loc[("knn_pca", "random"), "test_error"])
    ([22, 0], 0.0)
    """
    from .caching.cache import cached_call

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a DataFrame from load_frame, found {type(frame).__name__}")
    missing = [c for c in ("split", "label", "writer_id") if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: expected columns ['split', 'label', 'writer_id'], missing {missing}")
    images = np.asarray(images)
    if len(images) != len(frame):
        raise ValueError(f"images: expected one image per frame row ({len(frame):,}), found {len(images):,}")
    if isinstance(models, str) or not models:
        raise ValueError(f"models: expected a non-empty list of model names, found {models!r}")
    if not cache:
        return _compare_validation_splits(
            images, frame, list(models), validation_fraction, stratify_by_group, seed, n_boot, cache=False
        )
    # Cached whole (the model fits are cached too): a report build re-quotes it without recomputing.
    columns = [c for c in ("split", "label", "writer_id", "writer_group") if c in frame.columns]
    return cached_call(
        "splits",
        _compare_validation_splits,
        np.ascontiguousarray(images),
        frame[columns],
        list(models),
        validation_fraction,
        stratify_by_group,
        seed,
        n_boot,
        cache=True,
    )


def _compare_validation_splits(images, frame, models, validation_fraction, stratify_by_group, seed, n_boot, cache=True):
    """The table of :func:`compare_validation_splits`, for checked arguments."""
    from .models import fit_predict

    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    is_train = (frame["split"].astype(str) == "train").to_numpy()
    if is_train.all() or not is_train.any():
        raise ValueError("frame: expected rows of both the training and the test split")
    labels, writers = frame["label"].to_numpy(), frame["writer_id"].to_numpy()
    test = np.flatnonzero(~is_train)
    rows = {}
    for kind, by_writer in (("random", False), ("writer-disjoint", True)):
        train_index, validation_index = validation_split(
            frame[is_train],
            validation_fraction=validation_fraction,
            seed=seed,
            by_writer=by_writer,
            stratify_by_group=stratify_by_group,
        )
        fit_rows, validation = positions[train_index].to_numpy(), positions[validation_index].to_numpy()
        shared = np.intersect1d(writers[fit_rows], writers[validation]).size
        for name in models:
            predicted = fit_predict(
                name,
                images[fit_rows],
                labels[fit_rows],
                images[np.concatenate([validation, test])],
                seed=seed,
                cache=cache,
            ).predictions
            on_validation, on_test = predicted[: len(validation)], predicted[len(validation) :]
            v = _error_row(on_validation != labels[validation], writers[validation], n_boot, seed)
            t = _error_row(on_test != labels[test], writers[test], n_boot, seed)
            rows[(name, kind)] = {
                "validation_error": v["error"],
                "validation_low": v["ci_low"],
                "validation_high": v["ci_high"],
                "validation_n": v["n"],
                "validation_writers": v["writers"],
                "shared_writers": int(shared),
                "test_error": t["error"],
                "test_low": t["ci_low"],
                "test_high": t["ci_high"],
                "test_n": t["n"],
                "gap": t["error"] - v["error"],
            }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["model", "split"]
    return table


def recommend_split(table: pd.DataFrame) -> dict:
    """Which kind of validation split predicted the test error better in :func:`compare_validation_splits`.

    A split's validation error *covers* the test error of a model when the test error lies
    inside the validation error's writer-clustered interval. The recommended split covers the
    test error for more models; a tie goes to the smaller mean absolute gap between validation
    and test error.

    Returns
    -------
    dict
        ``recommended`` (a split kind), ``models`` (how many), and per split kind
        ``covered`` (models whose test error the validation interval covers),
        ``mean_absolute_gap`` (in error-rate units) and ``lower_validation_error`` (models for
        which this split gave the lower validation error of the two).

    Examples
    --------
    >>> table = pd.DataFrame({"validation_error": [0.02, 0.03], "validation_low": [0.018, 0.025],
    ...                       "validation_high": [0.022, 0.036], "test_error": [0.027, 0.027]},
    ...                      index=pd.MultiIndex.from_tuples([("m", "random"), ("m", "writer-disjoint")],
    ...                                                      names=["model", "split"]))
    >>> result = recommend_split(table)
    >>> result["recommended"], result["covered"]
    ('writer-disjoint', {'random': 0, 'writer-disjoint': 1})
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table: expected the DataFrame of compare_validation_splits, found {type(table).__name__}")
    needed = {"validation_error", "validation_low", "validation_high", "test_error"}
    if not needed <= set(table.columns) or list(table.index.names) != ["model", "split"]:
        raise ValueError(
            f"table: expected index (model, split) and columns {sorted(needed)}, found index "
            f"{list(table.index.names)} and columns {list(table.columns)}"
        )
    kinds = list(table.index.get_level_values("split").unique())
    covered = (table["validation_low"] <= table["test_error"]) & (table["test_error"] <= table["validation_high"])
    gap = (table["test_error"] - table["validation_error"]).abs()
    lowest = table["validation_error"].groupby(level="model").transform("min") == table["validation_error"]
    summary = {
        "covered": {k: int(covered.xs(k, level="split").sum()) for k in kinds},
        "mean_absolute_gap": {k: float(gap.xs(k, level="split").mean()) for k in kinds},
        "lower_validation_error": {k: int(lowest.xs(k, level="split").sum()) for k in kinds},
    }
    recommended = min(kinds, key=lambda k: (-summary["covered"][k], summary["mean_absolute_gap"][k]))
    return {"recommended": recommended, "models": int(table.index.get_level_values("model").nunique()), **summary}
