"""Slices where a model fails: error by level and bin of each feature, corrected for the number tried.

:func:`slice_errors` cuts the digits by each column of a feature table: a column with a few
distinct values (writer group, class) by its values, a numeric one into quantile bins. For
each slice it reports the error rate with a percentile interval of a bootstrap that
resamples **writers**, at a Bonferroni-adjusted confidence (``1 - (1 - confidence) / m``
for ``m`` slices tried), so that all the intervals hold together with the nominal
confidence and a slice flagged ``above_overall`` (its lower bound above the overall error)
is not an artefact of looking at many slices. :func:`slice_mask` gives a slice's rows back,
for a gallery.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .validation import vector

#: A column with at most this many distinct values is cut by value, not into bins.
MAX_LEVELS = 12


def _levels(column: pd.Series, n_bins: int):
    """(level name, low, high, mask) for each slice of one feature."""
    values = column
    if (
        not pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_bool_dtype(values)
        or values.nunique() <= MAX_LEVELS
    ):
        for level in pd.unique(values.dropna()):
            yield str(level), np.nan, np.nan, (values == level).to_numpy()
        return
    edges = np.unique(np.nanquantile(values.to_numpy(dtype=float), np.linspace(0, 1, n_bins + 1)))
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        mask = (values >= low) & ((values <= high) if last else (values < high))
        yield f"{low:.3g} to {high:.3g}", float(low), float(high), mask.to_numpy()


def slice_errors(
    errors,
    features: pd.DataFrame,
    writers,
    *,
    n_bins: int = 4,
    min_size: int = 20,
    n_boot: int = 2000,
    seed=0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Error rate of every slice of every feature, highest first, with adjusted writer-clustered intervals.

    Parameters
    ----------
    errors : array of bool, shape (n,)
        Whether the model got each digit wrong.
    features : pandas.DataFrame
        One row per digit (same order), one column per feature.
    writers : array of shape (n,)
    n_bins : int
        Quantile bins of a numeric feature.
    min_size : int
        Slices with fewer digits are left out (and not counted as tried).
    n_boot, seed, confidence
        Bootstrap resamples, seed and family-wise coverage of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per slice: ``feature``, ``slice``, ``low``, ``high`` (bin bounds, NaN for a
        value), ``n``, ``n_writers``, ``errors``, ``error``, ``ci_low``, ``ci_high``
        (adjusted), ``lift`` (error / overall error) and ``above_overall``. ``attrs`` holds
        ``overall_error``, ``slices_tried`` and ``adjusted_confidence``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> features = pd.DataFrame({"group": np.repeat(["a", "b"], 200), "size": rng.normal(size=400)})
    >>> errors = np.r_[np.zeros(200, bool), rng.random(200) < 0.5]
    >>> table = slice_errors(errors, features, np.arange(400) // 4, n_boot=500)
    >>> table.iloc[0][["feature", "slice"]].tolist(), bool(table.iloc[0]["above_overall"])
    (['group', 'b'], True)
    """
    from .clustered_statistics import clustered_bootstrap_ci
    from .validation import integer

    errors = vector(errors, "errors").astype(bool)
    writers = vector(writers, "writers", len(errors))
    if not isinstance(features, pd.DataFrame) or len(features) != len(errors):
        raise ValueError(f"features: expected a DataFrame with {len(errors)} rows, found {type(features).__name__}")
    n_bins = integer(n_bins, "n_bins", minimum=2)
    min_size = integer(min_size, "min_size", minimum=1)
    features = features.reset_index(drop=True)
    slices = [
        (column, *level)
        for column in features.columns
        for level in _levels(features[column], n_bins)
        if level[3].sum() >= min_size
    ]
    if not slices:
        raise ValueError(f"features: no slice holds {min_size} digits or more")
    adjusted = 1 - (1 - confidence) / len(slices)
    overall = float(errors.mean())
    rows = []
    for column, name, low, high, mask in slices:
        ci = clustered_bootstrap_ci(
            errors[mask].astype(float), writers[mask], n_boot=n_boot, seed=seed, confidence=adjusted
        )
        rows.append(
            {
                "feature": column,
                "slice": name,
                "low": low,
                "high": high,
                "n": int(mask.sum()),
                "n_writers": ci["n_groups"],
                "errors": int(errors[mask].sum()),
                "error": ci["estimate"],
                "ci_low": ci["ci_low"],
                "ci_high": ci["ci_high"],
                "lift": ci["estimate"] / overall if overall > 0 else np.nan,
                "above_overall": bool(ci["ci_low"] > overall),
            }
        )
    table = pd.DataFrame(rows).sort_values(["error", "n"], ascending=[False, False], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update({"overall_error": overall, "slices_tried": len(slices), "adjusted_confidence": adjusted})
    return table


def slice_mask(features: pd.DataFrame, row) -> np.ndarray:
    """The digits of one slice (a row of :func:`slice_errors`), as a boolean mask over ``features``.

    Examples
    --------
    >>> features = pd.DataFrame({"group": ["a", "b", "b"], "size": [1.0, 2.0, 3.0]})
    >>> slice_mask(features, {"feature": "group", "slice": "b", "low": np.nan, "high": np.nan}).tolist()
    [False, True, True]
    """
    column = features[row["feature"]].reset_index(drop=True)
    if np.isnan(row["low"]):
        return (column.astype(str) == row["slice"]).to_numpy()
    upper = column <= row["high"] if row["high"] >= column.max() else column < row["high"]
    return ((column >= row["low"]) & upper).to_numpy()
