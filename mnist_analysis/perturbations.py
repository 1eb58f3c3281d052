"""Morpho-MNIST perturbations of digit stacks: thinning, thickening, swelling, fractures, slant, scale.

Written from the description in Castro et al. (2019), "Morpho-MNIST: quantitative
assessment and diagnostics for representation learning" (JMLR 20(178)), section 3.2. The
four morphological perturbations work as the paper's do, at four times the resolution:

1. upsample 4x with :func:`mnist_analysis.morphometrics.upsample` (the morphometrics'
   upsampling) and binarise halfway between each image's darkest and brightest level;
2. change the binary digit:

   ============  ==========================================================================
   kind          ``strength`` and what happens
   ============  ==========================================================================
   ``thin``      thickness removed, original pixels: erosion by a disk of radius
                 ``strength / 2`` (the stroke loses ``strength / 2`` on each side)
   ``thicken``   thickness added, original pixels: dilation by a disk of radius
                 ``strength / 2``
   ``swell``     exponent of a radial inflation of radius :data:`SWELL_RADIUS` around a
                 random point of the skeleton: an upsampled pixel at distance ``d < r``
                 from the centre shows the point at distance ``r * (d / r) ** strength``
                 (1 leaves the digit unchanged; larger swells more)
   ``fracture``  number of breaks: lines :data:`FRACTURE_WIDTH` pixels wide cut across the
                 stroke, perpendicular to the skeleton, at random skeleton points at least
                 :data:`FRACTURE_MARGIN` pixels from a line end or a fork
   ============  ==========================================================================

3. downsample back to 28x28 by averaging each 4x4 block (the ink coverage of each
   original pixel), on the 0-255 scale.

Strength 0 (1 for ``swell``) is the round trip alone: the digit binarised at four times
the resolution and brought back. Its grey levels differ slightly from the original's, so a
robustness curve compares every strength with it as well as with the original digits.

The two affine perturbations a reader expects act on the original 28x28 grey levels
(bilinear interpolation) about each digit's intensity centre of mass:

- ``slant``: shear by ``strength`` degrees, positive leaning forward (the top moves right);
- ``scale``: zoom by the factor ``strength`` (0.8 shrinks the digit by a fifth).

Random choices (the swelling centre, the fracture points) come from a generator seeded by
``(seed, position of the image in the stack)``: the same image at the same position gets
the same perturbation whatever the chunking or the number of workers.
"""

from __future__ import annotations

import numpy as np

from .validation import grey_levels, image_stack, integer

#: The kinds of :func:`perturb`, in the order the notebooks show them.
KINDS = ("thin", "thicken", "swell", "fracture", "slant", "scale")
#: The strength of each kind that leaves the digit as it is (after the round trip for the first four).
NEUTRAL = {"thin": 0.0, "thicken": 0.0, "swell": 1.0, "fracture": 0, "slant": 0.0, "scale": 1.0}
#: Radius of the swelling, original pixels.
SWELL_RADIUS = 7.0
#: Width of a fracture, original pixels.
FRACTURE_WIDTH = 1.5
#: Least distance from a fracture to a line end, a fork or another fracture, original pixels.
FRACTURE_MARGIN = 2.0

_SCALE = 4  # the morphometrics' upsampling factor
_CHUNK = 500  # images per task: the 4x stack and its distance maps stay near 150 MB


def _check(kind, strength):
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {list(KINDS)}, found {kind!r}")
    if kind == "fracture":
        return integer(strength, "strength (number of fractures)", minimum=0)
    try:
        strength = float(strength)
    except (TypeError, ValueError):
        raise ValueError(f"strength: expected a number for {kind!r}, found {strength!r}") from None
    limits = {
        "thin": (0.0, 10.0),
        "thicken": (0.0, 10.0),
        "swell": (1.0, 10.0),
        "slant": (-60.0, 60.0),
        "scale": (0.2, 3.0),
    }[kind]
    if not limits[0] <= strength <= limits[1]:
        raise ValueError(f"strength: expected {limits[0]} to {limits[1]} for {kind!r}, found {strength!r}")
    return strength


def _distance_in_slices(masks):
    """Euclidean distance of each True pixel to the nearest False pixel of its own image."""
    from scipy import ndimage as ndi

    out = np.zeros(masks.shape)
    for i, mask in enumerate(masks):
        out[i] = ndi.distance_transform_edt(mask)
    return out


def _binary(images):
    from .morphometrics import THRESHOLD, upsample

    hires = upsample(images)
    low = hires.min(axis=(1, 2)).astype(np.float64)
    high = hires.max(axis=(1, 2)).astype(np.float64)
    return hires >= (low + (high - low) * THRESHOLD)[:, None, None]


