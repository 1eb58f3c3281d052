"""Where the project keeps what it can recompute, and the one cache every computed result goes through.

The cache lives in the operating system's user cache folder (for example
``~/.cache/mnist-analysis`` on Linux); set ``MNIST_ANALYSIS_CACHE_DIR`` to move it. It holds
downloaded files (``mnist/``, ``qmnist/``), verified decoded arrays (``arrays/``, see
:mod:`mnist_analysis.sources`) and computed results (``computed/<kind>/<key>/``).
Nothing here creates a folder until something is written into it.

What a result's key covers
--------------------------
:func:`cached_call` keys ``function(*args, **kwargs)`` by the SHA-256 of:

- **the inputs' content**: arrays by shape, dtype and bytes; DataFrames by their columns,
  dtypes, index and values; plain values by their JSON form. Anything else is refused
  (``TypeError``) rather than keyed by its identity;
- **the code it runs**: the source of the function's module and of every project module that
  module imports, directly or indirectly (imports inside functions included). Editing any of
  them recomputes the result; editing a module outside that closure (plotting, the CLI,
  reports...) does not. The rule is per module, not per function, because a per-function
  walk misses what is reached through a registry, a method or an object; it errs on the side
  of recomputing;
- **the libraries it uses**: the installed version of every third-party distribution those
  modules import, and of everything those distributions require in turn, plus Python's.

There is no revision number to bump by hand. :mod:`mnist_analysis.fingerprints` computes the
code, library and input parts; source files are read from disk, once per process and again
whenever their size or modification time changes.

How a result is stored
----------------------
One folder per entry: ``entry.json`` (the key's parts, the layout of the result, and the
SHA-256 and size of every data file) beside ``.npy`` files (saved and loaded with
``allow_pickle=False``) and Parquet files. Nothing is pickled, so reading an entry cannot run
code. Every file is checked against its SHA-256 when read; an entry that is missing a file,
unreadable or altered is reported with a warning, deleted and recomputed.

An entry is built in a temporary folder and renamed into place, so it is complete or absent.
A lock per key (:mod:`filelock`) makes a second process that asks for the same result wait
for the first and then read its entry, instead of computing it again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .fingerprints import code_closure, inputs_digest, library_versions

CACHE_ENV = "MNIST_ANALYSIS_CACHE_DIR"
#: Sub-folder of :func:`cache_dir` that holds computed results, one folder per kind.
COMPUTED = "computed"
#: Folders that older versions filled with joblib pickles; never read, removed by ``clear``.
LEGACY_FOLDERS = ("results", "embeddings", "models", "quality", "embedding_quality")
_PACKAGE = __name__.split(".")[0]
_ENTRY = "entry.json"
#: Version of the storage layout, part of every key; this module's own code is not.
_FORMAT = 1


def cache_dir() -> Path:
    """Return the cache folder: ``$MNIST_ANALYSIS_CACHE_DIR`` or the OS user cache.

    Examples
    --------
    >>> from mnist_analysis.cache import cache_dir
    >>> cache_dir().is_absolute() or "MNIST_ANALYSIS_CACHE_DIR" in os.environ
    True
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mnist-analysis"))


class CacheEntryError(ValueError):
    """A cache entry is incomplete, unreadable or altered (it is then recomputed)."""


def key_parts(function, *args, **kwargs) -> dict:
    """Return everything the result of ``function(*args, **kwargs)`` is keyed by (see the module docstring)."""
    module = function.__module__
    if module.split(".")[0] != _PACKAGE or "<locals>" in function.__qualname__:
        raise TypeError(
            f"cached_call: expected a module-level function of {_PACKAGE}, found {module}.{function.__qualname__}"
        )
    code, libraries = code_closure(module)
    return {
        "format": _FORMAT,
        "function": f"{module}.{function.__qualname__}",
        "code": code,
        "libraries": library_versions(libraries),
        "inputs": inputs_digest(*args, **kwargs),
    }


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- storing results without pickle
def _file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return (
            hashlib.file_digest(handle, "sha256").hexdigest()
            if hasattr(hashlib, "file_digest")
            else hashlib.sha256(handle.read()).hexdigest()
        )


