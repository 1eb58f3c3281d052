"""Per-image stroke measurements, vectorised over a whole stack of digit images.

:func:`measure` returns one row per image with the columns below. Coordinates are in
pixels, with ``(0, 0)`` the centre of the top-left pixel, rows growing downwards; the
centre of a 28x28 image is therefore ``(13.5, 13.5)``.

===============================  ====================================================================
column                           meaning (unit)
===============================  ====================================================================
``is_empty``                     True when no pixel is above zero; the geometric columns are then
                                 NaN, on purpose, so an empty image never passes for a real digit
``ink``                          total intensity divided by 255 (pixels of full ink)
``area``                         inked pixels: grey level >= ``threshold`` (pixels)
``bbox_top``, ``bbox_left``      first row / column holding any pixel above zero (pixel index)
``bbox_height``, ``bbox_width``  extent of the pixels above zero (pixels); 0 when empty
``com_row``, ``com_col``         intensity-weighted centre of mass (pixels)
``var_row``, ``var_col``         intensity-weighted central second moments (pixels squared)
``cov_row_col``                  intensity-weighted central cross moment (pixels squared)
``slant_deg``                    shear angle implied by the moments, ``degrees(atan(-cov/var_row))``:
                                 positive when the digit leans forward (top to the right)
``thickness``                    mean stroke thickness (pixels), ``2 * d - 1`` with ``d`` the mean
                                 Euclidean distance from skeleton pixels to the nearest uninked
                                 pixel: a stroke ``w`` pixels wide measures between ``w - 1``
                                 and ``w`` (exactly ``w`` for odd ``w`` away from stroke ends);
                                 NaN when no pixel reaches the threshold
``length``                       skeleton length (pixels): orthogonal steps count 1, diagonal
                                 steps sqrt(2); the skeleton is the Zhang-Suen thinning of the
                                 inked pixels (:func:`skimage.morphology.skeletonize`)
``components``                   8-connected components of the inked pixels
``holes``                        4-connected regions of uninked pixels enclosed by ink
===============================  ====================================================================

The inked mask (grey level >= 128, half the scale) splits MNIST's anti-aliased edge
pixels the way a reader would: an edge pixel counts as ink when it is at least half
covered. :func:`deskew` undoes the slant measured here (the shear MNIST never corrected),
and :func:`center_by_bounding_box` / :func:`center_by_mass` re-centre digits for comparing
the two centring rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import finite_array, grey_levels, image_stack, positive_int
from .validation import labels as check_labels

INK_THRESHOLD = 128
"""Grey level (0-255) from which a pixel counts as ink for area, skeleton, components and holes."""

COLUMNS = (
    "is_empty",
    "ink",
    "area",
    "bbox_top",
    "bbox_left",
    "bbox_height",
    "bbox_width",
    "com_row",
    "com_col",
    "var_row",
    "var_col",
    "cov_row_col",
    "slant_deg",
    "thickness",
    "length",
    "components",
    "holes",
)

_CHUNK = 10_000  # images per block: bounds the temporary float arrays to a few hundred MB


def _moments(images):
    """Mass, centre of mass and central second moments of each image (float64)."""
    n, h, w = images.shape
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    mass = np.empty(n)
    com = np.empty((n, 2))
    second = np.empty((n, 3))
    for start in range(0, n, _CHUNK):
        block = images[start : start + _CHUNK].astype(np.float64)
        m = block.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            row_profile = block.sum(axis=2) / m[:, None]
            col_profile = block.sum(axis=1) / m[:, None]
            r0 = row_profile @ rows
            c0 = col_profile @ cols
            dr = rows[None, :] - r0[:, None]
            dc = cols[None, :] - c0[:, None]
            var_r = (row_profile * dr**2).sum(axis=1)
            var_c = (col_profile * dc**2).sum(axis=1)
            cov = np.einsum("nij,ni,nj->n", block, dr, dc) / m
        mass[start : start + _CHUNK] = m
        com[start : start + _CHUNK] = np.column_stack([r0, c0])
        second[start : start + _CHUNK] = np.column_stack([var_r, var_c, cov])
    return mass, com, second


def _bounding_boxes(images):
    """Top, left, height, width of the pixels above zero; (-1, -1, 0, 0) for empty images."""
    any_row = (images > 0).any(axis=2)
    any_col = (images > 0).any(axis=1)
    h, w = images.shape[1:]
    top = np.where(any_row.any(axis=1), any_row.argmax(axis=1), -1)
    bottom = np.where(any_row.any(axis=1), h - 1 - any_row[:, ::-1].argmax(axis=1), -2)
    left = np.where(any_col.any(axis=1), any_col.argmax(axis=1), -1)
    right = np.where(any_col.any(axis=1), w - 1 - any_col[:, ::-1].argmax(axis=1), -2)
    return top, left, bottom - top + 1, right - left + 1


def _skeletons(inked):
    from skimage.morphology import skeletonize

    # skeletonize is 2-D; a loop over 28x28 images costs ~20 us each, faster than one mosaic.
    return np.stack([skeletonize(mask) for mask in inked]) if len(inked) else inked.copy()


def _distance_to_background(inked, image_idx, rows, cols, max_radius=None):
    """Exact Euclidean distance from the given inked pixels to the nearest uninked pixel.

    Offsets are tried in order of increasing length, so the first uninked pixel found is
    the nearest: the same answer as :func:`scipy.ndimage.distance_transform_edt`, but
    computed for a few skeleton pixels of many images at once. Outside the image counts
    as uninked.
    """
    h, w = inked.shape[1:]
    radius = max_radius or max(h, w)
    dr, dc = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    order = np.argsort(dr.ravel() ** 2 + dc.ravel() ** 2, kind="stable")
    offsets = np.column_stack([dr.ravel()[order], dc.ravel()[order]])[1:]  # skip (0, 0)
    distance = np.full(len(rows), np.nan)
    pending = np.arange(len(rows))
    for off_r, off_c in offsets:
        if not len(pending):
            break
        r = rows[pending] + off_r
        c = cols[pending] + off_c
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        background = ~inside
        background[inside] = ~inked[image_idx[pending][inside], r[inside], c[inside]]
        distance[pending[background]] = np.hypot(off_r, off_c)
        pending = pending[~background]
    return distance


def _skeleton_length(skeleton):
    """Length of each skeleton: orthogonal links count 1, diagonal links sqrt(2).

    A diagonal link already bridged by an orthogonal corner pixel is not counted twice.
    """
    s = skeleton
    right = s[:, :, :-1] & s[:, :, 1:]
    down = s[:, :-1, :] & s[:, 1:, :]
    diag_down_right = s[:, :-1, :-1] & s[:, 1:, 1:] & ~s[:, :-1, 1:] & ~s[:, 1:, :-1]
    diag_down_left = s[:, :-1, 1:] & s[:, 1:, :-1] & ~s[:, :-1, :-1] & ~s[:, 1:, 1:]
    orthogonal = right.sum(axis=(1, 2)) + down.sum(axis=(1, 2))
    diagonal = diag_down_right.sum(axis=(1, 2)) + diag_down_left.sum(axis=(1, 2))
    return orthogonal + np.sqrt(2) * diagonal


def _label_owners(labels, tile_rows, n):
    """Image index owning each label of a vertical mosaic of tiles ``tile_rows`` high."""
    owner = np.zeros(labels.max(initial=0) + 1, dtype=np.int64)
    tile = np.repeat(np.arange(n), tile_rows * labels.shape[1])
    owner[labels.ravel()] = tile
    return owner


def _components_and_holes(inked):
    from scipy import ndimage as ndi

    n, h, w = inked.shape
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # One tall 2-D mosaic, each image below a blank row, so that components never join
    # across images (2-D labelling is faster than 3-D with a per-plane structure).
    mosaic = np.zeros((n, h + 1, w), bool)
    mosaic[:, 1:] = inked
    labels, count = ndi.label(mosaic.reshape(-1, w), structure=np.ones((3, 3), bool))
    components = np.bincount(_label_owners(labels, h + 1, n)[1:], minlength=n)
    # Background regions (4-connected) in images padded with a blank ring: every region
    # that touches an image border joins the one region of all the rings; the rest are holes.
    background = np.pad(~inked, ((0, 0), (1, 1), (1, 1)), constant_values=True)
    labels, count = ndi.label(background.reshape(-1, w + 2))
    owner = _label_owners(labels, h + 2, n)
    enclosed = np.ones(count + 1, bool)
    enclosed[[0, labels[0, 0]]] = False
    holes = np.bincount(owner[enclosed], minlength=n)
    return components, holes


#: Images measured at once: the whole-stack steps hold several arrays the size of the block, so
#: blocks keep the memory of measuring all 70,000 images to a few hundred MB.
MEASURE_BLOCK = 8192


def _measure_uncached(images, threshold):
    starts = range(0, len(images), MEASURE_BLOCK)
    if len(starts) <= 1:
        return _measure_block(images, threshold)
    return pd.concat([_measure_block(images[s : s + MEASURE_BLOCK], threshold) for s in starts], ignore_index=True)


def _measure_block(images, threshold):
    n = len(images)
    mass, com, second = _moments(images)
    top, left, height, width = _bounding_boxes(images)
    empty = height == 0
    inked = images >= threshold
    skeleton = _skeletons(inked)
    image_idx, rows, cols = np.nonzero(skeleton)
    distance = _distance_to_background(inked, image_idx, rows, cols)
    counts = np.bincount(image_idx, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        thickness = 2 * np.bincount(image_idx, weights=distance, minlength=n) / counts - 1
        slant = np.degrees(np.arctan(-second[:, 2] / second[:, 0]))
    components, holes = _components_and_holes(inked)
    return pd.DataFrame(
        {
            "is_empty": empty,
            "ink": mass / 255.0,
            "area": inked.sum(axis=(1, 2)),
            "bbox_top": np.where(empty, np.nan, top),
            "bbox_left": np.where(empty, np.nan, left),
            "bbox_height": height,
            "bbox_width": width,
            "com_row": com[:, 0],
            "com_col": com[:, 1],
            "var_row": second[:, 0],
            "var_col": second[:, 1],
            "cov_row_col": second[:, 2],
            "slant_deg": slant,
            "thickness": thickness,
            "length": _skeleton_length(skeleton),
            "components": components,
            "holes": holes,
        }
    )


def measure(images, *, threshold: int = INK_THRESHOLD, cache: bool = True) -> pd.DataFrame:
    """Measure every image: ink, area, box, centre, moments, slant, thickness, length, topology.

    Parameters
    ----------
    images : array of shape (n, height, width)
        Grey levels on the 0-255 scale (uint8 as stored by MNIST, or floats).
    threshold : int, default 128
        Grey level from which a pixel counts as ink (area, skeleton, components, holes).
    cache : bool, default True
        Reuse a result computed before for the same image content and threshold
        (stored with :func:`mnist_analysis.caching.cache.cached_call`).

    Returns
    -------
    pandas.DataFrame
        One row per image, in input order (RangeIndex = position in ``images``), with the
        columns documented in the module docstring. Quantities undefined for an empty image
        (centre, moments, slant, thickness, box position) are NaN and flagged by ``is_empty``.

    Examples
    --------
    >>> square = np.zeros((1, 28, 28), dtype=np.uint8)
    >>> square[0, 10:15, 4:8] = 255
    >>> row = measure(square, cache=False).iloc[0]
    >>> int(row.area), int(row.bbox_height), int(row.bbox_width), round(float(row.com_row), 6)
    (20, 5, 4, 12.0)
    """
    images = grey_levels(image_stack(images, allow_bool=False))
    threshold = positive_int(threshold, "threshold", maximum=255)
    # A plain ndarray so that a memory map and an in-memory copy share one cache entry.
    images = np.ascontiguousarray(images).view(np.ndarray)
    from mnist_analysis.caching.cache import cached_call

    return cached_call("measurements", _measure_uncached, images, int(threshold), cache=cache)


def slant_angles(images) -> np.ndarray:
    """Slant of each image in degrees, from its second-order moments (NaN when empty).

    Positive when the digit leans forward (its top to the right), as in italic script.

    Examples
    --------
    >>> bar = np.zeros((1, 28, 28)); bar[0, 4:24, 13] = 255
    >>> abs(float(slant_angles(bar)[0])) < 1e-9
    True
    """
    images = image_stack(images, allow_bool=False)
    _, _, second = _moments(images)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arctan(-second[:, 2] / second[:, 0]))


def deskew(images) -> np.ndarray:
    """Remove each image's slant by a horizontal shear about its centre of mass.

    Each row is shifted sideways by ``-alpha * (row - com_row)`` with
    ``alpha = cov_row_col / var_row`` (linear interpolation), which makes the deskewed
    image's cross moment zero: its slant becomes 0 degrees. The centre of mass stays
    where it was. Empty images (and ones with a single inked row) come back unchanged.

    Parameters
    ----------
    images : array of shape (n, height, width)

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``images`` (uint8 input is rounded back to uint8).

    Examples
    --------
    >>> leaning = np.zeros((1, 28, 28), dtype=np.uint8)
    >>> for r in range(6, 22):
    ...     leaning[0, r, 20 - r // 2 : 22 - r // 2] = 255
    >>> abs(float(slant_angles(leaning)[0])) > 20, abs(float(slant_angles(deskew(leaning))[0])) < 2
    (True, True)
    """
    images = image_stack(images, allow_bool=False)
    n, h, w = images.shape
    _, com, second = _moments(images)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = second[:, 2] / second[:, 0]
    alpha = np.where(np.isfinite(alpha), alpha, 0.0)
    r0 = np.nan_to_num(com[:, 0])
    out = np.empty(images.shape, dtype=images.dtype)
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        block = images[start : start + _CHUNK].astype(np.float32)
        # Row r of the output reads the input row at columns c + shift[r] (linear interpolation).
        shift = alpha[start : start + _CHUNK, None] * (rows[None, :] - r0[start : start + _CHUNK, None])
        source = cols[None, None, :] + shift[:, :, None]
        left = np.floor(source).astype(np.int64)
        frac = (source - left).astype(np.float32)
        padded = np.pad(block, ((0, 0), (0, 0), (1, 1)))  # zeros beyond the sides
        left_idx = np.clip(left + 1, 0, w + 1)
        right_idx = np.clip(left + 2, 0, w + 1)
        shifted = (1 - frac) * np.take_along_axis(padded, left_idx, axis=2) + frac * np.take_along_axis(
            padded, right_idx, axis=2
        )
        out[start : start + _CHUNK] = _cast_like(shifted, images.dtype)
    return out


def _cast_like(values, dtype):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def _translate(images, shift_rows, shift_cols):
    """Move each image by whole pixels (``shift`` > 0 moves down / right), filling with zeros."""
    n, h, w = images.shape
    rows = np.arange(h)[None, :] - shift_rows[:, None]
    cols = np.arange(w)[None, :] - shift_cols[:, None]
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    picked = images[
        np.arange(n)[:, None, None], np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :]
    ]
    return np.where(valid, picked, np.zeros((), dtype=images.dtype))


def center_by_bounding_box(images) -> np.ndarray:
    """Translate each image by whole pixels so its bounding box sits in the middle.

    The box is that of the pixels above zero; the shift is the rounded distance from the
    box centre to the image centre. Empty images come back unchanged. Compare with
    :func:`center_by_mass`, the rule MNIST used.

    Examples
    --------
    >>> image = np.zeros((1, 28, 28), dtype=np.uint8); image[0, 0:4, 0:6] = 255
    >>> _bounding_boxes(center_by_bounding_box(image))[:2]
    (array([12]), array([11]))
    """
    images = image_stack(images, allow_bool=False)
    h, w = images.shape[1:]
    top, left, height, width = _bounding_boxes(images)
    empty = height == 0
    shift_rows = np.where(empty, 0, np.floor((h - height) / 2 - top + 0.5)).astype(int)
    shift_cols = np.where(empty, 0, np.floor((w - width) / 2 - left + 0.5)).astype(int)
    return _translate(images, shift_rows, shift_cols)


def center_by_mass(images) -> np.ndarray:
    """Translate each image by whole pixels to bring its centre of mass nearest the middle.

    Examples
    --------
    >>> image = np.zeros((1, 28, 28), dtype=np.uint8); image[0, 0:4, 0:6] = 255
    >>> _moments(center_by_mass(image))[1].round(6).tolist()
    [[13.5, 13.5]]
    """
    images = image_stack(images, allow_bool=False)
    h, w = images.shape[1:]
    _, com, _ = _moments(images)
    target = np.array([(h - 1) / 2, (w - 1) / 2])
    shift = np.nan_to_num(np.floor(target - com + 0.5)).astype(int)
    return _translate(images, shift[:, 0], shift[:, 1])


def distance_to_class_mean(images, labels) -> np.ndarray:
    """Euclidean distance (grey levels scaled to 0-1) from each image to the mean image of its class.

    Large values mark atypical digits: an unusual shape, stroke or position for their class.

    Examples
    --------
    >>> images = np.zeros((3, 2, 2), dtype=np.uint8); images[2, 0, 0] = 255
    >>> distance_to_class_mean(images, [5, 5, 7]).tolist()
    [0.0, 0.0, 0.0]
    >>> distance_to_class_mean(images, [5, 5, 5]).round(3).tolist()
    [0.333, 0.333, 0.667]
    """
    images = finite_array(image_stack(images, allow_bool=False), "images")
    labels = check_labels(labels, len(images))
    flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
    distance = np.empty(len(images))
    for label in np.unique(labels):
        members = labels == label
        distance[members] = np.linalg.norm(flat[members] - flat[members].mean(axis=0), axis=1)
    return distance


def centres_of_mass(images) -> np.ndarray:
    """Intensity-weighted centre of mass ``(row, column)`` of each image, shape ``(n, 2)`` (NaN when empty).

    Examples
    --------
    >>> image = np.zeros((1, 28, 28)); image[0, 2, 3] = image[0, 4, 3] = 1
    >>> centres_of_mass(image).tolist()
    [[3.0, 3.0]]
    """
    return _moments(image_stack(images, allow_bool=False))[1]
