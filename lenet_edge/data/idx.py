"""The IDX file format of MNIST and Fashion-MNIST: a strict reader and a writer (numpy only).

Layout: two zero bytes, a dtype code, the number of dimensions, one big-endian uint32 per
dimension, then the values in C order. The reader trusts nothing: it checks every field,
requires the exact byte count the header implies (a short file and trailing bytes are both
errors) and, for gzip files, stops inflating one byte past that count, so a small file that
inflates to gigabytes (a gzip bomb) costs no more memory than an honest one.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from math import prod
from pathlib import Path

import numpy as np

from lenet_edge import bundle
from lenet_edge.errors import DataError, UsageError
from lenet_edge.files import input_files

UINT8_CODE = 0x08
DTYPE_NAMES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32",
               0x0D: "float32", 0x0E: "float64"}
GZIP_MAGIC = b"\x1f\x8b"
# The largest file the header may claim: all of MNIST's training images are 47 MB, and
# 2 GiB holds 2.7 million 28x28 images. Beyond this a header is more likely a lie.
MAX_BYTES = 2 << 30
_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes, gzipped or not (detected from its first bytes).

    Returns:
        a read-only uint8 array with the shape the header declares.

    Raises:
        DataError: naming the file and what was wrong (magic, dtype code, dimensions,
            byte count, gzip stream).
    """
    path = Path(path)
    try:
        with input_files.open_input(path, input_files.DATASET) as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw) as stream:
                    return _parse(stream, path, size=None)
            return _parse(raw, path, size=os.fstat(raw.fileno()).st_size)
    except EOFError:
        raise DataError(f"{path}: gzip stream ends early (truncated download?)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped if `path` ends in .gz), atomically.

    Raises:
        UsageError: the array is not uint8, has no dimensions, or a dimension >= 2**32.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim == 0 or max(array.shape) >= 1 << 32:
        raise UsageError(
            f"write_idx writes uint8 arrays with 1 to 255 dimensions, each < 2**32;"
            f" got {array.dtype} {array.shape}"
        )
    header = bytes([0, 0, UINT8_CODE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array).tobytes()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)  # mtime 0: same array, same bytes
    bundle.write_bytes(path, data)


def _parse(stream: io.BufferedIOBase, path: Path, size: int | None) -> np.ndarray:
    """Parse header and body; `size` is the file's byte count when known (not gzipped)."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        raise DataError(f"{path}: {len(magic)} bytes, too short for an IDX header (4 or more)")
    if magic[:2] != b"\0\0":
        raise DataError(
            f"{path}: bad magic number 0x{magic.hex().upper()}:"
            " an IDX file starts with two zero bytes"
        )
    code, ndim = magic[2], magic[3]
    if code != UINT8_CODE:
        kind = DTYPE_NAMES.get(code, "unknown")
        raise DataError(
            f"{path}: dtype code 0x{code:02X} ({kind}) is not supported;"
            f" image and label files hold unsigned bytes (0x08)"
        )
    if ndim == 0:
        raise DataError(f"{path}: header declares 0 dimensions")
    dims_bytes = _read_up_to(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(f"{path}: header declares {ndim} dimensions but the file ends inside it")
    dims = struct.unpack(f">{ndim}I", dims_bytes)
    header_len = 4 + 4 * ndim
    expected = header_len + prod(dims)
    if expected > MAX_BYTES:
        raise DataError(
            f"{path}: header declares shape {dims} ({expected} bytes),"
            f" more than the {MAX_BYTES >> 30} GiB this reader accepts"
        )
    if size is not None and size != expected:  # a plain file: its size is known up front
        raise DataError(f"{path}: expected {expected} bytes from the header, got {size}")
    # Read one byte past the end the header implies: enough to see trailing data, and the
    # bound that keeps a gzip bomb from inflating further.
    body = _read_up_to(stream, expected - header_len + 1)
    got = header_len + len(body)
    if got < expected:
        raise DataError(f"{path}: expected {expected} bytes from the header, got {got}")
    if got > expected:
        raise DataError(
            f"{path}: expected {expected} bytes from the header, got more (trailing data)"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _read_up_to(stream: io.BufferedIOBase, limit: int) -> bytes:
    """Read until `limit` bytes or the end of the stream, in bounded chunks."""
    parts = bytearray()
    while len(parts) < limit:
        chunk = stream.read(min(_CHUNK, limit - len(parts)))
        if not chunk:
            break
        parts += chunk
    return bytes(parts)
