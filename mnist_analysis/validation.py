"""Argument checks shared by the helpers and the command line.

Each check returns the value (converted where that is safe and documented) or raises:
``TypeError`` when the argument has the wrong type, ``ValueError`` when it has the right type
but a wrong value. Every message names the parameter, what was expected and what was found,
so a caller's own checks read alike across modules.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: The largest seed numpy's and scikit-learn's random states accept.
MAX_SEED = 2**32 - 1


def _is_integer(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str, *, allow_none: bool = False, maximum: int | None = None):
    """Return ``value`` as an ``int`` of at least 1 (and at most ``maximum``), or None when allowed.

    Parameters
    ----------
    value : object
        The argument to check. Booleans are refused even though Python counts them as integers.
    name : str
        The parameter's name, for the message.
    allow_none : bool
        Accept (and return) None.
    maximum : int, optional
        The largest value accepted; the message says why when a caller words ``name`` so.

    Examples
    --------
    >>> positive_int(5, "n_neighbors")
    5
    >>> positive_int(0, "n_neighbors")
    Traceback (most recent call last):
    ...
    ValueError: n_neighbors: expected a positive integer, found 0
    >>> positive_int("3", "n_neighbors")
    Traceback (most recent call last):
    ...
    TypeError: n_neighbors: expected a positive integer, found str '3'
    """
    if value is None and allow_none:
        return None
    expected = f"expected a positive integer{' or None' if allow_none else ''}"
    if not _is_integer(value):
        raise TypeError(f"{name}: {expected}, found {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: {expected}, found {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected at most {maximum:,}, found {value:,}")
    return int(value)


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` within ``[minimum, maximum]`` (bounds optional).

    Examples
    --------
    >>> integer(3, "k", minimum=1)
    3
    >>> integer(2.5, "k", minimum=1)
    Traceback (most recent call last):
    ...
    TypeError: k: expected an integer, found float 2.5
    >>> integer(9, "n_neighbors", minimum=1, maximum=4)
    Traceback (most recent call last):
    ...
    ValueError: n_neighbors: expected an integer from 1 to 4, found 9
    """
    if not _is_integer(value):
        raise TypeError(f"{name}: expected an integer, found {type(value).__name__} {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if maximum is None:
            expected = f"an integer of at least {minimum}"
        elif minimum is None:
            expected = f"an integer of at most {maximum}"
        else:
            expected = f"an integer from {minimum} to {maximum}"
        raise ValueError(f"{name}: expected {expected}, found {value!r}")
    return int(value)


def seed(value, name: str = "seed") -> int:
    """Return ``value`` as an ``int`` usable as a random seed: 0 to 2**32 - 1.

    Examples
    --------
    >>> seed(7)
    7
    >>> seed(-1)
    Traceback (most recent call last):
    ...
    ValueError: seed: expected an integer from 0 to 4,294,967,295, found -1
    >>> seed("x")
    Traceback (most recent call last):
    ...
    TypeError: seed: expected an integer from 0 to 4,294,967,295, found str 'x'
    """
    expected = f"expected an integer from 0 to {MAX_SEED:,}"
    if not _is_integer(value):
        raise TypeError(f"{name}: {expected}, found {type(value).__name__} {value!r}")
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name}: {expected}, found {value!r}")
    return int(value)


