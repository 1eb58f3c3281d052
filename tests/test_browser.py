"""The quick reports opened in headless Chromium, as a reader would open them.

Checks the index and every report: no JavaScript error in the console, every image loaded,
and the explorer of the projections report answers a hover and a click. A small explorer
page, made with the reports' own nbconvert template, checks hover, click, filters, find, box
selection and the CSV download against Python. Screenshots go to ``test-artifacts/``. Needs
Debian's ``chromium`` (``make test`` installs it); under CI a missing browser fails the test
instead of skipping it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chromium import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    FIND,
    bokeh,
    box_select,
    chromium_executable,
    screen_positions,
    wait_for_explorer,
)

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, path: Path):
    """Open ``path``; return the page and the console errors and failed requests seen while loading."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    return page, problems


def isolated_row(page, away: float = 9.0, among=None) -> int:
    """A shown point inside the map with no other point within ``away`` pixels (the mouse hits only it).

    ``among``: the rows to choose from (default: every row).
    """
    import numpy as np

    xy, shown = screen_positions(page)
    frame = bokeh(
        page,
        "const v = Bokeh.index.find_one(find('mx-map')), b = v.canvas_view.el.getBoundingClientRect();"
        "return [b.x + v.frame.bbox.left, b.y + v.frame.bbox.top, b.x + v.frame.bbox.right, b.y + v.frame.bbox.bottom];",
    )
    inside = (
        shown
        & (xy[:, 0] > frame[0] + 20)
        & (xy[:, 0] < frame[2] - 20)
        & (xy[:, 1] > frame[1] + 20)
        & (xy[:, 1] < frame[3] - 20)
    )
    if among is not None:
        inside &= np.isin(np.arange(len(inside)), list(among))
    for row in np.flatnonzero(inside):
        distance = np.hypot(*(xy - xy[row]).T)
        distance[row] = np.inf
        if distance.min() > away:
            return int(row)
    raise AssertionError("no isolated point to hover")


def _div(page, name: str) -> str:
    return bokeh(page, "return find(arg).text;", name)


def hover(page, row: int) -> dict:
    """Move the mouse onto ``row``'s point; return the hover panel's row, text and image."""
    import re

    xy, _ = screen_positions(page)
    page.mouse.move(xy[row, 0] + 30, xy[row, 1] + 30)
    page.mouse.move(xy[row, 0], xy[row, 1], steps=4)
    page.wait_for_function(
        f"() => {{ {FIND} return find('mx-hover').text.includes('data-row=\"{row}\"') }}", timeout=5000
    )
    html = _div(page, "mx-hover")
    return {
        "row": int(re.search(r'mx-hover-row" data-row="(\d+)', html).group(1)),
        "text": re.sub(r"<[^>]+>", " ", html),
        "src": re.search(r'src="([^"]+)"', html).group(1),
    }


def click(page, row: int) -> dict:
    """Click ``row``'s point; return the details panel's row, neighbours and same-writer rows."""
    import re

    xy, _ = screen_positions(page)
    page.mouse.click(xy[row, 0], xy[row, 1])
    page.wait_for_function(
        f"() => {{ {FIND} return find('mx-details').text.includes('mx-detail\" data-row=\"{row}\"') }}", timeout=5000
    )
    html = _div(page, "mx-details")

    def rows(kind):
        text = re.search(rf'mx-{kind}" data-rows="([\d,]*)"', html).group(1)
        return [int(v) for v in text.split(",") if v]

    return {
        "row": int(re.search(r'mx-detail" data-row="(-?\d+)', html).group(1)),
        "html": html,
        "neighbours": rows("neighbours"),
        "writer": rows("writer"),
    }


