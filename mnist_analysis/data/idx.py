"""Read and write IDX files: MNIST's ``idx1-ubyte``/``idx3-ubyte`` and QMNIST's ``idx2-int``.

An IDX file is a 4-byte magic number (two zero bytes, an element-type code, the number of
dimensions), one big-endian uint32 per dimension, then the elements in C order, big-endian.
Files may be gzip-compressed. The reader checks every part of that layout and refuses a bad
file with an :class:`IdxFormatError` that names the file, what was expected and what was found.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..utils import atomic_write_bytes

#: IDX element-type codes and the big-endian dtype each stands for.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
#: The most dimensions a header may give (numpy arrays hold at most 32 in numpy 1, 64 in numpy 2).
MAX_DIMENSIONS = 32


def _shape_text(shape) -> str:
    return "x".join("?" if n is None else f"{n:,}" for n in shape)


class IdxFormatError(ValueError):
    """A file is not the IDX file it should be; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head


def read_bytes(path) -> bytes:
    """Return the content of ``path``, decompressed when it is gzip.

    Raises :class:`IdxFormatError` for an empty file, an HTML page (a download that returned an
    error page) or a gzip stream that is corrupt or cut short.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw:
        raise IdxFormatError(path, "empty file (0 bytes); expected an IDX file, gzip-compressed or not")
    if _looks_like_html(raw):
        raise IdxFormatError(
            path,
            "looks like an HTML page, not an IDX file (a download probably saved a server's error "
            "or login page); delete it and fetch again",
        )
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxFormatError(path, f"not a valid gzip file ({error}); the file is corrupt or incomplete") from None
    if _looks_like_html(data):
        raise IdxFormatError(path, "decompresses to an HTML page, not an IDX file")
    return data


def parse_idx(data: bytes, path="<bytes>", *, dtype=None, ndim=None, shape=None) -> np.ndarray:
    """Parse IDX ``data`` into a native-endian array, checking it against what is expected.

    ``dtype``, ``ndim`` and ``shape`` (a tuple in which ``None`` matches any size) are optional
    expectations; ``path`` only names the source in error messages. The returned array is a
    read-only view of ``data`` when no byte swap is needed.

    Examples
    --------
    >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])).tolist()
    [7, 2, 1]
    """
    if len(data) < 4:
        raise IdxFormatError(path, f"too short for an IDX header: {len(data)} bytes, expected at least 4")
    zero, type_code, dims = struct.unpack(">HBB", data[:4])
    magic = f"wrong magic number 0x{int.from_bytes(data[:4], 'big'):08X}"
    if zero != 0:
        raise IdxFormatError(
            path, f"{magic}: header bytes 0-1 are 0x{zero:04X}, expected 0x0000 (not an IDX file, or a corrupt header)"
        )
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({d.name})" for c, d in IDX_DTYPES.items())
        raise IdxFormatError(
            path, f"{magic}: header byte 2 (element type) is 0x{type_code:02X}, expected one of {known}"
        )
    if dims == 0 or dims > MAX_DIMENSIONS:
        raise IdxFormatError(
            path,
            f"{magic}: header byte 3 (number of dimensions) is {dims}, expected at least one dimension "
            f"and at most {MAX_DIMENSIONS}",
        )
    file_dtype = IDX_DTYPES[type_code]
    if dtype is not None and file_dtype.newbyteorder("=") != np.dtype(dtype).newbyteorder("="):
        wanted = np.dtype(dtype).newbyteorder("=")
        code = f" (code 0x{_TYPE_CODES[wanted]:02X})" if wanted in _TYPE_CODES else ""
        raise IdxFormatError(
            path,
            f"element type is {file_dtype.name} (header byte 2 is 0x{type_code:02X}), expected {wanted.name}{code}",
        )
    if ndim is not None and dims != ndim:
        raise IdxFormatError(
            path, f"has {dims} dimensions, expected {ndim} (header byte 3 is the number of dimensions)"
        )
    header_size = 4 + 4 * dims
    if len(data) < header_size:
        raise IdxFormatError(
            path, f"truncated header: {len(data):,} of {header_size:,} bytes (4 + 4 per dimension, {dims} dimensions)"
        )
    found_shape = struct.unpack(f">{dims}I", data[4:header_size])
    if shape is not None:
        if len(shape) != dims:
            raise IdxFormatError(
                path, f"has {dims} dimensions, expected {len(shape)} (header byte 3 is the number of dimensions)"
            )
        for axis, (wanted, found) in enumerate(zip(shape, found_shape)):
            if wanted is not None and wanted != found:
                raise IdxFormatError(
                    path,
                    f"has shape {_shape_text(found_shape)}, expected {_shape_text(shape)}: header dimension "
                    f"{axis + 1} of {dims} (bytes {4 + 4 * axis}-{7 + 4 * axis}) is {found:,}, expected {wanted:,}",
                )
    expected_size = header_size + math.prod(found_shape) * file_dtype.itemsize
    if len(data) != expected_size:
        what = (
            f"truncated: {len(data):,} of {expected_size:,} bytes"
            if len(data) < expected_size
            else f"{len(data) - expected_size:,} unexpected bytes after the data ({len(data):,} bytes, "
            f"expected {expected_size:,})"
        )
        raise IdxFormatError(
            path,
            f"{what}; the header (bytes 4-{header_size - 1}) gives shape {_shape_text(found_shape)} of "
            f"{file_dtype.name}, so the file is cut short, padded, or its header is corrupt",
        )
    array = np.frombuffer(data, dtype=file_dtype, offset=header_size).reshape(found_shape)
    if file_dtype.itemsize > 1:
        array = array.astype(file_dtype.newbyteorder("="))
    return array


def read_idx(path, *, dtype=None, ndim=None, shape=None) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) into a native-endian array.

    Parameters
    ----------
    path : path-like
        The file. Gzip compression is recognised by content, not by name.
    dtype, ndim, shape : optional
        What the file must hold; a mismatch raises :class:`IdxFormatError`. In ``shape``,
        ``None`` matches any size, e.g. ``(None, 28, 28)``.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte.gz")
    >>> write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    >>> read_idx(path, ndim=1).tolist()
    [5, 0, 4]
    """
    return parse_idx(read_bytes(path), path, dtype=dtype, ndim=ndim, shape=shape)


