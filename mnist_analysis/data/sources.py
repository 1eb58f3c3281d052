"""Find, verify and download the registered data files; keep their decoded arrays memory-mapped.

Where a file is looked for, in order:

1. the ``data_dir`` argument;
2. the folder named by ``$MNIST_ANALYSIS_DATA_DIR``;
3. the cache (``$MNIST_ANALYSIS_CACHE_DIR``, else the OS user cache);
4. a download over the mirrors, into the cache.

In a data folder a file may sit flat or in an ``mnist/`` or ``qmnist/`` subfolder, gzip'd
or not. Every file is verified against the SHA-256 of its decompressed content before it is
used. The decoded array is then written once to the cache as ``.npy``, so later loads are a
memory map instead of a decompression; a small ``.stamp.json`` beside it records the hash it
was verified against, the ``.npy`` file's own size, modification time and inode, and which
source file it came from. A changed source is verified again; a changed ``.npy`` is re-hashed
and, if it fails, removed and rebuilt; an ``.npy`` that never was verified is never served.

What the stamp detects, and what it does not: any write to the ``.npy`` through the file
system after it was verified changes its status-change time (which no tool can set back), so
such a file is re-hashed before it is served. The stamp is not a hash of the content, though:
an edit whose author also rewrites the stamp, or bits that rot on disk without a write, are
not seen by :func:`load_array`. :func:`fetch` (``mnist-analysis fetch``) re-hashes every cached
array and rebuilds a bad one. Re-hashing on every load instead would cost about 0.12 s per
process (all six arrays; ``benchmarks/results/loading.json``, "re-verify touched cache"),
eight times the 14 ms a warm load of all images takes there.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..locations import DATA_DIR_ENV, cache_dir, cached_path
from ..utils import atomic_output, atomic_write_bytes
from .checksums import ChecksumError, NotAFileError, UnreadableFileError, verify  # noqa: F401 (imported from here)
from .idx import IdxFormatError, encode_idx
from .registry import DataFile, get


class DataFolderError(FileNotFoundError):
    """A named data folder is missing, is a file, or cannot be read; the message says what to do."""


class NoVerifiedCopyError(IdxFormatError):
    """Copies of a file were found, and none verifies; ``failures`` lists each ``(path, problem)``."""

    def __init__(self, spec: DataFile, failures: list[tuple[Path, str]], *, unreadable: bool = False):
        self.spec, self.failures = spec, failures
        self.unreadable = unreadable  #: True when no copy could even be read (rather than read and refused)
        listed = "; ".join(f"{path}: {problem}" for path, problem in failures)
        super().__init__(
            failures[0][0],
            f"no copy of {spec.filename} verifies ({len(failures)} found: {listed}); replace or delete the bad "
            f"file(s), or delete them all and run `mnist-analysis fetch` to download a fresh copy",
        )


class Verified(NamedTuple):
    """A copy of a file that verified (or that ``reuse`` vouched for) and its array."""

    located: Located
    array: np.ndarray
    reused: bool  #: True when the array came from ``reuse`` instead of reading the file


@dataclass(frozen=True)
class Located:
    """A file found on disk and where it was found (``argument``, ``data folder``, ``cache``, ``download``)."""

    path: Path
    origin: str
    note: str = ""  #: what :func:`fetch` had to repair, if anything


def candidate_paths(folder, spec: DataFile) -> list[Path]:
    """The paths at which ``spec`` may sit in a data folder, in the order they are tried."""
    folder = Path(folder).expanduser()
    return [folder / sub / name for sub in ("", spec.subdir) for name in (spec.filename, spec.stem)]


def data_folders(data_dir=None) -> list[tuple[str, Path]]:
    """The named data folders as ``(origin, path)``, each checked to be a readable folder.

    Raises :class:`DataFolderError` naming the setting, the folder, what is wrong and what to do.
    """
    folders = []
    for origin, folder in (("argument", data_dir), ("data folder", os.environ.get(DATA_DIR_ENV) or None)):
        if folder is None:
            continue
        setting = "data_dir" if origin == "argument" else f"${DATA_DIR_ENV}"
        fix = (
            f"pass an existing folder holding the MNIST/QMNIST files, or unset {DATA_DIR_ENV} to use the cache "
            "and downloads"
        )
        path = Path(folder).expanduser()
        if not path.exists():
            raise DataFolderError(f"{setting}={folder}: not an existing folder; {fix}")
        if not path.is_dir():
            raise DataFolderError(f"{setting}={folder}: is a file, not a folder; {fix}")
        try:
            with os.scandir(path):
                pass
        except PermissionError:
            raise DataFolderError(
                f"{setting}={folder}: the folder is not readable (permission denied); make it readable "
                f"(chmod u+rx {path}) or choose another folder"
            ) from None
        folders.append((origin, path))
    return folders


def _what_is_at(path: Path) -> str | None:
    """None for a regular file (or a link to one); else what is there instead, for a message."""
    if path.is_file():
        return None
    if path.is_symlink():
        return f"a symbolic link to {os.readlink(path)}, which {'is not a file' if path.exists() else 'does not exist'}"
    if _unreadable_folder(path):
        return "a folder that cannot be read (permission denied), so the file cannot be looked for in it"
    return "a folder, not a file" if path.is_dir() else "not a regular file"


def _unreadable_folder(path: Path) -> bool:
    """True for a folder whose entries cannot be looked up or listed (no read or search permission)."""
    return path.is_dir() and not os.access(path, os.R_OK | os.X_OK)


def existing_copies(spec: DataFile, data_dir=None) -> list[Located]:
    """Every entry (file or not) at the paths where ``spec`` is looked for, in search order.

    A subfolder (``mnist/``, ``qmnist/``) that cannot be read is itself listed, in place of the
    copies it may hide, so that it is reported rather than taken for "missing".
    """
    found = []
    for origin, folder in data_folders(data_dir):
        for path in candidate_paths(folder, spec):
            if _unreadable_folder(path.parent) and path.parent != Path(folder).expanduser():
                if Located(path.parent, origin) not in found:
                    found.append(Located(path.parent, origin))
            elif os.path.lexists(path):
                found.append(Located(path, origin))
    if os.path.lexists(cached_path(spec)):
        found.append(Located(cached_path(spec), "cache"))
    return found


def locate(spec: DataFile, data_dir=None) -> Located | None:
    """Return the first existing copy of ``spec`` (see the module docstring), or None.

    A named data folder that is missing, a file or unreadable raises :class:`DataFolderError`.
    A folder or a dangling link at a path where the file is looked for is skipped with a
    warning; if no file is found at all, :class:`NotAFileError` names what is there instead
    (rather than a download that would hide the problem).
    """
    oddities = []
    for located in existing_copies(spec, data_dir):
        what = _what_is_at(located.path)
        if what is None:
            if oddities:
                skipped = "; ".join(f"{path} ({what})" for path, what in oddities)
                warnings.warn(f"{spec.filename}: skipped {skipped}; using {located.path}", stacklevel=2)
            return located
        oddities.append((located.path, what))
    if oddities:
        path, what = oddities[0]
        also = "; ".join(f"{other} is {what}" for other, what in oddities[1:])
        raise NotAFileError(
            path,
            f"is {what}, where {spec.filename} is looked for{f' (also {also})' if also else ''}; "
            "remove it or put the real file there",
        )
    return None


def locate_verified(spec: DataFile, data_dir=None, *, reuse=None) -> Verified | None:
    """Return the first copy of ``spec`` in search order that verifies, skipping bad ones with a warning.

    Parameters
    ----------
    spec : DataFile
    data_dir : path, optional
        As for :func:`locate`.
    reuse : callable, optional
        ``reuse(located) -> array or None``, called for each file before it is read: an array
        returned is used as is (``reused=True``), for example a decoded cache whose stamp says
        it came from that very file; None means read and verify the file.

    Returns
    -------
    Verified or None
        ``(located, array, reused)``; None when no copy exists at all (a download is needed).

    Raises
    ------
    IdxFormatError
        When the one copy found is bad: its own error (:class:`ChecksumError`,
        :class:`NotAFileError`, :class:`UnreadableFileError`, ...).
    NoVerifiedCopyError
        When several copies exist and none verifies; it names every bad copy and its problem.
    DataFolderError
        When a named data folder is missing, a file or unreadable.
    """
    errors = []
    for located in existing_copies(spec, data_dir):
        what = _what_is_at(located.path)
        if what is not None and _unreadable_folder(located.path):
            errors.append(
                UnreadableFileError(
                    located.path,
                    f"cannot read this folder (permission denied), where {spec.filename} is looked for; make it "
                    f"readable (chmod u+rx {located.path}) or move the file elsewhere",
                )
            )
            continue
        if what is not None:
            errors.append(
                NotAFileError(
                    located.path,
                    f"is {what}, where {spec.filename} is looked for; remove it or put the real file there",
                )
            )
            continue
        array = reuse(located) if reuse is not None else None
        if array is not None:
            found = Verified(located, array, True)
        else:
            try:
                found = Verified(located, verify(located.path, spec), False)
            except IdxFormatError as refusal:
                errors.append(refusal)
                continue
        if errors:
            skipped = "; ".join(f"{error.path} ({error.problem})" for error in errors)
            warnings.warn(
                f"{spec.filename}: skipped bad copies: {skipped}; using {located.path}, which verifies", stacklevel=2
            )
        return found
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise NoVerifiedCopyError(
            spec,
            [(Path(e.path), e.problem) for e in errors],
            unreadable=all(isinstance(e, (UnreadableFileError, NotAFileError)) for e in errors),
        )
    return None


@dataclass(frozen=True)
class FileStatus:
    """The state of one registered file, as ``mnist-analysis info`` shows it."""

    spec: DataFile
    state: str  #: "verified", "missing", "mismatch" (read, but not the registered content) or "unreadable"
    located: Located | None = None  #: the copy that verified (or the first bad one)
    detail: str = ""  #: what is wrong, or which bad copies were skipped

    @property
    def ok(self) -> bool:
        """True unless a copy exists and is bad (a missing file is fetched, not a fault)."""
        return self.state in ("verified", "missing")


def file_status(spec: DataFile, data_dir=None) -> FileStatus:
    """Look for ``spec`` and verify it, without downloading: its :class:`FileStatus`.

    Raises :class:`DataFolderError` when a named data folder is missing, a file or unreadable.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            found = locate_verified(spec, data_dir)
        except IdxFormatError as error:
            unreadable = (
                error.unreadable
                if isinstance(error, NoVerifiedCopyError)
                else isinstance(error, (UnreadableFileError, NotAFileError))
            )
            detail = error.problem if isinstance(error, NoVerifiedCopyError) else str(error)
            return FileStatus(spec, "unreadable" if unreadable else "mismatch", Located(Path(error.path), ""), detail)
    if found is None:
        return FileStatus(spec, "missing")
    return FileStatus(spec, "verified", found.located, "; ".join(str(w.message) for w in caught))


