"""One table of everything known about each image, written as Parquet and CSV.

:func:`per_image_table` joins, for each image, its split, index, label and QMNIST
provenance (:func:`mnist_analysis.load_frame`), its stroke measurements
(:func:`mnist_analysis.measurements.measure`), its Morpho-MNIST morphometrics
(:func:`mnist_analysis.morphometrics.morphometrics`, columns ``morpho_*``, in original
pixels), its PCA and UMAP coordinates
(:mod:`mnist_analysis.embeddings`), the out-of-sample prediction of each audit model and
the label-issue and outlier scores of :mod:`mnist_analysis.label_quality`, and the digit-space
columns of notebook 06 (its HDBSCAN cluster, its sub-style within its class and its typicality:
:mod:`mnist_analysis.clusters`, :mod:`mnist_analysis.substyles`, :mod:`mnist_analysis.typicality`). :data:`COLUMNS`
documents every column; :func:`write_table` writes the table atomically as Parquet
(pyarrow) and CSV, and :func:`read_table` reads either back with the same dtypes.
``mnist-analysis export`` runs :func:`export_table`.

A column may hold NaN only if it is listed in :data:`NULLABLE` (geometric measurements,
which are undefined for an image without ink or contrast; no MNIST image is empty); the table is
refused if any other column has a missing value.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_analysis.label_quality import AUDIT_MODELS, ENSEMBLE_MODELS, N_COMPONENTS, N_NEIGHBOURS, TABLE_MODELS
from mnist_analysis.typicality import NEIGHBOURS as TYPICALITY_NEIGHBOURS
from mnist_analysis.utils import default_file_mode, staging_folder
from mnist_analysis.validation import output_folder, positive_int
from mnist_analysis.validation import seed as check_seed

#: File name (without extension) of the exported table.
TABLE_NAME = "mnist_per_image"

_PROVENANCE = {
    "split": "'train' or 'test': the MNIST file the image comes from",
    "index": "position of the image within its split (MNIST's native order)",
    "label": "the MNIST label (0-9)",
    "hsf_series": "NIST Hand-printed Sample Form series (QMNIST): 0-3 Census Bureau employees, 4 high-school students",
    "writer_id": "NIST writer id (QMNIST)",
    "writer_group": "'census' (HSF series 0-3) or 'student' (HSF series 4)",
    "writer_digit_index": "index of the digit among its writer's digits (QMNIST)",
    "nist_index": "global NIST index of the digit (QMNIST)",
}
_UNDEFINED = " (NaN if undefined: no ink, see mnist_analysis.measurements)"
_MEASUREMENTS = {
    "is_empty": "True when no pixel is above zero",
    "ink": "total intensity / 255 (pixels of full ink)",
    "area": "pixels with grey level >= 128",
    "bbox_top": "first row holding a pixel above zero" + _UNDEFINED,
    "bbox_left": "first column holding a pixel above zero" + _UNDEFINED,
    "bbox_height": "rows spanned by the pixels above zero (0 when empty)",
    "bbox_width": "columns spanned by the pixels above zero (0 when empty)",
    "com_row": "intensity-weighted centre of mass, row (pixels; image centre 13.5)" + _UNDEFINED,
    "com_col": "intensity-weighted centre of mass, column (pixels; image centre 13.5)" + _UNDEFINED,
    "var_row": "intensity-weighted central second moment along rows (pixels squared)" + _UNDEFINED,
    "var_col": "intensity-weighted central second moment along columns (pixels squared)" + _UNDEFINED,
    "cov_row_col": "intensity-weighted central cross moment (pixels squared)" + _UNDEFINED,
    "slant_deg": "slant from the moments, degrees; positive leans forward" + _UNDEFINED,
    "thickness": "mean stroke thickness (pixels), from the skeleton's distance to the background" + _UNDEFINED,
    "length": "skeleton length (pixels; diagonal steps count sqrt(2))",
    "components": "8-connected components of the inked pixels",
    "holes": "4-connected background regions enclosed by ink",
}
_MORPHO_UNDEFINED = " (NaN if undefined: no contrast, see mnist_analysis.morphometrics)"
_MORPHOMETRICS = {
    "morpho_area": "Morpho-MNIST area: inked pixels of the 4x upsampled image / 16 (original pixels squared)",
    "morpho_length": "Morpho-MNIST stroke length: length of the upsampled digit's medial axis (original pixels)",
    "morpho_thickness": (
        "Morpho-MNIST mean stroke thickness: twice the medial axis's mean distance to the background (original pixels)"
    ),
    "morpho_slant": "Morpho-MNIST slant: atan of the horizontal shear of the moments (radians; positive leans forward)",
    "morpho_width": "Morpho-MNIST width of the slant-corrected box holding 98 % of the intensity (original pixels)",
    "morpho_height": "Morpho-MNIST height of the box holding 98 % of the intensity (original pixels)",
}
_MORPHOMETRICS = {name: text + _MORPHO_UNDEFINED for name, text in _MORPHOMETRICS.items()}
_EMBEDDINGS = {
    "pca_1": "score on the first principal component of the pixels (0-255 scale; the audit's PCA)",
    "pca_2": "score on the second principal component of the pixels (0-255 scale; the audit's PCA)",
    "umap_1": "first coordinate of the project's standard UMAP digit map (embeddings.digit_map)",
    "umap_2": "second coordinate of the project's standard UMAP digit map (embeddings.digit_map)",
}
_QUALITY = {
    "suggested_label": (
        "most probable class out of sample (mean of the probabilities of the audit ensemble: "
        + ", ".join(ENSEMBLE_MODELS)
        + ")"
    ),
    "suggested_probability": "out-of-sample probability of suggested_label",
    "label_quality": "cleanlab self-confidence: out-of-sample probability of the given label (low = suspicious)",
    "is_label_issue": "flagged as a likely label error by confident learning (cleanlab)",
    "label_issue_rank": "1 = most likely label error (lowest label_quality first)",
    "disagreeing_models": (
        "audit models whose out-of-sample prediction differs from the label, joined by '+' "
        "(names as in the predicted_* columns), or 'none'"
    ),
    "outlier_score": (
        f"distance to the {N_NEIGHBOURS}th nearest other image in {N_COMPONENTS}-component "
        "PCA space (0-255 pixel units)"
    ),
    "outlier_rank": "1 = most isolated image (by outlier_score, largest first)",
}
_DIGIT_SPACE = {
    "cluster": (
        "HDBSCAN cluster of the digit on the clustering UMAP map (clusters.cluster_digits, notebook 06), "
        "an integer numbered by HDBSCAN (not a class); -1 = noise, left unclustered"
    ),
    "substyle": (
        "sub-style within the digit's class as 'label.style', style 0 the class's largest "
        "(substyles.substyles: k-means on 50 principal components, notebook 06)"
    ),
    "typicality": (
        f"within-class percentile of closeness to the {TYPICALITY_NEIGHBOURS} nearest digits of the same class "
        "in pixel space (typicality.image_typicality): 1 = most typical, near 0 = most atypical"
    ),
}

_PREDICTIONS = {f"predicted_{name}": f"out-of-sample prediction of {AUDIT_MODELS[name]}" for name in TABLE_MODELS}
#: Every column of the table, in order, with what it holds (the README reproduces it).
COLUMNS = {
    **_PROVENANCE,
    **_MEASUREMENTS,
    **_MORPHOMETRICS,
    **_EMBEDDINGS,
    **_PREDICTIONS,
    **_QUALITY,
    **_DIGIT_SPACE,
}

#: Columns that may hold NaN (and only for images without ink or contrast).
NULLABLE = frozenset(name for name, text in COLUMNS.items() if text.endswith((_UNDEFINED, _MORPHO_UNDEFINED)))

_CATEGORIES = {"split": ("train", "test"), "writer_group": ("census", "student")}

#: Text columns whose values CSV would read back as numbers ('3.1' is a sub-style, not 3.1).
_TEXT = ("substyle",)

#: Principal components on which the sub-styles are found (notebook 06's ``scores50``).
SUBSTYLE_COMPONENTS = 50


def columns_markdown() -> str:
    """Return :data:`COLUMNS` as a Markdown table (column, meaning), as the README shows it.

    Examples
    --------
    >>> print(columns_markdown().splitlines()[2])
    | `split` | 'train' or 'test': the MNIST file the image comes from |
    """
    rows = [f"| `{name}` | {text} |" for name, text in COLUMNS.items()]
    return "\n".join(["| column | meaning |", "| --- | --- |", *rows])


def _check_inputs(frame, images):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"frame: expected a pandas DataFrame from mnist_analysis.load_frame, found {type(frame).__name__}"
        )
    missing = [c for c in _PROVENANCE if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: expected the columns of mnist_analysis.load_frame, missing {missing}")
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] != len(frame):
        raise ValueError(
            f"images: expected one (height, width) image per frame row, shape ({len(frame)}, 28, 28), "
            f"found shape {images.shape}"
        )
    return images


def check_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check that ``table`` has exactly the :data:`COLUMNS`, and NaN only in :data:`NULLABLE` columns.

    Returns the table unchanged; raises ``ValueError`` naming the offending columns.

    Examples
    --------
    >>> check_table(pd.DataFrame({"split": ["train"]}))
    Traceback (most recent call last):
    ...
    ValueError: table: expected the documented columns, missing ['index', 'label', 'hsf_series', '...']
    """
    missing = [c for c in COLUMNS if c not in table.columns]
    extra = [c for c in table.columns if c not in COLUMNS]
    if missing or extra:
        shown = missing[:3] + (["..."] if len(missing) > 3 else [])
        raise ValueError(
            f"table: expected the documented columns, missing {shown}" + (f", unexpected {extra}" if extra else "")
        )
    with_nan = [c for c in COLUMNS if c not in NULLABLE and table[c].isna().any()]
    if with_nan:
        raise ValueError(f"table: missing values in columns that must be complete: {with_nan}")
    return table


