"""Hostile report builds (issue 13): killed, failing or mis-parameterised, nothing good is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mnist_analysis.build.reports import STAGING_PREFIX, ReportError, build_reports
from tests.helpers import full_disk, read_only, write_notebook

# Builds reports: every test here executes notebooks in Jupyter kernels.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
QUIET = {"check_data": False, "log": lambda *_: None}


def previous_build(reports: Path, *names: str) -> dict:
    """Reports of an earlier, successful build: their final files and contents."""
    reports.mkdir(exist_ok=True)
    files = {reports / "index.html": "<html>previous index</html>"}
    for name in names:
        files[reports / f"{name}.html"] = f"<html>previous good report of {name}</html>"
        files[reports / f"{name}.ipynb"] = '{"previous": "executed notebook"}'
    for path, text in files.items():
        path.write_text(text)
    return files


def assert_unchanged(files: dict) -> None:
    for path, text in files.items():
        assert path.read_text() == text, f"{path} was changed or lost"


def test_a_failing_notebook_keeps_its_last_good_report_marked_out_of_date(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_fine.ipynb", "print('fine')")
    write_notebook(notebooks / "02_broken.ipynb", "x = 1", "raise ValueError('boom in the analysis')")
    old = previous_build(reports, "02_broken")
    with pytest.raises(ReportError, match=r"02_broken.ipynb: cell 3"):
        build_reports(notebooks, reports, **QUIET)
    assert (reports / "02_broken.html").read_text() == old[reports / "02_broken.html"]
    assert (reports / "02_broken.ipynb").read_text() == old[reports / "02_broken.ipynb"]
    failed = (reports / "02_broken.failed.ipynb").read_text()
    assert "boom in the analysis" in failed  # the traceback is kept, beside (not over) the good copy
    index = (reports / "index.html").read_text()
    card = index[index.index("02_broken title") :]
    card = card[: card.index("</div></div>")]
    assert "FAILED in this build" in card
    assert "OUT OF DATE" in card
    assert "cell 3" in card
    assert "raised ValueError: boom in the analysis" in card
    assert 'href="02_broken.html"' in card
    assert "last good report" in card
    assert 'href="01_fine.html"' in index
    assert not list(reports.glob(f"{STAGING_PREFIX}*"))


def test_a_notebook_that_passes_again_replaces_its_failed_copy(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_flaky.ipynb", "raise RuntimeError('first run fails')")
    with pytest.raises(ReportError):
        build_reports(notebooks, reports, **QUIET)
    assert (reports / "01_flaky.failed.ipynb").is_file()
    assert not (reports / "01_flaky.html").exists()
    assert "FAILED" in (reports / "index.html").read_text()
    assert "OUT OF DATE" not in (reports / "index.html").read_text()
    write_notebook(notebooks / "01_flaky.ipynb", "print('now fine')")
    build_reports(notebooks, reports, **QUIET)
    shown = sorted(p.name for p in reports.iterdir() if not p.name.startswith("."))  # .NAME.render.json: see reports
    assert shown == ["01_flaky.html", "01_flaky.ipynb", "index.html"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"sample_size": -5}, "sample_size: expected a positive integer or None, found -5"),
        ({"sample_size": 0}, "sample_size: expected a positive integer or None, found 0"),
        ({"sample_size": 10_000_000}, "sample_size: expected at most 70,000, found 10,000,000"),
        ({"seed": -1}, "seed: expected an integer from 0 to 4,294,967,295, found -1"),
    ],
)
def test_bad_parameters_are_refused_before_any_notebook_runs_or_anything_is_replaced(tmp_path, parameters, message):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_fine.ipynb", "open('ran', 'w').write('yes')")
    old = previous_build(reports, "01_fine")
    with pytest.raises(ValueError, match=message):
        build_reports(notebooks, reports, parameters=parameters, **QUIET)
    assert_unchanged(old)
    assert sorted(reports.iterdir()) == sorted(old)
    assert not (notebooks / "ran").exists()


def test_a_too_large_sample_through_the_command_line_is_refused_and_nothing_deleted(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_fine.ipynb", "print('ran')")
    old = previous_build(reports, "01_fine")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_analysis.cli",
            "report",
            "--notebooks",
            str(notebooks),
            "--output",
            str(reports),
            "--sample-size",
            "10000000",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "(MNIST has 70,000), found '10000000'" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert_unchanged(old)


BUILD = textwrap.dedent("""
    import sys
    from mnist_analysis.build.reports import build_reports
    build_reports(sys.argv[1], sys.argv[2], check_data=False, jobs=1, log=lambda *_: None)
""")


def test_a_killed_build_keeps_the_previous_reports_and_index_and_leaves_nothing_half_written(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_fast.ipynb", "print('fast')")
    write_notebook(notebooks / "02_slow.ipynb", "print('started')", "import time; time.sleep(120)")
    old = previous_build(reports, "01_fast", "02_slow")
    build = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(notebooks), str(reports)],
        cwd=PROJECT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + 120
        while not list(reports.glob(f"{STAGING_PREFIX}*/02_slow.ipynb")):  # the slow notebook is executing
            assert build.poll() is None, "the build ended before the slow notebook"
            assert time.monotonic() < give_up, "the build never reached the slow notebook"
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        os.killpg(build.pid, signal.SIGKILL)  # the build and its kernel
        build.wait()
    assert (reports / "01_fast.html").read_text() != old[reports / "01_fast.html"]  # completed before the kill
    del old[reports / "01_fast.html"], old[reports / "01_fast.ipynb"]
    assert_unchanged(old)  # the slow notebook's previous report and the previous index
    finals = {p.name for p in reports.iterdir() if not p.name.startswith(".")}
    assert finals == {"index.html", "01_fast.html", "01_fast.ipynb", "02_slow.html", "02_slow.ipynb"}
    assert list(reports.glob(f"{STAGING_PREFIX}*"))  # the half-executed notebook is only in the staging folder

    write_notebook(notebooks / "02_slow.ipynb", "print('quick now')")
    build_reports(notebooks, reports, **QUIET)  # the next build removes the leftover staging folder
    assert not list(reports.glob(f"{STAGING_PREFIX}*"))
    assert "02_slow.html" in (reports / "index.html").read_text()


# ------------------------------------------------------------------ issue 25: caches that cannot be misled
def _stored_runs(isolated_cache: Path) -> dict:
    """The execution cache's stored notebooks, by the path of the notebook they belong to."""
    import json

    runs = {}
    for path in (isolated_cache / "notebooks" / "executed").glob("*/base.ipynb"):
        runs[json.loads(path.read_text())["metadata"]["mnist_analysis_run"]["uri"]] = path
    return runs


def _two_notebooks(tmp_path: Path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    write_notebook(notebooks / "01_first.ipynb", "print('output of the ' + 'first')")  # only outputs hold the sentence
    write_notebook(notebooks / "02_second.ipynb", "print('output of the ' + 'second')")
    return notebooks, reports


def test_edited_outputs_in_the_execution_cache_are_not_served(tmp_path, isolated_cache):
    notebooks, reports = _two_notebooks(tmp_path)
    build_reports(notebooks, reports, **QUIET)
    stored = _stored_runs(isolated_cache)[str((notebooks / "01_first.ipynb").resolve())]
    stored.write_text(stored.read_text().replace("output of the first", "an edited output"))
    with pytest.warns(UserWarning, match=r"execution cache entry .*base.ipynb: its outputs were changed"):
        results = {r.notebook.stem: r for r in build_reports(notebooks, reports, **QUIET)}
    assert results["01_first"].reused is None
    assert results["02_second"].reused
    page = (reports / "01_first.html").read_text()
    assert "output of the first" in page
    assert "an edited output" not in page
    # The altered entry is gone; the new run is stored in its place, and served from then on.
    assert (
        "an edited output"
        not in _stored_runs(isolated_cache)[str((notebooks / "01_first.ipynb").resolve())].read_text()
    )


def test_one_notebooks_stored_run_copied_over_anothers_is_not_served(tmp_path, isolated_cache):
    notebooks, reports = _two_notebooks(tmp_path)
    build_reports(notebooks, reports, **QUIET)
    runs = _stored_runs(isolated_cache)
    first, second = (runs[str((notebooks / name).resolve())] for name in ("01_first.ipynb", "02_second.ipynb"))
    second.write_text(first.read_text())
    with pytest.warns(UserWarning, match=r"base.ipynb: it is the run of '.*01_first.ipynb', not of '.*02_second"):
        results = {r.notebook.stem: r for r in build_reports(notebooks, reports, **QUIET)}
    assert results["02_second"].reused is None
    assert results["01_first"].reused
    page = (reports / "02_second.html").read_text()
    assert "output of the second" in page
    assert "output of the first" not in page


@pytest.mark.parametrize("damage", ["garbled database", "truncated database", "stored notebook deleted", "not JSON"])
def test_a_damaged_execution_cache_is_named_set_aside_and_the_build_goes_on(tmp_path, isolated_cache, damage):
    notebooks, reports = _two_notebooks(tmp_path)
    build_reports(notebooks, reports, **QUIET)
    folder = isolated_cache / "notebooks"
    stored = _stored_runs(isolated_cache)[str((notebooks / "01_first.ipynb").resolve())]
    database = folder / "global.db"
    if damage == "garbled database":
        database.write_bytes(b"\x00garbage" * 4096)
    elif damage == "truncated database":
        database.write_bytes(database.read_bytes()[: 3 * 1024])
    elif damage == "stored notebook deleted":
        stored.unlink()
    else:
        stored.write_text("{ not json")
    expected = "execution cache entry" if "database" not in damage else f"execution cache {folder} is damaged"
    with pytest.warns(UserWarning, match=expected):
        results = {r.notebook.stem: r for r in build_reports(notebooks, reports, **QUIET)}
    assert all(r.error is None for r in results.values())
    assert results["01_first"].reused is None  # executed again
    again = {r.notebook.stem: r for r in build_reports(notebooks, reports, **QUIET)}  # and the cache was rebuilt
    assert all(r.reused for r in again.values())
    if "database" in damage:
        assert len(list(isolated_cache.glob("notebooks.broken-*"))) == 1  # set aside, not deleted


def test_a_read_only_execution_cache_gives_one_warning_and_the_build_works(tmp_path, isolated_cache):
    import warnings

    notebooks, reports = _two_notebooks(tmp_path)
    build_reports(notebooks, reports, **QUIET)  # a cache with entries, then made read-only
    folder = isolated_cache / "notebooks"
    with read_only(isolated_cache, folder, *folder.rglob("*")), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = build_reports(notebooks, reports, force=True, **QUIET)
    assert all(r.error is None and r.html.is_file() for r in results)
    messages = [str(w.message) for w in caught if "cache" in str(w.message)]
    assert len(messages) == 1, messages
    assert f"execution cache {folder} cannot be written" in messages[0]
    assert "not kept for reuse" in messages[0]


def test_a_full_disk_during_a_build_names_the_folder_and_leaves_no_truncated_notebook(tmp_path):
    from mnist_analysis.utils import DiskFullError

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks / "01_big.ipynb", "print('x' * 400_000)")  # an executed copy too large for the disk
    with full_disk(free_kb=64) as disk:
        reports = disk / "reports"
        with pytest.raises((ReportError, DiskFullError)) as caught:
            build_reports(notebooks, reports, **QUIET)
        left = sorted(p.name for p in reports.iterdir()) if reports.exists() else []
    assert f"no space left on device while writing {reports}" in str(caught.value)
    assert not [name for name in left if name.endswith(".ipynb") or name.startswith(STAGING_PREFIX)], left


def test_a_build_with_only_keeps_every_report_and_the_datasheet_on_the_index_marked(tmp_path):
    notebooks, reports = _two_notebooks(tmp_path)
    build_reports(notebooks, reports, **QUIET)
    (reports / "datasheet.html").write_text("<html>datasheet of an earlier full build</html>")
    build_reports(notebooks, reports, only=["01_first"], **QUIET)
    index = (reports / "index.html").read_text()
    starts = {
        name: index.rindex('<div class="card">', 0, index.index(f"{name} title")) for name in ("01_first", "02_second")
    }
    cards = {name: index[start : index.index("</div></div>", start)] for name, start in starts.items()}
    assert 'href="01_first.html"' in cards["01_first"]
    assert "not rendered in this build" not in cards["01_first"]
    assert 'href="02_second.html"' in cards["02_second"]
    assert "not rendered in this build: report from 20" in cards["02_second"]
    assert 'href="datasheet.html"' in index
    assert "not written in this build" in index
    assert "this build rendered 01_first" in index


INTERRUPTIBLE_BUILD = textwrap.dedent("""
    import faulthandler, signal, sys
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for every thread's stack if it hangs
    # A job started in the background by a non-interactive shell (a CI runner, `cmd &`) inherits
    # SIGINT ignored, and Python then keeps ignoring it: Ctrl-C is what a user's terminal sends.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from mnist_analysis.build.reports import build_reports
    try:
        build_reports(sys.argv[1], sys.argv[2], check_data=False, jobs=2, log=lambda *_: None)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


def test_ctrl_c_stops_the_running_kernels_at_once_and_keeps_the_previous_reports(tmp_path):
    import psutil

    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    markers = [tmp_path / f"{name}.running" for name in ("01_slow", "02_slow")]
    for marker in markers:  # each long cell says when it runs: a kernel still starting is another case
        long_cell = f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(300)"
        write_notebook(notebooks / f"{marker.stem}.ipynb", "print('started')", long_cell)
    old = previous_build(reports, "01_slow", "02_slow")
    build = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTIBLE_BUILD, str(notebooks), str(reports)],
        cwd=PROJECT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "build.err").open("w"),
        text=True,
    )
    try:
        give_up = time.monotonic() + 120
        kernels = []
        while len(kernels) < 2 or not all(marker.exists() for marker in markers):
            assert build.poll() is None, "the build ended before it ran both notebooks"
            assert time.monotonic() < give_up, "the build never ran both notebooks' long cells"
            kernels = [
                p for p in psutil.Process(build.pid).children(recursive=True) if "ipykernel" in " ".join(p.cmdline())
            ]
            time.sleep(0.2)
        interrupted_at = time.monotonic()
        build.send_signal(signal.SIGINT)
        try:
            out, _ = build.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            build.send_signal(signal.SIGUSR1)
            time.sleep(2)
            stacks = (tmp_path / "build.err").read_text()[-6000:]
            raise AssertionError(f"the build did not stop within 60 s of Ctrl-C; its threads:\n{stacks}") from None
        took = time.monotonic() - interrupted_at
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
    assert out.strip() == "interrupted"
    assert took < 15, f"the build took {took:.1f} s to stop (its notebooks sleep for 300 s)"
    assert not [k for k in kernels if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    assert_unchanged(old)
    assert not list(reports.glob("*.failed.ipynb"))
