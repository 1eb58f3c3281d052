"""Small shared utilities: files written atomically, staging folders, seeded row samples, neighbours.

Everything that writes a file the user keeps goes through :func:`atomic_output` (or
:func:`atomic_write_bytes`), so a file on disk holds either its old content or the complete
new one; :func:`staging_folder` does the same for a set of files moved into place together.
:func:`sample_rows` draws the seeded samples of the quality metrics, and
:func:`nearest_other_rows` is the one exact neighbour search that leaves each row out of its
own neighbours (the label audit's k-NN vote and outlier score, the maps' quality metrics), and
:func:`in_worker_processes` the one way work is spread over processes (morphometrics, the SVM folds).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .validation import positive_int


class DiskFullError(OSError):
    """A file could not be written because its disk (or quota) is full; the message names the path."""

    def __init__(self, path):
        self.message = (
            f"no space left on device while writing {path}; nothing was left half-written there. Free space on "
            "that disk or choose a folder on another one"
        )
        super().__init__(errno.ENOSPC, self.message, str(path))

    def __str__(self) -> str:
        return self.message


def is_disk_full(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) says the disk or the quota is full.

    Examples
    --------
    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device")), is_disk_full(ValueError("x"))
    (True, False)
    """
    while error is not None:
        if isinstance(error, OSError) and (
            error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(error)
        ):
            return True
        error = error.__cause__ or error.__context__
    return False


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file (mkstemp's own 0600 would hide reports from other users)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, else removed.

    Whatever happens inside the block, ``path`` holds either its old content or the complete
    new file, never a partial one.

    Examples
    --------
    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> open(target).read()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_parts(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except OSError as error:
        if is_disk_full(error) and not isinstance(error, DiskFullError):
            raise DiskFullError(path) from error
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)


def _remove_dead_parts(path: Path) -> None:
    """Delete ``.part`` files of ``path`` left by processes that were killed while writing it.

    Each temporary file is named ``.<name>.<pid>-<random>.part``; one whose process is gone
    belongs to no running writer.
    """
    prefix = f".{path.name}."
    try:
        leftovers = list(path.parent.glob(f"{glob.escape(prefix)}*.part"))
    except OSError:
        return
    for part in leftovers:
        pid = part.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            part.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@contextlib.contextmanager
def staging_folder(folder, prefix: str):
    """Yield a fresh hidden folder ``folder/<prefix><pid>-*`` for files to be moved into place; remove it after.

    Folders with this prefix left by killed processes (whose process id is gone) are removed
    first, so an interrupted run leaves nothing behind for long.

    Examples
    --------
    >>> import tempfile
    >>> with staging_folder(tempfile.mkdtemp(), ".demo-") as staging:
    ...     staging.name.startswith(f".demo-{os.getpid()}-")
    True
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(f"{prefix}*"):
        pid = leftover.name[len(prefix) :].split("-")[0]
        if leftover.is_dir() and not (pid.isdigit() and _process_alive(int(pid))):
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f"{prefix}{os.getpid()}-"))
    try:
        yield staging
    except OSError as error:
        if is_disk_full(error) and not isinstance(error, DiskFullError):
            raise DiskFullError(folder) from error
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def sample_rows(n_rows: int, sample_size: int | None, seed: int = 0) -> np.ndarray:
    """Return sorted row positions of a seeded random sample (all rows when it is large enough).

    Examples
    --------
    >>> sample_rows(10, 3, seed=0).shape
    (3,)
    >>> sample_rows(5, None).tolist()
    [0, 1, 2, 3, 4]
    """
    n_rows = positive_int(n_rows, "n_rows")
    sample_size = positive_int(sample_size, "sample_size", allow_none=True)
    if sample_size is None or sample_size >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=sample_size, replace=False))


def nearest_other_rows(points, k: int, *, queries=None, algorithm: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Distances and row positions of the ``k`` nearest *other* rows of ``points`` (Euclidean, exact).

    For each row of ``queries`` (positions in ``points``; default: every row), its own entry is
    dropped from the ``k + 1`` nearest. An exact copy may come before the row itself; when more
    than ``k`` copies tie, the row may not be found at all, and the farthest of the ``k + 1``
    is dropped instead. Both arrays have shape ``(len(queries), k)``, nearest first.

    Examples
    --------
    >>> distances, rows = nearest_other_rows(np.array([[0.0], [1.0], [3.0]]), 1)
    >>> rows.ravel().tolist(), distances.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    from sklearn.neighbors import NearestNeighbors

    points = np.asarray(points)
    queries = np.arange(len(points)) if queries is None else np.asarray(queries)
    index = NearestNeighbors(n_neighbors=k + 1, algorithm=algorithm).fit(points)
    distances, found = index.kneighbors(points[queries])
    keep = np.argsort(found == queries[:, None], axis=1, kind="stable")[:, :k]  # the row itself sorts last
    return np.take_along_axis(distances, keep, axis=1), np.take_along_axis(found, keep, axis=1)


def _with_settings(settings: dict, function, args, kwargs):
    from .running_code import apply_settings

    apply_settings(settings)
    return function(*args, **kwargs)


def in_worker_processes(calls, n_jobs: int | None = None) -> list:
    """Run joblib ``delayed`` calls in worker processes, then let the workers go; return the results in order.

    joblib keeps its worker processes alive for minutes after a run, each holding the memory
    it used; a notebook build that runs two kernels at once would carry them all along. A
    module-level setting this process changed (``morphometrics.THRESHOLD = 0.4``) is set in
    each worker before its call, since workers start from the package's defaults.

    Examples
    --------
    >>> from joblib import delayed
    >>> in_worker_processes([delayed(abs)(-2), delayed(abs)(3)], n_jobs=1)
    [2, 3]
    """
    from joblib import Parallel, effective_n_jobs
    from joblib.externals.loky import get_reusable_executor

    from .running_code import settings_as_imported

    settings = settings_as_imported() if effective_n_jobs(n_jobs) > 1 else {}
    if settings:  # workers import the package afresh: hand them the settings this process changed
        calls = [(_with_settings, (settings, function, args, kwargs), {}) for function, args, kwargs in calls]
    try:
        return Parallel(n_jobs=n_jobs)(calls)
    finally:
        if effective_n_jobs(n_jobs) > 1:
            get_reusable_executor().shutdown(wait=True)


def json_digest(value) -> str:
    """SHA-256 (hex) of ``value`` as canonical JSON (sorted keys; anything JSON cannot hold as its ``str``).

    The one way the package turns a key made of plain data into a digest.

    Examples
    --------
    >>> json_digest({"b": 1, "a": [2, 3]}) == json_digest({"a": [2, 3], "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def sha256_of_file(path) -> str:
    """SHA-256 (hex) of the bytes of ``path``, read in chunks.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x")
    >>> _ = open(path, "wb").write(b"abc")
    >>> sha256_of_file(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