def array_cache_path(spec: DataFile) -> Path:
    """Where the decoded, verified array of ``spec`` is cached (named by its content hash)."""
    return cache_dir() / "arrays" / f"{spec.key}-{spec.sha256[:16]}.npy"


def _stamp_path(npy: Path) -> Path:
    return npy.with_suffix(".stamp.json")


def _file_stamp(path: Path) -> dict:
    """Size, modification time, inode and status-change time: a write changes the last even if
    the modification time is set back."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino, "ctime_ns": stat.st_ctime_ns}


def _source_stamp(path: Path) -> dict:
    return {"path": str(path.resolve()), **_file_stamp(path)}


def _read_stamp(npy: Path) -> dict:
    try:
        stamp = json.loads(_stamp_path(npy).read_text())
        return stamp if isinstance(stamp, dict) else {}
    except (OSError, ValueError):
        return {}


def _content_matches(array: np.ndarray, spec: DataFile) -> bool:
    """True when ``array`` re-encoded as IDX has the registered SHA-256 (the pinned hash covers the header too)."""
    if array.shape != spec.shape or array.dtype != np.dtype(spec.dtype):
        return False
    return hashlib.sha256(encode_idx(array)).hexdigest() == spec.sha256


def _open_verified(npy: Path, spec: DataFile, *, rehash: bool = False) -> np.ndarray | None:
    """Return the cached array of ``spec`` memory-mapped if it is verified, else None (removing a bad one).

    The array is trusted without re-hashing only while the ``.npy`` file is exactly the one that was
    verified when it was written (same size, modification time and inode, as its stamp records);
    otherwise, or with ``rehash``, its content is hashed again. A file that fails is reported
    with a warning and deleted, so it is rebuilt from a verified source.
    """
    if not npy.is_file():
        return None
    try:
        array = np.load(npy, mmap_mode="r", allow_pickle=False)
        stamp = _read_stamp(npy)
        if (
            not rehash
            and stamp.get("sha256") == spec.sha256
            and stamp.get("npy") == _file_stamp(npy)
            and array.shape == spec.shape
            and array.dtype == np.dtype(spec.dtype)
        ):
            return array
        if _content_matches(array, spec):
            _write_stamp(npy, spec, stamp.get("source"))
            return array
        problem = f"its content does not match the pinned SHA-256 of {spec.filename}"
    except (OSError, ValueError) as error:
        problem = f"it cannot be read ({error})"
    warnings.warn(
        f"decoded-array cache {npy}: {problem}; it was removed and is rebuilt from a verified source file", stacklevel=3
    )
    for stale in (npy, _stamp_path(npy)):
        stale.unlink(missing_ok=True)
    return None


def _write_stamp(npy: Path, spec: DataFile, source: dict | None) -> None:
    stamp = {"sha256": spec.sha256, "npy": _file_stamp(npy), "source": source}
    atomic_write_bytes(_stamp_path(npy), json.dumps(stamp).encode())


def _store(npy: Path, array: np.ndarray, source: Path, spec: DataFile) -> np.ndarray:
    """Cache the verified ``array`` as ``npy`` (atomically) and return it memory-mapped; fall back to ``array``."""
    try:
        with atomic_output(npy) as tmp, open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        _write_stamp(npy, spec, _source_stamp(source))
    except OSError as error:
        warnings.warn(f"could not cache decoded arrays in {npy.parent} ({error}); loads stay slow", stacklevel=3)
        return array
    return np.load(npy, mmap_mode="r", allow_pickle=False)


def _source_unchanged(npy: Path, source: Path) -> bool:
    return _read_stamp(npy).get("source") == _source_stamp(source)


def load_array(key: str, *, data_dir=None, progressbar: bool = True) -> np.ndarray:
    """Return the verified array of registered file ``key``, read-only and memory-mapped when cached.

    The decoded ``.npy`` cache is served only while its stamp shows it unchanged since it was
    verified (see :func:`_open_verified` and the module docstring for what the stamp cannot see);
    without a source file, a cached array that fails verification is removed and the file is
    downloaded again.

    Examples
    --------
    >>> load_array("test-labels").shape
    (10000,)
    """
    return _load(key, data_dir, progressbar)[0]


def _load(key: str, data_dir, progressbar: bool) -> tuple[np.ndarray, Located]:
    """:func:`load_array`, also returning where the verified content came from."""
    spec = get(key)
    npy = array_cache_path(spec)

    def reuse(located: Located):  # the cached array, if its stamp says it came from this very file
        return _open_verified(npy, spec) if _source_unchanged(npy, located.path) else None

    found = locate_verified(spec, data_dir, reuse=reuse)
    if found is None:
        cached = _open_verified(npy, spec)
        if cached is not None:
            return cached, Located(npy, "decoded cache")
        path = _download(spec, progressbar=progressbar)
        found = Verified(Located(path, "download"), verify(path, spec), False)
    array = found.array if found.reused else _store(npy, found.array, found.located.path, spec)
    return array, found.located


def ensure_verified(key: str, *, data_dir=None, progressbar: bool = True) -> Located:
    """Make sure the verified content of ``key`` is at hand (as :func:`load_array` does); return where it is.

    Cheaper than :func:`fetch` when nothing changed: a file whose decoded cache was verified from
    it, and which is unchanged since, is not read again.
    """
    return _load(key, data_dir, progressbar)[1]


def fetch(key: str, *, data_dir=None, progressbar: bool = True) -> Located:
    """Make sure ``key`` is on disk and verified (downloading it if needed); return where it is.

    Unlike :func:`load_array`, this always re-reads and re-hashes both the file and its decoded
    ``.npy`` cache, and rebuilds the cache when it fails (the returned ``note`` says so).
    """
    spec = get(key)
    found = locate_verified(spec, data_dir)  # no reuse: every copy is read and verified again
    if found is None:
        path = _download(spec, progressbar=progressbar)
        found = Verified(Located(path, "download"), verify(path, spec), False)
    located, array = found.located, found.array
    npy = array_cache_path(spec)
    note = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        healthy = _open_verified(npy, spec, rehash=True) is not None
    if caught:
        note = f"decoded cache failed verification and was rebuilt ({npy})"
    if not healthy or not _source_unchanged(npy, located.path):
        _store(npy, array, located.path, spec)
    return Located(located.path, located.origin, note)


def _download(spec: DataFile, *, progressbar: bool) -> Path:
    from .downloads import download

    return download(spec, progressbar=progressbar)