def _downsample(masks):
    n, h, w = masks.shape
    blocks = masks.reshape(n, h // _SCALE, _SCALE, w // _SCALE, _SCALE).mean(axis=(2, 4))
    return np.rint(255 * blocks).astype(np.uint8)


def _skeleton(mask):
    from skimage.morphology import skeletonize

    return skeletonize(mask)


def _neighbours(skeleton):
    padded = np.pad(skeleton, 1).astype(np.int8)
    h, w = skeleton.shape
    return sum(padded[r : r + h, c : c + w] for r in range(3) for c in range(3)) - padded[1:-1, 1:-1]


def _swell(masks, strength, seeds):
    from scipy import ndimage as ndi

    out = masks.copy()
    _, h, w = masks.shape
    radius = SWELL_RADIUS * _SCALE
    reach = int(np.ceil(radius))
    for i in range(len(masks)):
        points = np.argwhere(_skeleton(masks[i]))
        if not len(points):
            continue
        centre = points[np.random.default_rng(seeds[i]).integers(len(points))]
        top, left = max(centre[0] - reach, 0), max(centre[1] - reach, 0)
        bottom, right = min(centre[0] + reach + 1, h), min(centre[1] + reach + 1, w)
        rows, cols = np.mgrid[top:bottom, left:right].astype(np.float64)
        dy, dx = rows - centre[0], cols - centre[1]
        distance = np.hypot(dy, dx)
        factor = np.where(distance < radius, (np.maximum(distance, 1e-9) / radius) ** (strength - 1), 1.0)
        source = np.stack([centre[0] + dy * factor, centre[1] + dx * factor])
        moved = ndi.map_coordinates(masks[i].astype(np.float32), source, order=1, mode="constant")
        out[i, top:bottom, left:right] = moved >= 0.5
    return out


def _fracture(masks, count, seeds):
    out = masks.copy()
    _, h, w = masks.shape
    if count == 0:
        return out
    margin = FRACTURE_MARGIN * _SCALE
    half_width = FRACTURE_WIDTH * _SCALE / 2
    for i in range(len(masks)):
        skeleton = _skeleton(masks[i])
        points = np.argwhere(skeleton)
        if len(points) < 3:
            continue
        special = points[_neighbours(skeleton)[skeleton] != 2]  # line ends and forks
        gap = np.full(len(points), np.inf)
        for corner in special:
            gap = np.minimum(gap, np.hypot(*(points - corner).T))
        rng = np.random.default_rng(seeds[i])
        distance = None
        for _ in range(count):
            candidates = np.flatnonzero(gap > margin)
            if not len(candidates):
                break
            centre = points[rng.choice(candidates)]
            # Local direction of the stroke: main axis of the skeleton points within the margin.
            around = points[np.hypot(*(points - centre).T) <= margin + 1]
            along = np.linalg.svd(around - around.mean(axis=0), full_matrices=False)[2][0]
            if distance is None:
                distance = _distance_in_slices(masks[i : i + 1])[0]
            reach = distance[centre[0], centre[1]] + 2.0
            size = int(np.ceil(reach + half_width)) + 1
            top, left = max(centre[0] - size, 0), max(centre[1] - size, 0)
            rows, cols = np.mgrid[top : min(centre[0] + size + 1, h), left : min(centre[1] + size + 1, w)]
            dr, dc = rows - centre[0], cols - centre[1]
            cut = (np.abs(dr * along[0] + dc * along[1]) <= half_width) & (
                np.abs(dc * along[0] - dr * along[1]) <= reach
            )
            out[i, rows[cut], cols[cut]] = False
            gap = np.minimum(gap, np.hypot(*(points - centre).T))
    return out


def _affine(images, kind, strength):
    from scipy import ndimage as ndi

    from .measurements import centres_of_mass

    n, h, w = images.shape
    centres = np.nan_to_num(np.asarray(centres_of_mass(images), dtype=np.float64), nan=(h - 1) / 2)
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    dy = rows[None] - centres[:, 0, None, None]
    dx = cols[None] - centres[:, 1, None, None]
    if kind == "slant":
        source_r, source_c = rows[None] + 0 * dx, cols[None] + np.tan(np.radians(strength)) * dy
    else:
        source_r = centres[:, 0, None, None] + dy / strength
        source_c = centres[:, 1, None, None] + dx / strength
    source = np.stack(
        [
            np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None], images.shape),
            source_r + 0 * dx,
            source_c + 0 * dy,
        ]
    )
    moved = ndi.map_coordinates(images.astype(np.float64), source, order=1, mode="constant", cval=0.0)
    return np.clip(np.rint(moved), 0, 255).astype(np.uint8)


