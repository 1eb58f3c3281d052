"""Cold and warm loading of all 70,000 images, each in a fresh process, against a plain gzip decode.

Every timed run is a new Python process (``common.fresh_runs``); the time of
``mnist_analysis.load_images('all')`` is measured inside it, after ``import mnist_analysis``
and the lazy import of the loader (about 1 s with pandas; reported separately as
``import_s``), and the whole process's wall clock is kept too.

Cold: a fresh process with an empty cache, so the files are decompressed, verified and cached
as .npy. Warm: a fresh process with the cache filled by an earlier run (a user reopening a
notebook), so a load is a memory map; the target is <= 50 ms. Re-verify: a fresh process whose
cached .npy files were touched since they were verified, so their content is hashed again
against the pinned SHA-256 before it is served (the cost of that safety net).
Baseline: what a plain loader does every time: gzip-decompress both image files (in this
process, also the same-run yardstick of machine speed).

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_loading.py [runs]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fresh_runs, fresh_summary, gzip_decode_seconds, target, write_result

TARGET_WARM_S = 0.050

CHILD = """
import json, os, time
from pathlib import Path
touch = {touch}
cache = Path(os.environ["MNIST_ANALYSIS_CACHE_DIR"])
touched = 0
if touch:
    for npy in cache.rglob("*.npy"):
        os.utime(npy)
        touched += 1
start = time.perf_counter()
import mnist_analysis as mx
load_images = mx.load_images  # the package imports its modules lazily: pandas and the loader, here
imported = time.perf_counter()
images = load_images("all")
loaded = time.perf_counter()
assert images.shape == (70_000, 28, 28), images.shape
print(json.dumps({{"import_s": imported - start, "load_s": loaded - imported, "touched_npy": touched}}))
"""


def main(runs: int = 3) -> Path:
    baseline = gzip_decode_seconds(max(runs, 5))
    cold = fresh_runs(CHILD.format(touch=False), runs)
    warm = fresh_runs(CHILD.format(touch=False), runs, warm=True)
    reverify = fresh_runs(CHILD.format(touch=True), runs, warm=True)
    if not all(r["touched_npy"] for r in reverify):
        raise SystemExit("re-verify runs found no cached .npy to touch: the cache layout changed")
    results = {
        name: {"load": fresh_summary(r, "load_s"), "import": fresh_summary(r, "import_s"), "process": fresh_summary(r)}
        for name, r in (("cold", cold), ("warm", warm), ("reverify", reverify))
    }
    warm_s = results["warm"]["load"]["median_s"]
    return write_result(
        "loading",
        {
            "what": "mnist_analysis.load_images('all'): 70,000 images, each run a fresh process",
            "protocol": "cold: fresh process, empty MNIST_ANALYSIS_CACHE_DIR and NUMBA_CACHE_DIR; warm: fresh "
            "process, caches filled by an untimed earlier run; reverify: warm, with the cached .npy touched; "
            f"medians of {runs}; load_s is the load_images call, import_s the package import, process_s the "
            "whole process",
            "baseline_plain_gzip_decode": baseline,
            "cold_empty_cache": results["cold"]["load"],
            "warm_cache_filled": results["warm"]["load"],
            "reverify_touched_cache": results["reverify"]["load"],
            "import_s": {name: r["import"] for name, r in results.items()},
            "process_s": {name: r["process"] for name, r in results.items()},
            "runs_detail": {"cold": cold, "warm": warm, "reverify": reverify},
            "target_warm_s": TARGET_WARM_S,
            "warm_meets_target": warm_s <= TARGET_WARM_S,
            "warm_speedup_over_baseline": baseline["median_s"] / warm_s,
            "yardstick": {"what": "plain gzip decode of both MNIST image files", "gzip_decode": baseline},
            "targets": [
                target("warm load, fresh process, cache filled", warm_s, at_most=TARGET_WARM_S, unit="s"),
                target("cold load, fresh process, empty cache", results["cold"]["load"]["median_s"], unit="s"),
                target(
                    "first warm load in a fresh process, package import included",
                    fresh_summary([{"s": r["import_s"] + r["load_s"]} for r in warm], "s")["median_s"],
                    unit="s",
                ),
                target("re-verify touched cache", results["reverify"]["load"]["median_s"], unit="s"),
                target("baseline: plain gzip decode", baseline["median_s"], unit="s"),
            ],
        },
    )


if __name__ == "__main__":
    path = main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(path.read_text())