def per_image_table(
    frame: pd.DataFrame, images, *, seed: int = 0, n_splits: int = 5, cache: bool = True
) -> pd.DataFrame:
    """Build one row per image with every column of :data:`COLUMNS`.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of :func:`mnist_analysis.load_frame` (or a sample of them).
    images : array of shape (len(frame), 28, 28)
        The matching images, for example ``load_images("all")[frame.index]``.
    seed : int
        Seeds the folds, the models, PCA and UMAP.
    n_splits : int
        Cross-validation folds of the logistic regression (over all rows pooled, train and
        test together; the neighbour vote is leave-one-out).
    cache : bool
        Read and write the on-disk caches of every step.

    Returns
    -------
    pandas.DataFrame
        Columns in the order of :data:`COLUMNS`, a fresh RangeIndex (an image is named by
        ``split`` and ``index``); float columns are float64.

    Examples
    --------
    The usual call, on all 70,000 images (a few minutes cold, seconds once cached)::

        import mnist_analysis as mx
        table = per_image_table(mx.load_frame(), mx.load_images("all"))

    Every column is documented:

    >>> COLUMNS["label_quality"][:29]
    'cleanlab self-confidence: out'
    """
    from mnist_analysis.caching.cache import cached_call

    images = _check_inputs(frame, images)
    images = np.ascontiguousarray(images).view(np.ndarray)
    frame = frame[list(_PROVENANCE)].reset_index(drop=True)
    return cached_call(
        "per_image", _build_table, frame, images, seed=int(seed), n_splits=int(n_splits), cache_steps=cache, cache=cache
    )


