"""The wheel carries everything `mnist-analysis report` needs, and builds without warnings.

A new user installs the package outside the repository and renders a notebook from an empty
folder. The dependencies come from this test run's environment (a ``.pth`` line), so the
test needs no network; the package itself comes only from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# Builds the wheel with pip: slow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("mnist_analysis-*.whl")
    return path, built.stdout + built.stderr


def test_the_wheel_ships_the_notebooks_and_templates(wheel):
    names = zipfile.ZipFile(wheel[0]).namelist()
    shipped = sorted(n.rsplit("/", 1)[-1] for n in names if n.startswith("mnist_analysis/notebooks/"))
    assert shipped == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "mnist_analysis/build/templates/mnist_report/index.html.j2" in names


def test_the_wheel_carries_every_file_of_the_package_and_its_wings(wheel):
    names = set(zipfile.ZipFile(wheel[0]).namelist())
    package = ROOT / "mnist_analysis"
    files = {
        "mnist_analysis/" + p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert {
        "mnist_analysis/data/__init__.py",
        "mnist_analysis/data/loaders.py",
        "mnist_analysis/caching/cache.py",
        "mnist_analysis/build/reports.py",
        "mnist_analysis/build/notebook_profile.json",
        "mnist_analysis/build/templates/mnist_report/conf.json",
        "mnist_analysis/build/templates/pages/index.html.j2",
        "mnist_analysis/explorer_js/explorer.js",
        "mnist_analysis/cli.py",
    } <= files  # the listing found the wings, the data files and the JavaScript
    assert sorted(files - names) == []


def test_the_wheel_builds_without_warnings(wheel):
    log = wheel[1]
    assert "Warning" not in log, log[-3000:]
    assert "deprecated" not in log.lower(), log[-3000:]


@pytest.mark.realdata
def test_report_renders_from_an_empty_folder_after_installing_the_wheel(wheel, real_data_dir, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies of this test run, behind the new environment's own site-packages.
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheel[0])],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {
        **os.environ,
        "MNIST_ANALYSIS_DATA_DIR": str(real_data_dir),
        "MNIST_ANALYSIS_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": f"{environment / 'bin'}:{os.environ['PATH']}",
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
    }  # the dependencies' templates
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [str(python), "-c", "import mnist_analysis; print(mnist_analysis.__file__)"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(site), where
    rendered = subprocess.run(
        [str(environment / "bin" / "mnist-analysis"), "report", "--quick", "--only", "00_overview"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
    )
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    assert (empty / "reports" / "00_overview.html").is_file()
    assert (empty / "reports" / "index.html").is_file()
    copied = subprocess.run(
        [str(environment / "bin" / "mnist-analysis"), "notebooks", "mine"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr
    assert sorted(p.name for p in (empty / "mine").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