def _perturb_chunk(images, conditions, seed, first):
    """Every (kind, strength) of ``conditions`` applied to a chunk, upsampling it once."""
    out = np.empty((len(conditions), *images.shape), dtype=np.uint8)
    seeds = [(seed, first + i) for i in range(len(images))]
    masks = inside = outside = None
    for k, (kind, strength) in enumerate(conditions):
        if kind in ("slant", "scale"):
            out[k] = _affine(images, kind, strength)
            continue
        if masks is None:
            masks = _binary(images)
        if kind == "thin" and strength > 0:
            inside = _distance_in_slices(masks) if inside is None else inside
            changed = inside > strength / 2 * _SCALE
        elif kind == "thicken" and strength > 0:
            outside = _distance_in_slices(~masks) if outside is None else outside
            changed = outside <= strength / 2 * _SCALE
        elif kind == "swell" and strength != 1:
            changed = _swell(masks, strength, seeds)
        elif kind == "fracture":
            changed = _fracture(masks, strength, seeds)
        else:
            changed = masks
        out[k] = _downsample(changed)
    return out


def _perturb_stacks(images, conditions, seed):
    """(len(conditions), n, 28, 28): the chunks spread over worker processes."""
    from joblib import delayed

    from .utils import in_worker_processes

    conditions = [tuple(c) for c in conditions]
    starts = list(range(0, len(images), _CHUNK))
    if len(starts) <= 1:
        parts = [_perturb_chunk(images, conditions, seed, 0)]
    else:
        parts = in_worker_processes(
            delayed(_perturb_chunk)(images[s : s + _CHUNK], conditions, seed, s) for s in starts
        )
    return np.concatenate(parts, axis=1)


def _checked_images(images):
    images = grey_levels(image_stack(images, allow_bool=False))
    if images.shape[1:] != (28, 28):
        raise ValueError(f"images: expected a stack of 28x28 digits, found shape {images.shape}")
    return np.ascontiguousarray(images, dtype=np.uint8).view(np.ndarray)


def perturb(images, kind: str, strength, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Perturb every digit of a stack: ``kind`` at ``strength`` (see the module docstring).

    Parameters
    ----------
    images : array of shape (n, 28, 28)
        Grey levels 0-255.
    kind : str
        One of :data:`KINDS`.
    strength : float (int for ``"fracture"``)
        Thickness removed or added (original pixels), swelling exponent, number of
        fractures, shear angle (degrees) or zoom factor.
    seed : int
        Seeds the swelling centres and the fracture points.
    cache : bool, default True
        Go through :func:`mnist_analysis.caching.cache.cached_call` (kind ``perturbations``).

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 28, 28)

    Examples
    --------
    >>> bar = np.zeros((1, 28, 28), np.uint8); bar[0, 6:22, 12:16] = 255
    >>> int((perturb(bar, "thicken", 2, cache=False) > 127).sum()) > int((bar > 127).sum())
    True
    >>> int((perturb(bar, "thin", 2, cache=False) > 127).sum()) < int((bar > 127).sum())
    True
    """
    from .caching.cache import cached_call

    strength = _check(kind, strength)
    seed = integer(seed, "seed", minimum=0)
    images = _checked_images(images)
    return cached_call("perturbations", _perturb_stacks, images, [[kind, strength]], seed, cache=cache)[0]


def perturbation_grid(images, grid, *, seed: int = 0, cache: bool = True):
    """Every digit perturbed at every (kind, strength) of ``grid``, stacked.

    Parameters
    ----------
    images : array of shape (n, 28, 28)
    grid : mapping
        ``{kind: [strength, ...]}``.
    seed : int
    cache : bool

    Returns
    -------
    conditions : pandas.DataFrame
        One row per condition: ``kind``, ``strength``, ``label`` (for example ``"thin 1"``).
        The first row is ``kind="original"`` (the digits as they are).
    stacks : numpy.ndarray of uint8, shape (len(conditions), n, 28, 28)

    Examples
    --------
    >>> bar = np.zeros((2, 28, 28), np.uint8); bar[:, 6:22, 12:16] = 255
    >>> conditions, stacks = perturbation_grid(bar, {"slant": [20], "scale": [0.8]}, cache=False)
    >>> conditions["label"].tolist(), stacks.shape
    (['original', 'slant 20', 'scale 0.8'], (3, 2, 28, 28))
    """
    import pandas as pd

    from .caching.cache import cached_call

    if not hasattr(grid, "items") or not grid:
        raise ValueError(f"grid: expected a non-empty mapping of kind to strengths, found {grid!r}")
    seed = integer(seed, "seed", minimum=0)
    images = _checked_images(images)
    conditions = [[kind, _check(kind, strength)] for kind, strengths in grid.items() for strength in strengths]
    if not conditions:
        raise ValueError(f"grid: expected at least one strength, found {grid!r}")
    rows = [{"kind": "original", "strength": np.nan, "label": "original"}]
    rows += [
        {"kind": kind, "strength": float(strength), "label": f"{kind} {strength:g}"} for kind, strength in conditions
    ]
    stacks = cached_call("perturbations", _perturb_stacks, images, conditions, seed, cache=cache)
    return pd.DataFrame(rows), np.concatenate([images[None], stacks])