def _build_table(frame, images, *, seed, n_splits, cache_steps):
    """The table of :func:`per_image_table` (whose result is cached as a whole; each step is cached too)."""
    from mnist_analysis.clusters import cluster_digits
    from mnist_analysis.embeddings import digit_map, fit_pca
    from mnist_analysis.label_quality import (
        combine,
        disagreeing_models,
        label_issues,
        model_probabilities,
        outlier_scores,
        pca_scores,
    )
    from mnist_analysis.measurements import measure
    from mnist_analysis.morphometrics import morphometrics
    from mnist_analysis.substyles import style_names, substyles
    from mnist_analysis.typicality import image_typicality

    cache = cache_steps
    labels = frame["label"].to_numpy()
    per_model = model_probabilities(images, labels, n_splits=n_splits, seed=seed, cache=cache)
    issues = label_issues(labels, combine(per_model, ENSEMBLE_MODELS))
    outliers = outlier_scores(images, seed=seed, cache=cache)
    planes = pca_scores(images, seed=seed, cache=cache)  # the audit's projection: read from the cache
    umap_map = digit_map(images, seed=seed, cache=cache)
    found, _ = cluster_digits(images, seed=seed, cache=cache)  # the same calls as notebook 06: one cache
    scores = fit_pca(images, SUBSTYLE_COMPONENTS, seed=seed, cache=cache).transform(images)
    styles, _ = substyles(scores, labels, seed=seed, cache=cache)
    parts = {
        **{c: frame[c].to_numpy() for c in _PROVENANCE if c not in _CATEGORIES},
        **{c: pd.Categorical(frame[c].astype(str), categories=cats) for c, cats in _CATEGORIES.items()},
        **{c: v.to_numpy() for c, v in measure(images, cache=cache).items()},
        **{f"morpho_{c}": v.to_numpy() for c, v in morphometrics(images, cache=cache).items()},
        "pca_1": planes[:, 0],
        "pca_2": planes[:, 1],
        "umap_1": umap_map[:, 0],
        "umap_2": umap_map[:, 1],
        **{f"predicted_{name}": p.argmax(axis=1) for name, p in per_model.items()},
        **{c: issues[c].to_numpy() for c in _QUALITY if c in issues.columns},
        "disagreeing_models": disagreeing_models(labels, per_model),
        "outlier_score": outliers,
        "outlier_rank": pd.Series(-outliers).rank(method="first").to_numpy().astype(np.int64),
        "cluster": found.astype(np.int64),
        "substyle": style_names(labels, styles),
        "typicality": image_typicality(images, labels, cache=cache),
    }
    table = pd.DataFrame({c: parts[c] for c in COLUMNS})
    floats = table.select_dtypes("floating").columns
    table[floats] = table[floats].astype(np.float64)
    return check_table(table)


