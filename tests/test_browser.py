"""The quick reports opened in headless Chromium, as a reader would open them.

Checks the index and every report: no JavaScript error in the console, every image loaded,
and the interactive projection answers a hover with a digit image. Screenshots go to
``test-artifacts/``. Needs Debian's ``chromium`` (``make test`` installs it); under CI a
missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: The flags this machine's headless Chromium needs: no sandbox as root, and no background
#: network traffic (the network is closed, and the reports must not need it).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "headless Chromium not found: `make test` installs Debian's chromium package"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
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


def report_pages(quick_reports):
    results, reports = quick_reports
    return [reports / "index.html"] + [r.html for r in results]


def test_every_page_loads_without_errors_and_with_every_image(browser, quick_reports):
    ARTIFACTS.mkdir(exist_ok=True)
    for path in report_pages(quick_reports):
        page, problems = open_page(browser, path)
        images = page.evaluate("Array.from(document.images).map(i => [i.alt || i.src.slice(0, 40), i.complete && i.naturalWidth > 0])")
        assert problems == [], f"{path.name}: {problems}"
        assert images, f"{path.name} shows no image"
        assert [alt for alt, ok in images if not ok] == [], f"{path.name}: images that did not load"
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"), full_page=True)
        page.close()


def test_report_pages_have_contents_and_a_working_hide_code_toggle(browser, quick_reports):
    _, reports = quick_reports
    page, _ = open_page(browser, sorted(reports.glob("0*.html"))[0])
    assert page.locator("nav.mx-toc li").count() >= 2
    code = page.locator(".jp-CodeCell .jp-Cell-inputWrapper").first
    assert code.is_visible()
    page.check("#mx-hide-code")
    assert not code.is_visible()
    page.close()


def test_the_interactive_projection_answers_a_hover_with_a_digit(browser, quick_reports):
    _, reports = quick_reports
    pages = [p for p in sorted(reports.glob("*.html")) if "mx-scatter" in p.read_text()]
    assert pages, "no report holds the interactive projection"
    page, problems = open_page(browser, pages[0])
    scatter = page.locator(".mx-scatter canvas").first
    scatter.scroll_into_view_if_needed()
    box = scatter.bounding_box()
    found = None
    for fy in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):  # sweep until the mouse lands on a point
        for fx in [i / 40 for i in range(4, 37)]:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            found = page.evaluate("""() => {
                const tip = document.querySelector('.mx-scatter').lastElementChild;
                if (tip.style.display !== 'block') return null;
                const c = tip.querySelector('canvas'), px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let dark = 0; for (let i = 0; i < px.length; i += 4) if (px[i] < 128) dark++;
                return {text: tip.textContent, dark: dark};
            }""")
            if found:
                break
        if found:
            break
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "interactive-hover.png"))
    assert found, "hovering the projection never showed a tooltip"
    assert all(word in found["text"] for word in ("label", "split", "writer")), found["text"]
    assert found["dark"] > 20, "the tooltip shows no digit image"
    assert problems == []
    page.close()
