"""The public loaders: MNIST images and labels, and one tidy row per image with QMNIST provenance.

QMNIST (Yadav & Bottou, 2019) traced every MNIST digit back to NIST: its extended labels give
the NIST Hand-printed Sample Form (HSF) series, the writer and the digit's global NIST index.
Its training rows match MNIST's training set one by one, and its first 10,000 test rows match
MNIST's test set. The join is refused if QMNIST's class column disagrees with MNIST's labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..validation import frame_columns, positive_int
from ..validation import seed as check_seed
from .registry import REGISTRY
from .sources import load_array

SPLITS = ("train", "test")
#: Images in MNIST, both splits (the largest sample :func:`sample_frame` can honestly take).
N_IMAGES = sum(REGISTRY[f"{split}-images"].shape[0] for split in SPLITS)

#: QMNIST extended-label columns, in file order.
QMNIST_COLUMNS = (
    "label",
    "hsf_series",
    "writer_id",
    "writer_digit_index",
    "nist_class_code",
    "nist_index",
    "duplicate",
    "unused",
)
#: NIST HSF series 0-3 were filled in by Census Bureau employees (SD-3), series 4 by
#: high-school students (SD-1). MNIST's census digits all come from series 0 (see notebook 00).
CENSUS_SERIES = (0, 1, 2, 3)
STUDENT_SERIES = (4,)
WRITER_GROUPS = ("census", "student")


class ProvenanceMismatchError(ValueError):
    """QMNIST's provenance rows do not line up with the MNIST labels they should describe."""


def _splits(split: str) -> tuple[str, ...]:
    if not isinstance(split, str):
        raise TypeError(f"split: expected 'train', 'test' or 'all', found {type(split).__name__} {split!r}")
    if split == "all":
        return SPLITS
    if split in SPLITS:
        return (split,)
    raise ValueError(f"split: expected 'train', 'test' or 'all', found {split!r}")


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def load_images(split: str = "train", *, data_dir=None) -> np.ndarray:
    """Return the MNIST images of ``split`` (``"train"``, ``"test"`` or ``"all"``) as ``(n, 28, 28)`` uint8.

    Pixel 0 is background and 255 full ink. ``"all"`` is the training images followed by the
    test images. Single splits come back as read-only memory maps of the cache: copy before
    modifying in place (``images.copy()``, or any arithmetic, which makes a new array).

    Examples
    --------
    >>> images = load_images("test")
    >>> images.shape, images.dtype
    ((10000, 28, 28), dtype('uint8'))
    """
    return _concat([load_array(f"{s}-images", data_dir=data_dir) for s in _splits(split)])


def load_labels(split: str = "train", *, data_dir=None) -> np.ndarray:
    """Return the MNIST labels (0-9) of ``split``, in the same order as :func:`load_images`.

    Examples
    --------
    >>> load_labels("test")[:5].tolist()
    [7, 2, 1, 0, 4]
    """
    return _concat([load_array(f"{s}-labels", data_dir=data_dir) for s in _splits(split)])


