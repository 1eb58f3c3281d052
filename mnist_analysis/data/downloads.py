"""Download a registered data file into the cache over its mirrors, verified before it is kept.

:func:`download` tries each mirror in turn (``$MNIST_ANALYSIS_MIRRORS`` can name others),
streaming into a temporary file that is verified (:func:`mnist_analysis.data.checksums.verify`) and
only then renamed into the cache, so the cache holds a complete, verified file or nothing.
A mirror that answers with an error, goes silent for ``timeout`` seconds, trickles past the
file's overall deadline or serves the wrong bytes is given up for the next; when every mirror
fails, :class:`DownloadError` lists each URL with its reason and says how to work offline.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..locations import CACHE_ENV, DATA_DIR_ENV, cached_path
from ..utils import DiskFullError, atomic_output
from .checksums import verify
from .idx import IdxFormatError
from .registry import MIRRORS_ENV, DataFile, get  # noqa: F401 (get: the doctest of download_deadline)

#: Seconds without a byte after which a mirror is given up.
DEFAULT_TIMEOUT = 60.0


class DownloadError(RuntimeError):
    """Every mirror failed; the message lists each URL and why, and what to do instead."""

    def __init__(self, spec: DataFile, failures: list[tuple[str, str]], target: Path):
        self.spec, self.failures, self.target = spec, failures, target
        tried = "\n".join(f"  - {url}: {reason}" for url, reason in failures) or (
            f"  (no URL to try: {MIRRORS_ENV}={os.environ.get(MIRRORS_ENV, '')!r} names no base URL)"
        )
        super().__init__(
            f"could not download {spec.filename} from any mirror:\n{tried}\n"
            f"Nothing was written to the cache path {target}.\n"
            f"To work offline, put the file in a folder (flat, or in mnist/ and qmnist/ subfolders, "
            f".gz or not) and set {DATA_DIR_ENV} to that folder or pass data_dir=...; "
            f"to use other mirrors, set {MIRRORS_ENV} to comma-separated base URLs; "
            f"to move the cache, set {CACHE_ENV}."
        )


class CacheNotWritableError(OSError):
    """A download is needed but the cache folder cannot be written to (not the mirrors' fault)."""


class DownloadTimeout(OSError):
    """A download did not finish within its overall deadline."""


#: The slowest transfer a download may average (bytes of decompressed content per second) before
#: its deadline passes, and the shortest deadline: a mirror trickling bytes is given up, not waited on.
MIN_DOWNLOAD_RATE = 50_000
MIN_DOWNLOAD_DEADLINE = 120.0


def download_deadline(spec: DataFile) -> float:
    """Seconds one download attempt of ``spec`` may take in all: its size at :data:`MIN_DOWNLOAD_RATE`, with a floor.

    Examples
    --------
    >>> round(download_deadline(get("train-images")))
    941
    >>> download_deadline(get("test-labels"))
    120.0
    """
    return max(MIN_DOWNLOAD_DEADLINE, spec.size / MIN_DOWNLOAD_RATE)


def _describe(error: Exception) -> str:
    """The whole reason an attempt failed, on one line."""
    import requests

    if isinstance(error, IdxFormatError):
        reason = error.problem
    elif isinstance(error, requests.HTTPError) and error.response is not None:
        reason = f"HTTP {error.response.status_code} {error.response.reason or ''}".rstrip()
    elif isinstance(error, (requests.Timeout, DownloadTimeout)):
        reason = f"timed out ({error})"
    elif isinstance(error, requests.ConnectionError):
        reason = f"connection failed ({error})"
    else:
        reason = f"{error.__class__.__name__}: {error}"
    return " ".join(reason.split())


def _check_cache_writable(folder: Path) -> None:
    """Refuse, before any mirror is tried, a cache folder that cannot be created or written to."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as error:
        raise CacheNotWritableError(
            f"cache folder {folder} is not writable ({error.strerror or error.__class__.__name__}), so nothing can be "
            f"downloaded into it (the mirrors were not tried); make it writable, set {CACHE_ENV} to a folder you "
            f"can write to, or put the data files in a folder and set {DATA_DIR_ENV}"
        ) from None


def _remove_stale_parts(folder: Path, spec: DataFile, idle_seconds: float) -> None:
    """Delete temporary ``.part`` files of ``spec`` left by killed downloads (untouched for ``idle_seconds``).

    A live download writes to its ``.part`` at least every ``timeout`` seconds or gives up, so
    one idle for longer belongs to no running process.
    """
    now = time.time()
    for part in folder.glob(f".{spec.filename}.*.part"):
        try:
            if now - part.stat().st_mtime > idle_seconds:
                part.unlink()
        except OSError:
            pass


class TooLargeError(OSError):
    """A mirror sent more bytes than the registered file can take."""


def max_download_bytes(spec: DataFile) -> int:
    """The most bytes a download of ``spec`` may take: its decompressed size, plus what gzip may add.

    Compressing can only grow incompressible data by a few bytes per block, plus a header and trailer.

    Examples
    --------
    >>> max_download_bytes(get("test-labels"))
    12066
    """
    return spec.size + spec.size // 1000 + 2048


def _fetch_url(
    url: str, destination: Path, *, timeout: float, deadline: float, progressbar: bool, max_bytes: int | None = None
) -> None:
    """Stream ``url`` into ``destination``; give up after ``timeout`` s of silence or ``deadline`` s in all,
    or once more than ``max_bytes`` arrived."""
    import requests

    give_up_at = time.monotonic() + deadline
    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        total = int(response.headers.get("Content-Length") or 0) or None
        if max_bytes is not None and total is not None and total > max_bytes:
            raise TooLargeError(
                f"announces {total:,} bytes, more than the registered file can take ({max_bytes:,}); not downloaded"
            )
        bar = None
        if progressbar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, leave=False)
        try:
            with open(destination, "wb") as handle:
                while chunk := response.raw.read1(1 << 16, decode_content=True):  # returns once any bytes arrive
                    handle.write(chunk)
                    if max_bytes is not None and handle.tell() > max_bytes:
                        raise TooLargeError(
                            f"sent more than {max_bytes:,} bytes, more than the registered file can take; stopped"
                        )
                    if bar is not None:
                        bar.update(len(chunk))
                    if time.monotonic() > give_up_at:
                        raise DownloadTimeout(
                            f"not finished after the {deadline:g} s allowed for the whole file "
                            f"({handle.tell():,} bytes received)"
                        )
        finally:
            if bar is not None:
                bar.close()


def download(
    spec: DataFile,
    *,
    urls=None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    progressbar: bool = True,
) -> Path:
    """Download ``spec`` into the cache, trying each mirror in turn, and return its path.

    Each attempt streams into a temporary ``.part`` file beside the target; the file is
    verified and only then renamed into place, so the cache path holds a complete, verified
    file or nothing. Any failure (HTTP error, ``timeout`` seconds without a byte, the overall
    ``deadline`` (default :func:`download_deadline`) passed, an HTML page served with status
    200, a hash mismatch) moves on to the next mirror. A cache folder that cannot be written
    to is reported as such before any mirror is tried; ``.part`` files left by killed
    downloads are removed.
    """
    target = cached_path(spec)
    deadline = download_deadline(spec) if deadline is None else deadline
    _check_cache_writable(target.parent)
    _remove_stale_parts(target.parent, spec, idle_seconds=2 * timeout + 60)
    failures = []
    for url in urls if urls is not None else spec.urls():
        try:
            with atomic_output(target) as tmp:
                _fetch_url(
                    url,
                    tmp,
                    timeout=timeout,
                    deadline=deadline,
                    progressbar=progressbar,
                    max_bytes=max_download_bytes(spec),
                )
                verify(tmp, spec)
            return target
        except DiskFullError as error:  # the local disk, not the mirrors: said once, no other mirror tried
            raise CacheNotWritableError(
                f"{error} (the download from {url} was going well; the other mirrors were not tried; "
                f"set {CACHE_ENV} to move the cache)"
            ) from None
        except Exception as error:  # any failure means: try the next mirror
            failures.append((url, _describe(error)))
    raise DownloadError(spec, failures, target)
