"""All per-image measurements for the 70,000 MNIST images, against a per-image loop in the same run.

Timed: ``mnist_analysis.measurements.measure(images)`` on all 70,000 images with an empty
cache (so the whole computation runs, plus hashing and storing the result); the target is
<= 15 s on the project's 2-core machines. Also timed: the same call once cached, and
``deskew`` of all images.

Baseline: the obvious per-image loop with scikit-image and scipy (regionprops for box,
centre and moments; skeletonize plus a distance transform for thickness and length; label
for components and holes), timed on a random subset and scaled to 70,000 images.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_measurements.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import summary, time_runs, write_result  # noqa: E402

import mnist_analysis as mx  # noqa: E402
from mnist_analysis import measurements  # noqa: E402

TARGET_S = 15.0
BASELINE_SUBSET = 2_000


def naive_measure(images, threshold=measurements.INK_THRESHOLD):
    """One image at a time, the way a first notebook would do it."""
    from scipy import ndimage as ndi
    from skimage.measure import label, regionprops
    from skimage.morphology import skeletonize

    rows = []
    for image in images:
        inked = image >= threshold
        props = regionprops((image > 0).astype(int), intensity_image=image)
        skeleton = skeletonize(inked)
        distance = ndi.distance_transform_edt(np.pad(inked, 1))[1:-1, 1:-1]
        rows.append({
            "ink": image.sum() / 255,
            "area": int(inked.sum()),
            "bbox": props[0].bbox if props else None,
            "centroid": props[0].centroid_weighted if props else None,
            "moments": props[0].moments_weighted_central if props else None,
            "thickness": 2 * distance[skeleton].mean() - 1 if skeleton.any() else np.nan,
            "length": int(skeleton.sum()),
            "components": int(label(inked, connectivity=2).max()),
            "holes": int(label(np.pad(~inked, 1, constant_values=True), connectivity=1).max()) - 1,
        })
    return rows


def main(runs: int = 3) -> Path:
    images = np.ascontiguousarray(mx.load_images("all"))
    cache = Path(tempfile.mkdtemp(prefix="mnist-bench-cache-"))
    os.environ["MNIST_ANALYSIS_CACHE_DIR"] = str(cache)
    subset = images[np.random.default_rng(0).choice(len(images), BASELINE_SUBSET, replace=False)]

    def empty_cache():
        shutil.rmtree(cache, ignore_errors=True)

    def measure_all():
        frame = measurements.measure(images)
        assert len(frame) == len(images)

    baseline = time_runs(lambda: naive_measure(subset), runs)
    cold = time_runs(measure_all, runs, setup=empty_cache)
    warm = time_runs(measure_all, runs)
    deskew = time_runs(lambda: measurements.deskew(images), runs)
    shutil.rmtree(cache, ignore_errors=True)

    scale = len(images) / BASELINE_SUBSET
    baseline_summary = summary(baseline)
    extrapolated = {key: baseline_summary[key] * scale for key in ("median_s", "min_s", "max_s")}
    cold_summary = summary(cold)
    return write_result("measurements", {
        "what": "mnist_analysis.measurements.measure(load_images('all')) with an empty cache",
        "n_images": len(images),
        "columns": list(measurements.COLUMNS),
        "measure_empty_cache": cold_summary,
        "measure_cached": summary(warm),
        "deskew_all": summary(deskew),
        "baseline_per_image_loop": {
            "what": f"per-image scikit-image/scipy loop on {BASELINE_SUBSET:,} random images, scaled to "
                    f"{len(images):,}",
            "subset": baseline_summary,
            "extrapolated": extrapolated,
        },
        "target_s": TARGET_S,
        "meets_target": cold_summary["median_s"] <= TARGET_S,
        "speedup_over_baseline": extrapolated["median_s"] / cold_summary["median_s"],
    })


if __name__ == "__main__":
    path = main()
    print(path.read_text())
