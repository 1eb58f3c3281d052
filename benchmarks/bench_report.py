"""`make report` on the full data: cold (empty caches) and warm (caches filled), with peak memory.

Each run is `mnist-analysis report` (what `make report` runs once the environment exists)
under `/usr/bin/time -v`, which gives the wall time and the largest resident set of any one
process; a sampler also sums the resident sets of the whole process tree (the command plus
its notebook kernel) every 0.2 s, for the peak the machine actually had to hold.
Targets: cold <= 10 min, warm <= 2 min, peak memory <= 4 GB. A plain gzip decode of the image
files, timed before and after in the same run, shows how fast the machine was meanwhile.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_report.py [--cold-runs 1] [--warm-runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import gzip_decode_seconds, summary, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"cold_s": 600, "warm_s": 120, "peak_memory_bytes": 4 * 1024**3}


def tree_peak_rss(process: psutil.Process, stop: threading.Event, peak: list) -> None:
    while not stop.wait(0.2):
        try:
            procs = [process, *process.children(recursive=True)]
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            continue


def one_build(cache: Path, output: Path) -> dict:
    env = {**os.environ, "MNIST_ANALYSIS_CACHE_DIR": str(cache)}
    command = ["/usr/bin/time", "-v", str(Path(sys.executable).with_name("mnist-analysis")), "report", "--output", str(output)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=tree_peak_rss, args=(psutil.Process(process.pid), stop, peak), daemon=True)
    sampler.start()
    out, err = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"report build failed ({process.returncode}):\n{out}\n{err[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    max_rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) * 1024
    per_notebook = re.findall(r"wrote .*?([\w]+)\.html \(([\d.]+) s\)", out)
    return {"seconds": seconds, "max_single_process_rss_bytes": max_rss, "peak_tree_rss_bytes": peak[0],
            "per_notebook_s": {name: float(s) for name, s in per_notebook}}


def main(cold_runs: int, warm_runs: int) -> Path:
    yardstick_before = gzip_decode_seconds()
    cold, warm = [], []
    output = Path(tempfile.mkdtemp(prefix="mnist-bench-reports-"))
    for _ in range(cold_runs):
        cache = Path(tempfile.mkdtemp(prefix="mnist-bench-cache-"))
        cold.append(one_build(cache, output))
        print(f"cold: {cold[-1]['seconds']:.0f} s", flush=True)
        if len(cold) < cold_runs:
            shutil.rmtree(cache)
    for _ in range(warm_runs):
        warm.append(one_build(cache, output))
        print(f"warm: {warm[-1]['seconds']:.0f} s", flush=True)
    shutil.rmtree(cache)
    peak = max(r["peak_tree_rss_bytes"] for r in cold + warm)
    cold_s, warm_s = summary([r["seconds"] for r in cold]), summary([r["seconds"] for r in warm])
    return write_result("report", {
        "what": "mnist-analysis report on the full data (every notebook, sample_size=None)",
        "cold_empty_cache": cold_s, "warm_cache_filled": warm_s,
        "peak_tree_rss_bytes": peak,
        "max_single_process_rss_bytes": max(r["max_single_process_rss_bytes"] for r in cold + warm),
        "runs": {"cold": cold, "warm": warm},
        "same_run_yardstick": {"what": "plain gzip decode of both image files (about 0.43 s on a quiet machine)",
                               "before": yardstick_before, "after": gzip_decode_seconds()},
        "targets": TARGETS,
        "meets_targets": {"cold": cold_s["median_s"] <= TARGETS["cold_s"], "warm": warm_s["median_s"] <= TARGETS["warm_s"],
                          "memory": peak <= TARGETS["peak_memory_bytes"]},
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=1)
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()
    print(main(args.cold_runs, args.warm_runs).read_text())
