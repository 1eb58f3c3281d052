"""Plot helpers: each takes ``ax=None`` and returns the Axes (figure-level ones the Figure).

They never call ``plt.show()`` and never change global matplotlib state, so they compose
inside notebooks, reports and users' own figures alike.
"""

from __future__ import annotations

import numpy as np


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
            ax.text(c * (w + pad) + 1, r * (h + pad) + 1, str(label), color="tab:red",
                    fontsize=7, va="top", ha="left")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax
