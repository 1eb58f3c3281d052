"""An offline interactive scatter of an embedding: pan, zoom, and the digit under the mouse.

:func:`interactive_scatter` writes one self-contained block of HTML (a canvas and a small
inline script, no library and nothing fetched from the network) that renders in Jupyter
and inside the HTML reports made with nbconvert. The digit images travel as PNG sprite
sheets inside the page, so 20,000 points with their images weigh a few megabytes.

Drag to pan, scroll to zoom, double-click to reset; hovering a point shows its image and
its fields (for example label, split and writer group); a menu picks the field that
colours the points.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from dataclasses import dataclass

import numpy as np

from mnist_analysis.embeddings import sample_rows

#: Tiles per row and per column of one PNG sprite sheet (128 x 28 = 3584 pixels a side).
ATLAS_TILES = 128

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_figure_numbers = itertools.count()


@dataclass(frozen=True, repr=False)
class InteractiveFigure:
    """Self-contained HTML of an interactive scatter; Jupyter displays it as HTML."""

    html: str  #: the ``<div>`` with its canvas, data and inline script
    rows: np.ndarray  #: positions (in the input arrays) of the points drawn, in drawing order

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # short: the plain-text twin of the HTML output stays small
        return f"InteractiveFigure(points={len(self.rows)}, html={len(self.html) / 1e6:.1f} MB)"

    def save(self, path) -> None:
        """Write a standalone HTML page holding the figure (atomically: never half a page)."""
        from mnist_analysis.idx import atomic_output

        with atomic_output(path) as temporary:
            temporary.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head>"
                                 f"<body>{self.html}</body></html>", encoding="utf-8")


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def sprite_sheets(images, tiles: int = ATLAS_TILES) -> list[bytes]:
    """Pack ``(n, h, w)`` uint8 images into PNG sheets of ``tiles x tiles`` tiles, row-major.

    Image ``i`` is on sheet ``i // tiles**2``, at tile ``i % tiles**2`` counted left to
    right, top to bottom. Ink is drawn dark on white (pixel value ``255 - image``).

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
    per_sheet = tiles * tiles
    sheets = []
    for start in range(0, n, per_sheet):
        chunk = images[start:start + per_sheet]
        rows = -(-len(chunk) // tiles)
        canvas = np.full((rows * h, tiles * w), 255, dtype=np.uint8)
        for i, image in enumerate(chunk):
            r, c = divmod(i, tiles)
            canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = 255 - image
        buffer = io.BytesIO()
        Image.fromarray(canvas, mode="L").save(buffer, format="PNG", compress_level=6)
        sheets.append(buffer.getvalue())
    return sheets


def _encode_field(name: str, values, n: int) -> dict:
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"fields[{name!r}]: expected one value per point, shape ({n},), found {values.shape}")
    names, codes = np.unique(values.astype(str), return_inverse=True)
    if len(names) > 255:
        raise ValueError(f"fields[{name!r}]: expected at most 255 distinct values, found {len(names)}")
    return {"name": name, "names": names.tolist(), "codes": _b64(codes.astype(np.uint8))}


