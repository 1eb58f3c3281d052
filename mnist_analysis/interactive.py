"""The explorer: every digit of a 2-D map, linked to its row, its image and its neighbours.

:func:`explorer` draws all points of a map (70,000 for MNIST) with Bokeh's WebGL scatter and
joins each point to its row of a per-image frame. Colour by any column; filter by the
categorical and true/false columns; find a digit by split and index; hover a point to see it;
click one to see it enlarged with its row, its 10 nearest neighbours in pixel space and other
digits by the same writer; select with the box or the lasso to get a gallery, counts by class
and writer group, and a CSV download (``split,index``).

Why Bokeh: it does both jobs of the issue with one layout, and it draws 70,000 points with a
2-D canvas or WebGL (``backend``; the canvas is the default because it measured faster on a
machine without a graphics card, where WebGL is emulated in software). Its inline resources make an
nbconvert output that needs no server and no network (the HTML output keeps its scripts), and
``jupyter_bokeh`` makes the same layout a JupyterLab widget whose selection comes back to Python
(``explorer.selection``). jupyter-scatter (an anywidget, WebGL via regl-scatterplot) was not
adopted, and not benchmarked: an anywidget reaches an nbconvert HTML page only as saved widget
state, which needs the widget manager from a CDN to render. Speed, first render and size on the
70,000 points, against the old 20,000-point canvas, are in ``benchmarks/bench_explorer.py``.
All behaviour in the browser is Bokeh ``CustomJS`` on Bokeh's own tools; the only drawing done
here is cutting thumbnails out of sprite sheets.

Where it goes:

- In JupyterLab, ``display(ex)`` shows a widget (``jupyter_bokeh``); ``ex.selection`` is the
  DataFrame of the rows selected in the browser.
- Elsewhere (nbconvert, papermill with ``MNIST_ANALYSIS_STATIC_HTML=1`` as set by the report
  build, or ``widget=False``) the output is self-contained HTML with Bokeh's JavaScript inline.

Images travel as 4-bit greyscale PNG sprite sheets of 1,024 digits (16 grey levels; 70,000
digits weigh about 7 MB, against 12 MB at 8 bits); neighbours as one ``int32`` array.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from mnist_analysis.cache import cached_call

#: Tiles per row and per column of one PNG sprite sheet (32 x 28 = 896 pixels a side): small
#: sheets, each decoded by the browser only when one of its 1,024 digits is first shown.
ATLAS_TILES = 32
#: Grey levels kept in the thumbnails (4-bit PNG).
GREY_LEVELS = 16
#: Set (to anything but "" or "0") to make explorers render as static HTML, never as a widget.
STATIC_ENV = "MNIST_ANALYSIS_STATIC_HTML"
#: At most this many distinct values make a column categorical (coloured by a palette, filterable).
MAX_CATEGORIES = 40
#: Thumbnails shown in the selection gallery.
GALLERY_SIZE = 120

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
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    n_components = min(50, flat.shape[1], len(flat))
    reduced = PCA(n_components, random_state=seed, svd_solver="randomized").fit_transform(flat)
    k = min(n_candidates + 1, len(flat))
    _, candidates = NearestNeighbors(n_neighbors=k).fit(reduced).kneighbors(reduced)
    result = np.empty((len(flat), min(n_neighbors, len(flat) - 1)), dtype=np.int32)
    for start in range(0, len(flat), 4096):
        block = candidates[start : start + 4096]
        own = np.arange(start, start + len(block))[:, None]
        distances = ((flat[block] - flat[start : start + len(block), None, :]) ** 2).sum(axis=2)
        distances[block == own] = np.inf  # a digit is not its own neighbour
        order = np.argsort(distances, axis=1, kind="stable")[:, : result.shape[1]]
        result[start : start + len(block)] = np.take_along_axis(block, order, axis=1)
    return result


def pixel_neighbours(images, n_neighbors: int = 10, *, seed: int = 0, cache: bool = True) -> np.ndarray:
    """Return the ``n_neighbors`` nearest other images of each image in pixel space (Euclidean).

    Candidates are the ``4 * n_neighbors`` nearest in a 50-component PCA of the pixels; they are
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
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or pd.api.types.is_string_dtype(values):
        names, codes = np.unique(values.astype(str).to_numpy(), return_inverse=True)
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


