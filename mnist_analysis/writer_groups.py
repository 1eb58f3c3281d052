"""Writers and writer groups: who wrote what, and writer-grouped experiments.

- :func:`group_summary`, :func:`writer_summary`, :func:`shared_writers` and
  :func:`block_composition` describe who wrote what, in which split and where in its order;
  :func:`group_mean_images` gives each group's mean image of every class;
- :func:`writer_folds` gives cross-validation folds that never split a writer and
  :func:`group_separability` measures how well pixels tell the two groups apart;
- :func:`error_rates_by_group` gives each model's error rate per group with clustered
  intervals; :func:`writer_error_table`, :func:`lorenz_curve`, :func:`gini` and
  :func:`error_concentration` show how errors pile up on a few writers;
- :func:`domain_shift` trains on one group and tests on the other at equal training sizes.

The writer-clustered statistics they rest on (bootstrap intervals, variance components,
group comparisons) are in :mod:`mnist_analysis.clustered_statistics`. Writer groups follow
:mod:`mnist_analysis.data.loaders`: ``census`` (NIST HSF series 0-3, Census Bureau employees) and
``student`` (series 4, high-school students).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mnist_analysis.clustered_statistics import clustered_bootstrap_ci, group_difference_ci
from mnist_analysis.validation import frame_columns, integer, vector

_FRAME_COLUMNS = ("split", "writer_id", "writer_group")
_FROM_LOAD_FRAME = "as made by mnist_analysis.load_frame"


# --------------------------------------------------------------------------- composition
def group_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Digits and distinct writers of each writer group in each split.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of :func:`mnist_analysis.load_frame` (columns ``split``, ``writer_id``,
        ``writer_group``).

    Returns
    -------
    pandas.DataFrame
        Index (split, writer_group); columns ``digits``, ``writers``,
        ``digits_per_writer`` (median) and ``share_of_split`` (fraction of the split's digits).

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train"] * 4 + ["test"] * 2, "writer_id": [1, 1, 2, 3, 4, 5],
    ...                       "writer_group": ["census", "census", "census", "student", "student", "census"]})
    >>> group_summary(frame).loc["train", ["digits", "writers"]].to_dict("index")
    {'census': {'digits': 3, 'writers': 2}, 'student': {'digits': 1, 'writers': 1}}
    """
    frame_columns(frame, _FRAME_COLUMNS, hint=_FROM_LOAD_FRAME)
    per_writer = frame.groupby(["split", "writer_group", "writer_id"], observed=True).size()
    summary = per_writer.groupby(level=["split", "writer_group"], observed=True).agg(
        digits="sum", writers="size", digits_per_writer="median"
    )
    split_totals = summary.groupby(level="split", observed=True)["digits"].transform("sum")
    summary["share_of_split"] = summary["digits"] / split_totals
    return summary