def interactive_scatter(embedding, images, fields: dict, *, colour_by: str | None = None,
                        max_points: int | None = 20_000, seed: int = 0, title: str = "",
                        width: int = 760, height: int = 560, point_size: float = 3.0) -> InteractiveFigure:
    """Return an offline interactive 2-D scatter with the digit image shown on hover.

    Parameters
    ----------
    embedding : array (n, 2)
        Point coordinates.
    images : uint8 array (n, h, w)
        The image of each point, shown on hover.
    fields : dict of name -> array (n,)
        Categorical values per point (e.g. ``{"label": ..., "split": ..., "writer group": ...}``),
        listed on hover; each can colour the points.
    colour_by : str, optional
        The field that colours the points at first (default: the first field).
    max_points : int or None
        Draw a seeded random sample of this many points (``None``: all). Each point adds
        about 150 to 250 bytes of PNG, so 20,000 points make a 3-5 MB page.
    seed : int
        Picks the sample.
    title : str
        Heading above the canvas.
    width, height : int
        Canvas size in CSS pixels.
    point_size : float
        Side of each point's square in CSS pixels.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> figure = interactive_scatter(rng.normal(size=(5, 2)), np.zeros((5, 28, 28), np.uint8),
    ...                              {"label": [0, 1, 0, 1, 1]})
    >>> sorted(figure.rows.tolist()), "://" in figure.html
    ([0, 1, 2, 3, 4], False)
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    if embedding.ndim != 2 or embedding.shape[1] != 2:
        raise ValueError(f"embedding: expected shape (n, 2), found {embedding.shape}")
    n = len(embedding)
    images = np.asarray(images)
    if images.ndim != 3 or len(images) != n or images.dtype != np.uint8:
        raise ValueError(f"images: expected uint8 (n={n}, height, width), found {images.dtype} {images.shape}")
    if not isinstance(fields, dict) or not fields:
        raise ValueError(f"fields: expected a non-empty dict of name -> values, found {fields!r}")
    for name, values in fields.items():
        if np.shape(values) != (n,):
            raise ValueError(f"fields[{name!r}]: expected one value per point, shape ({n},), found {np.shape(values)}")
    colour_by = next(iter(fields)) if colour_by is None else colour_by
    if colour_by not in fields:
        raise ValueError(f"colour_by: expected one of {list(fields)}, found {colour_by!r}")
    if n == 0:
        raise ValueError("embedding: expected at least one point, found 0")
    rows = sample_rows(n, max_points, seed) if n > 1 else np.arange(n)
    shown = embedding[rows]
    finite = np.isfinite(shown).all(axis=1)
    rows, shown = rows[finite], shown[finite]
    if len(rows) == 0:
        raise ValueError("embedding: expected finite coordinates, found none")
    # draw in a seeded random order so that no class is systematically painted last
    order = np.random.default_rng(seed).permutation(len(rows))
    rows, shown = rows[order], shown[order]

    payload = {
        "title": str(title),
        "x": _b64(shown[:, 0].astype("<f4")),
        "y": _b64(shown[:, 1].astype("<f4")),
        "rows": _b64(rows.astype("<u4")),
        "fields": [_encode_field(str(name), np.asarray(values)[rows], len(rows)) for name, values in fields.items()],
        "colour_by": str(colour_by),
        "palette": _PALETTE,
        "tile_height": int(images.shape[1]), "tile_width": int(images.shape[2]), "tiles": ATLAS_TILES,
        "sheets": [base64.b64encode(sheet).decode("ascii") for sheet in sprite_sheets(images[rows])],
        "width": int(width), "height": int(height), "point_size": float(point_size),
    }
    figure_id = f"mx-scatter-{next(_figure_numbers)}-{hashlib.sha1(payload['x'].encode()).hexdigest()[:8]}"
    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    html = (
        f'<div id="{figure_id}" class="mx-scatter" style="font:12px sans-serif;position:relative;'
        f'width:{int(width)}px">'
        f'<script type="application/json" class="mx-scatter-data">{data}</script>'
        f"<script>{_SCRIPT.replace('__FIGURE_ID__', figure_id)}</script></div>"
    )
    return InteractiveFigure(html=html, rows=rows)


_SCRIPT = r"""
(function () {
  var root = document.getElementById("__FIGURE_ID__");
  var d = JSON.parse(root.querySelector(".mx-scatter-data").textContent);
  function bytes(s) { var b = atob(s), a = new Uint8Array(b.length); for (var i = 0; i < b.length; i++) a[i] = b.charCodeAt(i); return a; }
  var xs = new Float32Array(bytes(d.x).buffer), ys = new Float32Array(bytes(d.y).buffer);
  var rows = new Uint32Array(bytes(d.rows).buffer), n = xs.length;
  d.fields.forEach(function (f) { f.values = bytes(f.codes); });
  var sheets = d.sheets.map(function (s) { var im = new Image(); im.src = "data:image/png;base64," + s; return im; });
  var W = d.width, H = d.height, dpr = window.devicePixelRatio || 1;
  var head = document.createElement("div");
  head.innerHTML = "<b></b> &nbsp; colour by <select></select> &nbsp; <span style='color:#666'>drag: pan, wheel: zoom, double-click: reset</span>";
  head.querySelector("b").textContent = d.title;
  var select = head.querySelector("select");
  d.fields.forEach(function (f) { var o = document.createElement("option"); o.textContent = f.name; o.value = f.name; select.appendChild(o); });
  select.value = d.colour_by;
  var canvas = document.createElement("canvas");
  canvas.width = W * dpr; canvas.height = H * dpr;
  canvas.style.cssText = "width:" + W + "px;height:" + H + "px;border:1px solid #ccc;cursor:crosshair;display:block";
  var legend = document.createElement("div");
  var tip = document.createElement("div");
  tip.style.cssText = "position:absolute;display:none;pointer-events:none;background:#fff;border:1px solid #888;padding:4px;box-shadow:1px 1px 4px #888";
  var tipCanvas = document.createElement("canvas"); tipCanvas.width = 84; tipCanvas.height = 84;
  var tipText = document.createElement("div");
  tip.appendChild(tipCanvas); tip.appendChild(tipText);
  root.appendChild(head); root.appendChild(canvas); root.appendChild(legend); root.appendChild(tip);
  var ctx = canvas.getContext("2d");
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (var i = 0; i < n; i++) { minX = Math.min(minX, xs[i]); maxX = Math.max(maxX, xs[i]); minY = Math.min(minY, ys[i]); maxY = Math.max(maxY, ys[i]); }
  var view;
  function reset() {
    var s = 0.92 * Math.min(W / Math.max(maxX - minX, 1e-9), H / Math.max(maxY - minY, 1e-9));
    view = { s: s, tx: W / 2 - s * (minX + maxX) / 2, ty: H / 2 + s * (minY + maxY) / 2 };
  }
  function sx(i) { return view.s * xs[i] + view.tx; }
  function sy(i) { return -view.s * ys[i] + view.ty; }
  function field() { for (var k = 0; k < d.fields.length; k++) if (d.fields[k].name === select.value) return d.fields[k]; }
  function colour(c) { return c < d.palette.length ? d.palette[c] : "hsl(" + (c * 137.5 % 360) + ",60%,45%)"; }
  function draw() {
    var f = field(), p = d.point_size;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    ctx.globalAlpha = 0.75;
    for (var i = 0; i < n; i++) {
      var x = sx(i), y = sy(i);
      if (x < -p || y < -p || x > W + p || y > H + p) continue;
      ctx.fillStyle = colour(f.values[i]);
      ctx.fillRect(x - p / 2, y - p / 2, p, p);
    }
    ctx.globalAlpha = 1;
    legend.innerHTML = "";
    f.names.forEach(function (name, c) {
      var item = document.createElement("span");
      item.style.cssText = "margin-right:10px;white-space:nowrap";
      item.innerHTML = "<span style='display:inline-block;width:10px;height:10px;margin-right:3px;background:" + colour(c) + "'></span>";
      item.appendChild(document.createTextNode(name));
      legend.appendChild(item);
    });
  }
  function nearest(mx, my) {
    var best = -1, bestD = 64;
    for (var i = 0; i < n; i++) { var dx = sx(i) - mx, dy = sy(i) - my, dd = dx * dx + dy * dy; if (dd < bestD) { bestD = dd; best = i; } }
    return best;
  }
  function showTip(i, mx, my) {
    if (i < 0) { tip.style.display = "none"; return; }
    var per = d.tiles * d.tiles, sheet = sheets[Math.floor(i / per)], t = i % per;
    var tc = tipCanvas.getContext("2d");
    tc.imageSmoothingEnabled = false;
    tc.fillStyle = "#fff"; tc.fillRect(0, 0, 84, 84);
    if (sheet.complete) tc.drawImage(sheet, (t % d.tiles) * d.tile_width, Math.floor(t / d.tiles) * d.tile_height, d.tile_width, d.tile_height, 0, 0, 84, 84);
    var lines = ["row " + rows[i]];
    d.fields.forEach(function (f) { lines.push(f.name + ": " + f.names[f.values[i]]); });
    tipText.textContent = ""; lines.forEach(function (l) { var e = document.createElement("div"); e.textContent = l; tipText.appendChild(e); });
    tip.style.left = Math.min(mx + 14, W - 110) + "px";
    tip.style.top = (canvas.offsetTop + Math.min(my + 14, H - 150)) + "px";
    tip.style.display = "block";
  }
  var drag = null;
  function pos(e) { var r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  canvas.addEventListener("mousedown", function (e) { var p = pos(e); drag = [p[0], p[1], view.tx, view.ty]; });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("mousemove", function (e) {
    var p = pos(e);
    if (drag) { view.tx = drag[2] + p[0] - drag[0]; view.ty = drag[3] + p[1] - drag[1]; draw(); tip.style.display = "none"; return; }
    showTip(nearest(p[0], p[1]), p[0], p[1]);
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = pos(e), k = Math.exp(-e.deltaY * 0.0015);
    view.tx = p[0] - k * (p[0] - view.tx); view.ty = p[1] - k * (p[1] - view.ty); view.s *= k;
    draw();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { reset(); draw(); });
  select.addEventListener("change", draw);
  reset(); draw();
})();
"""
