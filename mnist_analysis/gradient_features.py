"""Histograms of oriented gradients (HOG) of digit images, vectorised over the whole stack.

Dalal and Triggs' descriptor ("Histograms of oriented gradients for human detection", CVPR
2005) as used for handwritten digits: the image's gradient (central differences) votes with
its magnitude into ``bins`` unsigned orientation bins (0-180 degrees, each vote shared
linearly between the two nearest bins), summed over square cells of ``cell`` pixels; every
block of 2 x 2 neighbouring cells is L2-normalised and the result square-rooted (the
"power" normalisation, which keeps strong strokes from dominating).

On deskewed MNIST digits this is a much stronger input for an RBF support vector machine
than the pixels: trained on 10,000 training images and tested on the 10,000 test images,
0.92 % errors on 100 principal components of these features against 1.80 % on 50 principal
components of the deskewed pixels (``benchmarks/bench_label_issues.py`` measures the audit's
models on all 70,000 images).
"""

from __future__ import annotations

import numpy as np

#: Side of a cell in pixels (28-pixel digits: 7 x 7 cells).
CELL = 4
#: Orientation bins over 0-180 degrees.
BINS = 9
#: Images processed at a time (bounds the memory of the intermediate arrays).
BLOCK = 4096


def _hog_block(images: np.ndarray, cell: int, bins: int) -> np.ndarray:
    n, height, width = images.shape
    gy, gx = np.gradient(images, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    position = np.mod(np.arctan2(gy, gx), np.pi) * (bins / np.pi)  # in [0, bins]
    lower = np.floor(position)
    upper_share = (position - lower).astype(np.float32)
    lower = lower.astype(np.int64) % bins
    upper = (lower + 1) % bins
    rows, columns = height // cell, width // cell
    cropped = (slice(None), slice(0, rows * cell), slice(0, columns * cell))
    cells = np.empty((n, rows, columns, bins), dtype=np.float32)
    for b in range(bins):
        votes = magnitude * ((lower == b) * (1 - upper_share) + (upper == b) * upper_share)
        cells[..., b] = votes[cropped].reshape(n, rows, cell, columns, cell).sum(axis=(2, 4))
    blocks = np.concatenate(
        [cells[:, :-1, :-1], cells[:, 1:, :-1], cells[:, :-1, 1:], cells[:, 1:, 1:]], axis=-1
    )  # (n, rows - 1, columns - 1, 4 * bins)
    blocks /= np.linalg.norm(blocks, axis=-1, keepdims=True) + 1e-3
    return np.sqrt(blocks.reshape(n, -1))


def hog_features(images, *, cell: int = CELL, bins: int = BINS) -> np.ndarray:
    """HOG descriptor of every image: ``(rows - 1) * (columns - 1) * 4 * bins`` values each.

    Parameters
    ----------
    images : array of shape (n, height, width)
        Grey levels (any scale: the block normalisation removes it), for example deskewed
        digits from :func:`mnist_analysis.measurements.deskew`.
    cell : int
        Side of a cell in pixels (at least 2; the image must hold 2 x 2 cells). Pixels
        beyond the last whole cell are left out.
    bins : int
        Unsigned orientation bins (at least 2).

    Returns
    -------
    numpy.ndarray of float32, shape (n, features)
        1,296 features for 28 x 28 images with the defaults (6 x 6 blocks of 4 cells of 9 bins).
        Blank images give zeros.

    Examples
    --------
    >>> bar = np.zeros((1, 8, 8))
    >>> bar[0, :, 3:5] = 255                       # a vertical stroke: horizontal gradients
    >>> features = hog_features(bar, cell=4, bins=4)
    >>> features.shape
    (1, 16)
    >>> features.reshape(4, 4).argmax(axis=1).tolist()   # bin 0 (0 degrees) in every cell
    [0, 0, 0, 0]
    """
    from .validation import image_stack, integer

    images = image_stack(images)
    cell = integer(cell, "cell", minimum=2)
    bins = integer(bins, "bins", minimum=2)
    if min(images.shape[1:]) < 2 * cell:
        raise ValueError(f"cell: expected at most half the image side ({min(images.shape[1:]) // 2}), found {cell}")
    if not np.isfinite(images).all():
        raise ValueError("images: expected finite grey levels, found NaN or infinite values")
    parts = [
        _hog_block(images[start : start + BLOCK].astype(np.float32), cell, bins)
        for start in range(0, len(images), BLOCK)
    ]
    if not parts:
        rows, columns = images.shape[1] // cell, images.shape[2] // cell
        return np.zeros((0, (rows - 1) * (columns - 1) * 4 * bins), dtype=np.float32)
    return np.concatenate(parts)