def writer_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per writer: group, digits in each split and number of distinct classes written.

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train", "train", "test"], "writer_id": [7, 7, 9],
    ...                       "writer_group": ["census", "census", "student"], "label": [1, 2, 1]})
    >>> writer_summary(frame).loc[7].astype(str).tolist()
    ['census', '2', '0', '2', '2']
    """
    frame_columns(frame, ("split", "writer_id", "writer_group", "label"), hint=_FROM_LOAD_FRAME)
    counts = pd.crosstab(frame["writer_id"], frame["split"].astype(str))
    counts = counts.reindex(columns=["train", "test"], fill_value=0)
    counts.columns.name = None
    grouped = frame.groupby("writer_id")
    table = pd.DataFrame({"writer_group": grouped["writer_group"].first().astype(str)})
    table = table.join(counts)
    table["digits"] = grouped.size()
    table["classes"] = grouped["label"].nunique()
    return table


def shared_writers(frame: pd.DataFrame) -> np.ndarray:
    """Writer ids with digits in both the training and the test split (sorted).

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train", "test", "test"], "writer_id": [1, 1, 2],
    ...                       "writer_group": ["census"] * 3})
    >>> shared_writers(frame).tolist()
    [1]
    """
    frame_columns(frame, _FRAME_COLUMNS, hint=_FROM_LOAD_FRAME)
    split = frame["split"].astype(str)
    return np.intersect1d(
        frame.loc[split == "train", "writer_id"].unique(), frame.loc[split == "test", "writer_id"].unique()
    )


def block_composition(frame: pd.DataFrame, *, split: str = "test", block_size: int = 5000) -> pd.DataFrame:
    """Writer-group counts in consecutive blocks of a split's native order.

    Rows of ``frame`` are placed by their ``index`` column (position within the split),
    so a sample of the split keeps its blocks.

    Returns
    -------
    pandas.DataFrame
        Index ``block`` (for example ``"0-4,999"``), one column per writer group, plus
        ``total`` and ``student_share``.

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["test"] * 4, "index": [0, 1, 2, 3], "writer_id": [1, 1, 2, 2],
    ...                       "writer_group": ["student", "student", "census", "census"]})
    >>> block_composition(frame, block_size=2)[["census", "student"]]
    writer_group  census  student
    block
    0-1                0        2
    2-3                2        0
    """
    frame_columns(frame, ("split", "index", "writer_id", "writer_group"), hint=_FROM_LOAD_FRAME)
    block_size = integer(block_size, "block_size", minimum=1)
    rows = frame[frame["split"].astype(str) == split]
    if rows.empty:
        raise ValueError(f"split: no rows of split {split!r} in frame")
    block = rows["index"].to_numpy() // block_size
    names = {b: f"{b * block_size:,}-{(b + 1) * block_size - 1:,}" for b in np.unique(block)}
    groups = rows["writer_group"].astype(str)
    table = pd.crosstab(pd.Series([names[b] for b in block], index=rows.index, name="block"), groups)
    table = table.reindex(
        index=[names[b] for b in sorted(names)], columns=sorted(set(groups) | {"census", "student"}), fill_value=0
    )
    table.columns.name = "writer_group"
    table["total"] = table[["census", "student"]].sum(axis=1)
    table["student_share"] = table["student"] / table["total"]
    return table


def group_mean_images(images, labels, group) -> dict:
    """Mean image of each class for each group: ``{group: array (n_classes, height, width)}``.

    Classes are those of ``np.unique(labels)``; a class missing from a group gives NaN.

    Examples
    --------
    >>> images = np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.full((2, 2), 3.0)])
    >>> means = group_mean_images(images, [0, 0, 0], ["a", "b", "b"])
    >>> means["b"][0].tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images: expected an array of shape (n, height, width), found shape {images.shape}")
    labels = vector(labels, "labels", len(images))
    group = vector(group, "group", len(images)).astype(str)
    classes = np.unique(labels)
    means = {}
    for g in sorted(set(group)):
        rows = group == g
        means[g] = np.stack(
            [
                images[rows & (labels == c)].mean(axis=0, dtype=np.float64)
                if np.any(rows & (labels == c))
                else np.full(images.shape[1:], np.nan)
                for c in classes
            ]
        )
    return means


