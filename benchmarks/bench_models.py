"""The class-confusion notebook on the full data: cold caches against warm, and the model zoo.

Cold: an empty cache, so every model of ``mnist_analysis.models`` is fitted and the UMAP
digit map computed (the baseline, measured once: it takes minutes). Warm: the same notebook
again with its caches filled (median of several runs). Targets: cold <= 5 min on 2 cores,
warm in seconds, and a test error of the SVM on PCA features <= 1.6 %. The quick build
(``sample_size=2000``) is timed the same way against its 90 s budget.

Per model, the JSON lists the test error with its 95 % Wilson interval and the fit and
predict seconds of the cold run. Per notebook cell, it lists the cold durations. On a
machine shared with other work the wall clock grows with the load, so the CPU seconds of
the notebook's kernel are recorded too, with the load average before the cold run.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_models.py [folder to keep the
executed full-data notebooks in]
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import summary, write_result  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_class_confusion.ipynb"
TARGET_COLD_S = 300.0
TARGET_QUICK_S = 90.0
TARGET_SVM_ERROR_PERCENT = 1.6


def children_cpu_seconds() -> float:
    """User + system CPU seconds of the finished child processes (the notebook kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_notebook(output: Path, sample_size) -> tuple[float, float]:
    """Execute the notebook with papermill; return its wall-clock and its kernel's CPU seconds.

    CPU seconds do not grow when other work shares the machine, so they show the cost of
    a run on a busy machine better than the wall clock.
    """
    cpu, start = children_cpu_seconds(), time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(output),
        parameters={"sample_size": sample_size, "seed": 0},
        progress_bar=False,
        log_output=False,
        cwd=str(NOTEBOOK.parent),
    )
    return time.perf_counter() - start, children_cpu_seconds() - cpu


def slowest_cells(output: Path, top: int = 5) -> list[dict]:
    """The ``top`` slowest code cells of an executed notebook, with their first line."""
    cells = [c for c in nbformat.read(output, as_version=4).cells if c.cell_type == "code"]
    timed = [
        {
            "seconds": round(c.metadata.get("papermill", {}).get("duration") or 0.0, 2),
            "cell": c.source.splitlines()[0] if c.source else "",
        }
        for c in cells
    ]
    return sorted(timed, key=lambda cell: -cell["seconds"])[:top]


def cold_and_warm(work: Path, sample_size, warm_runs: int) -> dict:
    """Time one cold run (empty cache) then ``warm_runs`` warm runs of the notebook."""
    cache = work / f"cache-{sample_size or 'full'}"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["MNIST_ANALYSIS_CACHE_DIR"] = str(cache)
    load_before = os.getloadavg()[0]
    cold, cold_cpu = run_notebook(work / "cold.ipynb", sample_size)
    warm, warm_cpu = zip(*[run_notebook(work / "warm.ipynb", sample_size) for _ in range(warm_runs)])
    return {
        "cold_empty_cache": summary([cold]),
        "warm_cache_filled": summary(list(warm)),
        "cold_kernel_cpu_s": cold_cpu,
        "warm_kernel_cpu_s": summary(list(warm_cpu)),
        "load_average_1min_before_cold": load_before,
        "cold_slowest_cells": slowest_cells(work / "cold.ipynb"),
        "warm_slowest_cells": slowest_cells(work / "warm.ipynb"),
        "warm_speedup_over_cold": cold / summary(list(warm))["median_s"],
    }


def model_table(sample_size=None) -> list[dict]:
    """Each model's test error, interval and timings, read back from the filled cache."""
    import mnist_analysis as mx
    from mnist_analysis.models import MODELS, error_table, fit_predict

    frame = mx.sample_frame(mx.load_frame(), sample_size, 0)
    images = mx.load_images("all")[frame.index.to_numpy()]
    is_train = (frame["split"] == "train").to_numpy()
    labels = frame["label"].to_numpy()
    results = {
        name: fit_predict(name, images[is_train], labels[is_train], images[~is_train], seed=0) for name in MODELS
    }
    table = error_table(results, labels[~is_train]).drop(columns="description").round(3)
    return table.reset_index().astype(object).where(table.reset_index().notna(), None).to_dict(orient="records")


def main(warm_runs: int = 3, keep: Path | None = None) -> Path:
    """Run the benchmark; ``keep`` names a folder to keep the executed full-data notebooks in."""
    work = Path(tempfile.mkdtemp(prefix="mnist-bench-models-"))
    try:
        quick = cold_and_warm(work, 2000, warm_runs)
        full = cold_and_warm(work, None, warm_runs)
        models = model_table()  # the cache of the full run is still in place
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for executed in ("cold.ipynb", "warm.ipynb"):
                shutil.copy(work / executed, keep / executed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    svm = next(row for row in models if row["model"] == "svm_rbf_pca")
    return write_result(
        "models",
        {
            "what": "notebooks/03_class_confusion.ipynb executed with papermill (kernel start-up included)",
            "full_data": {
                **full,
                "target_cold_s": TARGET_COLD_S,
                "cold_meets_target": full["cold_empty_cache"]["median_s"] <= TARGET_COLD_S,
            },
            "quick_sample_2000": {
                **quick,
                "target_s": TARGET_QUICK_S,
                "cold_meets_target": quick["cold_empty_cache"]["median_s"] <= TARGET_QUICK_S,
            },
            "svm_rbf_pca_test_error_percent": svm["error_percent"],
            "target_svm_error_percent": TARGET_SVM_ERROR_PERCENT,
            "svm_meets_target": svm["error_percent"] <= TARGET_SVM_ERROR_PERCENT,
            "models_full_data": models,
        },
    )


if __name__ == "__main__":
    print(main(keep=Path(sys.argv[1]) if len(sys.argv) > 1 else None))
