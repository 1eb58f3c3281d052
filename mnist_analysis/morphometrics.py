"""Morpho-MNIST morphometrics: area, length, thickness, slant, width and height of each digit.

:func:`morphometrics` follows the procedure of Castro et al. (2019), "Morpho-MNIST:
quantitative assessment and diagnostics for representation learning" (JMLR 20(178)), so
that its numbers can be set beside the values the paper and its released tables report.
Each image is

1. upsampled 4x: cubic-spline resize, clipped to the image's own grey-level range, then a
   Gaussian blur of sigma 4/3 upsampled pixels (scikit-image's ``pyramid_expand`` with
   ``order=3``), and rounded down to whole grey levels;
2. binarised halfway between its darkest and brightest upsampled grey level;
3. reduced to its medial axis: inked pixels are peeled off in order of increasing
   distance to the background (ties broken by how few inked neighbours a pixel has, then
   by a fixed pseudo-random order of the pixel positions) unless removing one would cut
   the stroke or shorten a line end, as in :func:`skimage.morphology.medial_axis`;
4. measured, and the measures converted back to original pixels:

==============  ===============================================================================
column          meaning (unit)
==============  ===============================================================================
``area``        inked upsampled pixels / 16 (original pixels squared)
``length``      length of the medial axis (original pixels): each pair of 8-adjacent axis
                pixels adds 1 upsampled pixel when side by side and sqrt(2) when diagonal,
                divided by 4
``thickness``   mean stroke thickness (original pixels): twice the mean Euclidean distance
                from the medial-axis pixels to the nearest uninked pixel, divided by 4
``slant``       horizontal shear from the upsampled image's intensity moments,
                ``atan(-cov(x, y) / var(y))`` (radians): positive when the digit leans
                forward, its top to the right
``width``       width of the slant-corrected bounding box (original pixels): along lines of
                the digit's slant, the span holding all but 1 % of the upsampled intensity
                on each side
``height``      height of that box (original pixels): the rows holding all but 1 % of the
                intensity above and below, divided by 4
==============  ===============================================================================

An image without contrast (all pixels the same grey level, for example an empty one) has
no digit to measure: all its columns are NaN. Other than by the tie-breaking of the medial
axis (which moves a digit's length by about 2 % either way), results match Morpho-MNIST's
reference code run with the same scikit-image. Its released tables were computed with an
older scikit-image, whose medial axes differ: for training image 0 the released length is
about 4 % above ours, and 5 % above that of Morpho-MNIST's own code run today
(``tests/test_morphometrics.py`` checks that image against the released values).

The work is vectorised over chunks of images, with two worker processes by default; only
the distance transform runs image by image, on the box around each digit.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pandas as pd

from mnist_analysis.validation import grey_levels, image_stack, positive_int

#: Upsampling factor of the procedure.
SCALE = 4
#: Relative binarisation threshold: halfway between darkest and brightest upsampled level.
THRESHOLD = 0.5
#: Share of intensity left out of the slant-corrected box, half on each side.
BOX_TRIM = 0.02
#: Seed of the fixed pseudo-random order that breaks ties when peeling the medial axis.
TIE_SEED = 42

COLUMNS = ("area", "length", "thickness", "slant", "width", "height")

#: Morpho-MNIST's released measures of MNIST training image 0 (row 0 of their
#: ``original/train-morpho.csv``, as quoted in ``tests/test_measure.py`` of
#: github.com/dccastro/Morpho-MNIST); slant in radians, the rest in original pixels.
RELEASED_TRAIN_0 = {
    "area": 107.3125,
    "length": 50.26650429449552,
    "thickness": 2.4606583773939543,
    "slant": 0.23107446620980754,
    "width": 14.539571782767355,
    "height": 19.849053691610763,
}

_CHUNK = 250  # images per task: the 4x upsampled stack and its temporaries stay near 100 MB per worker
_BLOCK = 250  # images per float64 upsampling block within a task


@functools.lru_cache(maxsize=4)
def _upsampling_matrix(size: int) -> np.ndarray:
    """The linear map of a cubic-spline resize from ``size`` to ``SCALE * size`` samples."""
    from skimage.transform import resize

    return resize(np.eye(size), (SCALE * size, size), order=3, mode="reflect", anti_aliasing=False, clip=False)


def upsample(images) -> np.ndarray:
    """Upsample images 4x as the Morpho-MNIST procedure does, on the 0-255 scale, rounded down.

    Cubic-spline resize clipped to each image's grey-level range, then a Gaussian blur of
    sigma 4/3 upsampled pixels: the same numbers as
    ``floor(255 * skimage.transform.pyramid_expand(image / 255, 4, order=3))``, for a whole
    stack at once.

    Parameters
    ----------
    images : array of shape (n, height, width)
        Grey levels 0-255.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 4 * height, 4 * width)

    Examples
    --------
    >>> dot = np.zeros((1, 8, 8), dtype=np.uint8); dot[0, 3:5, 3:5] = 255
    >>> hires = upsample(dot)
    >>> hires.shape, int(hires.max()) < 255, bool((hires == hires[0, ::-1, ::-1]).all())
    ((1, 32, 32), True, True)
    """
    from scipy import ndimage as ndi

    images = grey_levels(image_stack(images, allow_bool=False))
    n, h, w = images.shape
    rows, cols = _upsampling_matrix(h), _upsampling_matrix(w)
    out = np.empty((n, SCALE * h, SCALE * w), dtype=np.uint8)
    sigma = 2 * SCALE / 6
    for start in range(0, n, _BLOCK):
        block = images[start : start + _BLOCK].astype(np.float64) / 255.0
        low = block.min(axis=(1, 2), keepdims=True)
        high = block.max(axis=(1, 2), keepdims=True)
        hires = np.clip(rows @ block @ cols.T, low, high)
        hires = ndi.gaussian_filter1d(hires, sigma, axis=1, mode="reflect")
        hires = ndi.gaussian_filter1d(hires, sigma, axis=2, mode="reflect")
        out[start : start + _BLOCK] = (255.0 * hires).astype(np.uint8)
    return out


def _inked_in_window(masks):
    """Inked pixels in each pixel's 3x3 window, itself included (outside the image counts as uninked)."""
    _, h, w = masks.shape
    padded = np.pad(masks, ((0, 0), (1, 1), (1, 1))).astype(np.int8)
    return sum(padded[:, dr : dr + h, dc : dc + w] for dr, dc in np.ndindex(3, 3))


