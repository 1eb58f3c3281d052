"""Find, verify and download the registered data files; keep their decoded arrays memory-mapped.

Where a file is looked for, in order:

1. the ``data_dir`` argument;
2. the folder named by ``$MNIST_ANALYSIS_DATA_DIR``;
3. the cache (``$MNIST_ANALYSIS_CACHE_DIR``, else the OS user cache);
4. a download over the mirrors, into the cache.

In a data folder a file may sit flat or in an ``mnist/`` or ``qmnist/`` subfolder, gzip'd
or not. Every file is verified against the SHA-256 of its decompressed content before it is
used. The decoded array is then written once to the cache as ``.npy``, so later loads are a
memory map instead of a decompression; a small ``.source.json`` beside it records which file
it came from (path, size, modification time) so that a changed source is noticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import CACHE_ENV, cache_dir
from .idx import IdxFormatError, atomic_output, atomic_write_bytes, parse_idx, read_bytes
from .registry import MIRRORS_ENV, DataFile, get, identify

DATA_DIR_ENV = "MNIST_ANALYSIS_DATA_DIR"
DEFAULT_TIMEOUT = 60.0


class ChecksumError(IdxFormatError):
    """A file is well-formed but its content is not the registered content."""


class DownloadError(RuntimeError):
    """Every mirror failed; the message lists each URL and why, and what to do instead."""

    def __init__(self, spec: DataFile, failures: list[tuple[str, str]], target: Path):
        self.spec, self.failures, self.target = spec, failures, target
        tried = "\n".join(f"  - {url}: {reason}" for url, reason in failures) or "  (no URL to try)"
        super().__init__(
            f"could not download {spec.filename} from any mirror:\n{tried}\n"
            f"Nothing was written to the cache path {target}.\n"
            f"To work offline, put the file in a folder (flat, or in mnist/ and qmnist/ subfolders, "
            f".gz or not) and set {DATA_DIR_ENV} to that folder or pass data_dir=...; "
            f"to use other mirrors, set {MIRRORS_ENV} to comma-separated base URLs; "
            f"to move the cache, set {CACHE_ENV}."
        )


@dataclass(frozen=True)
class Located:
    """A file found on disk and where it was found (``argument``, ``data folder``, ``cache``, ``download``)."""

    path: Path
    origin: str


def candidate_paths(folder, spec: DataFile) -> list[Path]:
    """The paths at which ``spec`` may sit in a data folder, in the order they are tried."""
    folder = Path(folder).expanduser()
    return [folder / sub / name for sub in ("", spec.subdir) for name in (spec.filename, spec.stem)]


def cached_path(spec: DataFile) -> Path:
    """Where a downloaded copy of ``spec`` is kept in the cache."""
    return cache_dir() / spec.subdir / spec.filename


def locate(spec: DataFile, data_dir=None) -> Located | None:
    """Return the first existing copy of ``spec`` (see the module docstring), or None.

    A data folder that is named but does not exist is an error, not a silent fall-through.
    """
    for origin, folder in (("argument", data_dir), ("data folder", os.environ.get(DATA_DIR_ENV) or None)):
        if folder is None:
            continue
        if not Path(folder).expanduser().is_dir():
            source = "data_dir" if origin == "argument" else f"${DATA_DIR_ENV}"
            raise FileNotFoundError(f"{source}={folder}: not an existing folder; expected a folder holding the MNIST/QMNIST files")
        for path in candidate_paths(folder, spec):
            if path.is_file():
                return Located(path, origin)
    if cached_path(spec).is_file():
        return Located(cached_path(spec), "cache")
    return None


def verify(path, spec: DataFile) -> np.ndarray:
    """Read ``path`` and return its array if it holds exactly the registered content of ``spec``.

    Raises :class:`IdxFormatError` for a malformed file and :class:`ChecksumError` for a
    well-formed one with other content, naming the registered file it holds when it is one
    (for example train and test files swapped).
    """
    data = read_bytes(path)
    array = parse_idx(data, path, dtype=spec.dtype, ndim=len(spec.shape))
    digest = hashlib.sha256(data).hexdigest()
    if digest == spec.sha256:
        return array
    other = identify(digest)
    if other is not None:
        raise ChecksumError(path, f"holds the content of {other.filename}, not of {spec.filename} (are files swapped or misnamed?)")
    if array.shape != spec.shape:
        found = "x".join(f"{n:,}" for n in array.shape)
        raise ChecksumError(path, f"has shape {found}, expected {'x'.join(f'{n:,}' for n in spec.shape)} for {spec.filename}")
    raise ChecksumError(path, f"content SHA-256 is {digest}, expected {spec.sha256} for {spec.filename}; the file is corrupt or not the original")


def _describe(error: Exception) -> str:
    import requests

    if isinstance(error, IdxFormatError):
        return error.problem
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason or ''}".rstrip()
    if isinstance(error, requests.Timeout):
        return f"timed out ({error.__class__.__name__})"
    if isinstance(error, requests.ConnectionError):
        return f"connection failed ({str(error)[:200]})"
    return f"{error.__class__.__name__}: {str(error)[:200]}"


def download(spec: DataFile, *, urls=None, timeout: float = DEFAULT_TIMEOUT, progressbar: bool = True) -> Path:
    """Download ``spec`` into the cache, trying each mirror in turn, and return its path.

    Each attempt goes through pooch's HTTP downloader into a temporary file beside the
    target; the file is verified and only then renamed into place, so the cache path holds
    a complete, verified file or nothing. Any failure (HTTP error, timeout, an HTML page
    served with status 200, a hash mismatch) moves on to the next mirror.
    """
    import pooch

    target = cached_path(spec)
    failures = []
    for url in urls if urls is not None else spec.urls():
        try:
            with atomic_output(target) as tmp:
                pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)(url, str(tmp), None)
                verify(tmp, spec)
            return target
        except Exception as error:  # any failure means: try the next mirror
            failures.append((url, _describe(error)))
    raise DownloadError(spec, failures, target)


def array_cache_path(spec: DataFile) -> Path:
    """Where the decoded, verified array of ``spec`` is cached (named by its content hash)."""
    return cache_dir() / "arrays" / f"{spec.key}-{spec.sha256[:16]}.npy"


def _source_stamp(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _open_cached(npy: Path, spec: DataFile) -> np.ndarray | None:
    try:
        array = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return array if array.shape == spec.shape and array.dtype == np.dtype(spec.dtype) else None


def _store(npy: Path, array: np.ndarray, source: Path) -> np.ndarray:
    """Cache ``array`` as ``npy`` (atomically) and return it memory-mapped; fall back to ``array``."""
    try:
        with atomic_output(npy) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, np.ascontiguousarray(array))
        atomic_write_bytes(npy.with_suffix(".source.json"), json.dumps(_source_stamp(source)).encode())
    except OSError as error:
        warnings.warn(f"could not cache decoded arrays in {npy.parent} ({error}); loads stay slow", stacklevel=3)
        return array
    return np.load(npy, mmap_mode="r")


def _stamp_matches(npy: Path, source: Path) -> bool:
    try:
        return json.loads(npy.with_suffix(".source.json").read_text()) == _source_stamp(source)
    except (OSError, ValueError):
        return False


def load_array(key: str, *, data_dir=None, progressbar: bool = True) -> np.ndarray:
    """Return the verified array of registered file ``key``, read-only and memory-mapped when cached.

    Examples
    --------
    >>> load_array("test-labels").shape
    (10000,)
    """
    spec = get(key)
    npy = array_cache_path(spec)
    located = locate(spec, data_dir)
    if located is None:
        cached = _open_cached(npy, spec)
        if cached is not None:  # verified when it was written; no source file needed
            return cached
        located = Located(download(spec, progressbar=progressbar), "download")
    elif _stamp_matches(npy, located.path):
        cached = _open_cached(npy, spec)
        if cached is not None:
            return cached
    return _store(npy, verify(located.path, spec), located.path)


def fetch(key: str, *, data_dir=None, progressbar: bool = True) -> Located:
    """Make sure ``key`` is on disk and verified (downloading it if needed); return where it is.

    Unlike :func:`load_array`, this always re-reads and re-verifies the file.
    """
    spec = get(key)
    located = locate(spec, data_dir)
    if located is None:
        located = Located(download(spec, progressbar=progressbar), "download")
    array = verify(located.path, spec)
    npy = array_cache_path(spec)
    if not (_stamp_matches(npy, located.path) and _open_cached(npy, spec) is not None):
        _store(npy, array, located.path)
    return located