def finite_float(value, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """Return ``value`` as a finite ``float`` within ``[minimum, maximum]`` (bounds optional).

    Examples
    --------
    >>> finite_float(0.5, "min_dist", minimum=0)
    0.5
    >>> finite_float(float("nan"), "min_dist")
    Traceback (most recent call last):
    ...
    ValueError: min_dist: expected a finite number, found nan
    >>> finite_float("0.1", "min_dist")
    Traceback (most recent call last):
    ...
    TypeError: min_dist: expected a real number, found str '0.1'
    """
    if not isinstance(value, (numbers.Real, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a real number, found {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, found {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected a number of at least {minimum}, found {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected a number of at most {maximum}, found {value}")
    return value


def confidence(value, name: str = "confidence") -> float:
    """Return ``value`` as a confidence level strictly between 0 and 1.

    Examples
    --------
    >>> confidence(0.95)
    0.95
    >>> confidence(1)
    Traceback (most recent call last):
    ...
    ValueError: confidence: expected a number between 0 and 1 (both excluded), found 1.0
    """
    value = finite_float(value, name)
    if not 0 < value < 1:
        raise ValueError(f"{name}: expected a number between 0 and 1 (both excluded), found {value}")
    return value


def non_empty_mapping(value, name: str, what: str = "name to value"):
    """Return ``value`` when it is a mapping with at least one entry (``what`` says of what to what).

    Examples
    --------
    >>> non_empty_mapping({"svm": [1]}, "predictions")
    {'svm': [1]}
    >>> non_empty_mapping([1], "predictions", "model name to labels")
    Traceback (most recent call last):
    ...
    TypeError: predictions: expected a non-empty mapping of model name to labels, found list
    """
    expected = f"expected a non-empty mapping of {what}"
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: {expected}, found {type(value).__name__}")
    if not value:
        raise ValueError(f"{name}: {expected}, found an empty {type(value).__name__}")
    return value


def feature_width(matrix: np.ndarray, width: int, name: str) -> np.ndarray:
    """Return ``matrix`` when its rows have ``width`` features: the width a fitted model expects.

    Examples
    --------
    >>> feature_width(np.zeros((2, 3)), 784, "data")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: data: expected rows of 784 features (or images of 784 pixels), ...; found 3
    """
    if matrix.shape[1] != width:
        raise ValueError(
            f"{name}: expected rows of {width:,} features (or images of {width:,} pixels), the width "
            f"the model was fitted on; found {matrix.shape[1]:,}"
        )
    return matrix


def vector(values, name: str, n: int | None = None) -> np.ndarray:
    """Return ``values`` as a 1-D array, of length ``n`` when given (one value per row).

    Examples
    --------
    >>> vector([3, 1], "labels", 2).tolist()
    [3, 1]
    >>> vector([[3, 1]], "labels")
    Traceback (most recent call last):
    ...
    ValueError: labels: expected a 1-D array, found shape (1, 2)
    >>> vector([3, 1], "labels", 3)
    Traceback (most recent call last):
    ...
    ValueError: labels: expected 3 values (one per row), found 2
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, found shape {values.shape}")
    if n is not None and len(values) != n:
        raise ValueError(f"{name}: expected {n} values (one per row), found {len(values)}")
    return values


def probability_rows(values, name: str = "probabilities", n: int | None = None) -> np.ndarray:
    """Return ``values`` as float64 class probabilities: shape ``(n, classes)``, rows >= 0 summing to 1.

    Rows may be off by 1e-4 in their sum (float32 model output). ``n`` is the number of rows
    expected (one per example).

    Examples
    --------
    >>> probability_rows([[0.25, 0.75]]).dtype
    dtype('float64')
    >>> probability_rows([[0.5, 0.6]])
    Traceback (most recent call last):
    ...
    ValueError: probabilities: expected finite non-negative rows that sum to 1, found row 0 summing to 1.1
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or (n is not None and len(array) != n):
        expected = f"({n}, n_classes)" if n is not None else "(n, n_classes)"
        raise ValueError(f"{name}: expected shape {expected}, found shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1) | (array < 0).any(axis=1) | ~np.isclose(array.sum(axis=1), 1, atol=1e-4)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: expected finite non-negative rows that sum to 1, "
            f"found row {first} summing to {array[first].sum():.6g}"
        )
    return array


def real_array(values, name: str) -> np.ndarray:
    """Return ``values`` as an array of real numbers (bool, integer or float), without copying.

    Examples
    --------
    >>> real_array([1, 2], "x").dtype.kind
    'i'
    >>> real_array(["a"], "x")
    Traceback (most recent call last):
    ...
    TypeError: x: expected real numbers, found dtype <U1
    """
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers, found dtype {array.dtype}")
    return array


def finite_array(values, name: str) -> np.ndarray:
    """Return ``values`` as a real array, refusing NaN and infinity (integer arrays are not scanned).

    Examples
    --------
    >>> finite_array([0.0, float("inf")], "x")
    Traceback (most recent call last):
    ...
    ValueError: x: expected finite values, found 1 NaN or infinite value(s) (first at position (1,))
    """
    array = real_array(values, name)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name}: expected finite values, found {int(bad.sum()):,} NaN or infinite "
                f"value(s) (first at position {first})"
            )
    return array


def image_stack(images, name: str = "images", *, min_images: int = 0, allow_bool: bool = True) -> np.ndarray:
    """Return ``images`` as an array of shape ``(n, height, width)`` of real grey levels.

    Refuses other shapes, empty images (height or width 0), fewer than ``min_images`` images
    and non-numeric dtypes, and boolean masks unless ``allow_bool`` (measurements read grey
    levels, and a mask's True would count as 1 of 255). Values are not scanned: see
    :func:`grey_levels`.

    Examples
    --------
    >>> image_stack(np.zeros((2, 28, 28), dtype=np.uint8)).shape
    (2, 28, 28)
    >>> image_stack(np.zeros((2, 0, 0)))
    Traceback (most recent call last):
    ...
    ValueError: images: expected images of at least 1x1 pixel, found shape (2, 0, 0)
    """
    array = np.asarray(images)
    if array.ndim != 3:
        raise ValueError(f"{name}: expected an array of shape (n, height, width), found shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected integer or float grey levels, found dtype {array.dtype}")
    if array.dtype == bool and not allow_bool:
        raise TypeError(
            f"{name}: expected integer or float grey levels (0-255), found dtype bool; "
            "pass images.astype(np.uint8) * 255"
        )
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f"{name}: expected images of at least 1x1 pixel, found shape {array.shape}")
    if len(array) < min_images:
        raise ValueError(f"{name}: expected at least {min_images} images, found {len(array)}")
    return array


def grey_levels(images, name: str = "images") -> np.ndarray:
    """Check that an image stack holds grey levels on the 0-255 scale; return it unchanged.

    Refuses NaN, infinity, negative values and values above 255. A stack whose largest value
    is above 0 but at most 1 looks like a 0-1 scale (or a 0/1 mask) and is refused too, since
    measuring it on the 0-255 scale would silently give wrong results: multiply it by 255 first.

    Examples
    --------
    >>> grey_levels(np.full((1, 2, 2), 0.5))
    Traceback (most recent call last):
    ...
    ValueError: images: grey levels look like a 0-1 scale (largest value 0.5); expected 0-255: pass images * 255
    """
    array = finite_array(image_stack(images, name), name)
    if array.size == 0:
        return array
    low, high = array.min(), array.max()
    if low < 0:
        raise ValueError(f"{name}: expected grey levels from 0 to 255, found a negative value ({low})")
    if high > 255:
        raise ValueError(f"{name}: expected grey levels from 0 to 255, found a value above 255 ({high})")
    if 0 < high <= 1:
        raise ValueError(
            f"{name}: grey levels look like a 0-1 scale (largest value {high}); expected 0-255: pass images * 255"
        )
    return array


def labels(values, n: int | None = None, name: str = "labels") -> np.ndarray:
    """Return class labels as an ``int64`` array of shape ``(n,)``.

    Integer arrays are accepted; float arrays only when every value is a whole number
    (so NaN, infinity and 2.5 are refused).

    Examples
    --------
    >>> labels([7.0, 2.0], 2).tolist()
    [7, 2]
    >>> labels([7, float("nan")], 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: labels: expected whole-number class labels, found 1 NaN, infinite or fractional value(s) ...
    """
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected integer class labels, found dtype {array.dtype}")
    if array.ndim != 1 or (n is not None and len(array) != n):
        wanted = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"{name}: expected one label per item, shape {wanted}, found shape {array.shape}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (np.mod(np.nan_to_num(array), 1) != 0)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}: expected whole-number class labels, found {int(bad.sum()):,} NaN, infinite "
                f"or fractional value(s) (first at index {first}: {array[first]})"
            )
    return array.astype(np.int64)


def class_labels(values, n: int | None = None, name: str = "labels") -> np.ndarray:
    """Return :func:`labels` that name the classes 0..K-1 (K >= 2), each at least once.

    What confident learning and the label audit need: a probability column per class, and
    no class without an example.

    Examples
    --------
    >>> class_labels([0, 2, 1, 1]).tolist()
    [0, 2, 1, 1]
    >>> class_labels([0, 2, 2])
    Traceback (most recent call last):
    ...
    ValueError: labels: expected the classes 0..K-1 (K >= 2) each at least once, found [0, 2]
    """
    array = labels(values, n, name)
    present = np.unique(array)
    if len(present) < 2 or not np.array_equal(present, np.arange(len(present))):
        raise ValueError(f"{name}: expected the classes 0..K-1 (K >= 2) each at least once, found {present.tolist()}")
    return array


def frame_columns(frame, columns, name: str = "frame", *, hint: str = ""):
    """Check that ``frame`` is a DataFrame holding ``columns``; return it unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> frame_columns(pd.DataFrame({"label": [1]}), ["split", "label"], hint="from mnist_analysis.load_frame")
    Traceback (most recent call last):
    ...
    ValueError: frame: expected the columns ['split', 'label'] (from mnist_analysis.load_frame), missing ['split']
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, found {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name}: expected the columns {list(columns)}{f' ({hint})' if hint else ''}, missing {missing}"
        )
    return frame


def output_folder(path, name: str = "output") -> Path:
    """Check, before any work, that ``path`` is (or can be made) a folder that can be written to.

    Creates the folder if needed and writes and removes a probe file in it. Raises
    ``ValueError`` naming the path and what is wrong (a file is there, no permission, ...).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> output_folder(os.path.join(folder, "new")).is_dir()
    True
    >>> output_folder(__file__)
    Traceback (most recent call last):
    ...
    ValueError: output: .../validation.py is a file, expected a folder (or a path where one can be made)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a path, found {type(path).__name__} {path!r}")
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name}: {folder} is a file, expected a folder (or a path where one can be made)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as error:
        reason = error.strerror or error.__class__.__name__
        raise ValueError(f"{name}: cannot write to {folder} ({reason}); choose a folder you can write to") from None
    return folder
