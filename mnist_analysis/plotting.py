"""Plot helpers: each takes ``ax=None`` and returns the Axes (figure-level ones the Figure).

They never call ``plt.show()`` and never change global matplotlib state, so they compose
inside notebooks, reports and users' own figures alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .validation import vector


def _axes(ax, figsize=None):
    """Return ``ax``, or a fresh Axes on a new Figure when ``ax`` is None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def montage(images, ncols: int = 10, pad: int = 1, fill: float = 0.0) -> np.ndarray:
    """Tile ``(n, h, w)`` images into one ``(rows*(h+pad)-pad, ncols*(w+pad)-pad)`` array.

    Empty tiles and the padding take the value ``fill``.

    Examples
    --------
    >>> montage(np.ones((3, 2, 2)), ncols=2, pad=1).shape
    (5, 5)
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images: expected an array of shape (n, height, width), found shape {images.shape}")
    if ncols < 1:
        raise ValueError(f"ncols: expected a positive integer, found {ncols}")
    n, h, w = images.shape
    ncols = min(ncols, max(n, 1))
    nrows = max(1, -(-n // ncols))
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill, dtype=float)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return canvas


def image_grid(images, labels=None, *, ncols: int = 10, ax=None, cmap: str = "gray_r", pad: int = 2, title=None):
    """Draw ``(n, 28, 28)`` images as one grid on a single Axes and return the Axes.

    ``labels`` (one per image, any printable value) are written in each tile's corner.
    Pixel values are shown on a fixed 0-255 scale so that grids stay comparable.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = image_grid(np.zeros((4, 28, 28), dtype=np.uint8), labels=[0, 1, 2, 3], ncols=2)
    >>> len(ax.texts)
    4
    """
    images = np.asarray(images)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"labels: expected one per image ({len(images)}), found {len(labels)}")
    ax = _axes(ax)
    vmax = 255 if images.dtype == np.uint8 else None
    canvas = montage(images, ncols=ncols, pad=pad, fill=0)
    ax.imshow(canvas, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    if labels is not None and len(images):
        h, w = images.shape[1:]
        ncols = min(ncols, len(images))
        for i, label in enumerate(labels):
            r, c = divmod(i, ncols)
            ax.text(c * (w + pad) + 1, r * (h + pad) + 1, str(label), color="tab:red", fontsize=7, va="top", ha="left")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- class summaries
def _class_stack(images, labels):
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"images: expected an array of shape (n, height, width), found shape {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels: expected one label per image, shape ({len(images)},), found shape {labels.shape}")
    return images, labels


def class_pixel_images(images, labels, *, statistic: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Per-class pixel mean or standard deviation: ``(classes, (n_classes, h, w) float array)``.

    Examples
    --------
    >>> images = np.array([[[0, 255]], [[255, 255]], [[0, 0]]], dtype=np.uint8)
    >>> classes, means = class_pixel_images(images, [1, 1, 2])
    >>> classes.tolist(), means[:, 0].tolist()
    ([1, 2], [[127.5, 255.0], [0.0, 0.0]])
    """
    images, labels = _class_stack(images, labels)
    reducers = {"mean": np.mean, "std": np.std}
    if statistic not in reducers:
        raise ValueError(f"statistic: expected one of {sorted(reducers)}, found {statistic!r}")
    classes = np.unique(labels)
    values = np.stack([reducers[statistic](images[labels == c].astype(np.float64), axis=0) for c in classes])
    return classes, values


def class_images(images, labels, *, statistic: str = "mean", ax=None, cmap: str = "gray_r", title=None):
    """Draw the per-class mean (or standard-deviation) image in one row and return the Axes.

    Each tile is labelled with its class; all tiles share one 0-255 colour scale.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> images = np.zeros((4, 28, 28), dtype=np.uint8)
    >>> ax = class_images(images, [0, 0, 1, 1], statistic="std")
    >>> [t.get_text() for t in ax.texts]
    ['0', '1']
    """
    classes, values = class_pixel_images(images, labels, statistic=statistic)
    ax = _axes(ax, figsize=(1.1 * len(classes), 1.6))
    w = values.shape[2]
    pad = 2
    canvas = montage(values, ncols=len(classes), pad=pad, fill=0)
    ax.imshow(canvas, cmap=cmap, vmin=0, vmax=255 if statistic == "mean" else None, interpolation="nearest")
    for i, label in enumerate(classes):
        ax.text(i * (w + pad) + 1, 1, str(label), color="tab:red", fontsize=8, va="top", ha="left")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(title if title is not None else f"Per-class {statistic} image")
    return ax


