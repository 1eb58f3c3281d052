"""The projections notebook's explorer of all 70,000 digits in headless Chromium, redraws counted.

The page: ``mnist_analysis.interactive.explorer`` of the standard UMAP map
(``embeddings.digit_map``) of all 70,000 digits with the projections notebook's own frame
(``interactive.explorer_frame`` of ``per_image.per_image_table``: provenance, measurements,
out-of-sample predictions, label quality) and the notebook's filters, saved as a standalone
page. The baseline, built and measured in the same run from the same inputs: the explorer as
it was at commit ``BASELINE_REVISION`` (``mnist_analysis/interactive.py`` read with ``git show``),
before issue 29.

A redraw is counted in the page, in Bokeh's own paint path: every call of the plot view's
``_paint_primary`` (the canvas layer with the points) and of ``_paint_overlays`` (the layer with
the box or lasso outline) is counted with its time, so an animation frame that draws nothing
is not counted. For each page, in headless Chromium (Debian's ``chromium``, software rendering:
``--disable-gpu``), ``runs`` fresh page loads, medians reported:

- **first render**: milliseconds from navigation start until Bokeh's document is idle and the
  map has painted;
- **panning**: a 3-second mouse drag with the pan tool: map redraws per second during the drag,
  the mouse moves the page accepted, and the milliseconds from the release until the last
  redraw (the full-detail map);
- **box select** and **lasso select**: a 3-second drag with the tool: outline redraws per second
  during the drag, and the milliseconds from the release until the gallery shows the count of
  the new selection;
- **colour by** and **find**: with a point selected, the milliseconds from changing "colour by"
  until the map has redrawn, and from pressing "find" until the details panel shows the digit;
- the page's size in bytes.

Targets (issue 29): >= 30 map redraws per second while panning; outline >= 30 redraws per
second while selecting; gallery and counts <= 300 ms after release; colour-by, find <= 300 ms;
first render <= 1.5 s; the 02 page <= 20 MB (here: the explorer's page alone; the 02 report adds
its figures).

Run: MNIST_ANALYSIS_DATA_DIR=/path/to/data python benchmarks/bench_explorer.py [runs]
[--table per_image.parquet] [--report-notebook 02_projections.ipynb] [--synthetic]

- the frame: by default ``per_image.per_image_table`` (cached; cold, it takes about 4 minutes on
  70,000 images in a fresh process, ``benchmarks/results/cache.json``); ``--table`` reads a
  table written by ``per_image.write_table`` (``mnist-analysis export``) instead, the same real
  columns without the wait; ``--synthetic`` fills the measurement, prediction and quality
  columns with seeded values of the same dtypes (the same work in the browser; values that mean
  nothing; the page's size differs a little).
- ``--report-notebook``: an executed projections notebook (a report build keeps
  ``02_projections.ipynb`` beside its page): its explorer output is replaced by this run's explorer
  and the page rendered with the reports' template, giving the 02 page's size with its figures.

First render waits for the points themselves: on the explorer's page, until its
``mx-points-painted`` timing mark (its first bitmap of the points). Redraws per mouse move are
recorded beside redraws per second: the page cannot redraw more often than the machine delivers
mouse moves (the plain page's rate, measured in the same run, is that ceiling).
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import target, write_result

import mnist_analysis as mx
from mnist_analysis import embeddings
from mnist_analysis.interactive import explorer, explorer_frame
from mnist_analysis.per_image import per_image_table, read_table

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DRAG_SECONDS = 3.0
#: The explorer before issue 29 (mnist_analysis/interactive.py at this commit): the baseline.
BASELINE_REVISION = "35f3dc274ba6f169446698d0e758a89ab1a60e5b"
#: The projections notebook's filters.
FILTERS = ["label", "split", "writer_group", "writer_id", "is_label_issue", "misclassified"]
VIEWPORT = {"width": 1400, "height": 1100}


def module_at(revision: str):
    """Import ``mnist_analysis/interactive.py`` as it was at ``revision`` (from git), under a private name."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{revision}:mnist_analysis/interactive.py"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # the package has moved its result cache since (the wings of issue 26); the baseline never uses it
    source = source.replace(
        "from mnist_analysis.cache import cached_call", "from mnist_analysis.caching.cache import cached_call"
    )
    path = Path(tempfile.mkdtemp()) / "old_interactive.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_interactive", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.cached_call = _uncached  # the cache keys only the package's own functions
    return module