def thumbnail(src: str):
    """A thumbnail's data URL as a greyscale array (one value per image pixel)."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L")).astype(int)


def report_pages(quick_reports):
    results, reports = quick_reports
    return [reports / "index.html"] + [r.html for r in results]


@pytest.mark.realdata
def test_every_page_loads_without_errors_and_with_every_image(browser, quick_reports):
    ARTIFACTS.mkdir(exist_ok=True)
    for path in report_pages(quick_reports):
        page, problems = open_page(browser, path)
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.alt || i.src.slice(0, 40), i.complete && i.naturalWidth > 0])"
        )
        assert problems == [], f"{path.name}: {problems}"
        assert images, f"{path.name} shows no image"
        assert [alt for alt, ok in images if not ok] == [], f"{path.name}: images that did not load"
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"), full_page=True)
        page.close()


@pytest.mark.realdata
def test_report_pages_have_contents_and_a_working_hide_code_toggle(browser, quick_reports):
    _, reports = quick_reports
    page, _ = open_page(browser, sorted(reports.glob("0*.html"))[0])
    assert page.locator("nav.mx-toc li").count() >= 2
    code = page.locator(".jp-CodeCell .jp-Cell-inputWrapper").first
    assert code.is_visible()
    page.check("#mx-hide-code")
    assert not code.is_visible()
    page.close()


@pytest.mark.realdata
def test_the_projections_report_explorer_answers_a_hover_and_a_click(browser, quick_reports):
    _, reports = quick_reports
    pages = [p for p in sorted(reports.glob("*.html")) if "mx-explorer" in p.read_text()]
    assert pages, "no report holds the explorer"
    page, problems = open_page(browser, pages[0])
    page.wait_for_function(FIND + "() => find('mx-map') !== null")
    n = page.evaluate(FIND + "() => find('mx-map').renderers[0].data_source.data.x.length")
    assert n == 2000, "the quick build's projections report should draw every sampled digit"
    row = isolated_row(page)
    page.locator(".bk-Canvas").first.scroll_into_view_if_needed()
    hovered = hover(page, row)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer-hover.png"))
    assert hovered["row"] == row
    assert all(word in hovered["text"] for word in ("label", "split", "writer")), hovered["text"]
    assert (thumbnail(hovered["src"]) < 128).sum() > 20, "the hover shows no digit image"
    details = click(page, row)
    assert details["row"] == row
    assert len(details["neighbours"]) == 10
    items = page.locator(".mx-review-item")
    items.first.wait_for(state="visible", timeout=10_000)
    assert items.count() == 100, "the report's explorer should list the top 100 test candidates for review"
    assert problems == []
    page.close()


# --- a small explorer page, made the way the reports are made -------------------------------


@pytest.fixture(scope="module")
def small_explorer(tmp_path_factory):
    """An explorer of 400 synthetic digits in an nbconvert page: ``(path, frame, coords, images, neighbours)``."""
    import numpy as np
    import pandas as pd

    from mnist_analysis.interactive import explorer, pixel_neighbours

    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "split": np.where(np.arange(n) < 300, "train", "test"),
            "index": np.r_[np.arange(300), np.arange(100)] * 3,
            "label": rng.integers(0, 10, n),
            "writer_id": rng.integers(0, 25, n),
            "writer_group": rng.choice(["census", "student"], n),
            "ink": rng.gamma(4, 25, n),
            "is_label_issue": rng.random(n) < 0.3,
        }
    )
    coords = rng.normal(size=(n, 2)) * [3, 2]
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    neighbours = pixel_neighbours(images, 10, cache=False)
    ex = explorer(frame, coords, images, neighbours=neighbours, widget=False, title="small explorer")
    path = report_page(ex, tmp_path_factory.mktemp("explorer") / "explorer.html")
    return path, frame, coords, images, neighbours


def report_page(ex, path: Path) -> Path:
    """Write the explorer ``ex`` as the output of a notebook cell, rendered with the reports' nbconvert template."""
    import nbformat
    from nbconvert import HTMLExporter

    from mnist_analysis.build.reports import TEMPLATES

    node = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("explorer(frame, coords, images)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=ex._repr_mimebundle_())]
    node.cells = [nbformat.v4.new_markdown_cell("# Explorer test page"), cell]
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="mnist_report", embed_images=True)
    path.write_text(exporter.from_notebook_node(node)[0], encoding="utf-8")
    return path


@pytest.fixture
def explorer_page(browser, small_explorer):
    page, problems = open_page(browser, small_explorer[0])
    wait_for_explorer(page)
    yield page
    page.close()
    assert problems == [], problems


