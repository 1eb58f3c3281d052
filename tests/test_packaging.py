"""The project's own files agree with each other: dependencies, README commands and CI."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def requirement(text: str) -> tuple[str, str]:
    name, _, version = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(([<>=!~]=?)\s*(\S+))?", text).group(1, 2, 2)
    return name.lower().replace("_", "-"), (version or "").replace(" ", "")


def pyproject_requirements() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return dict(requirement(r) for r in listed)


def environment_requirements() -> dict:
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e ."], "environment.yml must end by installing the project itself"
    return dict(requirement(d) for d in conda if requirement(d)[0] not in {"python", "pip"})


def test_environment_and_pyproject_name_the_same_dependencies():
    assert environment_requirements() == pyproject_requirements()


def test_python_versions_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.10"
    assert "python>=3.10" in (ROOT / "environment.yml").read_text()


def test_readme_shows_the_two_commands_first_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    assert blocks
    assert blocks[0].split() == ["make", "report", "make", "test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must run the README's test command, exactly"


@pytest.mark.realdata
@pytest.mark.slow
def test_readme_helper_example_runs(real_data, capsys):
    readme = (ROOT / "README.md").read_text()
    helpers = readme[readme.index("## Using the helpers") :]
    example = re.search(r"```python\n(.*?)```", helpers, re.S).group(1)
    exec(compile(example, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_readme_documents_every_column_of_the_per_image_table():
    from mnist_analysis.per_image import columns_markdown

    assert columns_markdown() in (ROOT / "README.md").read_text(), (
        "README's per-image table is out of date: paste mnist_analysis.per_image.columns_markdown()"
    )


def test_readme_tours_every_notebook():
    readme = (ROOT / "README.md").read_text()
    missing = [p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if f"| `{p.stem}` |" not in readme]
    assert not missing, f"README's notebook tour lacks {missing}"


def test_readme_module_tour_names_exactly_the_package_modules():
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("### The helper modules") :]
    tour = tour[: tour.index("\n### ")]
    toured = {name for name in re.findall(r"`([a-z_.]+)`", tour) if not name.startswith("mnist_analysis")}
    package = ROOT / "mnist_analysis"
    modules = {".".join(p.relative_to(package).with_suffix("").parts) for p in package.rglob("*.py")}
    modules = {name for name in modules if name.split(".")[-1] != "__init__"}
    assert toured == modules, f"README's module tour lacks {sorted(modules - toured)}, names {sorted(toured - modules)}"
