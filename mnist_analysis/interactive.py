"""The explorer: every digit of a 2-D map, linked to its row, its image and its neighbours.

:func:`explorer` draws all points of a map (70,000 for MNIST) and joins each point to its row of
a per-image frame. Colour by any column (classes get a legend with their names, numbers a
colour bar); filter by the categorical and true/false columns; find a digit by split and index
(Enter or the button); hover a point to see it; click one to see it enlarged and ringed on the
map, with its row, its 10 nearest neighbours in pixel space and other digits by the same writer
(click a thumbnail to go to that digit); select with the box or the lasso to get a gallery,
counts by class and writer group, and a CSV download (``split,index``). When the frame (or the
``review`` table) has the per-image table's label-quality columns, a review panel lists the top
100 label-error candidates of the test split (:func:`mnist_analysis.label_review.review_list`):
each digit with its given and suggested label, the models' votes and its writer group; a click
selects that digit on the map, "next" and "previous" step through the list, "wrong", "ok" and
"?" record a verdict on each label (:attr:`Explorer.verdicts` in a widget), and the list
downloads as CSV (``split,index,given,suggested,score,rank``; with the verdicts, ``verdict`` added).

Why Bokeh: its inline resources make an nbconvert output that needs no server and no network,
and ``jupyter_bokeh`` makes the same layout a JupyterLab widget whose selection comes back to
Python (``explorer.selection``). jupyter-scatter (an anywidget) reaches an nbconvert page only as
saved widget state, which needs the widget manager from a CDN. Bokeh keeps the tools, the hit
tests and the widgets; the points themselves are drawn by the page's own code
(``explorer_js/explorer.js``, one CustomJS model run once per page) into one bitmap per
redraw, because Bokeh's canvas draws one path per point (70,000 paths redrew the map about twice
a second where Chromium has no graphics card) and its WebGL, emulated in software, is slower
still. The lasso selects on release, and hover work waits while a button is held. Redraws per
second, latencies, first render and page size are in ``benchmarks/bench_explorer.py``.

Where it goes:

- In JupyterLab, ``display(ex)`` shows a widget (``jupyter_bokeh``); ``ex.selection`` is the
  DataFrame of the rows selected in the browser.
- Elsewhere (nbconvert, papermill with ``MNIST_ANALYSIS_STATIC_HTML=1`` as set by the report
  build, or ``widget=False``) the output is self-contained HTML with Bokeh's JavaScript inline.

What the page carries: Bokeh's document holds the map's ``x`` and ``y`` (its hit tests need
them) and the widgets; everything else travels beside it, in a static page as two script
elements that never run, in a widget in its document (the payload): every column as a compact
array, the neighbours as ``int32`` and the review list (a few kilobytes of JSON: no new column
per point), packed little-endian and gzipped; the images as 4-bit
greyscale PNG sprite sheets of 1,024 digits (16 grey levels; 70,000 digits weigh about 7 MB,
against 12 MB at 8 bits). The browser decodes them natively (``Uint8Array.fromBase64``,
``DecompressionStream``): Bokeh's own decoding, in JavaScript, and its parsing of the sheets inside
its document took about half of the first render (2.3 s against 1.2 s with the payload, 70,000
digits, medians of 5 page loads at load 12).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import json
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_analysis.caching.cache import cached_call
from mnist_analysis.locations import STATIC_ENV

#: Tiles per row and per column of one PNG sprite sheet (32 x 28 = 896 pixels a side): small
#: sheets, each decoded by the browser only when one of its 1,024 digits is first shown.
ATLAS_TILES = 32
#: Grey levels kept in the thumbnails (4-bit PNG).
GREY_LEVELS = 16
#: At most this many distinct values make a column categorical (coloured by a palette, filterable).
MAX_CATEGORIES = 40
#: Thumbnails shown in the selection gallery.
GALLERY_SIZE = 120
#: Colour of a missing (NaN) value.
MISSING_COLOUR = "#bbbbbb"
#: Colours of False and True.
BOOL_COLOURS = ("#9e9e9e", "#d62728")
#: Diameter of a point in pixels, and its opacity: alone, selected, and not selected while others are.
POINT_SIZE, POINT_ALPHA, SELECTED_ALPHA, FADED_ALPHA = 3, 0.7, 1.0, 0.12

_PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
]


def sprite_sheets(images, tiles: int = ATLAS_TILES) -> list[bytes]:
    """Pack ``(n, h, w)`` uint8 images into 4-bit greyscale PNG sheets of ``tiles x tiles`` tiles.

    Image ``i`` is on sheet ``i // tiles**2``, at tile ``i % tiles**2`` counted left to right,
    top to bottom. Ink is dark on white; a decoded pixel is ``255 - 17 * round(image / 17)``.

    Examples
    --------
    >>> sheets = sprite_sheets(np.zeros((5, 28, 28), dtype=np.uint8), tiles=2)
    >>> len(sheets), sheets[0][:4] == b"\\x89PNG"
    (2, True)
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images: expected a uint8 array (n, height, width), found {images.dtype} {images.shape}")
    n, h, w = images.shape
    step = 255 // (GREY_LEVELS - 1)
    sheets = []
    for start in range(0, n, tiles * tiles):
        chunk = images[start : start + tiles * tiles]
        rows = -(-len(chunk) // tiles)
        padded = np.zeros((rows * tiles, h, w), dtype=np.uint8)
        padded[: len(chunk)] = chunk
        canvas = padded.reshape(rows, tiles, h, w).transpose(0, 2, 1, 3).reshape(rows * h, tiles * w)
        levels = (GREY_LEVELS - 1) - np.rint(canvas / step).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(levels, mode="L").save(buffer, format="PNG", bits=4, compress_level=6)
        sheets.append(buffer.getvalue())
    return sheets


def _sheets_as_arrays(images) -> list:
    return [np.frombuffer(sheet, dtype=np.uint8) for sheet in sprite_sheets(images)]


def _compute_pixel_neighbours(images, n_neighbors: int, n_candidates: int, seed: int) -> np.ndarray:
    from mnist_analysis.embeddings import fit_pca
    from mnist_analysis.utils import nearest_other_rows

    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    n_components = min(50, flat.shape[1], len(flat))
    reduced = fit_pca(images, n_components, seed=seed, cache=False).transform(flat)
    _, candidates = nearest_other_rows(reduced, min(n_candidates, len(flat) - 1))
    result = np.empty((len(flat), min(n_neighbors, len(flat) - 1)), dtype=np.int32)
    for start in range(0, len(flat), 4096):  # rank the candidates by their exact pixel distance
        block = candidates[start : start + 4096]
        distances = ((flat[block] - flat[start : start + len(block), None, :]) ** 2).sum(axis=2)
        distances[block == np.arange(start, start + len(block))[:, None]] = np.inf  # never the image itself
        order = np.argsort(distances, axis=1, kind="stable")[:, : result.shape[1]]
        result[start : start + len(block)] = np.take_along_axis(block, order, axis=1)
    return result


def pixel_neighbours(images, n_neighbors: int = 10, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Return the ``n_neighbors`` nearest other images of each image in pixel space (Euclidean).

    Candidates are the ``4 * n_neighbors`` nearest (:func:`mnist_analysis.utils.nearest_other_rows`) in a
    50-component PCA of the pixels (:func:`mnist_analysis.embeddings.fit_pca`); they are
    ranked by their exact pixel distance, so the only possible error is a true neighbour that the
    PCA does not put among the candidates. Cached.

    Returns
    -------
    int32 array (n, n_neighbors)
        Row positions, nearest first; never the image itself.

    Examples
    --------
    >>> images = np.zeros((4, 28, 28), dtype=np.uint8)
    >>> images[:, 0, 0] = [0, 10, 200, 255]
    >>> pixel_neighbours(images, 2, cache=False).tolist()
    [[1, 2], [0, 2], [3, 1], [2, 1]]
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) < 2:
        raise ValueError(f"images: expected uint8 (n >= 2, height, width), found {images.dtype} {images.shape}")
    if not isinstance(n_neighbors, int) or n_neighbors < 1:
        raise ValueError(f"n_neighbors: expected a positive int, found {n_neighbors!r}")
    return cached_call(
        "explorer",
        _compute_pixel_neighbours,
        np.ascontiguousarray(images),
        n_neighbors,
        4 * n_neighbors,
        seed,
        cache=cache,
    )


def _column_spec(name: str, values: pd.Series) -> tuple[np.ndarray, dict]:
    """Encode one column for the browser: (compact array, how to read and colour it)."""
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy().astype(np.uint8), {"kind": "bool", "names": ["False", "True"]}
    categorical = isinstance(values.dtype, pd.CategoricalDtype)
    if categorical or values.dtype == object or pd.api.types.is_string_dtype(values):
        if categorical and not values.isna().any():  # classes in the frame's own order
            names, codes = np.array([str(c) for c in values.cat.categories]), values.cat.codes.to_numpy()
        else:
            names, codes = np.unique(values.astype(str).to_numpy(), return_inverse=True)
        if len(set(names.tolist())) < len(names):
            raise ValueError(f"frame[{name!r}]: expected classes distinct as text, found {names.tolist()}")
        if len(names) > 65535:
            raise ValueError(f"frame[{name!r}]: expected at most 65,535 distinct text values, found {len(names)}")
        kind = "category" if len(names) <= MAX_CATEGORIES else "text"
        return codes.astype(np.uint8 if len(names) <= 255 else np.uint16), {"kind": kind, "names": names.tolist()}
    if pd.api.types.is_integer_dtype(values):
        array = values.to_numpy()
        low, high = int(array.min()), int(array.max())
        dtype = next(
            (t for t in (np.uint8, np.uint16, np.int32) if np.iinfo(t).min <= low and high <= np.iinfo(t).max), None
        )
        if dtype is None:
            raise ValueError(f"frame[{name!r}]: expected integers within 32 bits, found {low}..{high}")
        kind = "category" if values.nunique() <= min(MAX_CATEGORIES, 12) and high - low < MAX_CATEGORIES else "int"
        return array.astype(dtype), {"kind": kind, "low": low, "high": high}
    if pd.api.types.is_float_dtype(values):
        array = values.to_numpy(dtype=np.float32)
        finite = array[np.isfinite(array)]
        low, high = np.percentile(finite, [1, 99]).tolist() if len(finite) else [0.0, 1.0]
        return array, {"kind": "float", "low": low, "high": high}
    raise TypeError(f"frame[{name!r}]: expected numbers, booleans or text, found dtype {values.dtype}")


def _with_palette(spec: dict) -> dict:
    """Add the colours of a column's classes (true/false, text, small integers); continuous columns get none."""
    if spec["kind"] == "bool":
        return {**spec, "palette": list(BOOL_COLOURS)}
    if "names" in spec and spec["kind"] == "category":
        return {**spec, "palette": [_PALETTE[i % len(_PALETTE)] for i in range(len(spec["names"]))]}
    if spec["kind"] == "category":
        return {**spec, "palette": [_PALETTE[i % len(_PALETTE)] for i in range(spec["high"] - spec["low"] + 1)]}
    return spec


#: Columns of the per-image table that the projections notebook's explorer shows (with the predictions).
SHOWN_COLUMNS = (
    "split",
    "index",
    "label",
    "writer_id",
    "writer_group",
    "hsf_series",
    "ink",
    "slant_deg",
    "thickness",
    "holes",
    "suggested_label",
    "label_quality",
    "is_label_issue",
    "outlier_score",
)
#: Notebook 06's per-image columns that the explorer shows when the table has them: the HDBSCAN
#: cluster (classes with a legend) and the typicality within the digit's class (a colour bar).
DIGIT_SPACE_COLUMNS = ("cluster", "typicality")


def explorer_frame(table: pd.DataFrame) -> tuple[pd.DataFrame, str, float]:
    """Pick the explorer's columns from a per-image table and mark the best audit model's mistakes.

    Returns the frame (:data:`SHOWN_COLUMNS`, every ``predicted_*`` column, notebook 06's
    :data:`DIGIT_SPACE_COLUMNS` when the table has them, and ``misclassified``: the best model's
    out-of-sample prediction differs from the label), the best model's column and its
    out-of-sample accuracy. ``cluster`` becomes classes named by their number, with ``noise``
    for -1 (so it is coloured with a legend); ``typicality`` stays a number (a colour bar).

    Examples
    --------
    >>> table = pd.DataFrame({c: [0, 1, 1] for c in SHOWN_COLUMNS})
    >>> table["predicted_a"], table["predicted_b"] = [0, 1, 0], [1, 1, 0]
    >>> shown, best, accuracy = explorer_frame(table)
    >>> best, round(accuracy, 3), shown["misclassified"].tolist()
    ('predicted_a', 0.667, [False, False, True])
    >>> shown, _, _ = explorer_frame(table.assign(cluster=[1, -1, 0], typicality=[0.2, 0.9, 0.5]))
    >>> shown["cluster"].tolist(), list(shown["cluster"].cat.categories)
    (['1', 'noise', '0'], ['0', '1', 'noise'])
    """
    predictions = [c for c in table.columns if str(c).startswith("predicted_")]
    missing = [c for c in SHOWN_COLUMNS if c not in table.columns]
    if missing or not predictions:
        raise ValueError(
            f"table: expected a per-image table (per_image.per_image_table), found no column {missing or 'predicted_*'}"
        )
    accuracy = {c: float((table[c] == table["label"]).mean()) for c in predictions}
    best = max(accuracy, key=accuracy.get)
    digit_space = [c for c in DIGIT_SPACE_COLUMNS if c in table.columns]
    shown = table[list(SHOWN_COLUMNS[:10]) + predictions + list(SHOWN_COLUMNS[10:]) + digit_space]
    shown = shown.assign(misclassified=(table[best] != table["label"]).to_numpy())
    if "cluster" in digit_space:
        shown["cluster"] = _cluster_classes(table["cluster"])
    return shown, best, accuracy[best]


def _cluster_classes(cluster: pd.Series) -> pd.Categorical:
    """HDBSCAN cluster numbers as classes ``'0', '1', ...`` in number order, and ``'noise'`` for -1."""
    values = pd.to_numeric(cluster, errors="coerce")
    if values.isna().any() or (values % 1 != 0).any() or (values < -1).any():
        raise ValueError(
            f"table['cluster']: expected integer cluster numbers >= 0, or -1 for noise, found {cluster.dtype} "
            f"values such as {cluster[values.isna() | (values % 1 != 0) | (values < -1)].head(3).tolist()}"
        )
    numbers = sorted(int(v) for v in values.unique() if v >= 0)
    names = np.where(values.to_numpy() < 0, "noise", values.astype(np.int64).astype(str).to_numpy())
    return pd.Categorical(names, categories=[str(v) for v in numbers] + ["noise"])


class Explorer:
    """The explorer of one map; build it with :func:`explorer`.

    In JupyterLab it displays as a widget and :attr:`selection` follows the browser; elsewhere
    :meth:`show` opens it in a web browser and :meth:`save` writes it as a standalone page; in
    a static report (:meth:`html`) it carries everything it shows.
    """

    def __init__(self, frame: pd.DataFrame, layout, source, widget: bool | None, payload: tuple, review=None):
        self.frame = frame
        #: The review panel's list (:func:`mnist_analysis.label_review.review_list`, with each
        #: candidate's row position among the points in ``row``), or None when there is no panel.
        self.review = review
        self.layout = layout
        self.source = source
        self._widget_wanted = widget
        self._widget = None
        self._payload, self._parts = payload

    @property
    def selection(self) -> pd.DataFrame:
        """The selected rows of the frame (in frame order), as the browser last reported them."""
        return self.frame.iloc[np.sort(np.asarray(self.source.selected.indices, dtype=np.int64))]

    @property
    def verdicts(self) -> pd.DataFrame | None:
        """The review list with the reviewer's verdict on each candidate, as the browser last reported them.

        ``verdict`` is ``"wrong"`` (the label is wrong), ``"ok"``, ``"unsure"`` or ``""`` (not
        judged yet). In JupyterLab the widget reports them; a static page keeps them to itself
        (its "download verdicts" button writes them). None when there is no review panel.
        """
        if self.review is None:
            return None
        panel = self.layout.select_one({"name": "mx-review"})
        given = json.loads(panel.tags[0]) if panel.tags else {}
        if not isinstance(given, dict) or not set(map(str, given.values())) <= {"wrong", "ok", "unsure"}:
            raise ValueError(f"the review panel's verdicts: expected wrong, ok or unsure per row, found {given!r}")
        verdict = [given.get(str(row), "") for row in self.review["row"]]
        return self.review.drop(columns=["row"]).assign(verdict=verdict)

    def select(self, rows) -> None:
        """Select rows by position in the frame (the widget in the browser follows)."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self.frame)):
            raise ValueError(f"rows: expected positions in 0..{len(self.frame) - 1}, found {rows.min()}..{rows.max()}")
        self.source.selected.indices = rows.tolist()

    @property
    def widget(self):
        """The JupyterLab widget (``jupyter_bokeh.BokehModel``) showing this explorer, made once."""
        if self._widget is None:
            from jupyter_bokeh import BokehModel

            self._payload.data = {"parts": self._parts}  # a widget has no page to carry them
            self._widget = BokehModel(self.layout)
        return self._widget

    def html(self) -> str:
        """Self-contained HTML (Bokeh's JavaScript inline, nothing fetched) for a notebook output."""
        from bokeh.embed import components
        from bokeh.embed.bundle import bundle_for_objs_and_resources
        from bokeh.resources import INLINE

        script, div = components(self.layout)
        bundle = bundle_for_objs_and_resources([self.layout], INLINE)
        if bundle.js_files or bundle.css_files:  # INLINE resources never name a file; refuse rather than fetch
            raise RuntimeError(f"Bokeh asked for files {bundle.js_files + bundle.css_files}; expected inline resources")
        return f'<div class="mx-explorer">{self._payload_html()}{bundle.scripts(tag=True)}{div}{script}</div>'

    def _payload_html(self) -> str:
        """The payload as two script elements that never run (the columns; the sprite sheets), read by the page.

        Empty when the payload travels in the document (once a widget has been made).
        """
        if self._payload.data.get("parts"):
            return ""
        texts = [self._parts[0], " ".join(self._parts[1:])]
        element_id = self._payload.tags[0]
        return "".join(
            f'<script type="application/octet-stream" id="{element_id}-{k}">{text}</script>'
            for k, text in enumerate(texts)
        )

    def save(self, path) -> Path:
        """Write a standalone HTML page of the explorer (atomically: never half a page); return its path."""
        from mnist_analysis.utils import atomic_output

        path = Path(path)
        with atomic_output(path) as temporary:
            temporary.write_text(
                f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>explorer</title></head>"
                f"<body>{self.html()}</body></html>",
                encoding="utf-8",
            )
        return path

    def show(self, path=None) -> Path:
        """Save the explorer as a page (``path``, default a new temporary file) and open it in a web browser."""
        import tempfile
        import webbrowser

        if path is None:
            path = Path(tempfile.mkdtemp(prefix="mnist-explorer-")) / "explorer.html"
        path = self.save(path)
        webbrowser.open(path.resolve().as_uri())
        return path

    def _use_widget(self) -> bool:
        if self._widget_wanted is not None:
            return self._widget_wanted
        return os.environ.get(STATIC_ENV, "") in ("", "0")

    def _repr_mimebundle_(self, include=None, exclude=None):
        if self._use_widget():
            if self._widget is not None:  # shown again: from the current state (selection, panels), not the first one
                self._widget.update_from_model(self.layout)
            bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
            bundle = bundle[0] if isinstance(bundle, tuple) else bundle
            return {**bundle, "text/plain": repr(self)}
        return {"text/html": self.html(), "text/plain": repr(self)}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self._use_widget():
            # the widget's view needs BokehJS in the page: load it inline (no CDN), as jupyter_bokeh asks
            from bokeh.io.notebook import load_notebook
            from bokeh.resources import Resources

            load_notebook(Resources(mode="inline", components=["bokeh", "bokeh-gl", "bokeh-widgets"]), hide_banner=True)
        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        return (
            f"Explorer(points={len(self.frame):,}, selected={len(self.source.selected.indices):,}): "
            "display() it in Jupyter, .show() opens it in a web browser, .save(path) writes a page"
        )


def _checked_inputs(frame, coords, images, neighbours, id_columns, seed):
    """Check the explorer's inputs; return ``(coords, images, neighbours)`` as arrays."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, found {type(frame).__name__}")
    n = len(frame)
    if n == 0:
        raise ValueError("frame: expected at least one row, found 0")
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape != (n, 2):
        raise ValueError(f"coords: expected shape ({n}, 2) to match frame, found {coords.shape}")
    if not np.isfinite(coords).all(axis=1).any():
        raise ValueError("coords: expected finite coordinates, found none")
    images = np.asarray(images)
    if images.ndim != 3 or len(images) != n or images.dtype != np.uint8:
        raise ValueError(f"images: expected uint8 (n={n}, height, width), found {images.dtype} {images.shape}")
    missing = [c for c in id_columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"id_columns: expected columns of frame, found {missing} missing (frame has {list(frame.columns)})"
        )
    if neighbours is None:
        neighbours = pixel_neighbours(images, seed=seed) if n > 1 else np.zeros((1, 0), dtype=np.int32)
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 2 or len(neighbours) != n or not np.issubdtype(neighbours.dtype, np.integer):
        raise ValueError(
            f"neighbours: expected integer row positions in shape ({n}, k), found {neighbours.dtype} {neighbours.shape}"
        )
    bad = (neighbours < 0) | (neighbours >= n)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"neighbours: expected row positions 0..{n - 1}, found {np.unique(neighbours[bad])[:5].tolist()} "
            f"in {len(rows):,} rows (first: row {rows[0]})"
        )
    return coords, images, neighbours.astype(np.int32)


def _encode_columns(frame: pd.DataFrame, coords: np.ndarray) -> tuple[dict, dict, dict]:
    """The map's coordinates for Bokeh, each column as a compact array for the payload, and how to read them."""
    data = {"x": coords[:, 0].astype(np.float32), "y": coords[:, 1].astype(np.float32)}
    columns, specs = {}, {}
    for name in frame.columns:
        columns[str(name)], spec = _column_spec(str(name), frame[name])
        specs[str(name)] = _with_palette(spec)
    return data, columns, specs


def _pack(arrays: list) -> tuple[bytes, list]:
    """Concatenate arrays as little-endian bytes, each starting at a multiple of 4 (a typed array's view).

    Returns the bytes and, per array, ``[dtype, byte offset, length]``.
    """
    chunks, layout, offset = [], [], 0
    for array in arrays:
        array = np.ascontiguousarray(array, dtype=np.dtype(array.dtype).newbyteorder("<"))
        if array.dtype.name not in ("uint8", "uint16", "int32", "float32"):
            raise TypeError(f"expected uint8, uint16, int32 or float32 arrays, found {array.dtype}")
        raw = array.tobytes()
        layout.append([array.dtype.name, offset, int(array.size)])
        chunks += [raw, bytes(-len(raw) % 4)]
        offset += len(raw) + len(chunks[-1])
    return b"".join(chunks), layout


def _payload(
    columns: dict, neighbours: np.ndarray, images: np.ndarray, review: dict | None = None
) -> tuple[list[str], dict, list, list | None]:
    """The bulk of the page, which the browser decodes natively rather than through Bokeh.

    Returns the parts (base64: first the gzip of every column, the neighbours and the review
    list as UTF-8 JSON, packed by :func:`_pack`; then one PNG sprite sheet each), the columns'
    layout, the neighbours' ``[dtype, offset, length, k]`` and the review list's
    ``[dtype, offset, length]`` (None without one).
    """
    extra = (
        [] if review is None else [np.frombuffer(json.dumps(review, allow_nan=False).encode("utf-8"), dtype=np.uint8)]
    )
    packed, layout = _pack([*columns.values(), neighbours.ravel(), *extra])
    shipped_review = layout.pop() if extra else None
    near = [*layout.pop(), int(neighbours.shape[1])]
    sheets = cached_call("explorer", _sheets_as_arrays, np.ascontiguousarray(images))
    parts = [base64.b64encode(gzip.compress(packed, compresslevel=6, mtime=0)).decode("ascii")]
    parts += [base64.b64encode(sheet.tobytes()).decode("ascii") for sheet in sheets]
    return parts, dict(zip(columns, layout, strict=True)), near, shipped_review


def _review_list(frame: pd.DataFrame, review, top, split) -> pd.DataFrame | None:
    """The review panel's list from ``review`` (default ``frame``), or None when it lacks the label-quality columns.

    ``review`` must hold the same rows as ``frame`` (same index); the list gains each
    candidate's row position among the points (``row``).
    """
    from mnist_analysis.label_review import SPLITS, has_review_columns, review_list
    from mnist_analysis.validation import integer

    top = integer(top, "review_top", minimum=0)
    if split not in SPLITS:
        raise ValueError(f"review_split: expected one of {list(SPLITS)}, found {split!r}")
    if review is None:
        review = frame
    elif not isinstance(review, pd.DataFrame):
        raise TypeError(f"review: expected a per-image table (a DataFrame) or None, found {type(review).__name__}")
    elif not review.index.equals(frame.index):
        raise ValueError(
            f"review: expected the same rows as frame (the same index, {len(frame):,} rows), "
            f"found {len(review):,} rows{' in another order or with other labels' if len(review) == len(frame) else ''}"
        )
    if top == 0 or not has_review_columns(review):
        return None
    if not frame.index.is_unique:
        raise ValueError("frame: expected a unique index (a review list names its digits by it), found duplicates")
    listed = review_list(review, split=split, top=top)
    if listed.empty:
        return None
    return listed.assign(row=frame.index.get_indexer(listed.index))


def _map_figure(source, view, colour_by: str, specs: dict, *, title: str, width: int, height: int):
    """The map: its points (drawn by the page's own code), the colour bar for continuous columns, the tools."""
    from bokeh.models import BoxSelectTool, ColorBar, LassoSelectTool, LinearColorMapper, TapTool
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure

    plot = figure(
        width=width,
        height=height,
        title=title,
        name="mx-map",
        tools="pan,wheel_zoom,box_select,lasso_select,tap,reset",
        active_scroll="wheel_zoom",
        match_aspect=True,
        min_border_right=90,  # room for the colour bar: the map keeps its size whatever colours it
        lod_interval=50,  # the points are always drawn in full: no need to wait before the last redraw
        lod_timeout=50,
    )
    plot.axis.visible = False
    plot.grid.visible = False
    # hit tests (hover, tap, box, lasso) are Bokeh's; the points are drawn by explorer.js in one bitmap,
    # which it switches on once it has taken over the drawing
    renderer = plot.scatter("x", "y", source=source, view=view, size=POINT_SIZE, line_color=None, visible=False)
    for tool in (BoxSelectTool, LassoSelectTool, TapTool):
        plot.select_one(tool).renderers = [renderer]
    plot.select_one(LassoSelectTool).continuous = False  # select once, on release
    spec = specs[colour_by]
    low, high = (spec["low"], spec["high"]) if "palette" not in spec else (0.0, 1.0)
    mapper = LinearColorMapper(palette=Viridis256, low=low, high=max(high, low + 1e-9), nan_color=MISSING_COLOUR)
    bar = ColorBar(color_mapper=mapper, width=12, title=colour_by, visible="palette" not in spec, name="mx-colour-bar")
    plot.add_layout(bar, "right")
    return plot, renderer, bar


def _filter_widgets(specs: dict, filters) -> list:
    """One widget per filtered column: a multiple choice, an "only" box or an exact-value box."""
    from bokeh.models import CheckboxGroup, MultiChoice, TextInput

    widgets = []
    for name in filters:
        spec = specs[name]
        if spec["kind"] == "bool":
            widget = CheckboxGroup(labels=[f"only {name}"], active=[], name=f"mx-filter-{name}")
        elif spec["kind"] in ("category", "text") and "names" in spec:
            widget = MultiChoice(title=name, options=spec["names"], value=[], width=140, name=f"mx-filter-{name}")
        elif spec["kind"] == "category":
            options = [str(v) for v in range(spec["low"], spec["high"] + 1)]
            widget = MultiChoice(title=name, options=options, value=[], width=140, name=f"mx-filter-{name}")
        else:
            widget = TextInput(title=f"{name} (a, b, ...)", value="", width=140, name=f"mx-filter-{name}")
        widget.tags = [name]
        widgets.append(widget)
    return widgets


def _find_widgets(specs: dict, id_columns) -> list:
    """The inputs of "find": a choice for text identifiers, a box for the others."""
    from bokeh.models import Select, TextInput

    return [
        Select(title=c, options=specs[c]["names"], value=specs[c]["names"][0], width=95, name=f"mx-find-{c}")
        if "names" in specs[c]
        else TextInput(title=c, value="", width=95, name=f"mx-find-{c}")
        for c in id_columns
    ]


@functools.cache
def browser_code() -> str:
    """The explorer's JavaScript (``explorer_js/explorer.js``, shipped with the package)."""
    return resources.files("mnist_analysis").joinpath("explorer_js", "explorer.js").read_text(encoding="utf-8")


def _wire(library, *, plot, source, colour_select, filter_widgets, find_inputs, find_button, download, hover):
    """Connect every widget and tool to the page's one library (``library``, run once per page)."""
    from bokeh.models import CheckboxGroup, CustomJS, TextInput

    def call(body: str, **args) -> CustomJS:
        return CustomJS(args={"lib": library, **args}, code=f"lib.execute(cb_obj).then((M) => {{ {body} }});")

    start = call("")
    plot.js_on_event("mouseenter", start)  # in every later view of the same document too (re-display)
    colour_select.js_on_change("value", call("M.recolour(cb_obj.value);"))
    refilter = call("M.refilter(widgets);", widgets=filter_widgets)
    for widget in filter_widgets:
        widget.js_on_change("active" if isinstance(widget, CheckboxGroup) else "value", refilter)
    find = call("M.find(inputs);", inputs=find_inputs)
    find_button.js_on_click(find)
    for widget in find_inputs:
        if isinstance(widget, TextInput):
            widget.js_on_change("value", find)  # Enter in a box finds
    source.selected.js_on_change("indices", call("M.selected();"))
    hover.callback = CustomJS(
        args={"lib": library}, code="lib.execute(cb_obj).then((M) => M.hover(cb_data.index.indices));"
    )
    download.js_on_click(call("M.download();"))


def explorer(
    frame: pd.DataFrame,
    coords,
    images,
    *,
    colour_by: str | None = None,
    filters=None,
    neighbours=None,
    writer_column: str | None = "writer_id",
    id_columns=("split", "index"),
    count_columns=("label", "writer_group"),
    title: str = "",
    width: int = 600,
    height: int = 560,
    widget: bool | None = None,
    seed: int = 0,
    review: pd.DataFrame | None = None,
    review_top: int = 100,
    review_split: str = "test",
) -> Explorer:
    """Return an explorer of the map ``coords`` whose points are the rows of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per point; every column is shown when a point is clicked, and every column but
        free text can colour the points (for MNIST, columns of
        :func:`mnist_analysis.per_image.per_image_table`).
    coords : array (n, 2)
        The map; rows without finite coordinates are not drawn.
    images : uint8 array (n, h, w)
        Each point's image (hover, click, gallery).
    colour_by : str, optional
        The column that colours the points at first (default: ``label`` if present, else the first).
    filters : list of str, optional
        Columns offered as filters: text and small-integer columns get a multiple choice,
        true/false columns an "only" box, other integer columns an exact-value box. Default:
        every true/false column and every column of at most 12 classes, plus ``writer_column``.
    neighbours : int array (n, k), optional
        Each point's nearest neighbours (row positions), shown on click; default
        :func:`pixel_neighbours` of ``images`` (10, cached).
    writer_column : str or None
        Column naming each point's writer; a click shows other digits by the same writer.
    id_columns : tuple of str
        Columns that identify a digit: "find" asks for them; the CSV download holds them.
    count_columns : tuple of str
        Columns whose value counts describe a selection (those present in ``frame``).
    title : str
        Heading of the map.
    width, height : int
        Size of the map in pixels.
    widget : bool or None
        True: display as a JupyterLab widget; False: as static HTML; None: a widget unless the
        environment variable ``MNIST_ANALYSIS_STATIC_HTML`` is set (the report build sets it).
    seed : int
        Seeds the neighbour search's PCA.
    review : pandas.DataFrame, optional
        The table whose label-quality columns make the review panel (default ``frame``): the
        per-image table, with the same rows as ``frame`` (same index), as when ``frame`` is
        :func:`explorer_frame` of it. Without the columns of
        :data:`mnist_analysis.label_review.REVIEW_NEEDS` there is no review panel.
    review_top : int
        How many label-error candidates the review panel lists (0: no panel).
    review_split : {"test", "train"}
        The split they come from.

    Notes
    -----
    The points are drawn by the page's own code into one bitmap per redraw (Bokeh keeps the
    tools and the hit tests): where Chromium has no graphics card, Bokeh's canvas drew 70,000
    points a few times per second and its WebGL slower still. See ``benchmarks/bench_explorer.py``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"split": ["train"] * 3 + ["test"] * 3, "index": [0, 1, 2, 0, 1, 2],
    ...                       "label": [0, 1, 1, 0, 7, 7], "writer_id": [5, 5, 6, 6, 7, 7]})
    >>> ex = explorer(frame, rng.normal(size=(6, 2)), rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
    ...               neighbours=np.zeros((6, 1), dtype=np.int32), widget=False)
    >>> ex.select([4, 1])
    >>> ex.selection[["split", "index"]].values.tolist()
    [['train', 1], ['test', 1]]
    >>> "<script src" in ex.html()
    False
    """
    from bokeh.document import Document
    from bokeh.models import BooleanFilter, CDSView, ColumnDataSource, CustomJS, HoverTool

    coords, images, neighbours = _checked_inputs(frame, coords, images, neighbours, id_columns, seed)
    if writer_column is not None and writer_column not in frame.columns:
        writer_column = None
    data, columns, specs = _encode_columns(frame, coords)
    colour_options, colour_by, filters = _checked_options(specs, colour_by, filters, id_columns, writer_column)
    listed = _review_list(frame, review, review_top, review_split)
    shipped = None
    if listed is not None:
        from mnist_analysis.label_review import review_entries

        shipped = {"split": review_split, **review_entries(listed, listed["row"].to_numpy())}
    parts, column_layout, near, review_layout = _payload(columns, neighbours, images, shipped)
    digest = hashlib.sha256("".join(parts).encode("ascii")).hexdigest()[:16]
    payload = ColumnDataSource({}, tags=[f"mx-payload-{digest}"], name="mx-payload")  # filled in a widget
    source = ColumnDataSource(data)
    source.tags = [
        _page_meta(
            specs,
            layout=column_layout,
            neighbours=near,
            id_columns=id_columns,
            writer_column=writer_column,
            count_columns=[c for c in count_columns if c in specs],
            image_shape=images.shape[1:],
            colour_by=colour_by,
            review=review_layout,
        )
    ]
    view = CDSView(filter=BooleanFilter(booleans=np.isfinite(coords).all(axis=1)))
    plot, renderer, bar = _map_figure(source, view, colour_by, specs, title=title, width=width, height=height)
    hover = HoverTool(tooltips=None, renderers=[renderer])
    plot.add_tools(hover)
    widgets = _widgets(specs, colour_by, colour_options, filters, id_columns, width=width, height=height)
    if listed is not None:
        widgets["review"] = _review_div(len(listed), review_split, width=width)
    library = CustomJS(
        args={
            "source": source,
            "payload": payload,
            "view": view,
            "plot": plot,
            "renderer": renderer,
            "hover_div": widgets["hover"],
            "details": widgets["details"],
            "gallery": widgets["gallery"],
            "legend": widgets["legend"],
            "bar": bar,
            "review_div": widgets.get("review"),
        },
        code=browser_code(),
        name="mx-library",
    )
    _wire(
        library,
        plot=plot,
        source=source,
        colour_select=widgets["colour"],
        filter_widgets=widgets["filters"],
        find_inputs=widgets["find"],
        find_button=widgets["find_button"],
        download=widgets["download"],
        hover=hover,
    )
    layout = _arrange(plot, widgets, width=width)
    document = Document()
    document.add_root(layout)
    # take over the drawing as soon as the page is ready
    document.js_on_event("document_ready", CustomJS(args={"lib": library}, code="lib.execute(cb_obj);"))
    return Explorer(frame.copy(), layout, source, widget, payload=(payload, parts), review=listed)


def _checked_options(specs: dict, colour_by, filters, id_columns, writer_column) -> tuple[list, str, list]:
    """The columns offered in "colour by", the first colouring and the filtered columns (checked)."""
    colour_options = [c for c, s in specs.items() if s["kind"] != "text" and (c not in id_columns or "palette" in s)]
    colour_by = colour_by or ("label" if "label" in specs else colour_options[0])
    if colour_by not in colour_options:
        raise ValueError(f"colour_by: expected one of {colour_options}, found {colour_by!r}")
    if filters is None:
        filters = [c for c, s in specs.items() if "palette" in s and c not in id_columns]
        filters += [writer_column] if writer_column and writer_column not in filters else []
    unknown = [c for c in filters if c not in specs]
    if unknown:
        raise ValueError(f"filters: expected columns of frame, found {unknown}")
    return colour_options, colour_by, list(filters)


def _page_meta(
    specs: dict, *, layout, neighbours, id_columns, writer_column, count_columns, image_shape, colour_by, review=None
):
    """What ``explorer.js`` needs to know, as JSON: columns, payload layout, identifiers, drawing settings."""
    return json.dumps(
        {
            "specs": specs,
            "layout": layout,
            "neighbours": neighbours,
            "ids": list(id_columns),
            "writer": writer_column,
            "counts": list(count_columns),
            "tiles": ATLAS_TILES,
            "h": int(image_shape[0]),
            "w": int(image_shape[1]),
            "gallery": GALLERY_SIZE,
            "colour_by": colour_by,
            "viridis": list(_viridis()),
            "missing": MISSING_COLOUR,
            "size": POINT_SIZE,
            "alpha": POINT_ALPHA,
            "selected_alpha": SELECTED_ALPHA,
            "faded_alpha": FADED_ALPHA,
            "review": review,
        }
    )


def _widgets(specs: dict, colour_by: str, colour_options, filters, id_columns, *, width: int, height: int) -> dict:
    """Every widget around the map: colour choice, filters, find, download, legend and the three panels."""
    from bokeh.models import Button, Div, Select

    panel_width = 300
    scroll = {"overflow-y": "auto"}
    return {
        "colour": Select(title="colour by", value=colour_by, options=colour_options, width=140, name="mx-colour"),
        "filters": _filter_widgets(specs, filters),
        "find": _find_widgets(specs, id_columns),
        "find_button": Button(label="find", width=60, name="mx-find"),
        "download": Button(label="download selection (CSV)", width=200, name="mx-download"),
        "legend": Div(
            text=_legend_html(colour_by, specs[colour_by]), width=width, height=44, name="mx-legend", styles=scroll
        ),
        "hover": Div(text="<i>hover a point</i>", width=panel_width, height=120, name="mx-hover", styles=scroll),
        "details": Div(
            text="<i>click a point, or find one</i>",
            width=panel_width,
            height=height - 170,
            name="mx-details",
            styles=scroll,
        ),
        "gallery": Div(
            text="<i>box or lasso select to list digits</i>",
            width=width + panel_width,
            height=240,
            name="mx-gallery",
            styles=scroll,
        ),
    }


def _arrange(plot, widgets: dict, *, width: int):
    """The page: controls and legend above the map, find, download and panels beside it, the gallery below.

    Every part keeps its size whatever it shows: a click or a selection moves nothing on the page.
    """
    from bokeh.layouts import column, row

    controls = row(
        widgets["colour"], *widgets["filters"], styles={"flex-wrap": "wrap", "align-items": "end"}, width=width
    )
    find = row(*widgets["find"], widgets["find_button"], styles={"align-items": "end"})
    panel = column(find, widgets["download"], widgets["hover"], widgets["details"])
    review = [widgets["review"]] if "review" in widgets else []
    return column(controls, widgets["legend"], row(plot, panel), widgets["gallery"], *review, name="mx-explorer")


def _review_div(count: int, split: str, *, width: int):
    """The review panel; ``explorer.js`` fills it with the list once the map is drawn."""
    from bokeh.models import Div

    return Div(
        text=f'<div class="mx-review" data-count="0"><i>the {count} most likely label errors of the {split} split '
        "appear here once the map is drawn</i></div>",
        width=width + 300,
        height=380,
        name="mx-review",
        styles={"overflow-y": "auto"},
    )


def _legend_html(name: str, spec: dict) -> str:
    """The legend of a column with classes, as ``explorer.js`` writes it when the colouring changes."""
    from html import escape

    if "palette" not in spec:
        return f'<div class="mx-legend-items" data-column="{escape(name)}"><b>{escape(name)}</b>: colour bar at the right</div>'

    names = spec.get("names") or [str(v) for v in range(spec["low"], spec["high"] + 1)]
    palette = spec["palette"]
    items = "".join(
        f'<span class="mx-legend-item" data-value="{escape(str(v))}" data-colour="{palette[k % len(palette)]}" '
        f'style="white-space:nowrap;margin-right:8px"><span style="display:inline-block;width:10px;height:10px;'
        f'margin-right:3px;background:{palette[k % len(palette)]}"></span>{escape(str(v))}</span> '
        for k, v in enumerate(names)
    )
    return f'<div class="mx-legend-items" data-column="{escape(name)}"><b>{escape(name)}</b>: {items}</div>'


def _viridis() -> tuple:
    from bokeh.palettes import Viridis256

    return Viridis256
