"""The whole data-quality audit on all 70,000 images: cold and warm, each in a fresh process.

The audit is what notebooks/05_data_quality.ipynb and `mnist-analysis export` compute:
``per_image_table`` (measurements, morphometrics, PCA, UMAP map, out-of-sample probabilities
of the audit's models, ``label_quality.TABLE_MODELS``, confident-learning label issues, outlier
scores) plus the exact and near-duplicate pairs within and across the splits. Targets: <= 300 s
cold and <= 10 s warm on 2 cores.

Protocol (``common``'s fresh processes): *cold* is a new Python process with an empty result
cache, empty decoded arrays and an empty numba cache, three times, median reported; *warm* is
a new process whose caches an earlier run filled (here the first cold run, instead of an
untimed priming run of its own), three times. Each child times the audit itself
(``audit_s``, stage by stage) and the whole process is timed too (``process_s``: start-up and
imports included); the targets apply to ``process_s``.

The machine is shared, so the results carry the same-run yardstick and the load that
``common.write_result`` records, and ``cpu_seconds`` of each child (processor time of the
audit's own process, which other work on the machine slows less than wall time).

Run: MNIST_ANALYSIS_DATA_DIR=/work/shared/data python benchmarks/bench_audit.py [cold_runs] [warm_runs]
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_COLD_S = 300.0
TARGET_WARM_S = 10.0

#: What each fresh process runs: the audit, then one JSON line with its stage timings.
CHILD = """
import json, sys, time
start = time.perf_counter()
sys.path.insert(0, "benchmarks")
from bench_audit import audit
stages = {}
table, pairs = audit(stages)
print(json.dumps({
    "audit_s": time.perf_counter() - start,
    "stages": stages,
    "rows": len(table),
    "label_issues": int(table["is_label_issue"].sum()),
    "test_label_issues": int(table.loc[table["split"] == "test", "is_label_issue"].sum()),
    "near_duplicate_pairs": len(pairs),
    "cross_split_pairs": int(pairs["cross_split"].sum()),
}))
"""


def audit(stages: dict | None = None):
    """Run the whole audit once; record each stage's wall seconds (and the CPU seconds) in ``stages``.

    The expensive steps run first, one by one, so that their times show; ``per_image_table``
    then reads them from the cache and adds the label issues and the table itself.
    """
    import mnist_analysis as mx
    from mnist_analysis.duplicates import near_duplicates
    from mnist_analysis.embeddings import digit_map
    from mnist_analysis.label_quality import TABLE_MODELS, model_probabilities, outlier_scores, pca_scores
    from mnist_analysis.measurements import measure
    from mnist_analysis.morphometrics import morphometrics
    from mnist_analysis.per_image import per_image_table

    stages = {} if stages is None else stages
    stage_cpu = {}
    cpu_start = time.process_time()

    def cpu():  # this process (all threads) and the worker processes it has waited for
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def timed(name, function, *args, **kwargs):
        start, cpu_before = time.perf_counter(), cpu()
        result = function(*args, **kwargs)
        stages[name] = time.perf_counter() - start
        stage_cpu[name] = cpu() - cpu_before
        return result

    frame = timed("load_frame", mx.load_frame)
    images = timed("load_images", mx.load_images, "all")
    labels = frame["label"].to_numpy()
    timed("measurements", measure, images)
    timed("morphometrics", morphometrics, images)
    timed("pca", pca_scores, images, seed=0)
    timed("umap_digit_map", digit_map, images, seed=0)
    # All the audit's models in one call, as per_image_table makes it: the SVM's folds run in
    # worker processes while this process computes the others.
    timed("probabilities_" + "+".join(TABLE_MODELS), model_probabilities, images, labels, seed=0)
    timed("outlier_scores", outlier_scores, images, seed=0)
    table = timed("per_image_table", per_image_table, frame, images, seed=0)
    pairs = timed("near_duplicates", near_duplicates, images, splits=frame["split"].astype(str).to_numpy())
    # Processor seconds of this process (all threads): less sensitive than wall time to other
    # work sharing the machine.
    stages["cpu_seconds"] = time.process_time() - cpu_start
    stages["stage_cpu_seconds"] = stage_cpu
    assert len(table) == 70_000
    return table, pairs


def main(cold_runs: int = 3, warm_runs: int = 3) -> Path:
    """Cold runs one fresh process at a time, then the warm runs; the JSON is rewritten after each step.

    On a shared machine a run can take long: what was measured so far is on disk, marked
    ``complete: false``, until every run is done.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import _run_child, fresh_summary, new_caches, target, write_result

    cold, warm = [], []

    def write(complete: bool) -> Path:
        done = cold + warm
        results = {key: sorted({run[key] for run in done}) for key in ("rows", "label_issues", "near_duplicate_pairs")}
        model_stages = sorted({k for run in cold for k in run["stages"] if k.startswith("probabilities_")})
        cold_summary = fresh_summary(cold) if cold else None
        warm_summary = fresh_summary(warm) if warm else None
        return write_result(
            "audit",
            {
                "what": (
                    "data-quality audit of all 70,000 images (per_image_table + near_duplicates), "
                    "every run in a fresh process"
                ),
                "protocol": "cold: fresh process, empty result/array/numba caches; warm: fresh process, caches filled",
                "complete": complete,
                "cold_runs_planned": cold_runs,
                "warm_runs_planned": warm_runs,
                "cold": cold_summary,
                "cold_audit_s": fresh_summary(cold, "audit_s") if cold else None,
                "cold_runs": cold,
                "warm": warm_summary,
                "warm_audit_s": fresh_summary(warm, "audit_s") if warm else None,
                "warm_runs": warm,
                "cold_model_seconds_median": {
                    stage: statistics.median(run["stages"][stage] for run in cold) for stage in model_stages
                },
                "same_result_every_run": all(len(v) == 1 for v in results.values()),
                "result": {key: values[0] if len(values) == 1 else values for key, values in results.items()},
                "targets": [
                    target(
                        f"audit cold, fresh process, median of {len(cold)} (of {cold_runs} planned)",
                        cold_summary["median_s"] if cold else None,
                        at_most=TARGET_COLD_S,
                        unit="s",
                        note=None if cold else "not measured yet",
                    ),
                    target(
                        f"audit warm, fresh process, median of {len(warm)} (of {warm_runs} planned)",
                        warm_summary["median_s"] if warm else None,
                        at_most=TARGET_WARM_S,
                        unit="s",
                        note=None if warm else "not measured yet",
                    ),
                ],
            },
        )

    # The first cold run's caches, filled by it, serve the warm runs (what fresh_runs(warm=True)
    # would fill with an untimed priming run of its own): one whole audit less on a busy machine.
    base = Path(tempfile.mkdtemp(prefix="mnist-bench-audit-"))
    child_env = dict(os.environ)
    path = None
    try:
        for i in range(cold_runs):
            caches = new_caches(base / f"cold-{i}")
            cold.append(_run_child(CHILD, {**child_env, **caches}, None))
            path = write(complete=False)
            if i == 0:  # one cold figure, then the warm ones, then the rest: a long run leaves both kinds on disk
                for _ in range(warm_runs):
                    warm.append(_run_child(CHILD, {**child_env, **caches}, None))
                path = write(complete=False)
            shutil.rmtree(base / f"cold-{i}", ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return write(complete=True) if cold_runs else path


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    path = main(*arguments)
    print(path.read_text()[:3000])
