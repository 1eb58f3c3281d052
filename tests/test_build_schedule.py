"""The order and memory budget of a report build (mnist_analysis.build.schedule), without kernels."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mnist_analysis.build import schedule as build_schedule
from mnist_analysis.build.schedule import plan, read_profile, record_profile, run_within_budget


@pytest.fixture(autouse=True)
def no_shipped_profile(request, tmp_path, monkeypatch):
    """Tests see only what they record, not the profile shipped with the package (but the one test of it)."""
    if "shipped_profile_covers" not in request.node.name:
        monkeypatch.setattr(build_schedule, "SHIPPED_PROFILE", tmp_path / "no-shipped-profile.json")


def running_together(names, *, jobs, max_memory, peaks):
    """Run sleepers under the budget; return the sets of names that were running at the same time."""
    lock, running, seen = threading.Lock(), set(), []

    def sleeper(name):
        with lock:
            running.add(name)
            seen.append(frozenset(running))
        time.sleep(0.2)
        with lock:
            running.discard(name)
        return name.upper()

    results = run_within_budget(names, sleeper, jobs=jobs, max_memory=max_memory, peaks=peaks)
    assert results == {name: name.upper() for name in names}
    return seen


def test_two_notebooks_that_do_not_fit_together_never_overlap_and_a_small_one_fills_the_gap():
    seen = running_together(["big1", "big2", "small"], jobs=2, max_memory=3.0, peaks={"big1": 2, "big2": 2, "small": 1})
    assert not any({"big1", "big2"} <= group for group in seen)
    assert any(group == {"big1", "small"} for group in seen)  # "small" passed "big2" in the queue


def test_at_most_jobs_run_at_once_when_memory_allows():
    seen = running_together(list("abcd"), jobs=2, max_memory=100.0, peaks={})
    assert max(len(group) for group in seen) == 2


def test_a_notebook_larger_than_the_budget_still_runs_alone():
    seen = running_together(["huge", "other"], jobs=2, max_memory=1.0, peaks={"huge": 5, "other": 0.1})
    assert frozenset({"huge"}) in seen
    assert not any(len(group) > 1 for group in seen)


def test_an_unrecorded_notebook_counts_as_an_equal_share_of_the_budget():
    # share = 3 / 2 = 1.5: with "known" at 2.0 the unrecorded one does not fit beside it
    seen = running_together(["known", "unknown"], jobs=2, max_memory=3.0, peaks={"known": 2.0})
    assert not any(len(group) > 1 for group in seen)


def test_the_profile_is_kept_per_set_of_parameters_and_the_shipped_one_fills_gaps(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped.json"
    shipped.write_text(json.dumps({'{"sample_size": 2000}': {"a.ipynb": {"seconds": 9.0, "peak_bytes": 5}}}))
    monkeypatch.setattr(build_schedule, "SHIPPED_PROFILE", shipped)
    record_profile({"sample_size": 2000}, {"b.ipynb": {"seconds": 1.0, "peak_bytes": 2}})
    record_profile({}, {"a.ipynb": {"seconds": 3.0, "peak_bytes": 4}})
    assert read_profile({"sample_size": 2000}) == {
        "a.ipynb": {"seconds": 9.0, "peak_bytes": 5},
        "b.ipynb": {"seconds": 1.0, "peak_bytes": 2},
    }
    assert read_profile({}) == {"a.ipynb": {"seconds": 3.0, "peak_bytes": 4}}
    record_profile({}, {"a.ipynb": {"seconds": 4.0, "peak_bytes": 6}})  # a new run replaces the old record
    assert read_profile({})["a.ipynb"]["seconds"] == 4.0


@pytest.mark.parametrize(
    "content", ["not json", "[1, 2]", '{"{}": "not a dict"}', '{"{}": {"a.ipynb": {"seconds": "x", "peak_bytes": -1}}}']
)
def test_a_damaged_profile_is_ignored_and_replaced(content):
    from mnist_analysis.caching.cache import cache_dir

    path = cache_dir() / "notebooks" / "profile.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    assert all(entry == {} for entry in read_profile({}).values())  # nothing usable is read
    record_profile({}, {"a.ipynb": {"seconds": 1.0, "peak_bytes": 1}})
    assert read_profile({}) == {"a.ipynb": {"seconds": 1.0, "peak_bytes": 1}}


def test_the_shipped_profile_covers_every_shipped_notebook_of_a_full_build():
    from mnist_analysis.build.reports import find_notebooks
    from mnist_analysis.cli import packaged_notebooks

    shipped = json.loads(build_schedule.SHIPPED_PROFILE.read_text())["{}"]
    assert {p.name for p in find_notebooks(packaged_notebooks())} == set(shipped)
    assert all(entry["seconds"] > 0 and entry["peak_bytes"] > 1e8 for entry in shipped.values())


def test_the_plan_starts_unrecorded_then_longest_first_with_the_recorded_peaks_and_an_estimate():
    names = [Path(f"{i:02d}.ipynb") for i in range(4)]
    record_profile({}, {"00.ipynb": {"seconds": 10.0}, "01.ipynb": {"seconds": 30.0, "peak_bytes": 5e8}})
    record_profile({}, {"02.ipynb": {"seconds": 20.0, "peak_bytes": 1e9}})
    planned = plan(names, {}, jobs=2)
    assert [p.name for p in planned.order] == ["03.ipynb", "01.ipynb", "02.ipynb", "00.ipynb"]
    assert planned.peaks == {names[1]: 5e8, names[2]: 1e9}
    assert planned.estimate is None  # 03 has no recorded time
    assert plan(names[:3], {}, jobs=2).estimate == (10 + 30 + 20) / 2
    assert plan(names[:1], {}, jobs=4).estimate == 10  # one notebook runs on one core
    assert plan(names, {"seed": 1}, jobs=2).order == tuple(names)  # nothing recorded: the notebooks' order


def test_a_build_records_only_the_notebooks_it_executed():
    def result(name, error=None, reused=False):
        return SimpleNamespace(notebook=Path(name), seconds=12.34, peak_bytes=7e8, error=error, reused=reused)

    runs = [result("a.ipynb"), result("b.ipynb", reused=True), result("c.ipynb", error="failed")]
    build_schedule.record_runs({}, runs)
    assert read_profile({}) == {"a.ipynb": {"seconds": 12.3, "peak_bytes": 7e8}}