@functools.lru_cache(maxsize=1)
def _keep_table() -> np.ndarray:
    """For each 3x3 pattern with an inked centre: must the centre stay to keep the medial axis?

    It stays when removing it changes the number of 8-connected pieces in the 3x3 window
    (it joins strokes) or when the window holds fewer than three inked pixels (a line end).
    """
    from scipy import ndimage as ndi

    eight = np.ones((3, 3), dtype=bool)
    table = np.zeros(512, dtype=np.uint8)
    for code in range(512):
        pattern = ((code >> np.arange(9)) & 1).astype(bool).reshape(3, 3)
        if not pattern[1, 1]:
            continue
        without = pattern.copy()
        without[1, 1] = False
        joins = ndi.label(pattern, eight)[1] != ndi.label(without, eight)[1]
        table[code] = joins or pattern.sum() < 3
    return table


def _distance_to_background(masks):
    """Euclidean distance from each inked pixel to the nearest uninked pixel of its image.

    As :func:`scipy.ndimage.distance_transform_edt` of each image (outside the image is
    not background), computed on the box around the ink plus a one-pixel margin, which
    holds every nearest uninked pixel.
    """
    from scipy import ndimage as ndi

    _, h, w = masks.shape
    distance = np.zeros(masks.shape, dtype=np.float64)
    any_row = masks.any(axis=2)
    any_col = masks.any(axis=1)
    for i in np.flatnonzero(any_row.any(axis=1)):
        top = max(int(any_row[i].argmax()) - 1, 0)
        bottom = min(h - int(any_row[i, ::-1].argmax()) + 1, h)
        left = max(int(any_col[i].argmax()) - 1, 0)
        right = min(w - int(any_col[i, ::-1].argmax()) + 1, w)
        distance[i, top:bottom, left:right] = ndi.distance_transform_edt(masks[i, top:bottom, left:right])
    return distance


