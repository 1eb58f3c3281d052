"""Shared tools of the browser tests: find Debian's headless Chromium (fail under CI when it is missing, skip
elsewhere), its flags, and probes of the explorer's Bokeh models in an open page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def chromium_executable() -> str:
    """The path of ``chromium`` (or ``chromium-browser``); fails under ``CI=true`` and skips elsewhere without it."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "headless Chromium not found: `make test` installs Debian's chromium package"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return executable


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: The flags this machine's headless Chromium needs: no sandbox as root, and no background
#: network traffic (the network is closed, and the reports must not need it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: Defines ``find(name)``: the Bokeh model of that name in the newest document of the page, or null.
FIND = """const find = name => { for (const d of (window.Bokeh ? Bokeh.documents.slice().reverse() : [])) {
  const m = d.get_model_by_name(name); if (m) return m; } return null; };"""


def bokeh(page, body: str, argument=None):
    """Evaluate ``body`` (a function body that may use ``find`` and ``arg``) in the page."""
    return page.evaluate(f"(arg) => {{ {FIND} {body} }}", argument)


def wait_for_explorer(page) -> None:
    page.wait_for_function(f"() => {{ {FIND} return find('mx-map') !== null && Bokeh.index.find_one(find('mx-map')) }}")


def screen_positions(page):
    """Each point's position on the screen (page pixels), and whether it is shown."""
    import numpy as np

    xy, shown = bokeh(
        page,
        """const m = find('mx-map'), v = Bokeh.index.find_one(m), r = m.renderers[0];
        const d = r.data_source.data, box = v.canvas_view.el.getBoundingClientRect();
        return [Array.from(d.x, (x, i) => [box.x + v.frame.x_scale.compute(x), box.y + v.frame.y_scale.compute(d.y[i])]),
                Array.from(r.view.filter.booleans)];""",
    )
    return np.array(xy), np.array(shown, dtype=bool)


def box_select(page, fraction=(0.3, 0.25, 0.7, 0.75)):
    """Drag a box over ``fraction`` of the map with the box-select tool; return the rows expected inside.

    The box's edges are moved to whole pixels at least one pixel from every point, so that no
    point is a rounding away from either answer.
    """
    import numpy as np

    xy, shown = screen_positions(page)
    frame = bokeh(
        page,
        "const v = Bokeh.index.find_one(find('mx-map')), b = v.canvas_view.el.getBoundingClientRect(), f = v.frame.bbox;"
        "return [b.x + f.left, b.y + f.top, f.width, f.height];",
    )

    def clear(value, axis):
        for step in range(200):
            for candidate in (round(value) + step, round(value) - step):
                if np.abs(xy[shown, axis] - candidate).min() >= 1.0:
                    return candidate
        raise AssertionError("no clear edge for the box")

    x0, x1 = (clear(frame[0] + f * frame[2], 0) for f in (fraction[0], fraction[2]))
    y0, y1 = (clear(frame[1] + f * frame[3], 1) for f in (fraction[1], fraction[3]))
    page.locator(".bk-tool-icon-box-select").first.click()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    inside = (xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1) & shown
    return np.flatnonzero(inside)
