"""Warm reads of cached results: this checkout's cache against an earlier revision's, in the same run.

The workload is what a warm report build asks of the cache: the per-image table of all
70,000 digits, which reads the measurements, the digit map, the PCA scores, the neighbour
search, the out-of-sample probabilities and the table itself. Each code version runs in
its own fresh process (``PYTHONPATH`` points at a ``git worktree`` of the baseline revision).
Cold: a fresh process with empty caches (its own new ``MNIST_ANALYSIS_CACHE_DIR`` and
``NUMBA_CACHE_DIR``), ``--cold-runs`` times per version (3 by default: medians of 3); the
last cold run's caches are kept for the warm runs. Warm: a fresh process with those caches
filled (a user reopening a notebook), several times, alternating between the versions so
that a busy machine slows both alike. The time is measured inside each process, from before
the import of the package to the table; the whole process's wall clock is kept too.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_cache.py [--baseline REV] [--warm-runs 5]
[--cold-runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import _run_child, fresh_summary, gzip_decode_seconds, new_caches, target, write_result

ROOT = Path(__file__).resolve().parents[1]
CACHE = "MNIST_ANALYSIS_CACHE_DIR"
#: The last revision with the joblib caches (before the code-aware cache).
DEFAULT_BASELINE = "ba4e509"

WORKLOAD = """
import hashlib, json, time
start = time.perf_counter()
import mnist_analysis as mx
from mnist_analysis.per_image import per_image_table
frame = mx.load_frame()
table = per_image_table(frame, mx.load_images("all"))
seconds = time.perf_counter() - start
import pandas as pd
digest = hashlib.sha256(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes()).hexdigest()
digest = hashlib.sha256((digest + repr(list(table.columns)) + repr(list(table.dtypes))).encode()).hexdigest()
print(json.dumps({"seconds": seconds, "rows": len(table), "digest": digest,
                  "label_issues": int(table["is_label_issue"].sum()), "module": mx.__file__}))
"""


def run(code_root: Path, caches: dict) -> dict:
    """One fresh process of the workload on ``code_root``'s package with the given cache folders."""
    env = {**os.environ, **caches, "PYTHONPATH": str(code_root)}
    # The child runs in the repository (``python -c`` puts its folder first on sys.path): put this version first.
    result = _run_child(f"import sys; sys.path.insert(0, {str(code_root)!r})\n" + WORKLOAD, env, None)
    assert result["module"].startswith(str(code_root)), result["module"]
    return result


def main(baseline: str, warm_runs: int, cold_runs: int = 3) -> Path:
    work = Path(tempfile.mkdtemp(prefix="mnist-bench-cache-"))
    worktree = work / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), baseline], cwd=ROOT, check=True, capture_output=True
    )
    current = work / "current"  # a snapshot, so that edits made while this runs do not change the keys
    shutil.copytree(ROOT / "mnist_analysis", current / "mnist_analysis", ignore=shutil.ignore_patterns("__pycache__"))
    versions = {"baseline": worktree, "current": current}
    try:
        yardstick_before = gzip_decode_seconds()
        cold = {name: [] for name in versions}
        caches = {}
        for i in range(cold_runs):
            for name, root in versions.items():
                caches[name] = new_caches(work / f"cache-{name}-{i}")
                cold[name].append(run(root, caches[name]))
                print(f"cold {name} {i + 1}/{cold_runs}: {cold[name][-1]['seconds']:.1f} s", flush=True)
        warm = {name: [] for name in versions}
        for _ in range(warm_runs):
            for name, root in versions.items():
                warm[name].append(run(root, caches[name]))
        # Within a version, every run (cold or warm) must give the same table: the cache serves what the
        # code computes. Across versions the tables may differ by design (the audit changed after the baseline).
        findings = {name: {r["label_issues"] for r in warm[name] + cold[name]} for name in versions}
        tables = {name: {r["digest"] for r in warm[name] + cold[name]} for name in versions}
        sizes = {
            name: sum(
                p.stat().st_size for p in Path(caches[name]["MNIST_ANALYSIS_CACHE_DIR"]).rglob("*") if p.is_file()
            )
            for name in versions
        }
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: fresh_summary(warm[name], "seconds") for name in versions}
    cold_medians = {name: fresh_summary(cold[name], "seconds") for name in versions}
    ratio = medians["current"]["median_s"] / medians["baseline"]["median_s"]
    same = {name: len(tables[name]) == 1 and len(findings[name]) == 1 for name in versions}
    return write_result(
        "cache",
        {
            "what": "per_image_table(load_frame(), load_images('all')) in a fresh process: cold, then warm",
            "protocol": f"cold: fresh process, empty MNIST_ANALYSIS_CACHE_DIR and NUMBA_CACHE_DIR, {cold_runs} "
            f"run(s) per version; warm: fresh process reusing the last cold run's caches, {warm_runs} runs per "
            "version; versions alternate",
            "baseline_revision": baseline,
            "cold_s": {name: s["median_s"] for name, s in cold_medians.items()},
            "cold": cold_medians,
            "warm": medians,
            "process_s": {
                name: {"cold": fresh_summary(cold[name]), "warm": fresh_summary(warm[name])} for name in versions
            },
            "warm_ratio_current_over_baseline": ratio,
            "cache_bytes": sizes,
            "same_table_in_every_run": same,
            "table_digests": {name: sorted(v) for name, v in tables.items()},
            "label_issues": {name: sorted(v) for name, v in findings.items()},
            "yardstick": {
                "what": "plain gzip decode of both image files",
                "before": yardstick_before,
                "after": gzip_decode_seconds(),
            },
            "targets": [
                target("warm per-image table, current cache, fresh process", medians["current"]["median_s"], unit="s"),
                target("warm time, current over baseline revision", ratio, unit="x"),
                target(
                    f"cold per-image table, current, median of {cold_runs}",
                    cold_medians["current"]["median_s"],
                    unit="s",
                ),
                target(
                    "label issues found (current); every cold and warm run of each version gives the same table",
                    float(max(findings["current"])),
                    met=all(same.values()),
                ),
            ],
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()
    print(main(args.baseline, args.warm_runs, args.cold_runs).read_text())
