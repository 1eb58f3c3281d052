"""When each notebook of a report build runs: longest first, and within a memory budget.

A build remembers, for each set of notebook parameters, how long every executed notebook took
and the peak memory of its kernel with the processes it started (``notebooks/profile.json`` in
the project cache). The next build with those parameters starts the longest notebooks first,
so that parallel runs end together, and starts a notebook only while the recorded peaks of
the notebooks running plus its own fit in the memory budget; a notebook runs anyway when
nothing else does. A notebook with no record is taken to need an equal share of the budget.
Until a full build has run on the machine, the profile shipped with the package (measured by
``benchmarks/bench_report.py``) stands in for it.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..utils import atomic_write_bytes

#: Memory the notebooks' kernels may hold together by default (their recorded peaks, in bytes):
#: with the build process itself (about 0.4 GB), a full build stays within 3 GiB.
DEFAULT_MAX_MEMORY = 2.7e9
#: Seconds and kernel peaks of a cold full build on a 2-core machine (``bench_report.py``).
SHIPPED_PROFILE = Path(__file__).resolve().parent / "notebook_profile.json"


def _profile_path() -> Path:
    from ..caching.cache import cache_dir

    return cache_dir() / "notebooks" / "profile.json"


def _parameters_key(parameters: dict) -> str:
    return json.dumps(parameters, sort_keys=True)


def _read(path: Path) -> dict:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _entries(stored: dict, key: str) -> dict:
    """The notebooks recorded under ``key``, keeping only numbers above 0 from each record."""
    entries = stored.get(key)
    if not isinstance(entries, dict):
        return {}
    kept = {}
    for name, entry in entries.items():
        if isinstance(entry, dict):
            kept[name] = {
                field: value
                for field, value in entry.items()
                if field in ("seconds", "peak_bytes")
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and value > 0
            }
    return kept


def read_profile(parameters: dict) -> dict:
    """``{notebook file name: {"seconds": s, "peak_bytes": b}}`` recorded for builds with ``parameters``.

    Notebooks this machine has not recorded take the shipped profile's entry, if any.

    Examples
    --------
    >>> sorted(read_profile({"no_such_parameter": 1}))
    []
    """
    key = _parameters_key(parameters)
    return {**_entries(_read(SHIPPED_PROFILE), key), **_entries(_read(_profile_path()), key)}


def record_profile(parameters: dict, executed: dict) -> None:
    """Add ``{name: {"seconds": s, "peak_bytes": b}}`` of the notebooks just executed to the profile."""
    if not executed:
        return
    stored = _read(_profile_path())
    key = _parameters_key(parameters)
    stored[key] = {**_entries(stored, key), **executed}
    with contextlib.suppress(OSError):  # a read-only cache costs only the order and the estimate of the next build
        atomic_write_bytes(_profile_path(), json.dumps(stored, indent=1, sort_keys=True).encode())


def record_runs(parameters: dict, results) -> None:
    """Record the seconds and kernel peak of each notebook a build executed (not reused, not failed).

    ``results`` are the build's results: each has ``notebook`` (its path), ``seconds``,
    ``peak_bytes``, ``error`` and ``reused``.
    """
    record_profile(
        parameters,
        {
            r.notebook.name: {"seconds": round(r.seconds, 1), "peak_bytes": r.peak_bytes}
            for r in results
            if r.error is None and not r.reused
        },
    )


@dataclass(frozen=True)
class Plan:
    """How a build runs its notebooks.

    ``order`` is the order to start them in, ``peaks`` their recorded kernel peaks (bytes, by
    notebook path) and ``estimate`` the build's expected seconds (None unless every notebook has
    a recorded time).
    """

    order: tuple
    peaks: dict
    estimate: float | None


def plan(notebooks, parameters: dict, jobs: int) -> Plan:
    """Plan the runs of ``notebooks`` (paths) from the profile recorded for ``parameters``.

    Longest recorded first, so that parallel runs end together; a notebook with no recorded
    time first of all (it may be the longest).

    Examples
    --------
    >>> from pathlib import Path
    >>> plan([Path("01_a.ipynb")], {"no_such_parameter": 1}, jobs=2)
    Plan(order=(PosixPath('01_a.ipynb'),), peaks={}, estimate=None)
    """
    profile = read_profile(parameters)
    seconds = {name: entry["seconds"] for name, entry in profile.items() if "seconds" in entry}
    order = tuple(sorted(notebooks, key=lambda n: -seconds.get(n.name, math.inf)))
    peaks = {n: profile[n.name]["peak_bytes"] for n in order if "peak_bytes" in profile.get(n.name, {})}
    known = [seconds[n.name] for n in order if n.name in seconds]
    estimate = sum(known) / min(jobs, len(order)) if order and len(known) == len(order) else None
    return Plan(order, peaks, estimate)


class PeakMemory:
    """The peak resident memory of a process (a kernel, a build) and all it starts, sampled 5 times a second."""

    def __init__(self):
        self.peak, self._pid, self._stop = 0, None, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def watch(self, pid: int) -> None:
        """Start sampling the process ``pid`` and its children."""
        self._pid = pid
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        try:
            kernel = psutil.Process(self._pid)
        except psutil.Error:
            return
        while not self._stop.wait(0.2):
            try:
                tree = [kernel, *kernel.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                continue

    def stop(self) -> int | None:
        """Stop sampling; return the peak in bytes, or None when no process was watched."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak or None


def run_within_budget(names, run, *, jobs: int, max_memory: float, peaks: dict, on_interrupt=None) -> dict:
    """Call ``run(name)`` for every name, at most ``jobs`` at once and within ``max_memory``; return the results.

    ``names`` are started in their order, each as soon as a slot is free and the ``peaks`` of
    the running names plus its own fit in ``max_memory`` (a name missing from ``peaks`` counts
    as ``max_memory / jobs``). When nothing runs, the next name starts whatever its peak. A
    name that does not fit yet is passed over for a later one that does.

    On Ctrl-C (``KeyboardInterrupt``), ``on_interrupt()`` is called at once (to stop what the
    running calls wait on, such as kernels), names not started are dropped, and the interrupt
    is raised again without waiting for the running calls.

    Examples
    --------
    >>> run_within_budget(["a", "b"], str.upper, jobs=2, max_memory=1.0, peaks={"a": 0.8, "b": 0.8})
    {'a': 'A', 'b': 'B'}
    """
    waiting, running, results = list(names), {}, {}
    share = max_memory / max(jobs, 1)
    need = {name: peaks.get(name, share) for name in waiting}
    pool, interrupted = ThreadPoolExecutor(max_workers=jobs), False
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                held = sum(need[name] for name in running.values())
                ready = next((n for n in waiting if not running or held + need[n] <= max_memory), None)
                if ready is None:
                    break
                waiting.remove(ready)
                running[pool.submit(run, ready)] = ready
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                results[running.pop(future)] = future.result()
    except KeyboardInterrupt:
        interrupted = True
        if on_interrupt is not None:
            on_interrupt()
        raise
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=interrupted)
    return {name: results[name] for name in names}
