"""Check that a file holds exactly the registered content of a data file, and say what is wrong if not.

The one check every copy of a data file passes before it is used: a local copy, a download
before it is kept, a decoded array's source. :mod:`mnist_analysis.data.sources` finds the copies,
:mod:`mnist_analysis.data.downloads` fetches them; both call :func:`verify`.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .idx import IdxFormatError, parse_idx, read_bytes
from .registry import DataFile, identify


class ChecksumError(IdxFormatError):
    """A file is well-formed but its content is not the registered content."""


class NotAFileError(IdxFormatError):
    """Something other than a readable file (a folder, a dangling link) sits where a data file is looked for."""


class UnreadableFileError(IdxFormatError):
    """A data file exists but cannot be read (permissions, I/O error)."""


def verify(path, spec: DataFile) -> np.ndarray:
    """Read ``path`` and return its array if it holds exactly the registered content of ``spec``.

    Raises :class:`IdxFormatError` for a malformed file and :class:`ChecksumError` for a
    well-formed one with other content, naming the registered file it holds when it is one
    (for example train and test files swapped).
    """
    try:
        data = read_bytes(path)
    except IsADirectoryError:
        raise NotAFileError(path, f"is a folder, not a file; expected {spec.filename}") from None
    except OSError as error:
        raise UnreadableFileError(
            path, f"cannot be read ({error.strerror or error}); expected {spec.filename}"
        ) from None
    try:
        array = parse_idx(data, path, dtype=spec.dtype, ndim=len(spec.shape))
    except IdxFormatError:
        parse_idx(data, path, dtype=spec.dtype, ndim=len(spec.shape), shape=spec.shape)  # names a wrong header field
        raise
    digest = hashlib.sha256(data).hexdigest()
    if digest == spec.sha256:
        return array
    other = identify(digest)
    if other is not None:
        raise ChecksumError(
            path, f"holds the content of {other.filename}, not of {spec.filename} (are files swapped or misnamed?)"
        )
    if array.shape != spec.shape:
        found = "x".join(f"{n:,}" for n in array.shape)
        raise ChecksumError(
            path, f"has shape {found}, expected {'x'.join(f'{n:,}' for n in spec.shape)} for {spec.filename}"
        )
    raise ChecksumError(
        path,
        f"content SHA-256 is {digest}, expected {spec.sha256} for {spec.filename}; "
        "the file is corrupt or not the original",
    )
