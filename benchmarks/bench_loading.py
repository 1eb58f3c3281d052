"""Cold and warm loading of all 70,000 images, against a plain gzip decode measured in the same run.

Cold: an empty cache, so the files are decompressed, verified and cached as .npy.
Warm: the cache is filled, so a load is a memory map (the target is <= 50 ms).
Re-verify: the cached .npy files were touched since they were verified, so their content is
hashed again against the pinned SHA-256 before it is served (the cost of that safety net).
Baseline: what a plain loader does every time: gzip-decompress both image files.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_loading.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import gzip_decode_seconds, summary, time_runs, write_result  # noqa: E402

import mnist_analysis as mx  # noqa: E402
from mnist_analysis.registry import REGISTRY  # noqa: E402
from mnist_analysis.sources import locate  # noqa: E402

TARGET_WARM_S = 0.050


def main(runs: int = 7) -> Path:
    cache = Path(tempfile.mkdtemp(prefix="mnist-bench-cache-"))
    os.environ["MNIST_ANALYSIS_CACHE_DIR"] = str(cache)
    sources = [locate(REGISTRY[k]).path for k in ("train-images", "test-images")]

    def empty_cache():
        shutil.rmtree(cache, ignore_errors=True)

    def load_all():
        images = mx.load_images("all")
        assert images.shape == (70_000, 28, 28)

    baseline = gzip_decode_seconds(runs)
    cold = time_runs(load_all, max(3, runs // 2), setup=empty_cache)
    warm = time_runs(load_all, runs)

    def touch_cached_arrays():
        for npy in (cache / "arrays").glob("*.npy"):
            os.utime(npy)

    reverify = time_runs(load_all, max(3, runs // 2), setup=touch_cached_arrays)
    shutil.rmtree(cache, ignore_errors=True)
    warm_summary = summary(warm)
    return write_result(
        "loading",
        {
            "what": "mnist_analysis.load_images('all'): 70,000 images",
            "sources": [str(p) for p in sources],
            "baseline_plain_gzip_decode": baseline,
            "cold_empty_cache": summary(cold),
            "warm_cache_filled": warm_summary,
            "reverify_touched_cache": summary(reverify),
            "target_warm_s": TARGET_WARM_S,
            "warm_meets_target": warm_summary["median_s"] <= TARGET_WARM_S,
            "warm_speedup_over_baseline": baseline["median_s"] / warm_summary["median_s"],
        },
    )


if __name__ == "__main__":
    path = main()
    print(path.read_text())