def test_hover_shows_the_digit_under_the_mouse(explorer_page, small_explorer):
    import numpy as np

    _, frame, _, images, _ = small_explorer
    row = isolated_row(explorer_page)
    shown = hover(explorer_page, row)
    assert shown["row"] == row
    assert f"split: {frame.split[row]}" in shown["text"]
    assert f"index: {frame['index'][row]}" in shown["text"]
    image = thumbnail(shown["src"])[::3, ::3]  # drawn 3x, pixel for pixel
    np.testing.assert_array_equal(image, 255 - 17 * np.rint(images[row] / 17).astype(int))


def test_click_shows_the_row_its_neighbours_and_its_writer(explorer_page, small_explorer):
    _, frame, _, _, neighbours = small_explorer
    row = isolated_row(explorer_page)
    details = click(explorer_page, row)
    assert details["row"] == row
    assert details["neighbours"] == neighbours[row].tolist()
    same_writer = [i for i in frame.index[frame.writer_id == frame.writer_id[row]] if i != row]
    assert details["writer"] == same_writer[:20]
    assert (
        f'data-column="ink">{frame.ink[row]:.3g}<' in details["html"]
        or f'data-column="ink">{frame.ink[row]:.1f}<' in details["html"]
    )
    explorer_page.locator(".mx-detail").wait_for(state="visible")  # the panel is on screen, not only in the model


def test_find_by_split_and_index(explorer_page, small_explorer):
    _, frame, _, _, _ = small_explorer
    bokeh(explorer_page, "find('mx-find-split').value = 'test'; find('mx-find-index').value = '60';")
    explorer_page.get_by_role("button", name="find").click()
    explorer_page.wait_for_function(f"() => {{ {FIND} return find('mx-details').text.includes('mx-detail') }}")
    expected = int(frame.index[(frame.split == "test") & (frame["index"] == 60)][0])
    assert click_free_details_row(explorer_page) == expected
    bokeh(explorer_page, "find('mx-find-index').value = '61';")  # no test digit 61: index steps by 3
    explorer_page.get_by_role("button", name="find").click()
    explorer_page.wait_for_function(f"() => {{ {FIND} return find('mx-details').text.includes('data-row=\"-1\"') }}")


def click_free_details_row(page) -> int:
    import re

    return int(re.search(r'mx-detail" data-row="(-?\d+)', _div(page, "mx-details")).group(1))


def test_box_selection_lists_the_rows_in_the_box_and_downloads_them(explorer_page, small_explorer, tmp_path):
    import io
    import re

    import pandas as pd

    from mnist_analysis.interactive import GALLERY_SIZE

    _, frame, _, _, _ = small_explorer
    expected = box_select(explorer_page)
    assert 20 < len(expected) < len(frame)
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-gallery').text.includes('data-count=\"{len(expected)}\"') }}"
    )
    assert (
        sorted(bokeh(explorer_page, "return Array.from(find('mx-map').renderers[0].data_source.selected.indices);"))
        == expected.tolist()
    )
    gallery = _div(explorer_page, "mx-gallery")
    for label, count in frame.label[expected].value_counts().items():
        assert f'data-count="label={label}">{count}<' in gallery
    shown_rows = [int(v) for v in re.findall(r'mx-thumb" data-row="(\d+)"', gallery)]
    assert shown_rows == expected[:GALLERY_SIZE].tolist()
    with explorer_page.expect_download() as download:
        explorer_page.get_by_role("button", name="download selection (CSV)").click()
    csv = pd.read_csv(io.StringIO(Path(download.value.path()).read_text()))
    pd.testing.assert_frame_equal(csv, frame.loc[expected, ["split", "index"]].reset_index(drop=True))
    explorer_page.screenshot(path=str(ARTIFACTS / "explorer-selection.png"), full_page=True)


def test_filters_hide_points_and_keep_them_out_of_a_selection(explorer_page, small_explorer):
    import numpy as np

    _, frame, _, _, _ = small_explorer
    explorer_page.get_by_text("only is_label_issue").click()
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-map').renderers[0].view.filter.booleans.filter(b => b).length === {int(frame.is_label_issue.sum())} }}"
    )
    _, shown = screen_positions(explorer_page)
    np.testing.assert_array_equal(shown, frame.is_label_issue.to_numpy())
    bokeh(explorer_page, "find('mx-filter-label').value = ['3', '5'];")
    wanted = frame.is_label_issue & frame.label.isin([3, 5])
    _, shown = screen_positions(explorer_page)
    np.testing.assert_array_equal(shown, wanted.to_numpy())
    expected = box_select(explorer_page, (0.02, 0.02, 0.98, 0.98))
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-gallery').text.includes('data-count=\"{len(expected)}\"') }}"
    )
    selected = bokeh(explorer_page, "return Array.from(find('mx-map').renderers[0].data_source.selected.indices);")
    assert sorted(selected) == expected.tolist()
    assert set(selected) <= set(np.flatnonzero(wanted))