# --------------------------------------------------------------------------- cross-validation
def writer_folds(labels, writers, *, n_splits: int = 5, seed: int = 0) -> list:
    """Cross-validation folds that keep each writer's digits on one side, stratified by label.

    Uses :class:`sklearn.model_selection.StratifiedGroupKFold` (shuffled with ``seed``), the
    same splitter as :func:`mnist_analysis.models.out_of_fold_probabilities` with ``groups``.

    Returns
    -------
    list of (train_positions, test_positions)
        Positions into ``labels``; every row is in exactly one test fold.

    Examples
    --------
    >>> writers = np.repeat(np.arange(10), 4)
    >>> folds = writer_folds(np.tile([0, 1], 20), writers, n_splits=5)
    >>> len(folds), max(len(set(writers[tr]) & set(writers[te])) for tr, te in folds)
    (5, 0)
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labels = vector(labels, "labels")
    writers = vector(writers, "writers", len(labels))
    n_splits = integer(n_splits, "n_splits", minimum=2)
    if len(np.unique(writers)) < n_splits:
        raise ValueError(
            f"n_splits: expected at most the number of writers ({len(np.unique(writers))}), found {n_splits}"
        )
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, writers))


def writers_split_across_folds(folds, writers) -> np.ndarray:
    """Writer ids that appear on both the training and the test side of some fold (sorted).

    Empty for :func:`writer_folds`; typically most writers for an ordinary K-fold.

    Examples
    --------
    >>> writers = np.array([0, 0, 1, 1])
    >>> writers_split_across_folds([(np.array([0, 2]), np.array([1, 3]))], writers).tolist()
    [0, 1]
    """
    writers = np.asarray(writers)
    shared = [np.intersect1d(writers[train], writers[test]) for train, test in folds]
    return np.unique(np.concatenate(shared)) if shared else np.array([], dtype=writers.dtype)


def group_separability(
    images,
    group,
    writers,
    *,
    model: str = "logistic_regression",
    positive: str = "student",
    n_splits: int = 5,
    seed: int = 0,
    n_boot: int = 0,
    cache: bool = True,
) -> dict:
    """How well pixels alone tell the writer groups apart: ROC AUC under writer-grouped CV.

    Out-of-fold probabilities come from :func:`mnist_analysis.models.out_of_fold_probabilities`
    with ``groups=writers``, so no writer is in both the training and the held-out part
    of a fold (a model cannot win by recognising a writer's hand). With ``n_boot`` > 0 the
    AUC gets a writer-clustered bootstrap interval (:func:`clustered_bootstrap_ci`, seeded).

    Returns
    -------
    dict
        ``auc``, ``probabilities`` (of ``positive``, one per image) and ``n``; with ``n_boot``
        also ``ci_low`` and ``ci_high`` (95 %).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> writers = np.repeat(np.arange(20), 5)
    >>> group = np.where(writers < 10, "census", "student")
    >>> images = rng.integers(0, 100, size=(100, 28, 28))
    >>> images[group == "student", :, :5] = 255
    >>> group_separability(images, group, writers, model="knn_pixels", cache=False)["auc"]
    1.0
    """
    from sklearn.metrics import roc_auc_score

    from mnist_analysis.models import out_of_fold_probabilities

    group = vector(group, "group", len(images)).astype(str)
    writers = vector(writers, "writers", len(images))
    if positive not in set(group) or len(set(group)) != 2:
        raise ValueError(f"group: expected two groups including positive={positive!r}, found {sorted(set(group))}")
    target = (group == positive).astype(np.int64)
    probabilities = out_of_fold_probabilities(
        model, images, target, n_splits=n_splits, seed=seed, groups=writers, cache=cache
    )[:, 1]
    result = {"auc": float(roc_auc_score(target, probabilities)), "probabilities": probabilities, "n": len(target)}
    if integer(n_boot, "n_boot", minimum=0):
        interval = clustered_bootstrap_ci(
            np.column_stack([target, probabilities]), writers, _roc_auc_of_rows, n_boot=n_boot, seed=seed
        )
        result.update(ci_low=interval["ci_low"], ci_high=interval["ci_high"])
    return result


def _roc_auc_of_rows(rows) -> float:
    """ROC AUC of column 1 as a score for the 0/1 target in column 0 (NaN when only one class is drawn)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(rows[:, 0], rows[:, 1])) if len(np.unique(rows[:, 0])) == 2 else np.nan


