"""Statistics for digits that come in clumps by writer: clustered bootstrap and variance components.

Each NIST writer filled in a form of about a hundred digits, and digits of one hand share a
style, so statistics that treat digits as independent claim too much precision. These
helpers resample *writers*, not digits, and measure how much the clumping matters:

- :func:`clustered_bootstrap_ci` and :func:`group_difference_ci` resample writers;
  :func:`bootstrap_ci` is the naive digit-level bootstrap, for comparison;
- :func:`variance_components` and :func:`variance_table` split a measurement's variance into
  between-writer and within-writer parts and give the design effect;
- :func:`compare_groups` sets census against student measurements with effect sizes and
  writer-clustered intervals beside the naive ones.

:mod:`mnist_analysis.writer_groups` builds the writer-split analyses on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import confidence as checked_confidence
from .validation import frame_columns, integer, vector

#: Columns of :func:`mnist_analysis.measurements.measure` that describe a writer's style.
STYLE_COLUMNS = ("ink", "thickness", "slant_deg", "bbox_width", "bbox_height")


# --------------------------------------------------------------------------- checks
def _rows(values, name: str = "values") -> np.ndarray:
    values = np.asarray(values)
    if values.ndim == 0 or len(values) == 0:
        raise ValueError(f"{name}: expected at least one row, found shape {values.shape}")
    return values


# --------------------------------------------------------------------------- bootstrap
_CHUNK_CELLS = 4_000_000  # resamples x clusters held in memory at once


def _bootstrap_weights(n_clusters: int, n_boot: int, seed):
    """Yield (chunk, n_clusters) counts: how often each cluster is drawn in each resample.

    Each resample draws ``n_clusters`` clusters uniformly with replacement; resamples come
    in chunks so that memory stays bounded when every digit is its own cluster.
    """
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // max(n_clusters, 1))
    for start in range(0, n_boot, per_chunk):
        size = min(per_chunk, n_boot - start)
        draws = rng.integers(0, n_clusters, size=(size, n_clusters))
        flat = (draws + n_clusters * np.arange(size)[:, None]).ravel()
        yield np.bincount(flat, minlength=size * n_clusters).reshape(size, n_clusters)


def _resampled_totals(per_cluster, n_boot: int, seed) -> np.ndarray:
    """(n_boot, m) totals of ``per_cluster`` (k, m) columns over cluster-bootstrap resamples."""
    return np.concatenate([weights @ per_cluster for weights in _bootstrap_weights(len(per_cluster), n_boot, seed)])


def _interval(estimate, replicates, confidence, n, n_groups) -> dict:
    replicates = np.asarray(replicates, dtype=float)
    replicates = replicates[np.isfinite(replicates)]
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail]) if len(replicates) else (np.nan, np.nan)
    return {
        "estimate": float(estimate),
        "ci_low": float(low),
        "ci_high": float(high),
        "n": int(n),
        "n_groups": int(n_groups),
    }


def clustered_bootstrap_ci(
    values, groups, statistic=np.mean, *, n_boot: int = 2000, seed=0, confidence: float = 0.95
) -> dict:
    """Percentile bootstrap interval of ``statistic(values)`` that resamples whole groups (writers).

    Each resample draws as many groups as there are, with replacement, and keeps every row
    of each drawn group (a group drawn twice contributes its rows twice). Rows of a writer
    move together, so the interval reflects how much the statistic depends on *which
    writers* were sampled, not only on which digits.

    Parameters
    ----------
    values : array of shape (n,) or (n, k)
        One row per digit. ``statistic`` receives a resampled array of the same kind.
    groups : array of shape (n,)
        Group (writer id) of each row.
    statistic : callable, default numpy.mean
        Maps a values array to a number. ``np.mean`` (and ``np.nanmean``) of 1-D values take
        a fast exact path through per-group sums.
    n_boot : int
        Number of resamples.
    seed : int or numpy.random.Generator
    confidence : float
        Coverage of the interval.

    Returns
    -------
    dict
        ``estimate`` (the statistic on the data), ``ci_low``, ``ci_high``, ``n`` (rows) and
        ``n_groups``.

    Examples
    --------
    >>> values = np.array([1.0, 1.2, 0.9, 3.0, 3.1, 2.9, 2.0, 2.2])
    >>> writers = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    >>> ci = clustered_bootstrap_ci(values, writers, n_boot=500, seed=0)
    >>> round(ci["estimate"], 4), ci["ci_low"] < ci["estimate"] < ci["ci_high"], ci["n_groups"]
    (2.0375, True, 3)
    """
    values = _rows(values)
    groups = vector(groups, "groups", len(values))
    n_boot = integer(n_boot, "n_boot", minimum=1)
    confidence = checked_confidence(confidence)
    if not callable(statistic):
        raise TypeError(f"statistic: expected a callable, found {type(statistic).__name__}")
    codes, n_groups = pd.factorize(groups)[0], len(pd.unique(groups))
    estimate = statistic(values)
    if values.ndim == 1 and statistic in (np.mean, np.nanmean):
        finite = np.isfinite(values.astype(float)) if statistic is np.nanmean else np.ones(len(values), bool)
        sums = np.bincount(codes[finite], weights=values[finite].astype(float), minlength=n_groups)
        counts = np.bincount(codes[finite], minlength=n_groups).astype(float)
        if statistic is np.mean and not np.isfinite(sums).all():
            replicates = np.full(n_boot, np.nan)
        else:
            totals = _resampled_totals(np.column_stack([sums, counts]), n_boot, seed)
            with np.errstate(invalid="ignore", divide="ignore"):
                replicates = totals[:, 0] / totals[:, 1]
    else:
        order = np.argsort(codes, kind="stable")
        sorted_values, sorted_codes = values[order], codes[order]
        replicates = np.array(
            [
                statistic(np.repeat(sorted_values, w[sorted_codes], axis=0))
                for chunk in _bootstrap_weights(n_groups, n_boot, seed)
                for w in chunk
            ]
        )
    return _interval(estimate, replicates, confidence, len(values), n_groups)


def bootstrap_ci(values, statistic=np.mean, *, n_boot: int = 2000, seed=0, confidence: float = 0.95) -> dict:
    """The naive bootstrap: resample digits as if they were independent.

    The same as :func:`clustered_bootstrap_ci` with every row its own group; kept to show
    how much narrower (and overconfident) it is when digits of a writer are alike.

    Examples
    --------
    >>> ci = bootstrap_ci(np.arange(10.0), n_boot=500, seed=0)
    >>> ci["estimate"], ci["n_groups"]
    (4.5, 10)
    """
    values = _rows(values)
    return clustered_bootstrap_ci(
        values, np.arange(len(values)), statistic, n_boot=n_boot, seed=seed, confidence=confidence
    )


def group_difference_ci(
    values,
    writers,
    group,
    *,
    first: str = "census",
    second: str = "student",
    n_boot: int = 2000,
    seed=0,
    confidence: float = 0.95,
) -> dict:
    """Difference of means ``mean(second) - mean(first)`` with a writer-clustered bootstrap interval.

    Writers are resampled with replacement, all at once; a writer keeps all its rows, in
    whichever group each row belongs to (a writer may appear in both groups, for example
    in two halves of the test set). NaN values are ignored.

    Parameters
    ----------
    values : array of shape (n,)
    writers : array of shape (n,)
        Writer (cluster) of each row.
    group : array of shape (n,)
        Group of each row; rows outside ``first`` and ``second`` are ignored.

    Returns
    -------
    dict
        ``first_mean``, ``second_mean``, ``estimate`` (the difference), ``ci_low``,
        ``ci_high``, ``n``, ``n_groups`` (writers).

    Examples
    --------
    >>> values = np.array([1.0, 1.0, 1.2, 3.0, 3.2, 2.8])
    >>> result = group_difference_ci(values, [0, 0, 1, 2, 2, 3], ["a"] * 3 + ["b"] * 3,
    ...                              first="a", second="b", n_boot=200)
    >>> round(result["estimate"], 4), result["ci_low"] > 0
    (1.9333, True)
    """
    values = vector(values, "values").astype(float)
    writers = vector(writers, "writers", len(values))
    group = vector(group, "group", len(values)).astype(str)
    n_boot = integer(n_boot, "n_boot", minimum=1)
    confidence = checked_confidence(confidence)
    for name, label in (("first", first), ("second", second)):
        if not np.any(group == label):
            raise ValueError(f"{name}: no row of group {label!r}; groups present: {sorted(set(group))}")
    keep = np.isin(group, [first, second]) & np.isfinite(values)
    codes, uniques = pd.factorize(writers[keep])
    n_writers = len(uniques)
    is_second = group[keep] == second
    sums = np.column_stack(
        [np.bincount(codes, weights=values[keep] * (is_second == s), minlength=n_writers) for s in (False, True)]
    )
    counts = np.column_stack(
        [np.bincount(codes, weights=(is_second == s).astype(float), minlength=n_writers) for s in (False, True)]
    )
    totals = _resampled_totals(np.column_stack([sums, counts]), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals[:, :2] / totals[:, 2:]
    first_mean, second_mean = sums.sum(axis=0) / counts.sum(axis=0)
    result = _interval(second_mean - first_mean, means[:, 1] - means[:, 0], confidence, keep.sum(), n_writers)
    return {"first_mean": float(first_mean), "second_mean": float(second_mean), **result}


# --------------------------------------------------------------------------- variance
def _centred_within(values, adjust_for):
    """Subtract the mean of each level of ``adjust_for`` (for example the digit class)."""
    if adjust_for is None:
        return values
    adjust_for = vector(adjust_for, "adjust_for", len(values))
    return values - pd.Series(values).groupby(adjust_for).transform("mean").to_numpy()


def variance_components(values, writers, *, adjust_for=None) -> dict:
    """Split the variance of a measurement into between-writer and within-writer parts.

    One-way random-effects ANOVA estimates (unbalanced groups): the between-writer
    variance ``(MSB - MSW) / n0`` (floored at 0) and the within-writer variance ``MSW``.
    Their ratio gives the intraclass correlation ``icc``, and the design effect
    ``1 + (m - 1) * icc``, with ``m = sum(n_i**2) / n`` the digit-weighted writer size,
    tells how much larger the variance of a mean is than if digits were independent:
    the naive standard error must be multiplied by ``sqrt(design_effect)``.

    Parameters
    ----------
    values : array of shape (n,)
        NaN rows are left out.
    writers : array of shape (n,)
    adjust_for : array of shape (n,), optional
        Centre ``values`` within each level first (for example the digit class, so that
        a writer's share of wide zeros does not count as style).

    Returns
    -------
    dict
        ``between``, ``within``, ``icc``, ``mean_writer_size`` (``m``), ``design_effect``,
        ``effective_n`` (``n / design_effect``), ``n`` and ``n_writers``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> writers = np.repeat(np.arange(200), 20)
    >>> values = rng.normal(0, 2, 200)[writers] + rng.normal(0, 1, len(writers))
    >>> result = variance_components(values, writers)
    >>> round(result["icc"], 1), result["design_effect"] > 10
    (0.8, True)
    """
    values = vector(values, "values").astype(float)
    writers = vector(writers, "writers", len(values))
    values = _centred_within(values, adjust_for)
    keep = np.isfinite(values)
    values, writers = values[keep], writers[keep]
    codes, uniques = pd.factorize(writers)
    k, n = len(uniques), len(values)
    if k < 2 or n <= k:
        raise ValueError(
            f"writers: expected at least 2 writers and more rows than writers, found {k} writers and {n} rows"
        )
    sizes = np.bincount(codes, minlength=k).astype(float)
    means = np.bincount(codes, weights=values, minlength=k) / sizes
    grand = values.mean()
    msb = np.sum(sizes * (means - grand) ** 2) / (k - 1)
    msw = np.sum((values - means[codes]) ** 2) / (n - k)
    n0 = (n - np.sum(sizes**2) / n) / (k - 1)
    between = max((msb - msw) / n0, 0.0)
    total = between + msw
    icc = between / total if total > 0 else 0.0
    mean_size = float(np.sum(sizes**2) / n)
    design_effect = 1 + (mean_size - 1) * icc
    return {
        "between": float(between),
        "within": float(msw),
        "icc": float(icc),
        "mean_writer_size": mean_size,
        "design_effect": float(design_effect),
        "effective_n": float(n / design_effect),
        "n": int(n),
        "n_writers": int(k),
    }


def variance_table(measurements: pd.DataFrame, writers, columns=STYLE_COLUMNS, *, adjust_for=None) -> pd.DataFrame:
    """:func:`variance_components` of several measurement columns, one row per column.

    Adds ``se_inflation = sqrt(design_effect)``: the factor by which a confidence interval
    that treats digits as independent is too narrow.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> writers = np.repeat(np.arange(50), 10)
    >>> table = pd.DataFrame({"a": rng.normal(size=50)[writers], "b": rng.normal(size=500)})
    >>> variance_table(table, writers, ["a", "b"])["icc"].round(1).tolist()
    [1.0, 0.0]
    """
    frame_columns(measurements, columns, "measurements")
    rows = {c: variance_components(measurements[c].to_numpy(), writers, adjust_for=adjust_for) for c in columns}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "measurement"
    table["se_inflation"] = np.sqrt(table["design_effect"])
    return table


def compare_groups(
    measurements: pd.DataFrame,
    writers,
    group,
    columns=STYLE_COLUMNS,
    *,
    first: str = "census",
    second: str = "student",
    n_boot: int = 2000,
    seed=0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Census against student for each measurement: means, difference, effect size and intervals.

    Parameters
    ----------
    measurements : pandas.DataFrame
        One row per digit (for example from :func:`mnist_analysis.measurements.measure`).
    writers, group : array of shape (n,)
        Writer id and writer group of each row.

    Returns
    -------
    pandas.DataFrame
        One row per column: ``first_mean``, ``second_mean``, ``difference``
        (``second - first``), ``ci_low``/``ci_high`` (writer-clustered bootstrap),
        ``naive_ci_low``/``naive_ci_high`` (the usual normal interval that treats digits as
        independent, ``difference ± z * sqrt(s1²/n1 + s2²/n2)``), ``width_ratio`` (clustered
        over naive width), ``cohens_d`` (difference over the pooled standard deviation) and
        its clustered interval ``d_ci_low``/``d_ci_high``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> writers = np.repeat(np.arange(40), 25)
    >>> group = np.where(writers < 20, "census", "student")
    >>> table = pd.DataFrame({"ink": rng.normal(size=40)[writers] + (group == "student")})
    >>> row = compare_groups(table, writers, group, ["ink"], n_boot=300).loc["ink"]
    >>> bool(row["ci_high"] - row["ci_low"] > row["naive_ci_high"] - row["naive_ci_low"])
    True
    """
    frame_columns(measurements, columns, "measurements")
    writers = vector(writers, "writers", len(measurements))
    group = vector(group, "group", len(measurements)).astype(str)
    confidence = checked_confidence(confidence)
    from scipy.stats import norm

    z = norm.ppf(0.5 + confidence / 2)
    rows = {}
    for column in columns:
        values = measurements[column].to_numpy(dtype=float)
        clustered = group_difference_ci(
            values, writers, group, first=first, second=second, n_boot=n_boot, seed=seed, confidence=confidence
        )
        a, b = values[(group == first) & np.isfinite(values)], values[(group == second) & np.isfinite(values)]
        pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
        naive_half_width = z * np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        difference = clustered["estimate"]
        rows[column] = {
            "first_mean": clustered["first_mean"],
            "second_mean": clustered["second_mean"],
            "difference": difference,
            "ci_low": clustered["ci_low"],
            "ci_high": clustered["ci_high"],
            "naive_ci_low": difference - naive_half_width,
            "naive_ci_high": difference + naive_half_width,
            "width_ratio": (clustered["ci_high"] - clustered["ci_low"]) / (2 * naive_half_width),
            "cohens_d": difference / pooled if pooled > 0 else np.nan,
            "d_ci_low": clustered["ci_low"] / pooled if pooled > 0 else np.nan,
            "d_ci_high": clustered["ci_high"] / pooled if pooled > 0 else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "measurement"
    return table.rename(columns={"first_mean": f"{first}_mean", "second_mean": f"{second}_mean"})
