"""Sub-styles within each class: k-means on one class's features, the number of styles chosen by silhouette.

:func:`substyles` splits the digits of each class into 2 to ``max_styles`` groups (seeded
k-means on, for example, principal-component scores) and keeps, per class, the number whose
silhouette (on a seeded sample) is highest. Styles are numbered by size within their class,
0 the largest. :func:`style_shares_by_group` says how the census and student writers spread
over the styles of each class, with writer-clustered bootstrap intervals of the difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import integer, positive_int, vector


def _class_styles(points, max_styles, sample_size, seed):
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    sample = rng.choice(len(points), size=min(sample_size, len(points)), replace=False)
    best = None
    for k in range(2, max_styles + 1):
        found = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(points)
        if len(np.unique(found[sample])) < 2:
            continue
        score = silhouette_score(points[sample], found[sample])
        if best is None or score > best[0]:
            best = (score, found)
    if best is None:
        return np.zeros(len(points), dtype=np.int64), np.nan
    score, found = best
    sizes = np.bincount(found)
    renumber = np.empty_like(sizes)
    renumber[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return renumber[found].astype(np.int64), float(score)


def _substyles(points, labels, max_styles, sample_size, seed):
    from threadpoolctl import threadpool_limits

    styles = np.zeros(len(points), dtype=np.int64)
    rows = []
    # One thread: each k-means is small (one class, 50 features), and scikit-learn's OpenMP pool
    # spent ten times the work itself spinning (34 CPU s against 3.3 on the 70,000 digits, same result).
    with threadpool_limits(limits=1):
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            styles[members], score = _class_styles(points[members], max_styles, sample_size, seed)
            rows.append({"label": label, "n_styles": int(styles[members].max() + 1), "silhouette": score})
    return styles, pd.DataFrame(rows)


def substyles(points, labels, *, max_styles: int = 5, sample_size: int = 2000, seed: int = 0, cache: bool = True):
    """Split each class into sub-styles; returns ``(styles, table)``.

    Parameters
    ----------
    points : array of shape (n, features)
        For example the first 50 principal-component scores of the images.
    labels : array of shape (n,)
        Class of each row; every class needs more than ``max_styles`` rows.
    max_styles : int
        Largest number of styles tried per class (at least 2).
    sample_size : int
        Rows per class on which the silhouette is computed.
    seed : int
    cache : bool
        Read and write the result cache (kind ``clusters``).

    Returns
    -------
    styles : numpy.ndarray of shape (n,)
        Style of each row within its class, 0 the largest.
    table : pandas.DataFrame
        Per class: ``label``, ``n_styles``, ``silhouette`` of the chosen split.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points = np.concatenate([rng.normal(0, 0.1, (40, 2)), rng.normal(5, 0.1, (20, 2))])
    >>> styles, table = substyles(points, np.zeros(60, int), max_styles=3, cache=False)
    >>> styles[:40].tolist() == [0] * 40, styles[40:].tolist() == [1] * 20, int(table["n_styles"][0])
    (True, True, 2)
    """
    from .caching.cache import cached_call

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or not np.isfinite(points).all():
        raise ValueError(f"points: expected finite rows (n, features), found shape {points.shape}")
    labels = vector(labels, "labels", len(points))
    max_styles = integer(max_styles, "max_styles", minimum=2)
    sample_size = positive_int(sample_size, "sample_size")
    counts = pd.Series(labels).value_counts()
    if (counts <= max_styles).any():
        raise ValueError(
            f"labels: every class needs more than max_styles={max_styles} rows; "
            f"class {counts.idxmin()!r} has {counts.min()}"
        )
    return cached_call("clusters", _substyles, points, labels, max_styles, sample_size, int(seed), cache=cache)


def style_names(labels, styles) -> np.ndarray:
    """Name each row's sub-style ``'label.style'`` (``'3.1'``: the second largest style of the 3s).

    Examples
    --------
    >>> style_names([3, 3, 7], [0, 1, 0]).tolist()
    ['3.0', '3.1', '7.0']
    """
    labels = vector(labels, "labels")
    styles = vector(styles, "styles", len(labels))
    return np.array([f"{label}.{style}" for label, style in zip(labels.tolist(), styles.tolist())], dtype=object)


def style_shares_by_group(labels, styles, writers, group, *, first="census", second="student", n_boot=1000, seed=0):
    """Share of each class's digits in each of its styles, per writer group, with the difference's interval.

    Returns
    -------
    pandas.DataFrame
        One row per (label, style): ``n``, ``first_share``, ``second_share``, ``difference``
        (second minus first) and its writer-clustered ``ci_low``/``ci_high``.

    Examples
    --------
    >>> writers = np.repeat(np.arange(8), 10)
    >>> group = np.where(writers < 4, "census", "student")
    >>> styles = (writers >= 4).astype(int)
    >>> table = style_shares_by_group(np.zeros(80, int), styles, writers, group, n_boot=100)
    >>> table[["first_share", "second_share"]].to_numpy().tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    from .clustered_statistics import group_difference_ci

    labels = vector(labels, "labels")
    styles = vector(styles, "styles", len(labels))
    writers = vector(writers, "writers", len(labels))
    group = vector(group, "group", len(labels)).astype(str)
    rows = []
    for label in np.unique(labels):
        members = labels == label
        for style in np.unique(styles[members]):
            result = group_difference_ci(
                (styles[members] == style).astype(float),
                writers[members],
                group[members],
                first=first,
                second=second,
                n_boot=n_boot,
                seed=seed,
            )
            rows.append(
                {
                    "label": label,
                    "style": style,
                    "n": int((styles[members] == style).sum()),
                    "first_share": result["first_mean"],
                    "second_share": result["second_mean"],
                    "difference": result["estimate"],
                    "ci_low": result["ci_low"],
                    "ci_high": result["ci_high"],
                }
            )
    return pd.DataFrame(rows).set_index(["label", "style"])