def _tie_order(shape):
    """A fixed pseudo-random rank for every pixel position (same for every image)."""
    return np.random.default_rng(TIE_SEED).permutation(shape[0] * shape[1]).reshape(shape)


def medial_axes(masks, distance, tie_rank) -> np.ndarray:
    """Medial axis of each binary image, peeling all images in lockstep.

    Inked pixels are visited once each in the order of (distance, number of uninked pixels
    in the 3x3 window, ``tie_rank``); a visited pixel is removed unless :func:`_keep_table`
    says it joins strokes or ends a line, judged on the pixels still present. The k-th
    visit of every image happens in one vectorised step.

    Parameters
    ----------
    masks : bool array (n, h, w)
    distance : float array (n, h, w)
        Distance of each inked pixel to the background.
    tie_rank : int array (h, w) or (n, h, w)
        Last sort key, whole numbers from 0 to h * w - 1, the same for every image when
        (h, w), so that the result does not depend on which images share a batch.

    Returns
    -------
    numpy.ndarray of bool, shape (n, h, w)

    Examples
    --------
    >>> from scipy import ndimage as ndi
    >>> bar = np.zeros((1, 7, 12), dtype=bool); bar[0, 2:5, 1:11] = True
    >>> axis = medial_axes(bar, ndi.distance_transform_edt(bar), np.zeros((7, 12), int))
    >>> bool(axis[0, 3, 2:10].all()), int(axis[0].sum()) < 14
    (True, True)
    """
    masks = np.asarray(masks, dtype=bool)
    n, h, w = masks.shape
    tie_rank = np.asarray(tie_rank)
    if tie_rank.size and (tie_rank.min() < 0 or tie_rank.max() >= h * w):
        raise ValueError(
            f"tie_rank: expected whole numbers from 0 to {h * w - 1}, found values from "
            f"{tie_rank.min()} to {tie_rank.max()}"
        )
    image, row, col = np.nonzero(masks)
    if not len(image):
        return masks.copy()
    # Visit order as one int64 sort key per inked pixel: image, squared distance (a whole
    # number, ordered like the distance), cornerness, tie rank, then position, which makes
    # every key unique; sorting the keys themselves is several times faster than lexsort.
    squared = np.rint(np.asarray(distance)[image, row, col] ** 2).astype(np.int64)
    cornerness = 9 - _inked_in_window(masks)[image, row, col].astype(np.int64)
    ties = np.broadcast_to(tie_rank, masks.shape)[image, row, col].astype(np.int64)
    position = row * w + col
    position_bits = int(h * w).bit_length()
    low_bits = int(h * h + w * w).bit_length() + 4 + 2 * position_bits
    if int(n).bit_length() + low_bits < 63:
        key = np.sort(
            (
                (((image << (low_bits - 2 * position_bits - 4) | squared) << 4 | cornerness) << position_bits | ties)
                << position_bits
            )
            | position
        )
        image = key >> low_bits
        position = key & ((1 << position_bits) - 1)
    else:
        visit = np.lexsort((position, ties, cornerness, squared, image))
        image, position = image[visit], position[visit]
    row, col = np.divmod(position, w)
    rank = np.arange(len(image)) - np.searchsorted(image, np.arange(n))[image]
    step_order = np.argsort(rank.astype(np.uint16 if h * w < 2**16 else np.int64), kind="stable")
    stride = (h + 2) * (w + 2)
    flat = (image * stride + (row + 1) * (w + 2) + col + 1)[step_order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(rank))])

    state = np.pad(masks, ((0, 0), (1, 1), (1, 1))).astype(np.uint8).ravel()
    neighbours = np.array([dr * (w + 2) + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc])
    weights = np.array([1, 2, 4, 8, 32, 64, 128, 256], dtype=np.int32)
    keep = _keep_table()
    for start, stop in itertools.pairwise(bounds):
        at = flat[start:stop]
        code = 16 + state[at[:, None] + neighbours] @ weights
        state[at] = keep[code]
    return state.reshape(n, h + 2, w + 2)[:, 1:-1, 1:-1].astype(bool)