def _uncached(_namespace, function, *args, cache=True):
    return function(*args)


FIND = """const find = name => { for (const d of (window.Bokeh ? Bokeh.documents : [])) {
  const m = d.get_model_by_name(name); if (m) return m; } return null; };"""

#: The page has rendered: Bokeh's document is idle, the map's view has finished, and (on a page whose
#: points the explorer draws itself) the explorer has painted the points (its timing mark).
READY = f"""() => {{ {FIND} const m = find('mx-map'); if (!m) return false;
  const v = Bokeh.index.find_one(m), drawn = !find('mx-library') ||
    performance.getEntriesByName('mx-points-painted').length > 0;
  return m.document.is_idle && v && v.has_finished() && drawn; }}"""

#: Counts the map's redraws: wraps the plot view's two paint methods (points; outlines).
COUNT_REDRAWS = f"""() => {{ {FIND} const v = Bokeh.index.find_one(find('mx-map'));
  window.__paints = {{primary: [], overlays: []}};
  for (const [name, key] of [['_paint_primary', 'primary'], ['_paint_overlays', 'overlays']]) {{
    const original = v[name].bind(v);
    v[name] = ctx => {{ original(ctx); window.__paints[key].push(performance.now()); }};
  }}
  const b = v.canvas_view.el.getBoundingClientRect(), f = v.frame.bbox;
  return {{x: b.x + f.left, y: b.y + f.top, width: f.width, height: f.height}}; }}"""


def count_between(page, key: str, start: float, end: float) -> int:
    return page.evaluate(f"([a, b]) => window.__paints.{key}.filter(t => t >= a && t <= b).length", [start, end])


TOOLS = {"pan": "PanTool", "box-select": "BoxSelectTool", "lasso-select": "LassoSelectTool"}


def choose_tool(page, name: str) -> None:
    """Make the map's ``name`` tool the active drag tool (clicking an active tool's icon would switch it off)."""
    page.evaluate(
        f"(type) => {{ {FIND} for (const t of find('mx-map').toolbar.tools) if (t.type === type) t.active = true; }}",
        TOOLS[name],
    )


def drag(page, box: dict, path) -> tuple[float, float, int]:
    """Press, then move along ``path(t)`` (fractions of the frame, t from 0 to 1) for DRAG_SECONDS.

    Returns the page's clock at the start and end of the drag, and the mouse moves the page accepted
    (each move waits for the page, so a busy page accepts fewer).
    """
    x0, y0 = path(0.0)
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    start_ms = page.evaluate("() => performance.now()")
    start, moves = time.perf_counter(), 0
    while (elapsed := time.perf_counter() - start) < DRAG_SECONDS:
        moves += 1
        x, y = path(elapsed / DRAG_SECONDS)
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    end_ms = page.evaluate("() => performance.now()")
    return start_ms, end_ms, moves


def pan_path(t: float) -> tuple[float, float]:
    """Three sweeps right and back, 0.2 of the frame wide."""
    phase = (3 * t) % 1
    return 0.5 + 0.4 * (phase if phase < 0.5 else 1 - phase), 0.5 + 0.05 * phase


def box_path(t: float) -> tuple[float, float]:
    """From (0.3, 0.3), the far corner circles twice around (0.55, 0.55), ending near (0.55, 0.7)."""
    if t == 0:
        return 0.3, 0.3
    return 0.55 + 0.15 * math.sin(4 * math.pi * t), 0.55 + 0.15 * math.cos(4 * math.pi * t)


def lasso_path(t: float) -> tuple[float, float]:
    """One turn of a widening circle around the middle of the map."""
    angle, radius = 2 * math.pi * t, 0.1 + 0.1 * t
    return 0.5 + radius * math.cos(angle), 0.5 + radius * math.sin(angle)


def selection_shown_ms(page, release_ms: float) -> float:
    """Milliseconds from ``release_ms`` until the gallery shows the count of the current selection."""
    page.wait_for_function(
        f"""() => {{ {FIND} const n = find('mx-map').renderers[0].data_source.selected.indices.length;
        return find('mx-gallery').text.includes(`data-count="${{n}}"`); }}""",
        timeout=120_000,
        polling="raf",
    )
    return page.evaluate("() => performance.now()") - release_ms


