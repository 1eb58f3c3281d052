"""Importing the package (and any of its modules) reads no data, writes nothing and leaves matplotlib alone."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import mnist_analysis

MODULES = sorted(f"mnist_analysis.{m.name}" for m in pkgutil.iter_modules(mnist_analysis.__path__))

PROBE = """
import json, sys
import matplotlib
before = dict(matplotlib.rcParams)
loaded_before = set(sys.modules)
import mnist_analysis
heavy = ("matplotlib.pyplot", "pooch", "requests", "pandas", "sklearn", "umap")
light = sorted(m for m in heavy if m in sys.modules and m not in loaded_before)
backend = matplotlib.rcParams._get_backend_or_none()
for name in json.loads(sys.argv[1]):
    __import__(name)
changed = sorted(k for k, v in matplotlib.rcParams.items() if str(before.get(k)) != str(v))
print(json.dumps({"light": light, "changed": changed,
                  "backend_same": backend == matplotlib.rcParams._get_backend_or_none()}))
"""


def test_importing_every_module_has_no_side_effects(tmp_path):
    cache, home = tmp_path / "cache", tmp_path / "home"
    home.mkdir()
    env = {
        "MNIST_ANALYSIS_CACHE_DIR": str(cache),
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
        "MNIST_ANALYSIS_DATA_DIR": str(tmp_path / "no-such-folder"),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(MODULES)], env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["light"] == [], "importing mnist_analysis itself should load no heavy dependency"
    assert report["changed"] == [], "importing a module changed matplotlib's global rcParams"
    assert report["backend_same"]
    assert not cache.exists(), "importing wrote into the cache folder"
    assert list(home.iterdir()) == [], "importing wrote into the home folder"