def _colour_mapper(spec: dict):
    from bokeh.models import LinearColorMapper
    from bokeh.palettes import Viridis256

    if "names" in spec:
        n = len(spec["names"])
        palette = ["#1f77b4", "#d62728"] if spec["kind"] == "bool" else [_PALETTE[i % len(_PALETTE)] for i in range(n)]
        return LinearColorMapper(palette=palette, low=-0.5, high=n - 0.5)
    if spec["kind"] == "category":  # a small integer range, such as the labels 0-9
        n = spec["high"] - spec["low"] + 1
        return LinearColorMapper(
            palette=[_PALETTE[i % len(_PALETTE)] for i in range(n)], low=spec["low"] - 0.5, high=spec["high"] + 0.5
        )
    return LinearColorMapper(
        palette=Viridis256, low=spec["low"], high=max(spec["high"], spec["low"] + 1e-9), nan_color="#bbbbbb"
    )


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


def explorer_frame(table: pd.DataFrame) -> tuple[pd.DataFrame, str, float]:
    """Pick the explorer's columns from a per-image table and mark the best audit model's mistakes.

    Returns the frame (:data:`SHOWN_COLUMNS`, every ``predicted_*`` column and ``misclassified``:
    the best model's out-of-sample prediction differs from the label), the best model's column
    and its out-of-sample accuracy.

    Examples
    --------
    >>> table = pd.DataFrame({c: [0, 1, 1] for c in SHOWN_COLUMNS})
    >>> table["predicted_a"], table["predicted_b"] = [0, 1, 0], [1, 1, 0]
    >>> shown, best, accuracy = explorer_frame(table)
    >>> best, round(accuracy, 3), shown["misclassified"].tolist()
    ('predicted_a', 0.667, [False, False, True])
    """
    predictions = [c for c in table.columns if str(c).startswith("predicted_")]
    missing = [c for c in SHOWN_COLUMNS if c not in table.columns]
    if missing or not predictions:
        raise ValueError(
            f"table: expected a per-image table (per_image.per_image_table), found no column {missing or 'predicted_*'}"
        )
    accuracy = {c: float((table[c] == table["label"]).mean()) for c in predictions}
    best = max(accuracy, key=accuracy.get)
    shown = table[[c for c in SHOWN_COLUMNS[:10]] + predictions + list(SHOWN_COLUMNS[10:])]
    return shown.assign(misclassified=(table[best] != table["label"]).to_numpy()), best, accuracy[best]


