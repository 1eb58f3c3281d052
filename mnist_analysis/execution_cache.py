"""Reuse a notebook's outputs when nothing it depends on has changed (jupyter-cache).

The report build asks this cache before it executes a notebook. A stored run matches when the
notebook's **code cells** are the same (jupyter-cache's own rule: markdown edits do not count)
and so are its **inputs**, which this module adds to the notebook's hash:

- the parameters the build passes (``sample_size``, ``seed``...);
- the source of every project module the code cells import, and of everything those import
  (:func:`mnist_analysis.fingerprints.code_closure`); ``import mnist_analysis`` counts the modules
  behind its lazily exported names. The data is covered too: its pinned hashes live in
  :mod:`mnist_analysis.registry`, which the loaders import, and every file is verified before
  a build;
- the versions of the libraries those modules use, and Python's.

On a match, the stored outputs are merged into the current notebook (so edited markdown shows)
and the notebook is rendered again without a kernel. The cache lives in
``cache_dir() / "notebooks"`` (a jupyter-cache folder), so ``mnist-analysis cache`` lists it.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path

from .fingerprints import parse_python

#: Key under the notebook's ``kernelspec`` metadata that carries the inputs' digest while hashing
#: (jupyter-cache hashes the code cells and the kernelspec).
INPUTS_KEY = "mnist_analysis_inputs"
_PACKAGE = "mnist_analysis"


def cache_folder() -> Path:
    """Where executed notebooks are kept."""
    from .cache import cache_dir

    return cache_dir() / "notebooks"


def imported_project_modules(node) -> set[str]:
    """The project modules the code cells of ``node`` import (with the lazy exports of the package).

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from mnist_analysis import plotting")])
    >>> sorted(imported_project_modules(nb))
    ['mnist_analysis.plotting']
    """
    from . import _EXPORTS

    modules = set()
    for cell in node.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = parse_python(
                "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            )
        except SyntaxError:
            continue
        for statement in ast.walk(tree):
            if isinstance(statement, ast.Import):
                names = [alias.name for alias in statement.names]
            elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
                names = [statement.module] + [f"{statement.module}.{alias.name}" for alias in statement.names]
            else:
                continue
            for name in names:
                if name == _PACKAGE and isinstance(statement, ast.Import):  # any exported name may be used
                    modules |= set(_EXPORTS.values())
                elif name.startswith(_PACKAGE + "."):  # a module, or a name: its module is then the prefix
                    exported = _EXPORTS.get(name.removeprefix(_PACKAGE + "."))
                    modules.add(exported or name)
    return modules


def notebook_inputs(node, parameters: dict) -> dict:
    """Everything besides its code cells that a notebook's outputs depend on (see the module docstring)."""
    from .fingerprints import code_closure, library_versions

    code, libraries = {}, set()
    for module in sorted(imported_project_modules(node)):
        digests, used = code_closure(module)
        code.update(digests)
        libraries |= used
    return {"parameters": parameters, "code": dict(sorted(code.items())), "libraries": library_versions(libraries)}


def _keyed(node, inputs: dict):
    keyed = copy.deepcopy(node)
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    keyed.metadata["kernelspec"] = {**keyed.metadata.get("kernelspec", {}), INPUTS_KEY: digest}
    return keyed


def _without_injected_parameters(node):
    node = copy.deepcopy(node)
    node.cells = [c for c in node.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    return node


def _open():
    from jupyter_cache import get_cache

    return get_cache(cache_folder())


def lookup(node, inputs: dict):
    """Return ``(notebook with the stored outputs merged in, when they were computed)``, or None.

    ``node`` is the source notebook (no outputs needed); the result's metadata and markdown are
    the source's, its code cells' outputs those of the stored run.
    """
    from filelock import FileLock

    folder = cache_folder()
    if not (folder / "global.db").is_file():
        return None
    try:
        with FileLock(str(folder) + ".lock"):
            cache = _open()
            pk, merged = cache.merge_match_into_notebook(_keyed(node, inputs), nb_meta=("language_info",))
            created = cache.get_cache_record(pk).created
    except KeyError:
        return None
    merged.metadata["kernelspec"] = copy.deepcopy(node.metadata.get("kernelspec", {}))
    return merged, created


def store(source, executed, inputs: dict, uri: str) -> None:
    """Keep the outputs of ``executed`` (a run of ``source`` with ``inputs``) for :func:`lookup`."""
    from filelock import FileLock
    from jupyter_cache.base import CacheBundleIn

    outputs = _without_injected_parameters(executed)
    code_cells = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]  # noqa: E731
    if code_cells(outputs) != code_cells(source):
        raise ValueError(f"{uri}: the executed notebook's code cells differ from the source's; not caching it")
    # jupyter-cache hashes the cells' metadata too: keep the source's, not papermill's timings.
    for stored, original in zip(
        [c for c in outputs.cells if c.cell_type == "code"], [c for c in source.cells if c.cell_type == "code"]
    ):
        stored.metadata = copy.deepcopy(original.metadata)
    outputs.metadata["kernelspec"] = _keyed(source, inputs).metadata["kernelspec"]
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        _open().cache_notebook_bundle(CacheBundleIn(nb=outputs, uri=uri), check_validity=False, overwrite=True)


def describe_reuse(created: datetime) -> str:
    """The note the index shows for a notebook whose outputs were reused.

    Examples
    --------
    >>> describe_reuse(datetime(2026, 11, 23, 21, 5))
    'outputs from 2026-11-23 21:05 UTC, code unchanged'
    """
    return f"outputs from {created:%Y-%m-%d %H:%M} UTC, code unchanged"
