"""Reuse a notebook's outputs when nothing it depends on has changed (jupyter-cache).

The report build asks this cache before it executes a notebook. A stored run matches when the
notebook's **code cells** are the same (jupyter-cache's own rule: markdown edits do not count)
and so are its **inputs**, which this module adds to the notebook's hash:

- the parameters the build passes (``sample_size``, ``seed``...);
- the source of every project module the code cells import, and of everything those import
  (:func:`mnist_analysis.caching.fingerprints.code_closure`); ``import mnist_analysis`` counts the modules
  behind its lazily exported names. The data is covered too: its pinned hashes live in
  :mod:`mnist_analysis.data.registry`, which the loaders import, and every file is verified before
  a build;
- the versions of the libraries those modules use, and Python's.

On a match, the stored outputs are merged into the current notebook (so edited markdown shows)
and the notebook is rendered again without a kernel. Each stored run is bound to its notebook
(:func:`run_binding`): its path, its code's hash and a checksum of its outputs are stored with it
and checked on reuse, so outputs edited in the cache, or one notebook's run copied over another's
entry, are never served: such an entry is removed with a warning and the notebook runs again. A
damaged cache (a garbled database, a stored notebook missing or not JSON) is named in a warning
and set aside (``notebooks.broken-<time>-<pid>`` beside it) or the bad entry removed; a cache that
cannot be written gives one warning and the build goes on without caching. The cache lives in
``cache_dir() / "notebooks"`` (a jupyter-cache folder), so ``mnist-analysis cache`` lists it.
"""

from __future__ import annotations

import ast
import copy
from datetime import datetime
from pathlib import Path

from ..caching.fingerprints import parse_python
from ..utils import json_digest

#: Key under the notebook's ``kernelspec`` metadata that carries the inputs' digest while hashing
#: (jupyter-cache hashes the code cells and the kernelspec).
INPUTS_KEY = "mnist_analysis_inputs"
_PACKAGE = "mnist_analysis"


def cache_folder() -> Path:
    """Where executed notebooks are kept."""
    from ..caching.cache import cache_dir

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
    from .. import _EXPORTS

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
    from ..caching.fingerprints import code_closure, library_versions

    code, libraries = {}, set()
    for module in sorted(imported_project_modules(node)):
        digests, used = code_closure(module)
        code.update(digests)
        libraries |= used
    return {"parameters": parameters, "code": dict(sorted(code.items())), "libraries": library_versions(libraries)}


def _keyed(node, inputs: dict):
    keyed = copy.deepcopy(node)
    digest = json_digest(inputs)
    keyed.metadata["kernelspec"] = {**keyed.metadata.get("kernelspec", {}), INPUTS_KEY: digest}
    return keyed


