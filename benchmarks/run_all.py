"""Run every benchmarks/bench_*.py script in turn (each writes benchmarks/results/<name>.json).

Each script runs in its own process and measures by the protocol of ``benchmarks/common.py``
(cold = fresh process with empty caches, warm = fresh process with filled caches, medians
of 3). Afterwards ``benchmarks/README.md`` is regenerated from the results and
``benchmarks/check.py`` lists which results are fresh.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode:
            failed.append(script.name)
    subprocess.run([sys.executable, str(HERE / "check.py"), "--write-readme"], check=True)
    subprocess.run([sys.executable, str(HERE / "check.py")], check=True)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")