def pixel(page, row: int) -> tuple:
    """The colour the map shows at ``row``'s point (its centre pixel on the map's canvas)."""
    return tuple(
        bokeh(
            page,
            """const m = find('mx-map'), v = Bokeh.index.find_one(m), d = m.renderers[0].data_source.data;
            const c = v.canvas_view.primary.canvas, r = c.width / v.canvas_view.bbox.width;
            const x = v.frame.x_scale.compute(d.x[arg]), y = v.frame.y_scale.compute(d.y[arg]);
            return Array.from(c.getContext('2d').getImageData(Math.round(x * r), Math.round(y * r), 1, 1).data.slice(0, 3));""",
            row,
        )
    )


def ring_pixels(page, row: int, radius: int = 8) -> list:
    """The colours on a circle of ``radius`` pixels around ``row``'s point."""
    return bokeh(
        page,
        """const m = find('mx-map'), v = Bokeh.index.find_one(m), d = m.renderers[0].data_source.data;
        const c = v.canvas_view.primary.canvas, r = c.width / v.canvas_view.bbox.width, g = c.getContext('2d');
        const x = v.frame.x_scale.compute(d.x[arg[0]]), y = v.frame.y_scale.compute(d.y[arg[0]]);
        return [[1, 0], [-1, 0], [0, 1], [0, -1]].map(([a, b]) =>
          Array.from(g.getImageData(Math.round((x + a * arg[1]) * r), Math.round((y + b * arg[1]) * r), 1, 1).data.slice(0, 3)));""",
        [row, radius],
    )


def rgb(hex_colour: str) -> tuple:
    return tuple(int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))