def encode_idx(array) -> bytes:
    """Return the IDX encoding (uncompressed) of ``array``.

    Examples
    --------
    >>> encode_idx(np.array([1, 2], dtype=np.uint8))
    b'\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x02\\x01\\x02'
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _TYPE_CODES:
        names = ", ".join(sorted(d.name for d in _TYPE_CODES))
        raise ValueError(f"array: IDX stores {names}; found dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"array: IDX stores 1 to 255 dimensions; found {array.ndim}")
    header = struct.pack(">HBB", 0, _TYPE_CODES[native], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()


def write_idx(path, array, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file, atomically; gzip it when ``compress`` (default: name ends in ``.gz``).

    The file appears at ``path`` only once it is complete.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    data = encode_idx(array)
    if compress:
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)


def read_labelled_images(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST-style pair: ``(n, rows, cols)`` uint8 images and ``(n,)`` uint8 labels.

    Works for any dataset distributed in MNIST's format (Fashion-MNIST, KMNIST, ...). Refuses
    a pair whose counts differ, naming both files.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> write_idx(os.path.join(folder, "images"), np.zeros((2, 28, 28), dtype=np.uint8))
    >>> write_idx(os.path.join(folder, "labels"), np.array([3, 1], dtype=np.uint8))
    >>> images, labels = read_labelled_images(os.path.join(folder, "images"), os.path.join(folder, "labels"))
    >>> images.shape, labels.tolist()
    ((2, 28, 28), [3, 1])
    """
    images = read_idx(images_path, dtype=np.uint8, ndim=3)
    labels = read_idx(labels_path, dtype=np.uint8, ndim=1)
    if len(images) != len(labels):
        raise IdxFormatError(
            labels_path, f"labels say {len(labels):,} items, images say {len(images):,} (images file {images_path})"
        )
    return images, labels