def _without_injected_parameters(node):
    node = copy.deepcopy(node)
    node.cells = [c for c in node.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    return node


#: Key of the stored run's notebook metadata that binds it to its notebook (see :func:`run_binding`).
BINDING_KEY = "mnist_analysis_run"


class BrokenCacheWarning(UserWarning):
    """The execution cache (or one of its entries) was damaged, altered or could not be written."""


def _code_cells(node) -> list:
    return [c for c in node.cells if c.cell_type == "code"]


def run_binding(node, uri: str) -> dict:
    """What ties a stored run to its notebook: its path, its code's hash and its outputs' checksum.

    Checked on every reuse, so that outputs edited in the cache or a run copied over another
    notebook's entry are never served.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> sorted(run_binding(nb, "notebooks/01.ipynb"))
    ['code_sha256', 'outputs_sha256', 'uri']
    """
    cells = _code_cells(node)
    return {
        "uri": str(uri),
        "code_sha256": json_digest([c.source for c in cells]),
        "outputs_sha256": json_digest([[c.get("execution_count"), c.get("outputs", [])] for c in cells]),
    }


def _open():
    from jupyter_cache import get_cache

    return get_cache(cache_folder())


#: Errors that mean the cache's database or files are damaged (not a bug of the caller).
def _damage_errors() -> tuple:
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    return (sqlite3.Error, SQLAlchemyError, OSError, ValueError, UnicodeDecodeError)


def _set_aside(folder: Path, error: Exception) -> None:
    """Move a damaged cache folder out of the way (it is rebuilt as notebooks run) and say so once."""
    import os
    import time
    import warnings

    aside = folder.with_name(f"{folder.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        folder.rename(aside)
        where = f"it was moved to {aside} and is rebuilt as notebooks run"
    except OSError as move_error:
        where = f"it could not be moved aside ({move_error.strerror or move_error}); notebooks run without reuse"
    reason = " ".join(f"{error.__class__.__name__}: {error}".split())[:300]
    warnings.warn(f"execution cache {folder} is damaged ({reason}); {where}", BrokenCacheWarning, stacklevel=3)


def lookup(node, inputs: dict, uri: str | None = None):
    """Return ``(notebook with the stored outputs merged in, when they were computed)``, or None.

    ``node`` is the source notebook (no outputs needed); the result's metadata and markdown are
    the source's, its code cells' outputs those of the stored run. The stored run is used only
    if it is bound to this notebook (:func:`run_binding`: the same ``uri`` when one is given,
    the same code, and outputs whose checksum is the one recorded when they were stored); an
    entry that fails is removed with a warning, and the notebook runs again. A damaged cache
    (database or stored notebooks unreadable) is set aside with a warning naming it.
    """
    import warnings

    from filelock import FileLock

    folder = cache_folder()
    if not (folder / "global.db").is_file():
        return None
    try:
        with FileLock(str(folder) + ".lock"):
            cache = _open()
            try:
                pk = cache.match_cache_notebook(_keyed(node, inputs)).pk
            except KeyError:
                return None
            record = cache.get_cache_record(pk)
            stored_path = folder / "executed" / record.hashkey / "base.ipynb"
            try:
                stored = cache.get_cache_bundle(pk).nb
                problem = _binding_problem(stored, node, uri)
            except KeyError:  # the record's notebook file is gone
                problem = "its stored notebook is missing"
            except (ValueError, UnicodeDecodeError, OSError) as error:  # nbformat's NotJSONError is a ValueError
                problem = f"its stored notebook cannot be read ({error.__class__.__name__}: {str(error)[:120]})"
            if problem is not None:
                _drop(cache, pk, stored_path.parent)
                warnings.warn(
                    f"execution cache entry {stored_path}: {problem}; it was removed and the notebook runs again",
                    BrokenCacheWarning,
                    stacklevel=2,
                )
                return None
            created = record.created
    except PermissionError as error:  # a read-only cache: run the notebooks, keep nothing
        _warn_unwritable(folder, error)
        return None
    except _damage_errors() as error:
        _set_aside(folder, error)
        return None
    merged = nbformat_convert(copy.deepcopy(node))
    cached_cells = iter(_code_cells(stored))
    for index, cell in enumerate(merged.cells):
        if cell.cell_type == "code":
            cached = copy.deepcopy(next(cached_cells))
            if merged.nbformat_minor >= 5 and "id" in cell:
                cached["id"] = cell["id"]
            else:
                cached.pop("id", None)
            merged.cells[index] = cached
    if "language_info" in stored.metadata:
        merged.metadata["language_info"] = stored.metadata["language_info"]
    merged.metadata["kernelspec"] = copy.deepcopy(node.metadata.get("kernelspec", {}))
    return merged, created


def _drop(cache, pk: int, entry: Path) -> None:
    """Remove a stored run's record and its folder, whatever is left of them."""
    import shutil

    from jupyter_cache.cache.db import NbCacheRecord

    shutil.rmtree(entry, ignore_errors=True)
    NbCacheRecord.remove_records([pk], cache.db)


def nbformat_convert(node):
    """``node`` as nbformat 4 (the version jupyter-cache stores)."""
    import nbformat

    return nbformat.convert(node, 4)


def _binding_problem(stored, source, uri) -> str | None:
    """Why the stored run cannot be served for ``source`` (at ``uri``), or None when it can."""
    bound = stored.metadata.get(BINDING_KEY)
    if not isinstance(bound, dict):
        return "it records no binding to a notebook (path, code and outputs checksum)"
    actual = run_binding(stored, bound.get("uri", ""))
    if uri is not None and bound.get("uri") != str(uri):
        return f"it is the run of {bound.get('uri')!r}, not of {str(uri)!r}"
    if (
        actual["code_sha256"] != bound.get("code_sha256")
        or actual["code_sha256"] != run_binding(source, "")["code_sha256"]
    ):
        return "its code is not the notebook's code"
    if actual["outputs_sha256"] != bound.get("outputs_sha256"):
        return "its outputs were changed after they were stored (checksum mismatch)"
    return None


def store(source, executed, inputs: dict, uri: str) -> bool:
    """Keep the outputs of ``executed`` (a run of ``source`` with ``inputs``) for :func:`lookup`.

    Returns whether they were stored: a cache that cannot be written (read-only, full disk) or is
    damaged gives a warning naming it, and the build goes on without caching.
    """
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
    outputs = nbformat_convert(outputs)
    outputs.metadata[BINDING_KEY] = run_binding(outputs, uri)
    folder = cache_folder()
    for attempt in (1, 2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with FileLock(str(folder) + ".lock"):
                _open().cache_notebook_bundle(CacheBundleIn(nb=outputs, uri=uri), check_validity=False, overwrite=True)
            return True
        except PermissionError as error:
            _warn_unwritable(folder, error)
            return False
        except _damage_errors() as error:
            if attempt == 2 or not folder.exists():
                _warn_unwritable(folder, error)
                return False
            _set_aside(folder, error)
    return False


_warned_unwritable: set = set()


def _warn_unwritable(folder: Path, error: Exception) -> None:
    """Warn once per process and folder that executed notebooks cannot be kept there."""
    import warnings

    if str(folder) in _warned_unwritable:
        return
    _warned_unwritable.add(str(folder))
    reason = getattr(error, "strerror", None) or f"{error.__class__.__name__}: {error}"
    warnings.warn(
        f"execution cache {folder} cannot be written ({reason}); notebooks are executed and reported, "
        "but not kept for reuse",
        BrokenCacheWarning,
        stacklevel=3,
    )


def describe_reuse(created: datetime) -> str:
    """The note the index shows for a notebook whose outputs were reused.

    Examples
    --------
    >>> describe_reuse(datetime(2026, 11, 23, 21, 5))
    'outputs from 2026-11-23 21:05 UTC, code unchanged'
    """
    return f"outputs from {created:%Y-%m-%d %H:%M} UTC, code unchanged"
