"""The explorer as a JupyterLab widget: a real JupyterLab server, driven by headless Chromium.

The test starts ``jupyter lab`` on a loopback port with a token, opens a notebook that makes an
explorer, runs it in the browser, box-selects points on the widget with the mouse, and then
asks the notebook's own kernel (through its connection file) for ``digits.selection``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from tests.chromium import ARTIFACTS, CHROMIUM_ARGS, box_select, chromium_executable, wait_for_explorer

pytestmark = pytest.mark.slow

MAKE_EXPLORER = """\
import numpy as np, pandas as pd
from mnist_analysis.interactive import explorer
rng = np.random.default_rng(5)
n = 300
frame = pd.DataFrame({"split": np.where(np.arange(n) < 200, "train", "test"),
                      "index": np.r_[np.arange(200), np.arange(100)], "label": rng.integers(0, 10, n),
                      "writer_id": rng.integers(0, 20, n), "writer_group": rng.choice(["census", "student"], n)})
quality = rng.random(n)  # the label-quality columns make the review panel
frame = frame.assign(suggested_label=(frame["label"] + 1) % 10, label_quality=quality,
                     label_issue_rank=np.argsort(np.argsort(quality)) + 1, predicted_knn=frame["label"])
coords = rng.normal(size=(n, 2))
digits = explorer(frame, coords, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), title="lab explorer")
digits"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving ``tmp_path``: ``(base url, token, runtime folder)``."""
    executable = chromium_executable()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(MAKE_EXPLORER)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "explore.ipynb")
    port, token, runtime = free_port(), secrets.token_hex(16), tmp_path / "runtime"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("MNIST_ANALYSIS_STATIC_HTML", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--ServerApp.open_browser=False",
            "--allow-root",
            "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "lab.log", "w"),  # noqa: SIM115 (the server's log, open while it runs)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            pytest.fail(f"jupyter lab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
        yield base, token, runtime, executable
    finally:
        server.terminate()
        server.wait(timeout=30)


SELECTION = 'import json; print(json.dumps(digits.selection[["split", "index"]].values.tolist()))'


def kernel_selection(base: str, token: str, runtime: Path, code: str = SELECTION):
    """Run ``code`` in the notebook's kernel (found through the server); return what it prints, as JSON.

    By default, the ``split`` and ``index`` of ``digits.selection``.
    """
    from jupyter_client import BlockingKernelClient

    (kernel,) = json.load(urllib.request.urlopen(f"{base}/api/kernels?token={token}"))
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel['id']}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        outputs = []
        reply = client.execute_interactive(
            code,
            output_hook=lambda m: outputs.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None,
            timeout=60,
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        return json.loads("".join(outputs))
    finally:
        client.stop_channels()


def test_a_box_selection_in_jupyterlab_reaches_explorer_selection(lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, token, runtime, executable = lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        console = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: console.append(f"page error: {e}"))
        page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        for _ in range(3):  # a run request sent while the kernel connects is dropped: ask again
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Shift+Enter")
            try:
                page.locator(".jp-InputPrompt", has_text=re.compile(r"\[(1|\*)\]")).first.wait_for(timeout=20_000)
                break
            except PlaywrightTimeout:
                continue
        try:
            page.locator(".jp-OutputArea-output .bk-Canvas").first.wait_for(timeout=120_000)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-explorer-failed.png"))
            raise
        wait_for_explorer(page)
        assert page.locator(".jp-OutputArea-output .mx-explorer").count() == 0, "expected the widget, not static HTML"
        clipped = page.evaluate(
            """() => { const out = document.querySelector('.jp-OutputArea-output').getBoundingClientRect();
            const roots = Array.from(document.querySelectorAll('.jp-OutputArea-output .bk-Column, .jp-OutputArea-output .bk-Row'));
            return Math.max(...roots.map(e => e.getBoundingClientRect().right)) - out.right; }"""
        )
        assert clipped <= 0, f"the widget runs {clipped:.0f} px past the right edge of the output area"
        expected = box_select(page, (0.3, 0.3, 0.6, 0.6))
        shown = page.locator(".mx-selection").first
        try:
            shown.wait_for(timeout=20_000)
        except PlaywrightTimeout:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-explorer-failed.png"))
            state = page.evaluate(
                """() => { const m = Bokeh.documents.map(d => d.get_model_by_name('mx-map')).find(m => m);
                const r = m.renderers[0]; return [Bokeh.documents.length, r.visible, r.data_source.selected.indices.length,
                  m.toolbar.tools.map(t => t.type + ':' + t.active).join(' '), !!r.data_source._mx]; }"""
            )
            raise AssertionError(f"no selection shown ({state}); the page said {console}") from None
        count = int(shown.get_attribute("data-count"))
        selection = kernel_selection(base, token, runtime)
        # the review panel: a click on its third card selects that digit, and the kernel sees it
        card = page.locator(".mx-review-item").nth(2)
        card.wait_for(timeout=20_000)
        row = int(card.get_attribute("data-row"))
        page.wait_for_timeout(700)  # not a double tap with the box selection's release
        card.locator("img").click()  # the digit (the buttons below it give verdicts)
        page.wait_for_function(
            f"() => Bokeh.documents.map(d => d.get_model_by_name('mx-map')).find(m => m)"
            f".renderers[0].data_source.selected.indices.join() === '{row}'",
            timeout=20_000,
        )
        for _ in range(50):  # the selection travels to the kernel
            reviewed = kernel_selection(base, token, runtime)
            if len(reviewed) == 1:
                break
            time.sleep(0.2)
        card.locator('button[data-verdict="wrong"]').click()  # a verdict travels to the kernel too
        verdicts_code = 'import json; print(json.dumps(digits.verdicts[["index", "verdict"]].values.tolist()))'
        for _ in range(50):
            verdicts = kernel_selection(base, token, runtime, verdicts_code)
            if any(v for _, v in verdicts):
                break
            time.sleep(0.2)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-explorer.png"))
        browser.close()
    frame = pd.DataFrame(
        {"split": np.where(np.arange(300) < 200, "train", "test"), "index": np.r_[np.arange(200), np.arange(100)]}
    )
    assert 5 < len(expected) == count
    assert selection == frame.iloc[expected].to_numpy().tolist()
    assert reviewed == frame.iloc[[row]].to_numpy().tolist()
    assert frame["split"][row] == "test"  # the review list is of the test split
    assert verdicts[2] == [int(frame["index"][row]), "wrong"]
    assert [v for _, v in verdicts] == ["", "", "wrong"] + [""] * (len(verdicts) - 3)
