"""Where the project keeps what it can recompute, and the one cache every computed result goes through.

The cache lives in the operating system's user cache folder (for example
``~/.cache/mnist-analysis`` on Linux); set ``MNIST_ANALYSIS_CACHE_DIR`` to move it. It holds
downloaded files (``mnist/``, ``qmnist/``), verified decoded arrays (``arrays/``, see
:mod:`mnist_analysis.data.sources`), executed notebooks (``notebooks/``, see
:mod:`mnist_analysis.build.execution_cache`) and computed results (``computed/<kind>/<key>/``).
Nothing here creates a folder until something is written into it.

What a result's key covers
--------------------------
:func:`cached_call` keys ``function(*args, **kwargs)`` by the SHA-256 of:

- **the function**: a module-level function of the package, the very object its module
  defines now. A bound method, a partial, a nested function or an old function object kept
  from before a reload is refused (``TypeError``): its state or its code has no key;
- **the inputs' content**: arrays by shape, dtype and bytes; DataFrames and Series by their
  values, column and index names, dtypes (a categorical's categories in their order) and
  index; plain values by their JSON form. Anything else is refused (``TypeError``) rather
  than keyed by its identity;
- **the code that runs**: the source each project module in the function's closure was
  imported from in this process (the module and every project module it imports, directly
  or indirectly, imports inside functions and the package's re-exports included), recorded
  at import by :mod:`mnist_analysis.running_code`. Editing any of them recomputes the result;
  editing a module outside that closure (plotting, the CLI, reports...) does not. The rule is
  per module, not per function, because a per-function walk misses what is reached through
  a registry, a method or an object; it errs on the side of recomputing;
- **the settings it reads**: any module-level setting of the closure (``SVM_C``,
  ``FAST_UMAP``...) whose value differs from what its module's source sets, with its value
  now (worker processes are handed the same values);
- **the storage format**: the source of :mod:`mnist_analysis.caching.stored_results`, which encodes
  and decodes results;
- **the libraries it uses**: the installed version of every third-party distribution those
  modules import, and of everything those distributions require in turn, plus Python's.

There is no revision number to bump by hand. When the code a process runs is not the code
on disk (a file edited after the module was imported, or a module reloaded while others may
hold its old functions: a JupyterLab kernel that kept running), no key can say what computed
a result, so the cache is neither read nor written: the result is computed, with one
warning that says to restart the kernel. The same holds for a setting given a value with no
canonical form (an object).

How a result is stored
----------------------
:mod:`mnist_analysis.caching.stored_results`: one folder per entry, ``entry.json`` beside numbered
``.npy`` and Parquet files, never a pickle, every file verified before it is read; an entry
that is missing a file, unreadable or altered is reported with a warning, deleted and
recomputed (one that cannot be deleted is named once, and bypassed).

An entry is built in a temporary folder and renamed into place, so it is complete or absent.
A lock per key (:mod:`filelock`) makes a second process that asks for the same result wait
for the first and then read its entry, instead of computing it again.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

from ..locations import CACHE_ENV, COMPUTED, cache_dir  # noqa: F401 (CACHE_ENV: imported from here)
from ..running_code import UnkeyableSetting
from ..utils import json_digest
from . import stored_results
from .fingerprints import (
    CodeChangedError,
    changed_settings,
    code_closure,
    inputs_digest,
    library_versions,
    source_digest,
)
from .stored_results import CacheEntryError

#: Folders that older versions filled with joblib pickles; never read, removed by ``clear``.
LEGACY_FOLDERS = ("results", "embeddings", "models", "quality", "embedding_quality")
_PACKAGE = __name__.split(".")[0]


def _module_level_function(function) -> tuple[str, str]:
    """``(module, name)`` of a module-level function of the package; refuse any other callable."""
    module, name = getattr(function, "__module__", None), getattr(function, "__qualname__", None)
    described = f"{module}.{name}" if module and name else repr(function)
    if not inspect.isfunction(function) or not module or module.split(".")[0] != _PACKAGE:
        raise TypeError(
            f"cached_call: expected a module-level function of {_PACKAGE}, found {described} "
            f"({type(function).__name__}: a bound method, a partial or another callable is keyed without its state)"
        )
    loaded = sys.modules.get(module)
    if "." in name or "<" in name or loaded is None or getattr(loaded, name, None) is not function:
        raise TypeError(
            f"cached_call: expected a module-level function of {_PACKAGE}, found {described}, which is not "
            f"what {module} defines now (a nested function, or an old object from before a reload)"
        )
    return module, name


def key_parts(function, *args, **kwargs) -> dict:
    """Return everything the result of ``function(*args, **kwargs)`` is keyed by (see the module docstring).

    Raises :class:`~mnist_analysis.caching.fingerprints.CodeChangedError` when the code this process
    runs is not the code on disk, and ``TypeError`` for a callable or argument without a key.
    """
    module, name = _module_level_function(function)
    code, libraries = code_closure(module, running=True)
    return {
        "format": source_digest(stored_results.__name__),
        "function": f"{module}.{name}",
        "code": code,
        "settings": changed_settings(code),
        "libraries": library_versions(libraries),
        "inputs": inputs_digest(*args, **kwargs),
    }


def _key(parts: dict) -> str:
    return json_digest(parts)


def entry_folder(kind: str, key: str) -> Path:
    """Where the entry ``key`` of ``kind`` is stored."""
    return cache_dir() / COMPUTED / kind / key


def cached_call(kind: str, function, /, *args, cache: bool = True, **kwargs):
    """Return ``function(*args, **kwargs)``, read from the result cache when it was computed before.

    Parameters
    ----------
    kind : str
        The kind of result (``"measurements"``, ``"models"``...): its folder in the cache, and
        what ``mnist-analysis cache`` lists and clears.
    function : callable
        A module-level function of the package. Its result may be an array, a DataFrame, a
        number, a string, None, a dataclass of the package, or lists, tuples and string-keyed
        dicts of these.
    *args, **kwargs
        Its arguments: arrays, DataFrames, numbers, strings, None, or lists, tuples and dicts
        of them (keyed by content).
    cache : bool, default True
        False calls ``function`` directly, reading and writing nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from mnist_analysis.measurements import deskew
    >>> images = np.zeros((1, 28, 28), np.uint8)
    >>> images[0, 6:22, 12:15] = 255
    >>> first = cached_call("examples", deskew, images)     # computed and stored
    >>> np.array_equal(cached_call("examples", deskew, images.copy()), first)   # read back
    True
    """
    if not cache:
        return function(*args, **kwargs)
    if not kind.isidentifier():
        raise ValueError(f"kind: expected a name such as 'measurements', found {kind!r}")
    try:
        parts = {"kind": kind, **key_parts(function, *args, **kwargs)}
    except (CodeChangedError, UnkeyableSetting) as problem:
        _warn_once(f"results are computed without the cache: {problem}")
        return function(*args, **kwargs)
    folder = entry_folder(kind, _key(parts))
    if folder.is_dir():
        try:
            return stored_results.read_entry(folder, parts)
        except CacheEntryError as problem:
            if not _discard(folder, problem):
                return function(*args, **kwargs)
    from filelock import FileLock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if folder.is_dir():  # computed by another process while this one waited
            try:
                return stored_results.read_entry(folder, parts)
            except CacheEntryError as problem:
                if not _discard(folder, problem):
                    return function(*args, **kwargs)
        start = time.perf_counter()
        result = function(*args, **kwargs)
        try:
            stored_results.write_entry(folder, parts, result, time.perf_counter() - start)
        except OSError as error:
            warnings.warn(
                f"could not store the {kind} result in the cache {folder.parent} ({error}); "
                "it will be computed again next time",
                stacklevel=2,
            )
            return result
        # What a later call will read, so that a first and a second run hand back identical values and types.
        try:
            return stored_results.read_entry(folder, parts)
        except CacheEntryError as problem:
            _discard(folder, problem)
            return result


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=4)


def _discard(folder: Path, problem: Exception) -> bool:
    """Delete an unusable entry; return whether it went (a read-only one is named once and left alone)."""
    try:
        shutil.rmtree(folder)
    except OSError as error:
        _warn_once(
            f"cache entry {folder} is unusable ({problem}) and cannot be removed ({error.strerror or error}); "
            "its result is computed each time, without the cache, until the folder is removed"
        )
        return False
    warnings.warn(f"cache entry {folder} was unusable ({problem}); computing it again", stacklevel=3)
    return True


# --------------------------------------------------------------------------- looking at and clearing the cache
#: Kinds that are not computed results: ``{kind: folders of the cache root}``.
_SPECIAL_KINDS = {
    "notebooks": ["notebooks"],
    "arrays": ["arrays"],
    "downloads": ["mnist", "qmnist"],
    "legacy": list(LEGACY_FOLDERS),
}
#: Kept when the executed notebooks are cleared: the build's record of each notebook's time and memory.
_KEPT = {"notebooks": {"profile.json"}}


def _special_folders(root: Path, kind: str) -> list[Path]:
    """The folders of a kind that is not a computed result, as they are now (with set-aside broken copies)."""
    folders = [root / f for f in _SPECIAL_KINDS[kind] if (root / f).is_dir()]
    if kind == "notebooks":  # an execution cache found damaged is set aside beside it, for a look
        folders += sorted(p for p in root.glob("notebooks.broken-*") if p.is_dir())
    return folders


def _folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def _entries(kind: str, folder: Path) -> int:
    if kind == "arrays":
        return sum(1 for _ in folder.glob("*.npy"))
    if kind == "notebooks":  # one folder per stored run in jupyter-cache's layout; a set-aside copy is one
        if folder.name != "notebooks":
            return 1
        executed = folder / "executed"
        return sum(1 for p in executed.iterdir() if p.is_dir()) if executed.is_dir() else 0
    return _folder_size(folder)[0]


def cache_summary():
    """Return one row per kind of cached thing: ``kind``, ``entries``, ``bytes``, ``folder``.

    Kinds: each computed kind, ``notebooks`` (executed notebooks the report build reuses, and
    any damaged execution cache a build set aside as ``notebooks.broken-*``),
    ``arrays`` (decoded data), ``downloads`` (the data files) and ``legacy`` (joblib folders of
    older versions, never read).

    Examples
    --------
    >>> list(cache_summary().columns)
    ['kind', 'entries', 'bytes', 'folder']
    """
    import pandas as pd

    root = cache_dir()
    rows = []
    computed = root / COMPUTED
    for folder in sorted(p for p in computed.iterdir() if p.is_dir()) if computed.is_dir() else []:
        entries = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        rows.append(
            {"kind": folder.name, "entries": len(entries), "bytes": _folder_size(folder)[1], "folder": str(folder)}
        )
    for kind in _SPECIAL_KINDS:
        present = _special_folders(root, kind)
        if present:
            rows.append(
                {
                    "kind": kind,
                    "entries": sum(_entries(kind, f) for f in present),
                    "bytes": sum(_folder_size(f)[1] for f in present),
                    "folder": ", ".join(map(str, present)),
                }
            )
    return pd.DataFrame(rows, columns=["kind", "entries", "bytes", "folder"])


def _remove(target: Path) -> list[str]:
    """Remove a file or a folder, as much of it as can go; return what could not, with why."""
    problems = []

    def note(path, error: OSError) -> None:
        problems.append(f"{path} ({error.strerror or error})")

    if target.is_dir() and not target.is_symlink():
        for folder, subfolders, files in os.walk(target, topdown=False):
            for name in files + [d for d in subfolders if os.path.islink(os.path.join(folder, d))]:
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError as error:
                    note(os.path.join(folder, name), error)
            try:
                os.rmdir(folder)
            except OSError as error:
                if not problems:
                    note(folder, error)
    else:
        try:
            target.unlink()
        except OSError as error:
            note(target, error)
    return problems


class CacheClearError(OSError):
    """Part of the cache could not be removed: the message names what is left and why."""


def clear_cache(kind: str | None = None) -> list[Path]:
    """Delete one kind of cached thing (see :func:`cache_summary`), or all but the downloads; return what went.

    What cannot be removed (a read-only folder, say) is left after everything else has gone,
    and :class:`CacheClearError` then names it.

    Examples
    --------
    >>> clear_cache("no_such_kind")
    Traceback (most recent call last):
    ...
    ValueError: kind: expected one of the cached kinds [...], found 'no_such_kind'
    """
    root = cache_dir()
    computed = sorted(p.name for p in (root / COMPUTED).iterdir() if p.is_dir()) if (root / COMPUTED).is_dir() else []
    if kind is None:
        kinds = ["notebooks", "arrays", "legacy"]
        targets = [root / COMPUTED]
    elif kind in _SPECIAL_KINDS:
        kinds, targets = [kind], []
    elif kind in computed:
        kinds, targets = [], [root / COMPUTED / kind]
    else:
        known = sorted(computed + list(_SPECIAL_KINDS))
        raise ValueError(f"kind: expected one of the cached kinds {known}, found {kind!r}")
    for special in kinds:
        for folder in _special_folders(root, special):
            kept = _KEPT.get(special, set()) if folder.name in _SPECIAL_KINDS[special] else set()
            if kept:
                targets += [p for p in folder.iterdir() if p.name not in kept]
            else:
                targets.append(folder)
    removed, left = [], []
    for target in targets:
        if not (target.exists() or target.is_symlink()):
            continue
        problems = _remove(target)
        if target.exists() or target.is_symlink():
            left.append(problems[0] if problems else str(target))
        else:
            removed.append(target)
    if left:
        raise CacheClearError(
            f"cleared {len(removed)} of {len(removed) + len(left)} folders; could not remove "
            f"{'; '.join(map(str, left))} (make them writable, or remove them by hand)"
        )
    return removed
