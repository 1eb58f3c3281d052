"""Warm reads of cached results: this checkout's cache against an earlier revision's, in the same run.

The workload is what a warm report build asks of the cache: the per-image table of all
70,000 digits, which reads the measurements, the digit map, the PCA scores, the neighbour
search, the out-of-sample probabilities and the table itself. Each code version runs in
its own process with its own cache folder (``PYTHONPATH`` points at a ``git worktree`` of the
baseline revision), first cold to fill the cache, then warm several times, alternating
between the versions so that a busy machine slows both alike. Each warm run is a new
process, as each notebook kernel is; the time is measured inside it, from before the import
of the package to the table.

Run: MNIST_ANALYSIS_DATA_DIR=../shared/data python benchmarks/bench_cache.py [--baseline REV] [--warm-runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import gzip_decode_seconds, summary, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The last revision with the joblib caches (before the code-aware cache).
DEFAULT_BASELINE = "ba4e509"

WORKLOAD = """
import json, time
start = time.perf_counter()
import mnist_analysis as mx
from mnist_analysis.per_image import per_image_table
frame = mx.load_frame()
table = per_image_table(frame, mx.load_images("all"))
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(table),
                  "label_issues": int(table["is_label_issue"].sum()), "module": mx.__file__}))
"""


def run(code_root: Path, cache: Path) -> dict:
    env = {**os.environ, "MNIST_ANALYSIS_CACHE_DIR": str(cache), "PYTHONPATH": str(code_root)}
    done = subprocess.run([sys.executable, "-c", WORKLOAD], env=env, cwd=code_root, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"workload failed under {code_root}:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["module"].startswith(str(code_root)), result["module"]
    return result


def main(baseline: str, warm_runs: int) -> Path:
    work = Path(tempfile.mkdtemp(prefix="mnist-bench-cache-"))
    worktree = work / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), baseline], cwd=ROOT, check=True, capture_output=True
    )
    current = work / "current"  # a snapshot, so that edits made while this runs do not change the keys
    shutil.copytree(ROOT / "mnist_analysis", current / "mnist_analysis", ignore=shutil.ignore_patterns("__pycache__"))
    versions = {"baseline": worktree, "current": current}
    caches = {name: work / f"cache-{name}" for name in versions}
    try:
        yardstick_before = gzip_decode_seconds()
        cold = {name: run(root, caches[name]) for name, root in versions.items()}
        warm = {name: [] for name in versions}
        for _ in range(warm_runs):
            for name, root in versions.items():
                warm[name].append(run(root, caches[name]))
        findings = {name: {r["label_issues"] for r in warm[name]} for name in versions}
        sizes = {name: sum(p.stat().st_size for p in caches[name].rglob("*") if p.is_file()) for name in versions}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: summary([r["seconds"] for r in warm[name]]) for name in versions}
    return write_result(
        "cache",
        {
            "what": "per_image_table(load_frame(), load_images('all')) in a new process: cold once, then warm",
            "baseline_revision": baseline,
            "cold_s": {name: r["seconds"] for name, r in cold.items()},
            "warm": medians,
            "warm_ratio_current_over_baseline": medians["current"]["median_s"] / medians["baseline"]["median_s"],
            "cache_bytes": sizes,
            "same_findings": findings["current"] == findings["baseline"],
            "label_issues": {name: sorted(v) for name, v in findings.items()},
            "same_run_yardstick": {
                "what": "plain gzip decode of both image files",
                "before": yardstick_before,
                "after": gzip_decode_seconds(),
            },
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--warm-runs", type=int, default=5)
    args = parser.parse_args()
    print(main(args.baseline, args.warm_runs).read_text())
