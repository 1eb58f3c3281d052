"""How a computed result is stored on disk, without pickle, and read back only if it verifies.

One folder per entry: ``entry.json`` (the key's parts, the **layout** of the result, and the
SHA-256 and size of every data file) beside numbered ``.npy`` files (saved and loaded with
``allow_pickle=False``) and Parquet files. Nothing is pickled, so reading an entry cannot run
code. An entry is read only if:

- every file its layout names is a plain numbered file of the entry's own folder
  (``0.npy``, ``1.parquet``; never a path), listed in ``files`` with its hash, and no other
  file is listed;
- every listed file has its recorded size and SHA-256;
- every DataFrame has the columns and dtypes the layout recorded when it was stored.

The code of this module is part of every result's key (:func:`mnist_analysis.caching.cache.key_parts`):
a change to how results are encoded makes every entry a new one, with no number to bump.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp()) / "entry"
>>> write_entry(folder, {"what": "example"}, {"xs": np.arange(3)}, seconds=0.1)
>>> read_entry(folder, {"what": "example"})
{'xs': array([0, 1, 2])}
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..utils import sha256_of_file

_PACKAGE = __name__.split(".")[0]
ENTRY = "entry.json"
#: The names data files of an entry may have: a number and a suffix, nothing that reaches elsewhere.
_DATA_FILE = re.compile(r"[0-9]{1,9}\.(npy|parquet)")


class CacheEntryError(ValueError):
    """A cache entry is incomplete, unreadable or altered (it is then recomputed)."""


def _column_types(frame) -> list:
    return [[repr(name), str(dtype)] for name, dtype in frame.dtypes.items()]


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
        return {"frame": save(".parquet", lambda p: value.to_parquet(p)), "columns": _column_types(value)}
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


def _data_file(folder: Path, name, files: dict) -> Path:
    """The data file ``name`` of the entry in ``folder``: a numbered file listed in ``files``, nothing else."""
    if not isinstance(name, str) or not _DATA_FILE.fullmatch(name):
        raise CacheEntryError(f"the layout names {name!r}, not a numbered data file of the entry")
    if name not in files:
        raise CacheEntryError(f"the layout uses {name}, which the entry's list of verified files omits")
    return folder / name


def _decode(layout, folder: Path, files: dict, used: set):
    import pandas as pd

    if layout is None or isinstance(layout, (bool, int, float, str)):
        return layout
    if not isinstance(layout, dict):
        raise CacheEntryError(f"unknown layout {type(layout).__name__}")
    for tag in ("array", "scalar", "frame"):
        if tag in layout:
            used.add(layout[tag])
            path = _data_file(folder, layout[tag], files)
    if "array" in layout:
        return np.load(path, allow_pickle=False)
    if "scalar" in layout:
        return np.load(path, allow_pickle=False)[()]
    if "frame" in layout:
        frame = pd.read_parquet(path)
        if _column_types(frame) != layout.get("columns"):
            raise CacheEntryError(f"{layout['frame']} has other columns or types than the result stored")
        return frame
    if "list" in layout:
        return [_decode(v, folder, files, used) for v in layout["list"]]
    if "tuple" in layout:
        return tuple(_decode(v, folder, files, used) for v in layout["tuple"])
    if "dict" in layout:
        return {k: _decode(v, folder, files, used) for k, v in layout["dict"].items()}
    if "dataclass" in layout:
        module, qualname = layout["dataclass"].split(":")
        if module.split(".")[0] != _PACKAGE:
            raise CacheEntryError(f"refusing to build {module}.{qualname}: not a class of {_PACKAGE}")
        cls = getattr(importlib.import_module(module), qualname)
        if not dataclasses.is_dataclass(cls):
            raise CacheEntryError(f"{module}.{qualname} is not a dataclass")
        return cls(**{k: _decode(v, folder, files, used) for k, v in layout["fields"].items()})
    raise CacheEntryError(f"unknown layout {sorted(layout)}")


def read_entry(folder: Path, parts: dict):
    """Return the verified result stored in ``folder``; raise :class:`CacheEntryError` if it is not sound."""
    try:
        entry = json.loads((folder / ENTRY).read_text())
    except (OSError, ValueError) as error:
        raise CacheEntryError(f"{ENTRY} unreadable ({error.__class__.__name__})") from None
    if not isinstance(entry, dict) or entry.get("key") != parts:
        raise CacheEntryError(f"{ENTRY} does not describe this computation")
    files = entry.get("files")
    if not isinstance(files, dict):
        raise CacheEntryError(f"{ENTRY} lists no files")
    for name, expected in files.items():
        path = _data_file(folder, name, files)
        try:
            sound = (
                path.is_file()
                and path.stat().st_size == expected["size"]
                and sha256_of_file(path) == expected["sha256"]
            )
        except (OSError, KeyError, TypeError):
            sound = False
        if not sound:
            raise CacheEntryError(f"{name} is missing or altered (SHA-256 mismatch)")
    used: set = set()
    try:
        result = _decode(entry.get("layout"), folder, files, used)
    except CacheEntryError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as error:
        raise CacheEntryError(f"could not read the stored result ({error.__class__.__name__}: {error})") from None
    if used != set(files):
        raise CacheEntryError(f"{ENTRY} lists files its layout does not use: {sorted(set(files) - used)}")
    return result


def write_entry(folder: Path, parts: dict, result, seconds: float) -> None:
    """Store ``result`` as the entry ``folder``: built beside it, then renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        files: dict = {}
        layout = _encode(result, staging, files)
        for name in files:
            files[name] = {"sha256": sha256_of_file(staging / name), "size": (staging / name).stat().st_size}
        entry = {
            "key": parts,
            "layout": layout,
            "files": files,
            "seconds": seconds,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (staging / ENTRY).write_text(json.dumps(entry, indent=1, sort_keys=True))
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