def _axis_length(axis):
    """Sum of the links between 8-adjacent axis pixels: 1 side by side, sqrt(2) diagonal."""
    side = (axis[:, :, :-1] & axis[:, :, 1:]).sum(axis=(1, 2)) + (axis[:, :-1] & axis[:, 1:]).sum(axis=(1, 2))
    diagonal = (axis[:, :-1, :-1] & axis[:, 1:, 1:]).sum(axis=(1, 2)) + (axis[:, :-1, 1:] & axis[:, 1:, :-1]).sum(
        axis=(1, 2)
    )
    return side + np.sqrt(2.0) * diagonal


def _interpolate_quantile(cdf, positions, share):
    """Row-wise ``np.interp(share, cdf[i], positions)`` for non-decreasing rows of ``cdf``."""
    n, m = cdf.shape
    below = (cdf <= share).sum(axis=1) - 1
    lower = np.clip(below, 0, m - 1)
    upper = np.clip(below + 1, 0, m - 1)
    c0 = cdf[np.arange(n), lower]
    c1 = cdf[np.arange(n), upper]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(c1 > c0, (share - c0) / (c1 - c0), 0.0)
    value = positions[lower] + fraction * (positions[upper] - positions[lower])
    value = np.where(below < 0, positions[0], value)
    return np.where(below >= m - 1, positions[-1], value)


def _shape_measures(hires):
    """Slant (radians) and slant-corrected box width and height (upsampled pixels)."""
    n, h, w = hires.shape
    y = np.arange(h, dtype=np.float64)
    x = np.arange(w, dtype=np.float64)
    row_mass = hires.sum(axis=2, dtype=np.float64)
    total = row_mass.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_share = row_mass / total[:, None]
        y_mean = row_share @ y
        dy = y[None, :] - y_mean[:, None]
        var_y = (row_share * dy**2).sum(axis=1)
        # sum(mass * (x - x_mean) * dy) = sum(mass * x * dy): the mass-weighted dy sums to 0
        cov_xy = (np.einsum("nyx,x->ny", hires, x) * dy).sum(axis=1) / total
        shear = cov_xy / var_y
    shear = np.where(np.isfinite(shear), shear, 0.0)  # an image without ink: NaN later
    dy = np.nan_to_num(dy)
    # The share of intensity left of the slanted line through column t: pixel (y, x) counts
    # when x + 0.5 < t + shear * (y - y_mean), that is (x being whole) when
    # x + 1 <= t - floor(0.5 - shear * (y - y_mean)): a whole-pixel shift of each row.
    row_shift = np.floor(0.5 - shear[:, None] * dy).astype(np.int64)
    row_cumulative = np.zeros((n, h, w + 1), dtype=np.int32)
    np.cumsum(hires, axis=2, dtype=np.int32, out=row_cumulative[:, :, 1:])
    reach = np.clip(np.arange(w)[None, None, :] - row_shift[:, :, None], 0, w)
    left_mass = np.take_along_axis(row_cumulative, reach, axis=2).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        left_share = left_mass / total[:, None]
        above_share = np.concatenate([np.zeros((n, 1)), np.cumsum(row_share, axis=1)[:, : h - 1]], axis=1)
    half = BOX_TRIM / 2
    width = _interpolate_quantile(left_share, x, 1 - half) - _interpolate_quantile(left_share, x, half)
    height = _interpolate_quantile(above_share, y, 1 - half) - _interpolate_quantile(above_share, y, half)
    return np.arctan(-shear), width, height