def pixel_map(values, *, ax=None, cmap: str = "viridis", title=None, colorbar_label=None):
    """Draw one per-pixel map (a variance map, a mask of never-inked pixels...) with a colour bar.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = pixel_map(np.arange(16.0).reshape(4, 4), title="demo", colorbar_label="value")
    >>> ax.get_title(), len(ax.figure.axes)
    ('demo', 2)
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values: expected a 2-D (height, width) array, found shape {values.shape}")
    ax = _axes(ax, figsize=(3.6, 3))
    shown = ax.imshow(values.astype(float), cmap=cmap, interpolation="nearest")
    colorbar = ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    if colorbar_label is not None:
        colorbar.set_label(colorbar_label)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    return ax


def class_distributions(
    frame, column: str, *, by: str = "label", hue=None, ax=None, kind: str = "box", title=None, ylabel=None
):
    """Draw the distribution of ``frame[column]`` for each value of ``by`` (box or violin) and return the Axes.

    ``hue`` (a column name, e.g. ``"split"``) draws one box per group side by side.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"label": [0, 0, 1, 1], "ink": [1.0, 2.0, 3.0, 4.0]})
    >>> class_distributions(frame, "ink").get_xlabel()
    'label'
    """
    import seaborn as sns

    plotters = {"box": sns.boxplot, "violin": sns.violinplot}
    if kind not in plotters:
        raise ValueError(f"kind: expected one of {sorted(plotters)}, found {kind!r}")
    missing = [c for c in (column, by, hue) if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"frame: expected columns {missing} to exist, found {list(frame.columns)}")
    ax = _axes(ax, figsize=(8, 3.5))
    options = {"showfliers": False} if kind == "box" else {"cut": 0, "inner": "quartile"}
    plotters[kind](data=frame, x=by, y=column, hue=hue, ax=ax, **options)
    ax.set_xlabel(by)
    ax.set_ylabel(ylabel if ylabel is not None else column)
    ax.set_title(title if title is not None else f"{column} by {by}")
    return ax


def paired_grid(
    first,
    second,
    labels=None,
    *,
    ncols: int = 8,
    ax=None,
    cmap: str = "gray_r",
    title=None,
    row_names=("before", "after"),
):
    """Show image pairs one above the other (before/after, an image and its near duplicate).

    Pairs are laid out ``ncols`` to a band; each band has a row of ``first`` images above
    the matching row of ``second`` images. ``labels`` (one per pair) are written above each pair.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = paired_grid(np.zeros((3, 28, 28)), np.ones((3, 28, 28)), labels=["a", "b", "c"], ncols=2)
    >>> sorted(t.get_text() for t in ax.texts)
    ['a', 'b', 'c']
    """
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape or first.ndim != 3:
        raise ValueError(
            f"first, second: expected two arrays of one shape (n, height, width), "
            f"found {first.shape} and {second.shape}"
        )
    if labels is not None and len(labels) != len(first):
        raise ValueError(f"labels: expected one per pair ({len(first)}), found {len(labels)}")
    if ncols < 1:
        raise ValueError(f"ncols: expected a positive integer, found {ncols}")
    n, h, w = first.shape
    ncols = min(ncols, max(n, 1))
    bands = max(1, -(-n // ncols))
    tiles = np.zeros((bands * 2 * ncols, h, w), dtype=float)
    for i in range(n):
        band, col = divmod(i, ncols)
        tiles[band * 2 * ncols + col] = first[i]
        tiles[band * 2 * ncols + ncols + col] = second[i]
    pad = 2
    canvas = montage(tiles, ncols=ncols, pad=pad, fill=0)
    ax = _axes(ax, figsize=(1.0 * ncols, 2.1 * bands))
    vmax = 255 if first.dtype == np.uint8 and second.dtype == np.uint8 else None
    ax.imshow(canvas, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    if labels is not None:
        for i, label in enumerate(labels):
            band, col = divmod(i, ncols)
            ax.text(
                col * (w + pad) + 1,
                band * 2 * (h + pad) + 1,
                str(label),
                color="tab:red",
                fontsize=7,
                va="top",
                ha="left",
            )
    ax.set_xticks([])
    ax.set_yticks([(band * 2 + k) * (h + pad) + h / 2 for band in range(bands) for k in (0, 1)])
    ax.set_yticklabels([row_names[k] for _ in range(bands) for k in (0, 1)], fontsize=8)
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    return ax


def map_scatter(
    coordinates,
    values,
    *,
    ax=None,
    palette=None,
    size: float = 1.0,
    title=None,
    seed: int = 0,
    axis_label: str = "dimension",
):
    """Scatter a 2-D map (PCA, UMAP, t-SNE) with one colour per distinct value and a legend.

    Points are drawn in a seeded random order, so that no group is hidden under another just
    because it comes later in the data; the legend lists the values sorted.

    Parameters
    ----------
    coordinates : array (n, 2)
        The map, for example :func:`mnist_analysis.embeddings.digit_map`.
    values : array (n,)
        What to colour by: labels, splits, writer groups...
    palette : dict, optional
        ``{value: colour}``; by default seaborn's ``tab10`` over the sorted values.
    size : float
        Marker area in points squared.
    axis_label : str
        The axes read ``"<axis_label> 1"`` and ``"<axis_label> 2"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = map_scatter(np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3, title="demo")
    >>> [t.get_text() for t in ax.get_legend().get_texts()], ax.get_xlabel()
    (['0', '1', '2'], 'dimension 1')
    """
    import seaborn as sns
    from matplotlib.lines import Line2D

    coordinates, values = np.asarray(coordinates), np.asarray(values)
    if coordinates.ndim != 2 or coordinates.shape[1] != 2:
        raise ValueError(f"coordinates: expected an array of shape (n, 2), found shape {coordinates.shape}")
    if values.shape != (len(coordinates),):
        raise ValueError(
            f"values: expected one value per point, shape ({len(coordinates)},), found shape {values.shape}"
        )
    keys = sorted(set(values.tolist()))
    colours = dict(palette) if palette is not None else dict(zip(keys, sns.color_palette("tab10", len(keys))))
    unknown = [k for k in keys if k not in colours]
    if unknown:
        raise ValueError(f"palette: expected a colour for every value, missing {unknown[:5]}")
    order = np.random.default_rng(seed).permutation(len(coordinates))
    ax = _axes(ax, figsize=(7, 6))
    ax.scatter(
        coordinates[order, 0],
        coordinates[order, 1],
        s=size,
        linewidths=0,
        rasterized=True,
        c=np.array([colours[v] for v in values[order].tolist()]),
    )
    handles = [Line2D([], [], ls="", marker="o", color=colours[k], label=str(k)) for k in keys]
    ax.legend(handles=handles, loc="best", fontsize=7, markerscale=0.8, frameon=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{axis_label} 1")
    ax.set_ylabel(f"{axis_label} 2")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_intervals(
    estimates,
    low,
    high,
    *,
    labels=None,
    ax=None,
    offset: float = 0.0,
    label: str | None = None,
    color=None,
    marker: str = "o",
    scale: float = 1.0,
):
    """Dot-and-interval chart: one row per item, its estimate as a dot, its interval as a bar.

    The first item is drawn at the top, like a table read downwards. Call it once per series
    on the same Axes, with a small ``offset`` each (rows are one unit apart), to compare
    series row by row: error by writer group, validation beside test error.

    Parameters
    ----------
    estimates, low, high : array-like (n,)
        The estimates and the ends of their intervals (``low <= estimate <= high``).
    labels : sequence of str, optional
        Row names; by default the index of ``estimates`` when it is a pandas Series.
    offset : float
        Vertical shift of this series, in rows (positive is up).
    scale : float
        Multiplies every value, for example 100 to draw fractions as percentages.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> errors = pd.Series([0.012, 0.034], index=["svm", "knn"])
    >>> ax = plot_intervals(errors, errors - 0.002, errors + 0.003, scale=100, label="test")
    >>> {t.get_text(): float(y) for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}  # the first row on top
    {'svm': 1.0, 'knn': 0.0}
    """
    if labels is None:
        if not isinstance(estimates, pd.Series):
            raise ValueError("labels: expected row names when estimates is not a pandas Series")
        labels = [str(name) for name in estimates.index]
    labels = [str(name) for name in labels]
    values = vector(estimates, "estimates").astype(float) * scale
    lower = vector(low, "low", len(values)).astype(float) * scale
    upper = vector(high, "high", len(values)).astype(float) * scale
    if len(labels) != len(values):
        raise ValueError(f"labels: expected {len(values)} row names, found {len(labels)}")
    known = ~np.isnan(values)
    if np.any(known & ((lower > values) | (upper < values))):
        row = labels[int(np.flatnonzero(known & ((lower > values) | (upper < values)))[0])]
        raise ValueError(f"low, high: expected low <= estimate <= high on every row, found otherwise for {row!r}")
    positions = np.arange(len(values))[::-1].astype(float)
    ax = _axes(ax, figsize=(8, 0.4 * len(values) + 1))
    ax.errorbar(
        values,
        positions + offset,
        xerr=[values - lower, upper - values],
        fmt=marker,
        capsize=3,
        color=color,
        label=label,
    )
    ax.set_yticks(positions, labels)
    return ax


def label_class_medians(coordinates, labels, *, ax=None, fontsize: float = 16, alpha: float = 0.6):
    """Write each class's name at the median of its points on a 2-D map (PCA, UMAP, t-SNE).

    The median, not the mean, so that a few far-flung digits do not drag the name off its
    cluster. Classes without points are skipped.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = label_class_medians(np.array([[0, 0], [2, 2], [10, 10]]), np.array([1, 1, 7]))
    >>> [(t.get_text(), *map(float, t.get_position())) for t in ax.texts]
    [('1', 1.0, 1.0), ('7', 10.0, 10.0)]
    """
    coordinates, labels = np.asarray(coordinates, dtype=float), np.asarray(labels)
    if coordinates.ndim != 2 or coordinates.shape[1] != 2:
        raise ValueError(f"coordinates: expected an array of shape (n, 2), found shape {coordinates.shape}")
    if labels.shape != (len(coordinates),):
        raise ValueError(f"labels: expected one label per point, shape ({len(coordinates)},), found {labels.shape}")
    ax = _axes(ax, figsize=(7, 6))
    for name in sorted(set(labels.tolist())):
        x, y = np.median(coordinates[labels == name], axis=0)
        ax.text(x, y, str(name), fontsize=fontsize, weight="bold", ha="center", va="center", alpha=alpha)
    ax.update_datalim(coordinates)
    ax.autoscale_view()
    return ax


def plot_confusion_matrix(
    matrix: pd.DataFrame,
    *,
    ax=None,
    title: str | None = None,
    annotate: bool = True,
    cmap: str = "Blues",
    colorbar: bool = True,
    vmax: float | None = None,
):
    """Draw a confusion matrix from :func:`mnist_analysis.evaluation.confusion_matrix` as a heatmap; return the Axes.

    Normalised matrices are shown and annotated in percent, count matrices in counts.
    Give several plots the same ``vmax`` (in those units) to make their colours comparable.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from mnist_analysis.evaluation import confusion_matrix
    >>> ax = plot_confusion_matrix(confusion_matrix([0, 1, 1], [0, 1, 0], labels=[0, 1]))
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('predicted label', 'true label')
    """
    import seaborn as sns

    if not isinstance(matrix, pd.DataFrame) or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            "matrix: expected a square DataFrame from confusion_matrix, "
            f"found {type(matrix).__name__} of shape {getattr(matrix, 'shape', None)}"
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 5))
    normalised = np.issubdtype(matrix.to_numpy().dtype, np.floating)
    values = matrix * 100 if normalised else matrix
    sns.heatmap(
        values,
        ax=ax,
        cmap=cmap,
        annot=annotate,
        fmt=".1f" if normalised else "d",
        cbar=colorbar,
        square=True,
        vmin=0,
        vmax=vmax,
        annot_kws={"fontsize": 7},
        cbar_kws={"label": "% of true class" if normalised else "count"} if colorbar else None,
    )
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_reliability_diagram(tables: Mapping, *, ax=None, title: str | None = "Reliability diagram"):
    """Plot accuracy against confidence for ``{model name: mnist_analysis.evaluation.reliability_table(...)}``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from mnist_analysis.evaluation import reliability_table
    >>> table = reliability_table([0, 1], [[0.9, 0.1], [0.6, 0.4]], classes=[0, 1])
    >>> len(plot_reliability_diagram({"model": table}).lines)
    2
    """
    if not isinstance(tables, Mapping) or not tables:
        raise ValueError(
            f"tables: expected a non-empty mapping of model name to reliability_table, found {type(tables).__name__}"
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for name, table in tables.items():
        ax.plot(table["confidence"], table["accuracy"], marker="o", label=name)
    ax.set_xlabel("mean confidence (top class probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_lorenz(curves: dict, *, ax=None, title: str | None = "Concentration of errors across writers"):
    """Draw ``{name: mnist_analysis.writer_groups.lorenz_curve(...)}`` with the line of equality; return the Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from mnist_analysis.writer_groups import lorenz_curve
    >>> ax = plot_lorenz({"model": lorenz_curve([0, 1, 3], [2, 2, 2])})
    >>> len(ax.lines), ax.get_xlabel()
    (2, 'share of digits (writers sorted by error rate)')
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"curves: expected a non-empty dict of name to lorenz_curve, found {type(curves).__name__}")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="errors spread evenly")
    for name, curve in curves.items():
        ax.plot(curve["population_share"], curve["amount_share"], label=name)
    ax.set_xlabel("share of digits (writers sorted by error rate)")
    ax.set_ylabel("share of errors")
    ax.legend(fontsize=8)
    if title is not None:
        ax.set_title(title)
    return ax