def settled_ms(page, release_ms: float, key: str = "primary") -> float:
    """Milliseconds from ``release_ms`` to the last redraw of layer ``key`` within 3 s of quiet."""
    page.wait_for_timeout(3000)
    last = page.evaluate(f"() => Math.max(0, ...window.__paints.{key})")
    return max(0.0, last - release_ms)


def measure_page(browser, path: Path) -> dict:
    page = browser.new_page(viewport=VIEWPORT)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load", timeout=180_000)
    page.wait_for_function(READY, timeout=180_000, polling="raf")
    result = {"first_render_ms": page.evaluate("() => performance.now()")}
    page.wait_for_timeout(500)
    box = page.evaluate(COUNT_REDRAWS)

    choose_tool(page, "pan")
    start, end, moves = drag(page, box, pan_path)
    page.mouse.up()
    release = page.evaluate("() => performance.now()")
    redraws = count_between(page, "primary", start, end)
    result["pan"] = {
        "redraws_per_s": 1000 * redraws / (end - start),
        "redraws_per_mouse_move": redraws / moves,
        "mouse_moves": moves,
        "full_detail_after_release_ms": settled_ms(page, release),
    }

    for tool, path_ in (("box-select", box_path), ("lasso-select", lasso_path)):
        choose_tool(page, tool)
        start, end, moves = drag(page, box, path_)
        page.mouse.up()
        release = page.evaluate("() => performance.now()")
        shown = selection_shown_ms(page, release)
        outlines = count_between(page, "overlays", start, end)
        result[tool.replace("-", "_")] = {
            "outline_redraws_per_s": 1000 * outlines / (end - start),
            "outline_redraws_per_mouse_move": outlines / moves,
            "map_redraws_per_s": 1000 * count_between(page, "primary", start, end) / (end - start),
            "mouse_moves": moves,
            "gallery_after_release_ms": shown,
        }
        page.wait_for_timeout(1000)

    # colour by, with a selection present: until the map has redrawn
    before = page.evaluate("() => window.__paints.primary.length")
    start = page.evaluate(f"() => {{ {FIND} const t = performance.now(); find('mx-colour').value = 'ink'; return t; }}")
    page.wait_for_function(f"() => window.__paints.primary.length > {before}", timeout=60_000, polling="raf")
    result["colour_by_ms"] = page.evaluate("() => Math.max(...window.__paints.primary)") - start

    # find a digit: until the details panel shows it
    page.evaluate(f"() => {{ {FIND} find('mx-find-split').value = 'test'; find('mx-find-index').value = '1234'; }}")
    start = page.evaluate("() => performance.now()")
    page.get_by_role("button", name="find", exact=True).click()
    page.wait_for_function(
        f'() => {{ {FIND} return /mx-detail" data-row="[0-9]+"/.test(find(\'mx-details\').text); }}',
        timeout=60_000,
        polling="raf",
    )
    result["find_ms"] = page.evaluate("() => performance.now()") - start
    assert not errors, errors
    page.close()
    return result


def _dig(result: dict, *keys):
    for key in keys:
        result = result[key]
    return result


def plain_page_moves(browser) -> float:
    """Mouse moves per second that an empty page accepts during a drag: the machine's ceiling in this run."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_content("<!DOCTYPE html><html><body style='margin:0'><canvas width=600 height=600></canvas></body></html>")
    start, end, moves = drag(page, {"x": 0, "y": 0, "width": 600, "height": 600}, pan_path)
    page.mouse.up()
    page.close()
    return 1000 * moves / (end - start)


def medians(runs: list[dict]) -> dict:
    """Median of every number over the runs, with the runs' values beside it."""
    out = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = medians([r[key] for r in runs])
        else:
            values = [r[key] for r in runs]
            out[key] = {"median": statistics.median(values), "all": values}
    return out