class Explorer:
    """The explorer of one map; build it with :func:`explorer`.

    In JupyterLab it displays as a widget and :attr:`selection` follows the browser; in a
    static page (:meth:`html`, :meth:`save`) it carries everything it shows.
    """

    def __init__(self, frame: pd.DataFrame, layout, source, widget: bool | None):
        self.frame = frame
        self.layout = layout
        self.source = source
        self._widget_wanted = widget
        self._widget = None

    @property
    def selection(self) -> pd.DataFrame:
        """The selected rows of the frame (in frame order), as the browser last reported them."""
        return self.frame.iloc[np.sort(np.asarray(self.source.selected.indices, dtype=np.int64))]

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
        return f'<div class="mx-explorer">{bundle.scripts(tag=True)}{div}{script}</div>'

    def save(self, path) -> None:
        """Write a standalone HTML page of the explorer (atomically: never half a page)."""
        from mnist_analysis.utils import atomic_output

        with atomic_output(Path(path)) as temporary:
            temporary.write_text(
                f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{self.html()}</body></html>",
                encoding="utf-8",
            )

    def _use_widget(self) -> bool:
        if self._widget_wanted is not None:
            return self._widget_wanted
        return os.environ.get(STATIC_ENV, "") in ("", "0")

    def _repr_mimebundle_(self, include=None, exclude=None):
        if self._use_widget():
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
        return f"Explorer(points={len(self.frame):,}, selected={len(self.source.selected.indices):,})"


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
    width: int = 700,
    height: int = 600,
    widget: bool | None = None,
    backend: str = "canvas",
    seed: int = 0,
) -> Explorer:
    """Return an explorer of the map ``coords`` whose points are the rows of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per point; every column can colour the points and is shown when a point is
        clicked (for MNIST, columns of :func:`mnist_analysis.per_image.per_image_table`).
    coords : array (n, 2)
        The map; rows without finite coordinates are not drawn.
    images : uint8 array (n, h, w)
        Each point's image (hover, click, gallery).
    colour_by : str, optional
        The column that colours the points at first (default: ``label`` if present, else the first).
    filters : list of str, optional
        Columns offered as filters: text and small-integer columns get a multiple choice,
        true/false columns an "only" box, other integer columns an exact-value box. Default:
        every categorical and true/false column, plus ``writer_column``.
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
    backend : {"canvas", "webgl"}
        How Bokeh draws the points: a 2-D canvas (the default: measured 2 s to first render and
        17 frames per second panning 70,000 points where Chromium has no graphics card) or WebGL
        (for a graphics card; emulated in software it measured 4.3 s and 1.3 frames per second).
        See ``benchmarks/bench_explorer.py``.
    seed : int
        Seeds the neighbour search's PCA.

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
    from bokeh.layouts import column, row
    from bokeh.models import (
        BooleanFilter,
        BoxSelectTool,
        Button,
        CDSView,
        CheckboxGroup,
        ColorBar,
        ColumnDataSource,
        CustomJS,
        Div,
        HoverTool,
        LassoSelectTool,
        MultiChoice,
        Select,
        TapTool,
        TextInput,
    )
    from bokeh.plotting import figure

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame: expected a pandas DataFrame, found {type(frame).__name__}")
    if backend not in ("webgl", "canvas"):
        raise ValueError(f"backend: expected 'webgl' or 'canvas', found {backend!r}")
    n = len(frame)
    if n == 0:
        raise ValueError("frame: expected at least one row, found 0")
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape != (n, 2):
        raise ValueError(f"coords: expected shape ({n}, 2) to match frame, found {coords.shape}")
    images = np.asarray(images)
    if images.ndim != 3 or len(images) != n or images.dtype != np.uint8:
        raise ValueError(f"images: expected uint8 (n={n}, height, width), found {images.dtype} {images.shape}")
    if not np.isfinite(coords).any(axis=1).any():
        raise ValueError("coords: expected finite coordinates, found none")
    missing = [c for c in id_columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"id_columns: expected columns of frame, found {missing} missing (frame has {list(frame.columns)})"
        )
    if writer_column is not None and writer_column not in frame.columns:
        writer_column = None
    if neighbours is None:
        neighbours = pixel_neighbours(images, seed=seed) if n > 1 else np.zeros((1, 0), dtype=np.int32)
    neighbours = np.asarray(neighbours)
    if (
        neighbours.ndim != 2
        or len(neighbours) != n
        or (neighbours.size and (neighbours.min() < 0 or neighbours.max() >= n))
    ):
        raise ValueError(f"neighbours: expected row positions 0..{n - 1} in shape ({n}, k), found {neighbours.shape}")

    data = {"x": coords[:, 0].astype(np.float32), "y": coords[:, 1].astype(np.float32)}
    specs = {}
    for name in frame.columns:
        data[str(name)], specs[str(name)] = _column_spec(str(name), frame[name])
    colour_by = colour_by or ("label" if "label" in specs else next(iter(specs)))
    if colour_by not in specs:
        raise ValueError(f"colour_by: expected one of {list(specs)}, found {colour_by!r}")
    if filters is None:
        filters = [c for c, s in specs.items() if s["kind"] in ("bool", "category") and c not in ("x", "y")]
        filters += [writer_column] if writer_column and writer_column not in filters else []
    unknown = [c for c in filters if c not in specs]
    if unknown:
        raise ValueError(f"filters: expected columns of frame, found {unknown}")

    source = ColumnDataSource(data)
    finite = np.isfinite(coords).all(axis=1)
    view = CDSView(filter=BooleanFilter(booleans=finite))
    extras = ColumnDataSource({"neighbours": neighbours.astype(np.int32).ravel()}, tags=[int(neighbours.shape[1])])
    packed = cached_call("explorer", _sheets_as_arrays, np.ascontiguousarray(images))
    sheets = ColumnDataSource({"png": [base64.b64encode(s.tobytes()).decode("ascii") for s in packed]})
    mappers = {name: _colour_mapper(spec) for name, spec in specs.items()}

    plot = figure(
        width=width,
        height=height,
        title=title,
        output_backend=backend,
        name="mx-map",
        tools="pan,wheel_zoom,box_select,lasso_select,tap,reset",
        active_scroll="wheel_zoom",
        match_aspect=True,
    )
    plot.axis.visible = False
    plot.grid.visible = False
    renderer = plot.scatter(
        "x",
        "y",
        source=source,
        view=view,
        size=3,
        line_color=None,
        fill_alpha=0.7,
        fill_color={"field": colour_by, "transform": mappers[colour_by]},
        selection_fill_alpha=1.0,
        nonselection_fill_alpha=0.12,
    )
    plot.select_one(BoxSelectTool).renderers = [renderer]
    plot.select_one(LassoSelectTool).renderers = [renderer]
    plot.select_one(TapTool).renderers = [renderer]
    colour_bar = ColorBar(color_mapper=mappers[colour_by], width=12, title=colour_by)
    plot.add_layout(colour_bar, "right")

    hover_div = Div(text="<i>hover a point</i>", width=200, height=150, name="mx-hover", css_classes=["mx-hover"])
    details = Div(text="<i>click a point, or find one</i>", width=330, name="mx-details", css_classes=["mx-details"])
    gallery = Div(
        text="<i>box or lasso select to list digits</i>",
        width=width + 340,
        name="mx-gallery",
        css_classes=["mx-gallery"],
    )
    colour_select = Select(title="colour by", value=colour_by, options=list(specs), width=150, name="mx-colour")
    meta = {
        "specs": specs,
        "ids": list(id_columns),
        "writer": writer_column,
        "counts": [c for c in count_columns if c in specs],
        "tiles": ATLAS_TILES,
        "h": int(images.shape[1]),
        "w": int(images.shape[2]),
        "gallery": GALLERY_SIZE,
    }
    source.tags = [json.dumps(meta)]
    shared = {
        "source": source,
        "sheets": sheets,
        "extras": extras,
        "hover_div": hover_div,
        "details": details,
        "gallery": gallery,
        "view": view,
    }

    def js(body: str, **args) -> CustomJS:
        return CustomJS(args={**shared, **args}, code=_LIBRARY + body)

    colour_select.js_on_change(
        "value",
        js("M.recolour(this.value, renderer, bar, mappers);", renderer=renderer, bar=colour_bar, mappers=mappers),
    )
    filter_widgets = []
    for name in filters:
        spec = specs[name]
        if spec["kind"] == "bool":
            widget_ = CheckboxGroup(labels=[f"only {name}"], active=[], name=f"mx-filter-{name}")
        elif spec["kind"] in ("category", "text") and "names" in spec:
            widget_ = MultiChoice(title=name, options=spec["names"], value=[], width=150, name=f"mx-filter-{name}")
        elif spec["kind"] == "category":
            options = [str(v) for v in range(spec["low"], spec["high"] + 1)]
            widget_ = MultiChoice(title=name, options=options, value=[], width=150, name=f"mx-filter-{name}")
        else:
            widget_ = TextInput(title=f"{name} (a, b, ...)", value="", width=150, name=f"mx-filter-{name}")
        widget_.tags = [name]
        filter_widgets.append(widget_)
    refilter = js("M.refilter(widgets);", widgets=filter_widgets)
    for widget_ in filter_widgets:
        widget_.js_on_change("active" if isinstance(widget_, CheckboxGroup) else "value", refilter)

    find_inputs = [
        (
            Select(title=c, options=specs[c]["names"], value=specs[c]["names"][0], width=95, name=f"mx-find-{c}")
            if "names" in specs[c]
            else TextInput(title=c, value="", width=95, name=f"mx-find-{c}")
        )
        for c in id_columns
    ]
    find_button = Button(label="find", width=60, name="mx-find")
    find_button.js_on_click(js("M.find(inputs);", inputs=find_inputs))
    source.selected.js_on_change("indices", js("M.selected();"))
    hover = HoverTool(tooltips=None, renderers=[renderer], callback=js("M.hover(cb_data.index.indices);"))
    plot.add_tools(hover)
    download = Button(label="download selection (CSV)", width=200, name="mx-download")
    download.js_on_click(js("M.download();"))

    controls = row(colour_select, *filter_widgets, styles={"flex-wrap": "wrap", "align-items": "end"})
    panel = column(row(*find_inputs, find_button, styles={"align-items": "end"}), hover_div, details)
    layout = column(controls, row(plot, panel), download, gallery, name="mx-explorer")
    frame = frame.copy()
    return Explorer(frame, layout, source, widget)


#: The browser side, shared by every callback: decoding sprite sheets, details, gallery, filters.
_LIBRARY = r"""
const M = (function (source, sheets, extras, hover_div, details, gallery, view) {
  if (source._mx) return source._mx;
  const meta = JSON.parse(source.tags[0]), specs = meta.specs, n = source.data.x.length;
  const decoded = new Array(sheets.data.png.length).fill(null);
  function sheet(k) {
    if (!decoded[k]) { const im = new Image(); im.src = "data:image/png;base64," + sheets.data.png[k]; decoded[k] = im.decode().then(() => im); }
    return decoded[k];
  }
  const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  function value(name, i) {
    const s = specs[name], v = source.data[name][i];
    if (s.names) return s.names[v];
    if (s.kind === "float") return Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3)) : "NaN";
    return String(v);
  }
  async function thumb(i, scale) {
    const per = meta.tiles * meta.tiles, t = i % per, c = document.createElement("canvas"), im = await sheet(Math.floor(i / per));
    c.width = meta.w * scale; c.height = meta.h * scale;
    const g = c.getContext("2d"); g.imageSmoothingEnabled = false;
    g.drawImage(im, (t % meta.tiles) * meta.w, Math.floor(t / meta.tiles) * meta.h,
                meta.w, meta.h, 0, 0, c.width, c.height);
    return `<img class="mx-thumb" data-row="${i}" title="${esc(meta.ids.map(c => value(c, i)).join(" "))}" ` +
           `src="${c.toDataURL()}" width="${c.width}" height="${c.height}" style="border:1px solid #ddd;margin:1px">`;
  }
  function caption(i) { return meta.ids.map(c => esc(value(c, i))).join(" #"); }
  let writerRows = null;
  function sameWriter(i) {
    if (!meta.writer) return [];
    if (!writerRows) { writerRows = new Map(); const w = source.data[meta.writer];
      for (let j = 0; j < n; j++) { const k = w[j]; if (!writerRows.has(k)) writerRows.set(k, []); writerRows.get(k).push(j); } }
    return writerRows.get(source.data[meta.writer][i]).filter(j => j !== i);
  }
  const api = {
    hover: async function (indices) {
      if (!indices.length) return;
      const i = indices[0], image = await thumb(i, 3);
      hover_div.text = `<div class="mx-hover-row" data-row="${i}">${image}<br>` +
        ["label", ...meta.ids, meta.writer].filter((c, k, a) => c && specs[c] && a.indexOf(c) === k)
          .map(c => `${esc(c)}: ${esc(value(c, i))}`).join("<br>") + "</div>";
    },
    show: async function (i) {
      const k = extras.tags[0], nn = Array.from(extras.data.neighbours.slice(i * k, i * k + k));
      const writer = sameWriter(i).slice(0, 20), strip = rows => Promise.all(rows.map(j => thumb(j, 1))).then(t => t.join(""));
      const [big, nnImages, writerImages] = await Promise.all([thumb(i, 5), strip(nn), strip(writer)]);
      const rows = Object.keys(specs).map(c => `<tr><td>${esc(c)}</td><td data-column="${esc(c)}">${esc(value(c, i))}</td></tr>`).join("");
      details.text = `<div class="mx-detail" data-row="${i}"><b>${caption(i)}</b><br>${big}` +
        `<div class="mx-neighbours" data-rows="${nn.join(",")}"><b>${k} nearest in pixel space</b><br>${nnImages}</div>` +
        `<div class="mx-writer" data-rows="${writer.join(",")}"><b>same writer (${sameWriter(i).length} more)</b><br>${writerImages}</div>` +
        `<table style="font-size:11px">${rows}</table></div>`;
    },
    selected: async function () {
      const sel = source.selected.indices.slice().sort((a, b) => a - b);
      if (sel.length === 1) api.show(sel[0]);
      const thumbs = await Promise.all(sel.slice(0, meta.gallery).map(i => thumb(i, 1)));
      const counts = meta.counts.map(c => {
        const m = new Map(); sel.forEach(i => { const v = value(c, i); m.set(v, (m.get(v) || 0) + 1); });
        return `<b>${esc(c)}</b>: ` + Array.from(m.entries()).sort().map(([v, k]) => `${esc(v)} <span data-count="${esc(c)}=${esc(v)}">${k}</span>`).join(", ");
      }).join("<br>");
      gallery.text = `<div class="mx-selection" data-count="${sel.length}"><b>${sel.length.toLocaleString("en")} selected</b>` +
        (sel.length > meta.gallery ? ` (first ${meta.gallery} shown)` : "") + `<br>${counts}<br>` +
        thumbs.join("") + "</div>";
    },
    csv: function () {
      const sel = source.selected.indices.slice().sort((a, b) => a - b);
      return meta.ids.join(",") + "\n" + sel.map(i => meta.ids.map(c => value(c, i)).join(",")).join("\n") + "\n";
    },
    download: function () {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([api.csv()], {type: "text/csv"}));
      a.download = "selection.csv"; document.body.appendChild(a); a.click(); a.remove();
    },
    find: function (inputs) {
      const want = inputs.map(w => String(w.value).trim());
      for (let i = 0; i < n; i++) {
        if (meta.ids.every((c, k) => value(c, i) === want[k])) { source.selected.indices = [i]; return; }
      }
      details.text = `<div class="mx-detail" data-row="-1">no digit ${esc(want.join(" #"))}</div>`;
    },
    refilter: function (widgets) {
      const xs = source.data.x, ys = source.data.y, keep = Array.from(xs, (x, i) => Number.isFinite(x) && Number.isFinite(ys[i]));
      widgets.forEach(w => {
        const c = w.tags[0], s = specs[c], col = source.data[c];
        let test = null;
        if (s.kind === "bool") { if (w.active.length) test = v => v === 1; }
        else if (w.value !== undefined && w.value.length) {
          const wanted = new Set((typeof w.value === "string" ? w.value.split(",") : w.value).map(v => v.trim()).filter(v => v));
          if (wanted.size) test = s.names ? (v => wanted.has(s.names[v])) : (v => wanted.has(String(v)));
        }
        if (test) for (let i = 0; i < n; i++) if (keep[i] && !test(col[i])) keep[i] = false;
      });
      view.filter.booleans = keep;
      source.selected.indices = source.selected.indices.filter(i => keep[i]);
    },
    recolour: function (name, renderer, bar, mappers) {
      renderer.glyph.fill_color = {field: name, transform: mappers[name]};
      bar.color_mapper = mappers[name]; bar.title = name;
    },
  };
  source._mx = api;
  return api;
})(source, sheets, extras, hover_div, details, gallery, view);
"""