def provenance_frame(split: str, labels: np.ndarray, qmnist_rows: np.ndarray) -> pd.DataFrame:
    """Join MNIST ``labels`` of one split with QMNIST extended-label rows into a tidy frame.

    ``qmnist_rows`` is QMNIST's ``(m, 8)`` int array for the split, with ``m >= len(labels)``;
    its first ``len(labels)`` rows describe the MNIST digits in order (the rest, in QMNIST's
    test file, are the 50,000 digits MNIST never published). Raises
    :class:`ProvenanceMismatchError` if the class columns disagree or the series is unknown.

    Examples
    --------
    >>> rows = np.array([[7, 4, 2100, 3, 0, 11, 0, 0], [2, 0, 5, 1, 0, 12, 0, 0]])
    >>> provenance_frame("test", np.array([7, 2]), rows)[["label", "writer_group"]].values.tolist()
    [[7, 'student'], [2, 'census']]
    """
    labels = np.asarray(labels)
    qmnist_rows = np.asarray(qmnist_rows)
    if qmnist_rows.ndim != 2 or qmnist_rows.shape[1] != len(QMNIST_COLUMNS) or len(qmnist_rows) < len(labels):
        raise ProvenanceMismatchError(
            f"QMNIST {split} rows: expected at least {len(labels):,} rows of {len(QMNIST_COLUMNS)} columns, "
            f"found shape {qmnist_rows.shape}"
        )
    rows = qmnist_rows[: len(labels)]
    disagree = np.flatnonzero(rows[:, 0] != labels)
    if disagree.size:
        first = disagree[0]
        raise ProvenanceMismatchError(
            f"QMNIST's class column disagrees with the MNIST {split} labels at {disagree.size:,} of {len(labels):,} "
            f"rows (first at index {first}: QMNIST says {rows[first, 0]}, MNIST says {labels[first]}); "
            "refusing to join provenance that may describe other digits"
        )
    series = rows[:, 1]
    known = np.isin(series, CENSUS_SERIES + STUDENT_SERIES)
    if not known.all():
        first = np.flatnonzero(~known)[0]
        raise ProvenanceMismatchError(
            f"QMNIST {split} row {first}: HSF series {series[first]}, expected one of {CENSUS_SERIES + STUDENT_SERIES}"
        )
    return pd.DataFrame(
        {
            "split": pd.Categorical([split] * len(labels), categories=SPLITS),
            "index": np.arange(len(labels)),
            "label": labels.astype(np.int64),
            "hsf_series": series.astype(np.int64),
            "writer_id": rows[:, 2].astype(np.int64),
            "writer_group": pd.Categorical(
                np.where(np.isin(series, STUDENT_SERIES), "student", "census"), categories=WRITER_GROUPS
            ),
            "writer_digit_index": rows[:, 3].astype(np.int64),
            "nist_index": rows[:, 5].astype(np.int64),
        }
    )


def load_frame(split: str = "all", *, data_dir=None) -> pd.DataFrame:
    """Return one row per MNIST image of ``split`` with its label and QMNIST writer provenance.

    Columns: ``split`` (train/test), ``index`` (position within the split, MNIST's native
    order), ``label``, ``hsf_series``, ``writer_id``, ``writer_group`` (``census`` for HSF
    series 0-3, ``student`` for series 4), ``writer_digit_index`` (the digit's index for its
    writer) and ``nist_index`` (the global NIST index). The frame's index is the row's position
    in ``load_images(split)``, so ``load_images(split)[frame.index]`` selects matching images.

    Examples
    --------
    >>> frame = load_frame()
    >>> frame.groupby("split", observed=True).size().to_dict()
    {'train': 60000, 'test': 10000}
    """
    frames = [
        provenance_frame(s, load_array(f"{s}-labels", data_dir=data_dir), load_array(f"qmnist-{s}", data_dir=data_dir))
        for s in _splits(split)
    ]
    return pd.concat(frames, ignore_index=True)


def sample_frame(frame: pd.DataFrame, size: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Return a sample of ``size`` rows, stratified by split and label, in the frame's original order.

    ``size=None`` (or a size of at least ``len(frame)``) returns the frame unchanged, so notebooks
    can take one ``sample_size`` parameter for both quick and full runs.

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train"] * 6 + ["test"] * 4, "label": [0, 1] * 5})
    >>> sample_frame(frame, 4, seed=1).shape
    (4, 2)
    """
    frame_columns(frame, ("split", "label"), hint="as made by mnist_analysis.load_frame")
    size = positive_int(size, "size", allow_none=True)
    seed = check_seed(seed)
    if size is None:
        return frame
    if size >= len(frame):
        return frame
    from sklearn.model_selection import train_test_split

    strata = frame["split"].astype(str) + "/" + frame["label"].astype(str)
    strata_count = strata.nunique()
    chosen, _ = train_test_split(
        frame.index.to_numpy(),
        train_size=int(size),
        random_state=seed,
        stratify=strata if size >= strata_count and len(frame) - size >= strata_count else None,
    )
    return frame.loc[np.sort(chosen)]


def load_sample(sample_size: int | None = None, seed: int = 0, *, data_dir=None) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the rows of :func:`sample_frame` (all rows for ``None``) and their images.

    What every notebook starts with: ``frame`` from :func:`load_frame` sampled by split and
    label, and ``images`` the matching ``(len(frame), 28, 28)`` uint8 images, in the same order.

    Examples
    --------
    The usual call (a stratified sample of 2,000 of the 70,000 images)::

        frame, images = load_sample(2000, seed=0)
    """
    frame = sample_frame(load_frame(data_dir=data_dir), sample_size, seed)
    return frame, np.ascontiguousarray(load_images("all", data_dir=data_dir)[frame.index.to_numpy()])