# --------------------------------------------------------------------------- errors
def error_rates_by_group(
    y_true,
    predictions,
    writers,
    group,
    *,
    first: str = "census",
    second: str = "student",
    n_boot: int = 2000,
    seed=0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Error rate of each model in each writer group, with writer-clustered bootstrap intervals.

    Parameters
    ----------
    y_true : array of shape (n,)
    predictions : mapping
        ``{model name: predicted labels (n,)}``.
    writers, group : array of shape (n,)

    Returns
    -------
    pandas.DataFrame
        One row per model, best overall first: for each group ``<group>_error``,
        ``<group>_low``, ``<group>_high``; then ``difference`` (``second - first``) with
        ``difference_low``/``difference_high`` and ``ratio`` (``second / first``).

    Examples
    --------
    >>> y = np.zeros(8, int); writers = np.arange(8) // 2; group = np.repeat(["census", "student"], 4)
    >>> table = error_rates_by_group(y, {"m": [0, 0, 0, 1, 1, 1, 0, 1]}, writers, group, n_boot=100)
    >>> table.loc["m", ["census_error", "student_error", "difference"]].tolist()
    [0.25, 0.75, 0.5]
    """
    y_true = vector(y_true, "y_true")
    writers = vector(writers, "writers", len(y_true))
    group = vector(group, "group", len(y_true)).astype(str)
    if not predictions:
        raise ValueError("predictions: expected a non-empty mapping of model name to predicted labels")
    rows = {}
    for name, predicted in predictions.items():
        wrong = (vector(predicted, f"predictions[{name!r}]", len(y_true)) != y_true).astype(float)
        row = {}
        for label in (first, second):
            rows_of_group = group == label
            ci = clustered_bootstrap_ci(
                wrong[rows_of_group], writers[rows_of_group], n_boot=n_boot, seed=seed, confidence=confidence
            )
            row.update({f"{label}_error": ci["estimate"], f"{label}_low": ci["ci_low"], f"{label}_high": ci["ci_high"]})
        difference = group_difference_ci(
            wrong, writers, group, first=first, second=second, n_boot=n_boot, seed=seed, confidence=confidence
        )
        row.update(
            {
                "difference": difference["estimate"],
                "difference_low": difference["ci_low"],
                "difference_high": difference["ci_high"],
                "ratio": row[f"{second}_error"] / row[f"{first}_error"] if row[f"{first}_error"] > 0 else np.nan,
                "overall_error": float(wrong.mean()),
            }
        )
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index").sort_values("overall_error", kind="stable")
    table.index.name = "model"
    return table


def writer_error_table(errors, writers, group=None) -> pd.DataFrame:
    """Digits, errors and error rate of each writer, worst error rate first.

    Parameters
    ----------
    errors : array of bool, shape (n,)
        True where a model misclassified the digit.
    writers : array of shape (n,)
    group : array of shape (n,), optional
        Writer group of each row, copied into a ``writer_group`` column.

    Examples
    --------
    >>> writer_error_table([True, False, False, True, True], [1, 1, 1, 2, 2])
               digits  errors  error_rate
    writer_id
    2               2       2    1.000000
    1               3       1    0.333333
    """
    errors = vector(errors, "errors").astype(bool)
    writers = vector(writers, "writers", len(errors))
    data = pd.DataFrame({"writer_id": writers, "error": errors})
    if group is not None:
        data["writer_group"] = vector(group, "group", len(errors)).astype(str)
    grouped = data.groupby("writer_id")
    table = pd.DataFrame({"digits": grouped.size(), "errors": grouped["error"].sum().astype(int)})
    table["error_rate"] = table["errors"] / table["digits"]
    if group is not None:
        table["writer_group"] = grouped["writer_group"].first()
    return table.sort_values(["error_rate", "digits"], ascending=[False, False], kind="stable")


def lorenz_curve(amounts, weights=None) -> pd.DataFrame:
    """Lorenz (concentration) curve: share of ``amounts`` held by the lowest share of units.

    Units (writers) are sorted by ``amounts / weights`` ascending; the curve runs from
    (0, 0) to (1, 1). With ``weights`` (for example digits per writer) the horizontal axis is
    the share of weight (digits) rather than of writers, so writers who wrote more count more.

    Returns
    -------
    pandas.DataFrame
        Columns ``population_share`` and ``amount_share``, starting at 0.

    Examples
    --------
    >>> lorenz_curve([0, 0, 0, 4]).round(2).values.tolist()
    [[0.0, 0.0], [0.25, 0.0], [0.5, 0.0], [0.75, 0.0], [1.0, 1.0]]
    """
    amounts = vector(amounts, "amounts").astype(float)
    weights = np.ones_like(amounts) if weights is None else vector(weights, "weights", len(amounts)).astype(float)
    if np.any(amounts < 0) or np.any(weights <= 0):
        raise ValueError("amounts, weights: expected amounts >= 0 and weights > 0")
    if amounts.sum() <= 0:
        raise ValueError("amounts: expected a positive total, found 0")
    order = np.argsort(amounts / weights, kind="stable")
    population = np.concatenate([[0.0], np.cumsum(weights[order]) / weights.sum()])
    share = np.concatenate([[0.0], np.cumsum(amounts[order]) / amounts.sum()])
    return pd.DataFrame({"population_share": population, "amount_share": share})


def gini(amounts, weights=None) -> float:
    """Gini coefficient of ``amounts`` over units: 0 when spread evenly, near 1 when one unit holds all.

    Twice the area between the diagonal and :func:`lorenz_curve`.

    Examples
    --------
    >>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
    (0.0, 0.75)
    """
    curve = lorenz_curve(amounts, weights)
    x, y = curve["population_share"].to_numpy(), curve["amount_share"].to_numpy()
    area = np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)
    return round(float(1 - 2 * area), 12)


def error_concentration(errors, writers, *, top_share: float = 0.1, n_sim: int = 200, seed=0) -> dict:
    """How concentrated errors are on a few writers, against chance.

    Compares the digit-weighted Gini coefficient of errors per writer with the Gini that
    errors would reach if every digit had the same error probability (binomial errors per
    writer, ``n_sim`` simulations): even random errors look concentrated when they are rare.

    Returns
    -------
    dict
        ``gini``, ``null_gini`` (mean under chance), ``null_gini_high`` (its 97.5th
        percentile), ``top_writers`` (how many writers make up the worst ``top_share`` of
        writers), ``top_error_share`` (their share of errors), ``top_digit_share`` (their
        share of digits), ``errors``, ``writers``.

    Examples
    --------
    >>> writers = np.repeat(np.arange(50), 20)
    >>> errors = np.zeros(1000, bool); errors[:40] = True  # two writers make every error
    >>> result = error_concentration(errors, writers, n_sim=50)
    >>> result["gini"] > result["null_gini_high"], result["top_error_share"]
    (True, 1.0)
    """
    table = writer_error_table(errors, writers)
    if table["errors"].sum() == 0:
        raise ValueError("errors: expected at least one error, found none")
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share: expected a fraction in (0, 1], found {top_share!r}")
    n_sim = integer(n_sim, "n_sim", minimum=1)
    digits, counts = table["digits"].to_numpy(), table["errors"].to_numpy()
    observed = gini(counts, digits)
    rng = np.random.default_rng(seed)
    rate = counts.sum() / digits.sum()
    simulated = rng.binomial(digits, rate, size=(n_sim, len(digits)))
    null = np.array([gini(s, digits) for s in simulated if s.sum() > 0])
    top = max(1, round(top_share * len(table)))
    return {
        "gini": observed,
        "null_gini": float(null.mean()),
        "null_gini_high": float(np.quantile(null, 0.975)),
        "top_writers": top,
        "top_error_share": float(counts[:top].sum() / counts.sum()),
        "top_digit_share": float(digits[:top].sum() / digits.sum()),
        "errors": int(counts.sum()),
        "writers": len(table),
    }


# --------------------------------------------------------------------------- domain shift
def _equal_size_training_sets(is_train, group, groups, train_size, seed) -> dict:
    """``{first group, second group, "mixed": sorted training rows}``, all of one size, drawn with ``seed``."""
    first, second = groups
    pools = {g: np.flatnonzero(is_train & (group == g)) for g in groups}
    smallest = min(len(p) for p in pools.values())
    if smallest < 2:
        found = [len(p) for p in pools.values()]
        raise ValueError(f"group: expected training rows of both groups {groups}, found {found}")
    size = smallest if train_size is None else integer(train_size, "train_size", minimum=2)
    if size > smallest:
        raise ValueError(f"train_size: expected at most {smallest} (training rows of the smaller group), found {size}")
    rng = np.random.default_rng(seed)
    draws = {g: rng.choice(pools[g], size=size, replace=False) for g in groups}  # in random order
    half = size // 2
    return {
        first: np.sort(draws[first]),
        second: np.sort(draws[second]),
        "mixed": np.sort(np.concatenate([draws[first][:half], draws[second][: size - half]])),
    }


def _errors_by_test_group(wrong, test_group, test_writers, groups, n_boot: int, seed: int) -> dict:
    """``{test group or "all": errors, n, error rate and its writer-clustered interval}`` of one model's test errors."""
    rows = {}
    for tested_on in (*groups, "all"):
        mask = np.ones(len(wrong), bool) if tested_on == "all" else test_group == tested_on
        ci = clustered_bootstrap_ci(wrong[mask], test_writers[mask], n_boot=n_boot, seed=seed)
        rows[tested_on] = {
            "errors": int(wrong[mask].sum()),
            "n": int(mask.sum()),
            "error_rate": ci["estimate"],
            "ci_low": ci["ci_low"],
            "ci_high": ci["ci_high"],
        }
    return rows


def domain_shift(
    images,
    labels,
    group,
    is_train,
    writers,
    *,
    model: str = "knn_pca",
    train_size: int | None = None,
    groups=("census", "student"),
    n_boot: int = 1000,
    seed: int = 0,
    cache: bool = True,
) -> pd.DataFrame:
    """Train on one writer group, on the other, and on a half-and-half mix, at equal training sizes.

    Each training set draws ``train_size`` training rows (default: the size of the smaller
    group's training rows) from one group, the other, or half from each (seeded). Every
    model predicts all test rows; errors are reported per test group with
    writer-clustered bootstrap intervals. Fits go through
    :func:`mnist_analysis.models.fit_predict` and are cached.

    Parameters
    ----------
    images : array of shape (n, 28, 28)
    labels, group, writers : array of shape (n,)
    is_train : array of bool, shape (n,)
        True for training rows, False for test rows.

    Returns
    -------
    pandas.DataFrame
        One row per (trained_on, tested_on): ``train_size``, ``errors``, ``n``,
        ``error_rate``, ``ci_low``, ``ci_high``; ``tested_on`` includes ``"all"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.tile([0, 1], 40); images = rng.integers(0, 60, size=(80, 28, 28))
    >>> images[labels == 1, 10:18] = 255
    >>> group = np.repeat(["census", "student"], 40); writers = np.arange(80) // 4
    >>> table = domain_shift(images, labels, group, np.arange(80) % 4 != 0, writers, model="knn_pixels", n_boot=50,
    ...                      cache=False)
    >>> float(table.loc[("mixed", "all"), "error_rate"]), len(table)
    (0.0, 9)
    """
    from mnist_analysis.models import fit_predict

    images = np.asarray(images)
    labels = vector(labels, "labels", len(images))
    group = vector(group, "group", len(images)).astype(str)
    is_train = vector(is_train, "is_train", len(images)).astype(bool)
    writers = vector(writers, "writers", len(images))
    training_sets = _equal_size_training_sets(is_train, group, groups, train_size, seed)
    test = np.flatnonzero(~is_train)
    rows = []
    for trained_on, rows_train in training_sets.items():
        result = fit_predict(model, images[rows_train], labels[rows_train], images[test], seed=seed, cache=cache)
        wrong = (result.predictions != labels[test]).astype(float)
        for tested_on, row in _errors_by_test_group(wrong, group[test], writers[test], groups, n_boot, seed).items():
            rows.append({"trained_on": trained_on, "tested_on": tested_on, "train_size": len(rows_train), **row})
    return pd.DataFrame(rows).set_index(["trained_on", "tested_on"])