def write_table(table: pd.DataFrame, output_dir, *, name: str = TABLE_NAME) -> dict:
    """Write ``table`` as ``<name>.parquet`` (pyarrow) and ``<name>.csv`` into ``output_dir``.

    Both files are written completely in a hidden staging folder first, then moved into place:
    the old CSV is removed, the new Parquet replaces the old one, the new CSV follows. So the
    files present always come from one run (a process killed in between leaves the new Parquet
    alone, never a Parquet and a CSV of different runs), and no one sees half a file. A staging
    folder left by a killed run is removed by the next. The folder is created if needed.

    Returns
    -------
    dict
        ``{"parquet": Path, "csv": Path}``.

    Examples
    --------
    >>> import tempfile
    >>> table = pd.DataFrame({"a": [1, 2]})
    >>> paths = write_table(table, tempfile.mkdtemp(), name="t")
    >>> sorted(p.name for p in paths.values())
    ['t.csv', 't.parquet']
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table: expected a pandas DataFrame, found {type(table).__name__}")
    folder = output_folder(output_dir, "output_dir")
    paths = {"parquet": folder / f"{name}.parquet", "csv": folder / f"{name}.csv"}
    with staging_folder(folder, f".{name}.staging-") as staging:
        staged = {kind: staging / path.name for kind, path in paths.items()}
        table.to_parquet(staged["parquet"], engine="pyarrow", index=False)
        table.to_csv(staged["csv"], index=False)
        for path in (staged["parquet"], staged["csv"]):
            os.chmod(path, default_file_mode())
        paths["csv"].unlink(missing_ok=True)
        os.replace(staged["parquet"], paths["parquet"])
        os.replace(staged["csv"], paths["csv"])
    return paths


def read_table(path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (``.parquet`` or ``.csv``) with its dtypes.

    CSV loses dtypes: floats are parsed back exactly (pandas reads the shortest
    round-trip repr it writes), ``split`` and ``writer_group`` become categoricals again and
    ``substyle`` stays text.

    Examples
    --------
    >>> import tempfile
    >>> table = pd.DataFrame({"split": pd.Categorical(["test"], ["train", "test"]), "x": [0.1]})
    >>> paths = write_table(table, tempfile.mkdtemp(), name="t")
    >>> read_table(paths["csv"]).equals(table)
    True
    """
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path, engine="pyarrow")
    if path.suffix != ".csv":
        raise ValueError(f"path: expected a .parquet or .csv file, found {path.name!r}")
    table = pd.read_csv(path, dtype=dict.fromkeys(_TEXT, str))
    for column, categories in _CATEGORIES.items():
        if column in table.columns:
            table[column] = pd.Categorical(table[column], categories=categories)
    return table


def export_table(output_dir, *, sample_size: int | None = None, seed: int = 0, data_dir=None) -> dict:
    """Build the per-image table of all images (or a stratified sample) and write it.

    This is what ``mnist-analysis export`` runs.

    Parameters
    ----------
    output_dir : path
        Folder for ``mnist_per_image.parquet`` and ``mnist_per_image.csv``.
    sample_size : int or None
        Rows to keep (:func:`mnist_analysis.sample_frame`); None keeps all 70,000.
    seed : int
        Seeds the sample and every random step.
    data_dir : path, optional
        Where the MNIST and QMNIST files are (default: ``$MNIST_ANALYSIS_DATA_DIR``).

    Returns
    -------
    dict
        ``{"parquet": Path, "csv": Path}``.
    """
    from mnist_analysis.data.loaders import N_IMAGES, load_frame, load_images, sample_frame

    sample_size = positive_int(sample_size, "sample_size", allow_none=True, maximum=N_IMAGES)
    seed = check_seed(seed)
    output_folder(output_dir, "output_dir")  # before minutes of computing, not after
    frame = sample_frame(load_frame("all", data_dir=data_dir), sample_size, seed)
    images = load_images("all", data_dir=data_dir)[frame.index.to_numpy()]
    return write_table(per_image_table(frame, images, seed=seed), output_dir)