def synthetic_table(frame, seed: int = 0):
    """The per-image table's explorer columns with their dtypes, filled with seeded values (see ``--synthetic``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n, labels = len(frame), frame["label"].to_numpy()
    wrong = lambda share: np.where(rng.random(n) < share, rng.integers(0, 10, n), labels)  # noqa: E731
    table = frame.reset_index(drop=True).assign(
        ink=rng.gamma(4, 25, n),
        slant_deg=rng.normal(0, 12, n),
        thickness=rng.gamma(9, 0.3, n),
        holes=rng.integers(0, 3, n),
        suggested_label=wrong(0.01),
        label_quality=rng.beta(8, 1, n),
        is_label_issue=rng.random(n) < 0.001,
        outlier_score=rng.gamma(2, 0.5, n),
        **{f"predicted_{m}": wrong(share) for m, share in [("a", 0.02), ("b", 0.03), ("c", 0.05), ("d", 0.08)]},
    )
    # the rank makes the explorer's review panel (its list is read from the table, not shipped per point)
    return table.assign(label_issue_rank=table["label_quality"].rank(method="first").astype(np.int64))


def build_pages(folder: Path, synthetic: bool, table_path: Path | None = None) -> dict:
    frame = mx.load_frame()
    images = mx.load_images("all")
    coords = embeddings.digit_map(images, seed=0)
    if synthetic:
        table, described = synthetic_table(frame), "synthetic: the per-image table's explorer columns and dtypes"
    elif table_path is not None:
        table, described = read_table(table_path), f"per_image.read_table({table_path.name}), the real columns"
    else:
        table, described = per_image_table(frame, images, seed=0), "per_image.per_image_table (the notebook's own)"
    shown, _, _ = explorer_frame(table)
    title = f"UMAP of {len(images):,} digits"
    builds = {}
    start = time.perf_counter()
    ours = explorer(shown, coords, images, title=title, seed=0, filters=FILTERS, widget=False, review=table)
    ours.save(folder / "ours.html")
    builds["ours"] = time.perf_counter() - start
    old = module_at(BASELINE_REVISION)
    start = time.perf_counter()
    old.explorer(shown, coords, images, title=title, seed=0, filters=FILTERS, widget=False).save(
        folder / "baseline.html"
    )
    builds["baseline"] = time.perf_counter() - start
    return {"points": len(shown), "columns": list(shown.columns), "frame": described, "python_build_s": builds}, ours


def report_page_bytes(executed_notebook: Path, ours, folder: Path) -> dict:
    """The projections report's page as the report build renders it, with this run's explorer in it.

    ``executed_notebook`` is an executed ``02_projections.ipynb`` (a report build keeps one beside
    each page); its explorer output is replaced by ``ours`` in static form and the notebook is
    rendered with the reports' own template, as ``build.reports.render_notebook`` does.
    """
    import nbformat
    from nbconvert import HTMLExporter

    from mnist_analysis.build.reports import TEMPLATES

    node = nbformat.read(executed_notebook, as_version=4)
    node.metadata.pop("widgets", None)
    cells = [c for c in node.cells if c.cell_type == "code" and "explorer(shown" in c.source]
    if len(cells) != 1:
        raise SystemExit(f"{executed_notebook}: expected one cell calling explorer(shown, ...), found {len(cells)}")
    markdown = [o for o in cells[0].outputs if "text/markdown" in o.get("data", {})]
    html = nbformat.v4.new_output("display_data", data={"text/html": ours.html(), "text/plain": repr(ours)})
    cells[0].outputs = [html, *markdown]
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="mnist_report", embed_images=True)
    body, _ = exporter.from_notebook_node(node)
    (folder / "02_projections.html").write_text(body, encoding="utf-8")
    parameters = node.metadata.get("papermill", {}).get("parameters", {})
    return {"bytes": len(body.encode("utf-8")), "notebook": executed_notebook.name, "parameters": parameters}


def main(runs: int = 3, synthetic: bool = False, table: Path | None = None, report_notebook: Path | None = None):
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp())
    built, ours_explorer = build_pages(folder, synthetic, table)
    if report_notebook is not None:
        built["report_02_page"] = report_page_bytes(report_notebook, ours_explorer, folder)
    measured = {name: [] for name in ("ours", "baseline")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        plain = []
        for _ in range(runs):  # alternate the pages, so that both see the same machine
            plain.append(plain_page_moves(browser))
            for name in measured:
                measured[name].append(measure_page(browser, folder / f"{name}.html"))
        browser.close()
    result = {
        **built,
        "baseline_revision": BASELINE_REVISION,
        "runs": runs,
        "drag_seconds": DRAG_SECONDS,
        "chromium_args": CHROMIUM_ARGS,
        # depends_on: the package code this process imported (the explorer, the baseline page's, the
        # report template's) and notebook 02, whose executed copy gives the 02 page's size.
        "notebooks_run": ["notebooks/02_projections.ipynb"],
        "plain_page_moves_per_s": {"median": statistics.median(plain), "all": plain},
    }
    for name, values in measured.items():
        result[name] = {"page_bytes": (folder / f"{name}.html").stat().st_size, **medians(values), "runs": values}
    ours = result["ours"]
    median = lambda *keys: _dig(ours, *keys)["median"]  # noqa: E731
    result["targets"] = [
        target("map redraws per second while panning", median("pan", "redraws_per_s"), at_least=30, unit="/s"),
        target(
            "lasso outline redraws per second", median("lasso_select", "outline_redraws_per_s"), at_least=30, unit="/s"
        ),
        target("box outline redraws per second", median("box_select", "outline_redraws_per_s"), at_least=30, unit="/s"),
        target(
            "lasso gallery and counts after release",
            median("lasso_select", "gallery_after_release_ms"),
            at_most=300,
            unit="ms",
        ),
        target(
            "box gallery and counts after release",
            median("box_select", "gallery_after_release_ms"),
            at_most=300,
            unit="ms",
        ),
        target(
            "last map redraw after a pan's release",
            median("pan", "full_detail_after_release_ms"),
            at_most=300,
            unit="ms",
        ),
        target("colour by, with a selection", median("colour_by_ms"), at_most=300, unit="ms"),
        target("find a digit", median("find_ms"), at_most=300, unit="ms"),
        target("first render", median("first_render_ms"), at_most=1500, unit="ms"),
        target(
            "explorer page size",
            ours["page_bytes"] / 1e6,
            at_most=20,
            unit="MB",
            note=f"the explorer's page alone, frame: {built['frame']}",
        ),
        *(
            [
                target(
                    "the 02 report's page with this explorer",
                    built["report_02_page"]["bytes"] / 1e6,
                    at_most=20,
                    unit="MB",
                    note=f"figures from {built['report_02_page']['notebook']} "
                    f"(parameters {built['report_02_page']['parameters']})",
                )
            ]
            if "report_02_page" in built
            else []
        ),
        target(
            "baseline: map redraws per second while panning",
            result["baseline"]["pan"]["redraws_per_s"]["median"],
            unit="/s",
        ),
        target(
            "baseline: lasso outline redraws per second",
            result["baseline"]["lasso_select"]["outline_redraws_per_s"]["median"],
            unit="/s",
        ),
        target(
            "plain page: mouse moves per second during a drag", result["plain_page_moves_per_s"]["median"], unit="/s"
        ),
    ]
    path = write_result("explorer", result)
    for name in measured:
        r = result[name]
        print(
            f"{name}: {r['page_bytes'] / 1e6:.1f} MB, first render {r['first_render_ms']['median']:.0f} ms, "
            f"pan {r['pan']['redraws_per_s']['median']:.1f} redraws/s "
            f"(full detail {r['pan']['full_detail_after_release_ms']['median']:.0f} ms after release), "
            f"box outline {r['box_select']['outline_redraws_per_s']['median']:.1f}/s, "
            f"lasso outline {r['lasso_select']['outline_redraws_per_s']['median']:.1f}/s, "
            f"lasso gallery {r['lasso_select']['gallery_after_release_ms']['median']:.0f} ms after release, "
            f"colour by {r['colour_by_ms']['median']:.0f} ms, find {r['find_ms']['median']:.0f} ms"
        )
    print(f"-> {path}")


def parse_arguments(argv: list[str]) -> dict:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=3, help="page loads per page (default 3)")
    parser.add_argument("--synthetic", action="store_true", help="seeded stand-ins for the table's columns")
    parser.add_argument("--table", type=Path, help="a per-image table written by per_image.write_table (Parquet)")
    parser.add_argument("--report-notebook", type=Path, help="an executed 02_projections.ipynb: measure its page")
    arguments = parser.parse_args(argv)
    for path in (arguments.table, arguments.report_notebook):
        if path is not None and not path.is_file():
            parser.error(f"{path}: expected a file, found none")
    return vars(arguments)


if __name__ == "__main__":
    main(**parse_arguments(sys.argv[1:]))