def _measure_chunk(images):
    hires = upsample(images)
    low = hires.min(axis=(1, 2)).astype(np.float64)
    high = hires.max(axis=(1, 2)).astype(np.float64)
    masks = hires >= (low + (high - low) * THRESHOLD)[:, None, None]
    distance = _distance_to_background(masks)
    axis = medial_axes(masks, distance, _tie_order(masks.shape[1:]))
    on_axis = np.nonzero(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        thickness = (
            2
            * np.bincount(on_axis[0], weights=distance[on_axis], minlength=len(axis))
            / np.bincount(on_axis[0], minlength=len(axis))
            / SCALE
        )
    slant, width, height = _shape_measures(hires)
    frame = pd.DataFrame(
        {
            "area": masks.sum(axis=(1, 2)) / SCALE**2,
            "length": _axis_length(axis) / SCALE,
            "thickness": thickness,
            "slant": slant,
            "width": width / SCALE,
            "height": height / SCALE,
        }
    )
    frame.loc[high == low] = np.nan  # no contrast: nothing to measure
    return frame


def _morphometrics_table(images: np.ndarray) -> pd.DataFrame:
    """All morphometrics of a stack of 0-255 images (uncached; chunks spread over joblib workers)."""
    from joblib import delayed

    from .utils import in_worker_processes

    chunks = [images[start : start + _CHUNK] for start in range(0, len(images), _CHUNK)]
    if len(chunks) <= 1:
        parts = [_measure_chunk(chunk) for chunk in chunks]
    else:
        parts = in_worker_processes(delayed(_measure_chunk)(chunk) for chunk in chunks)
    if not parts:
        return pd.DataFrame({c: np.zeros(0) for c in COLUMNS})
    return pd.concat(parts, ignore_index=True)


def morphometrics(images, *, n_jobs: int = 2, cache: bool = True) -> pd.DataFrame:
    """Measure each digit as Morpho-MNIST does: area, length, thickness, slant, width, height.

    Parameters
    ----------
    images : array of shape (n, height, width)
        Grey levels 0-255 (uint8 as MNIST stores them, or floats).
    n_jobs : int, default 2
        Worker processes (joblib) for stacks of more than 1,000 images; the result does not
        depend on it.
    cache : bool, default True
        Go through :func:`mnist_analysis.caching.cache.cached_call`, which returns a result
        computed before for the same image content.

    Returns
    -------
    pandas.DataFrame
        One row per image in input order (RangeIndex) with the float columns ``area``
        (original pixels squared), ``length``, ``thickness``, ``width`` and ``height``
        (original pixels) and ``slant`` (radians, positive leaning forward), defined in the
        module docstring; all NaN for an image without contrast.

    Examples
    --------
    An upright bar 3 pixels wide and 16 high:

    >>> bar = np.zeros((1, 28, 28), dtype=np.uint8)
    >>> bar[0, 6:22, 13:16] = 255
    >>> row = morphometrics(bar, cache=False).iloc[0]
    >>> round(row.area), round(float(row.thickness), 1), round(row.height), float(abs(row.slant)) < 1e-9
    (48, 3.0, 16, True)
    """
    from joblib import parallel_config

    from mnist_analysis.caching.cache import cached_call

    images = grey_levels(image_stack(images, allow_bool=False))
    n_jobs = positive_int(n_jobs, "n_jobs")
    images = np.ascontiguousarray(images).view(np.ndarray)
    with parallel_config(n_jobs=n_jobs):
        return cached_call("morphometrics", _morphometrics_table, images, cache=cache)