def _encode(value, folder: Path, files: dict):
    """Write the arrays and frames of ``value`` into ``folder``; return its JSON layout."""
    import pandas as pd

    def save(suffix: str, writer) -> str:
        name = f"{len(files)}{suffix}"
        writer(folder / name)
        files[name] = None
        return name

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        value = np.asarray(value)
        return {"scalar": save(".npy", lambda p: np.save(p, value, allow_pickle=False))}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("cached_call: cannot store an object array without pickle")
        array = np.ascontiguousarray(value)
        return {"array": save(".npy", lambda p: np.save(p, array, allow_pickle=False))}
    if isinstance(value, pd.DataFrame):
        return {"frame": save(".parquet", lambda p: value.to_parquet(p))}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_encode(v, folder, files) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cached_call: can store only dicts with string keys")
        return {"dict": {k: _encode(v, folder, files) for k, v in value.items()}}
    cls = type(value)
    if dataclasses.is_dataclass(value) and cls.__module__.split(".")[0] == _PACKAGE:
        fields = {f.name: _encode(getattr(value, f.name), folder, files) for f in dataclasses.fields(value)}
        return {"dataclass": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise TypeError(f"cached_call: cannot store a result of type {cls.__name__} without pickle")


def _decode(layout, folder: Path):
    import pandas as pd

    if layout is None or isinstance(layout, (bool, int, float, str)):
        return layout
    if "array" in layout:
        return np.load(folder / layout["array"], allow_pickle=False)
    if "scalar" in layout:
        return np.load(folder / layout["scalar"], allow_pickle=False)[()]
    if "frame" in layout:
        return pd.read_parquet(folder / layout["frame"])
    if "list" in layout:
        return [_decode(v, folder) for v in layout["list"]]
    if "tuple" in layout:
        return tuple(_decode(v, folder) for v in layout["tuple"])
    if "dict" in layout:
        return {k: _decode(v, folder) for k, v in layout["dict"].items()}
    if "dataclass" in layout:
        module, qualname = layout["dataclass"].split(":")
        if module.split(".")[0] != _PACKAGE:
            raise CacheEntryError(f"refusing to build {module}.{qualname}: not a class of {_PACKAGE}")
        cls = getattr(importlib.import_module(module), qualname)
        if not dataclasses.is_dataclass(cls):
            raise CacheEntryError(f"{module}.{qualname} is not a dataclass")
        return cls(**{k: _decode(v, folder) for k, v in layout["fields"].items()})
    raise CacheEntryError(f"unknown layout {sorted(layout)}")


def _read_entry(folder: Path, parts: dict):
    """Return the verified result stored in ``folder``; raise :class:`CacheEntryError` if it is not sound."""
    try:
        entry = json.loads((folder / _ENTRY).read_text())
    except (OSError, ValueError) as error:
        raise CacheEntryError(f"{_ENTRY} unreadable ({error.__class__.__name__})") from None
    if not isinstance(entry, dict) or entry.get("key") != parts:
        raise CacheEntryError(f"{_ENTRY} does not describe this computation")
    for name, expected in entry.get("files", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != expected["size"] or _file_digest(path) != expected["sha256"]:
            raise CacheEntryError(f"{name} is missing or altered (SHA-256 mismatch)")
    try:
        return _decode(entry["layout"], folder)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as error:
        raise CacheEntryError(f"could not read the stored result ({error.__class__.__name__}: {error})") from None


def _write_entry(folder: Path, parts: dict, result, seconds: float) -> None:
    """Store ``result`` as the entry ``folder``: built beside it, then renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        files: dict = {}
        layout = _encode(result, staging, files)
        for name in files:
            files[name] = {"sha256": _file_digest(staging / name), "size": (staging / name).stat().st_size}
        entry = {
            "key": parts,
            "layout": layout,
            "files": files,
            "seconds": seconds,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (staging / _ENTRY).write_text(json.dumps(entry, indent=1, sort_keys=True))
        os.chmod(staging, 0o755 & ~_umask())
        try:
            os.rename(staging, folder)
        except OSError:
            if not folder.is_dir():  # anything but "another process stored it first"
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    parts = {"kind": kind, **key_parts(function, *args, **kwargs)}
    folder = entry_folder(kind, _key(parts))
    if folder.is_dir():
        try:
            return _read_entry(folder, parts)
        except CacheEntryError as problem:
            _discard(folder, problem)
    from filelock import FileLock

    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if folder.is_dir():  # computed by another process while this one waited
            try:
                return _read_entry(folder, parts)
            except CacheEntryError as problem:
                _discard(folder, problem)
        start = time.perf_counter()
        result = function(*args, **kwargs)
        try:
            _write_entry(folder, parts, result, time.perf_counter() - start)
        except OSError as error:
            warnings.warn(
                f"could not store the {kind} result in the cache {folder.parent} ({error}); "
                "it will be computed again next time",
                stacklevel=2,
            )
            return result
        # What a later call will read, so that a first and a second run hand back identical values and types.
        try:
            return _read_entry(folder, parts)
        except CacheEntryError as problem:
            _discard(folder, problem)
            return result


def _discard(folder: Path, problem: Exception) -> None:
    warnings.warn(f"cache entry {folder} was unusable ({problem}); computing it again", stacklevel=3)
    shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- looking at and clearing the cache
def _folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def cache_summary():
    """Return one row per kind of cached thing: ``kind``, ``entries``, ``bytes``, ``folder``.

    Kinds: each computed kind, ``arrays`` (decoded data), ``downloads`` (the data files) and
    ``legacy`` (joblib folders of older versions, never read).

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
    for kind, folders in (("arrays", ["arrays"]), ("downloads", ["mnist", "qmnist"]), ("legacy", LEGACY_FOLDERS)):
        counted = [(root / f, *_folder_size(root / f)) for f in folders if (root / f).is_dir()]
        if kind == "arrays":
            counted = [(f, sum(1 for _ in f.glob("*.npy")), size) for f, _, size in counted]
        if counted:
            rows.append(
                {
                    "kind": kind,
                    "entries": sum(c[1] for c in counted),
                    "bytes": sum(c[2] for c in counted),
                    "folder": ", ".join(str(c[0]) for c in counted),
                }
            )
    return pd.DataFrame(rows, columns=["kind", "entries", "bytes", "folder"])


def clear_cache(kind: str | None = None) -> list[Path]:
    """Delete one kind of cached thing (see :func:`cache_summary`), or all but the downloads; return what went.

    Examples
    --------
    >>> clear_cache("no_such_kind")
    Traceback (most recent call last):
    ...
    ValueError: kind: expected one of the cached kinds ['arrays', 'downloads', 'legacy'], found 'no_such_kind'
    """
    root = cache_dir()
    computed = sorted(p.name for p in (root / COMPUTED).iterdir() if p.is_dir()) if (root / COMPUTED).is_dir() else []
    special = {"arrays": ["arrays"], "downloads": ["mnist", "qmnist"], "legacy": list(LEGACY_FOLDERS)}
    if kind is None:
        targets = [root / COMPUTED] + [root / f for f in special["arrays"] + special["legacy"]]
    elif kind in special:
        targets = [root / f for f in special[kind]]
    elif kind in computed:
        targets = [root / COMPUTED / kind]
    else:
        raise ValueError(f"kind: expected one of the cached kinds {sorted(computed + list(special))}, found {kind!r}")
    removed = [t for t in targets if t.exists()]
    for target in removed:
        shutil.rmtree(target)
    return removed