def repainted(page) -> None:
    """Wait until the map has painted what its models say (two animation frames)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(100)


def test_colour_by_recolours_the_points_even_with_a_selection(explorer_page, small_explorer):
    from mnist_analysis.interactive import _PALETTE

    _, frame, _, _, _ = small_explorer
    rows = [r for r in range(len(frame)) if _PALETTE[frame.label[r]] not in (_PALETTE[0], _PALETTE[1])]
    row = isolated_row(explorer_page)
    row = row if row in rows else rows[0]
    click(explorer_page, isolated_row(explorer_page))
    repainted(explorer_page)
    selected = click_free_details_row(explorer_page)
    assert pixel(explorer_page, selected) == rgb(_PALETTE[frame.label[selected]])  # selected: drawn opaque
    bokeh(explorer_page, "find('mx-colour').value = 'writer_group';")
    repainted(explorer_page)
    group = sorted(frame.writer_group.unique()).index(frame.writer_group[selected])
    assert pixel(explorer_page, selected) == rgb(_PALETTE[group])
    bokeh(explorer_page, "find('mx-map').renderers[0].data_source.selected.indices = [];")
    repainted(explorer_page)
    # without a selection every point is drawn at 70 % over white: the colour of its group, lightened
    expected = [round(255 + 0.7 * (c - 255)) for c in rgb(_PALETTE[group])]
    assert all(abs(a - b) <= 2 for a, b in zip(pixel(explorer_page, selected), expected))


def test_classes_get_a_legend_with_their_names_and_numbers_a_colour_bar(explorer_page):
    import re

    from mnist_analysis.interactive import _PALETTE, BOOL_COLOURS

    def legend():
        html = _div(explorer_page, "mx-legend")
        return dict(re.findall(r'data-value="([^"]*)" data-colour="([^"]*)"', html))

    def bar_visible():
        return bokeh(explorer_page, "return find('mx-colour-bar').visible;")

    assert legend() == {str(k): _PALETTE[k] for k in range(10)}
    assert not bar_visible()
    bokeh(explorer_page, "find('mx-colour').value = 'writer_group';")
    explorer_page.wait_for_function(f"() => {{ {FIND} return find('mx-legend').text.includes('census') }}")
    assert legend() == {"census": _PALETTE[0], "student": _PALETTE[1]}
    assert not bar_visible()
    bokeh(explorer_page, "find('mx-colour').value = 'is_label_issue';")
    assert legend() == {"False": BOOL_COLOURS[0], "True": BOOL_COLOURS[1]}
    assert not bar_visible()
    bokeh(explorer_page, "find('mx-colour').value = 'ink';")
    assert legend() == {}
    assert bar_visible()
    assert bokeh(explorer_page, "return find('mx-colour-bar').title;") == "ink"


def test_a_lasso_selects_once_on_release_exactly_the_points_inside(explorer_page):
    import math

    import numpy as np
    from matplotlib.path import Path as Polygon

    xy, shown = screen_positions(explorer_page)
    frame = bokeh(
        explorer_page,
        "const v = Bokeh.index.find_one(find('mx-map')), b = v.canvas_view.el.getBoundingClientRect(), f = v.frame.bbox;"
        "return [b.x + f.left, b.y + f.top, f.width, f.height];",
    )
    bokeh(
        explorer_page,
        """window.__changes = 0; const s = find('mx-map').renderers[0].data_source.selected;
        s.properties.indices.change.connect(() => window.__changes++);
        find('mx-gallery').properties.text.change.connect(() => window.__changes++);
        for (const t of find('mx-map').toolbar.tools) if (t.type === 'LassoSelectTool') t.active = true;""",
    )
    cx, cy, radius = frame[0] + frame[2] / 2, frame[1] + frame[3] / 2, min(frame[2], frame[3]) / 4
    path = [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 31)]
    explorer_page.mouse.move(*path[0])
    explorer_page.mouse.down()
    for point in path[1:]:
        explorer_page.mouse.move(*point)
    assert bokeh(explorer_page, "return window.__changes;") == 0, "the selection changed while the lasso was drawn"
    explorer_page.mouse.up()
    inside = np.flatnonzero(Polygon(path).contains_points(xy) & shown)
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-gallery').text.includes('data-count=\"{len(inside)}\"') }}", timeout=5000
    )
    selected = bokeh(explorer_page, "return Array.from(find('mx-map').renderers[0].data_source.selected.indices);")
    assert sorted(selected) == inside.tolist()
    assert len(inside) > 10


def test_panning_moves_the_drawn_points_and_does_no_hover_work(explorer_page, small_explorer):
    _, frame, _, _, _ = small_explorer
    row = isolated_row(explorer_page, away=12)
    before = hover(explorer_page, row)
    xy, _ = screen_positions(explorer_page)
    explorer_page.evaluate(
        """() => { window.__paths = 0; const arc = CanvasRenderingContext2D.prototype.arc;
        CanvasRenderingContext2D.prototype.arc = function (...a) { window.__paths++; return arc.apply(this, a); }; }"""
    )
    explorer_page.mouse.move(xy[row, 0] - 60, xy[row, 1] - 60)
    explorer_page.mouse.down()
    for step in range(1, 21):  # the drag passes over many points
        explorer_page.mouse.move(xy[row, 0] - 60 + 6 * step, xy[row, 1] - 60 + 6 * step)
    during = _div(explorer_page, "mx-hover")
    explorer_page.mouse.up()
    assert f'data-row="{before["row"]}"' in during, "the hover panel changed during the drag"
    # the points are drawn as one bitmap: no canvas path per point while panning
    assert explorer_page.evaluate("() => window.__paths") < 20
    repainted(explorer_page)
    moved, _ = screen_positions(explorer_page)
    assert abs(moved[row, 0] - xy[row, 0] - 120) < 2
    assert abs(moved[row, 1] - xy[row, 1] - 120) < 2
    from mnist_analysis.interactive import _PALETTE

    expected = [round(255 + 0.7 * (c - 255)) for c in rgb(_PALETTE[frame.label[row]])]
    assert all(abs(a - b) <= 2 for a, b in zip(pixel(explorer_page, row), expected))


def test_a_found_or_clicked_digit_is_marked_on_the_map(explorer_page, small_explorer):
    _, frame, _, _, _ = small_explorer
    row = isolated_row(explorer_page, away=14)
    assert (0, 0, 0) not in map(tuple, ring_pixels(explorer_page, row))
    click(explorer_page, row)
    repainted(explorer_page)
    assert [tuple(p) for p in ring_pixels(explorer_page, row)] == [(0, 0, 0)] * 4
    expected = int(frame.index[(frame.split == "test") & (frame["index"] == 60)][0])
    bokeh(explorer_page, "find('mx-find-split').value = 'test'; find('mx-find-index').value = '60';")
    explorer_page.get_by_role("button", name="find", exact=True).click()
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-details').text.includes('mx-detail\" data-row=\"{expected}\"') }}"
    )
    repainted(explorer_page)
    assert [tuple(p) for p in ring_pixels(explorer_page, expected)] == [(0, 0, 0)] * 4
    assert (0, 0, 0) not in map(tuple, ring_pixels(explorer_page, row))


def test_enter_finds_thumbnails_go_to_their_digit_and_clearing_empties_the_panels(explorer_page, small_explorer):
    _, frame, _, _, neighbours = small_explorer
    expected = int(frame.index[(frame.split == "train") & (frame["index"] == 30)][0])
    bokeh(explorer_page, "find('mx-find-split').value = 'train';")
    index_box = explorer_page.get_by_label("index")
    index_box.fill("30")
    index_box.press("Enter")
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-details').text.includes('mx-detail\" data-row=\"{expected}\"') }}",
        timeout=5000,
    )
    first = int(neighbours[expected][0])
    explorer_page.locator(f'.mx-neighbours img[data-row="{first}"]').first.click()
    explorer_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-details').text.includes('mx-detail\" data-row=\"{first}\"') }}", timeout=5000
    )
    hover(explorer_page, isolated_row(explorer_page))
    frame_box = bokeh(
        explorer_page,
        "const v = Bokeh.index.find_one(find('mx-map')), b = v.canvas_view.el.getBoundingClientRect(), f = v.frame.bbox;"
        "return [b.x + f.left, b.y + f.top];",
    )
    explorer_page.mouse.click(frame_box[0] + 3, frame_box[1] + 3)  # an empty corner: clears the selection
    explorer_page.wait_for_function(f"() => {{ {FIND} return !find('mx-details').text.includes('mx-detail') }}")
    assert "data-row" not in _div(explorer_page, "mx-hover")


def test_a_click_keeps_the_download_button_and_gallery_in_place(explorer_page):
    button = explorer_page.get_by_role("button", name="download selection (CSV)")

    def gallery():
        return bokeh(
            explorer_page,
            "const b = Bokeh.index.find_one(find('mx-gallery')).el.getBoundingClientRect(); return [b.x, b.y];",
        )

    before = button.bounding_box(), gallery()
    click(explorer_page, isolated_row(explorer_page))
    explorer_page.locator(".mx-detail").wait_for(state="visible")
    after = button.bounding_box(), gallery()
    assert after == before
    assert after[0]["y"] + after[0]["height"] < 900


def test_colour_by_changes_the_colour_of_the_points(explorer_page):
    before = bokeh(explorer_page, "return find('mx-colour').value;")
    row = isolated_row(explorer_page)
    colour = pixel(explorer_page, row)
    bokeh(explorer_page, "find('mx-colour').value = 'ink';")
    repainted(explorer_page)
    assert before == "label"
    assert pixel(explorer_page, row) != colour


def test_while_panning_the_bitmap_moves_with_the_map_and_the_release_redraws_it_in_full(explorer_page, small_explorer):
    _, frame, _, _, _ = small_explorer
    from mnist_analysis.interactive import _PALETTE

    row = isolated_row(explorer_page, away=12)
    expected = [round(255 + 0.7 * (c - 255)) for c in rgb(_PALETTE[frame.label[row]])]
    xy, _ = screen_positions(explorer_page)
    explorer_page.evaluate(
        """() => { window.__full = 0; const put = CanvasRenderingContext2D.prototype.putImageData;
        CanvasRenderingContext2D.prototype.putImageData = function (...a) { window.__full++; return put.apply(this, a); }; }"""
    )
    explorer_page.mouse.move(xy[row, 0] + 15, xy[row, 1] + 15)
    explorer_page.mouse.down()
    for step in range(1, 11):
        explorer_page.mouse.move(xy[row, 0] + 15 + 5 * step, xy[row, 1] + 15 - 3 * step)
    repainted(explorer_page)
    during, _ = screen_positions(explorer_page)
    assert abs(during[row, 0] - xy[row, 0] - 50) < 2
    assert abs(during[row, 1] - xy[row, 1] + 30) < 2
    # drawn again from the last bitmap, shifted: no point drawn anew, yet the point is where the map puts it
    assert explorer_page.evaluate("() => window.__full") == 0
    assert all(abs(a - b) <= 2 for a, b in zip(pixel(explorer_page, row), expected))
    explorer_page.mouse.up()
    repainted(explorer_page)
    assert explorer_page.evaluate("() => window.__full") >= 1  # the map in full where it came to rest
    assert all(abs(a - b) <= 2 for a, b in zip(pixel(explorer_page, row), expected))


def test_the_map_repaints_at_the_next_animation_frame_not_every_other_one(explorer_page):
    # Bokeh's own scheduler waits 1/60 s after a paint and then for a frame: 30 redraws/s at best
    # (on the page before this change: [1, 1, 1, 3, 3])
    painted = bokeh(
        explorer_page,
        """const v = Bokeh.index.find_one(find('mx-map')); let paints = 0;
        const original = v.repaint.bind(v);
        v.repaint = () => { original(); paints++; };
        const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
        return (async () => {
          const counts = [];
          for (let k = 0; k < 5; k++) {
            v.schedule_paint();  // as a drag does after each pointer move
            await frame();  // the paint was asked for first, so it runs first in this frame
            counts.push(paints);
          }
          return counts;
        })();""",
    )
    assert painted == [1, 2, 3, 4, 5], painted


# --- the label-review panel -----------------------------------------------------------------


@pytest.fixture(scope="module")
def review_explorer(tmp_path_factory, small_explorer):
    """The small explorer with label-quality columns, so that it has a review panel: ``(path, explorer, images)``."""
    from mnist_analysis.interactive import explorer
    from tests.helpers import with_label_quality

    _, frame, coords, images, neighbours = small_explorer
    table = with_label_quality(frame, seed=8, flipped_share=0.4, shift=3, second_model="svm_hog")
    ex = explorer(table, coords, images, neighbours=neighbours, widget=False, review_top=30, title="review")
    return report_page(ex, tmp_path_factory.mktemp("review") / "review.html"), ex, images


@pytest.fixture
def review_page(browser, review_explorer):
    page, problems = open_page(browser, review_explorer[0])
    wait_for_explorer(page)
    page.locator(".mx-review-item").first.wait_for(state="visible", timeout=10_000)
    yield page
    page.close()
    assert problems == [], problems


def selected_rows(page) -> list:
    return bokeh(page, "return Array.from(find('mx-map').renderers[0].data_source.selected.indices);")


def test_the_review_list_shows_the_top_candidates_and_a_click_selects_that_digit(review_page, review_explorer):
    import re

    import numpy as np

    _, ex, images = review_explorer
    review = ex.review
    assert len(review) == 30
    items = review_page.locator(".mx-review-item")
    assert items.count() == 30
    rows = [int(items.nth(k).get_attribute("data-row")) for k in range(30)]
    assert rows == review["row"].tolist()  # most likely first, as the table ranks them
    assert [int(items.nth(k).get_attribute("data-rank")) for k in range(30)] == list(range(1, 31))
    third = review.iloc[2]
    card = items.nth(2)
    assert card.locator(".mx-review-given").inner_text() == str(third["given"])
    assert card.locator(".mx-review-suggested").inner_text() == str(third["suggested"])
    votes = card.locator(".mx-review-votes").inner_text()
    assert votes == f"knn {third['vote_knn']}, svm_hog {third['vote_svm_hog']}"
    assert third["writer_group"] in card.inner_text()
    assert f"test {third['index']}" in card.inner_text()
    assert card.locator(".mx-review-disagreeing").inner_text() == third["disagreeing"].replace("+", ", ")
    src = card.locator("img").get_attribute("src")
    np.testing.assert_array_equal(thumbnail(src)[::2, ::2], 255 - 17 * np.rint(images[third["row"]] / 17).astype(int))
    # a click on the card selects its digit: on the map, in the details panel, and the card is marked
    card.locator("img").click()  # the digit (the buttons below it give verdicts)
    row = int(third["row"])
    review_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-details').text.includes('mx-detail\" data-row=\"{row}\"') }}",
        timeout=5000,
    )
    assert selected_rows(review_page) == [row]
    repainted(review_page)
    assert [tuple(p) for p in ring_pixels(review_page, row)] == [(0, 0, 0)] * 4
    assert card.get_attribute("data-selected") == "true"
    assert items.nth(0).get_attribute("data-selected") == "false"
    # "next" and "previous" step through the list
    review_page.get_by_role("button", name="next", exact=True).click()
    review_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-map').renderers[0].data_source.selected.indices[0] === {review['row'].iloc[3]} }}"
    )
    review_page.get_by_role("button", name="previous", exact=True).click()
    review_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-map').renderers[0].data_source.selected.indices[0] === {row} }}"
    )
    # the download link carries the list's CSV, as notebook 05 exports it
    href = review_page.locator(".mx-review-csv").get_attribute("href")
    import base64

    from mnist_analysis.label_review import review_csv

    assert base64.b64decode(href.split("base64,", 1)[1]).decode() == review_csv(review)
    assert re.search(r"30 most likely label errors of the test split", review_page.locator(".mx-review").inner_text())


def test_selecting_on_the_map_still_works_and_marks_a_listed_digit(review_page, review_explorer):
    _, ex, _ = review_explorer
    listed = ex.review["row"].tolist()
    row = isolated_row(review_page, among=listed)  # a listed digit, clicked on the map
    details = click(review_page, row)
    assert details["row"] == row
    assert selected_rows(review_page) == [row]
    marked = review_page.locator('.mx-review-item[data-selected="true"]')
    assert marked.count() == 1
    assert int(marked.get_attribute("data-row")) == row
    other = isolated_row(review_page, among=set(range(len(ex.frame))) - set(listed))  # one not listed
    review_page.wait_for_timeout(700)  # two clicks in quick succession are a double tap for Bokeh, not two taps
    assert click(review_page, other)["row"] == other
    assert marked.count() == 0
    inside = box_select(review_page)
    review_page.wait_for_function(
        f"() => {{ {FIND} return find('mx-gallery').text.includes('data-count=\"{len(inside)}\"') }}", timeout=5000
    )
    assert sorted(selected_rows(review_page)) == sorted(inside.tolist())
    assert review_page.locator('.mx-review-item[data-selected="true"]').count() == 0


def test_verdicts_colour_the_cards_and_go_into_the_downloaded_csv(review_page, review_explorer, tmp_path):
    import io

    import pandas as pd

    _, ex, _ = review_explorer
    items = review_page.locator(".mx-review-item")
    items.nth(0).locator('button[data-verdict="wrong"]').click()
    items.nth(1).locator('button[data-verdict="ok"]').click()
    items.nth(4).locator('button[data-verdict="unsure"]').click()
    items.nth(4).locator('button[data-verdict="unsure"]').click()  # the same verdict again takes it back
    items.nth(3).locator('button[data-verdict="wrong"]').click()
    assert [items.nth(k).get_attribute("data-judged") for k in range(5)] == ["wrong", "ok", "", "wrong", ""]
    assert review_page.locator(".mx-review-count").inner_text() == "3 of 30 judged"
    assert selected_rows(review_page) == []  # a verdict selects nothing
    rows = ex.review["row"].tolist()
    reported = bokeh(review_page, "return JSON.parse(find('mx-review').tags[0]);")
    assert reported == {str(rows[0]): "wrong", str(rows[1]): "ok", str(rows[3]): "wrong"}
    with review_page.expect_download() as download:
        review_page.get_by_role("button", name="download verdicts (CSV)").click()
    path = tmp_path / "verdicts.csv"
    download.value.save_as(path)
    assert download.value.suggested_filename == "label_review_test_verdicts.csv"
    text = path.read_text()
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert list(back.columns) == ["split", "index", "given", "suggested", "score", "rank", "verdict"]
    assert back["verdict"].tolist()[:5] == ["wrong", "ok", "", "wrong", ""]
    assert set(back["verdict"].tolist()[5:]) == {""}
    from mnist_analysis.label_review import review_csv

    assert text.splitlines()[1:] == [
        f"{line},{v}" for line, v in zip(review_csv(ex.review).splitlines()[1:], back["verdict"], strict=True)
    ]
