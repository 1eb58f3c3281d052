"""Shared pieces of the benchmark scripts: timing medians and writing results as JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def time_runs(function, runs: int, setup=None) -> list[float]:
    """Call ``setup()`` (untimed, if given) then ``function()`` ``runs`` times; return the seconds of each call."""
    seconds = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def summary(seconds: list[float]) -> dict:
    """Median, min and max of a list of timings, with the raw runs."""
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "runs": len(seconds),
        "all_s": seconds,
    }


def gzip_decode_seconds(runs: int = 5) -> dict:
    """Time a plain gzip decode of both MNIST image files: the same-run yardstick of machine speed.

    It is what a plain loader does on every load (about 0.43 s on these 2-core machines when
    they are quiet); a benchmark that reports it beside its own timings shows how busy the
    machine was during that run.
    """
    import gzip

    from mnist_analysis.registry import REGISTRY
    from mnist_analysis.sources import locate

    sources = [locate(REGISTRY[k]).path for k in ("train-images", "test-images")]

    def decode():
        return [len(gzip.decompress(p.read_bytes())) for p in sources]

    return summary(time_runs(decode, runs))


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def write_result(name: str, result: dict) -> Path:
    """Write ``result`` (plus time and machine) to ``benchmarks/results/<name>.json`` and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        **result,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
