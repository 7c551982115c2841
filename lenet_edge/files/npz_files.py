"""An .npz archive opened only after its sizes are checked: no deflate bomb is inflated.

input_files bounds the bytes on disk; an .npz is a zip, and 1.5 MB of deflated zeros can
declare a (2000000, 28, 28) array that np.load would inflate to 1.6 GB before any shape
check ran. Here, before a single array is loaded, each member's uncompressed size from the
zip directory and each array's shape and dtype from its .npy header (a few hundred bytes,
read through numpy.lib.format) are checked against the caller's limit. zipfile stops a
member at its declared size, so a lying directory cannot inflate more than was checked.
"""

from __future__ import annotations

import math
import zipfile
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from lenet_edge.errors import LenetEdgeError

_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0,
                   (2, 0): npy_format.read_array_header_2_0}


def load_npz(source: IO[bytes], name: str, max_bytes: int, error: type[LenetEdgeError]):
    """np.load(source) of an archive whose arrays together hold at most `max_bytes`.

    Args:
        source: a seekable binary file (an open input file, or io.BytesIO of its bytes).
        name: the file, as errors name it.

    Returns:
        numpy's NpzFile (use it in `with`); its arrays are loaded on access, as np.load's.

    Raises:
        error: not a zip, a member that is not a plain .npy array, or over the limit.
    """
    try:
        check_sizes(source, name, max_bytes, error)
        source.seek(0)
        return np.load(source, allow_pickle=False)
    except LenetEdgeError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError: a bad file
        raise error(f"{name}: not a readable .npz archive ({exc})") from None


def check_sizes(source: IO[bytes], name: str, max_bytes: int,
                error: type[LenetEdgeError]) -> None:
    """Refuse an archive whose members declare more than `max_bytes` in all (see module)."""
    total = 0
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            total += info.file_size
            if total > max_bytes:
                raise error(f"{name}: its arrays declare more than {max_bytes:,} bytes "
                            f"uncompressed ({info.filename}: {info.file_size:,}); refused "
                            "before inflating")
            with archive.open(info) as member:
                shape, dtype = _header(member, f"{name} [{info.filename}]", error)
            size = math.prod(shape) * dtype.itemsize
            if size > max_bytes:
                raise error(f"{name} [{info.filename}]: declares a {dtype} array of shape "
                            f"{shape} ({size:,} bytes), more than {max_bytes:,}; refused "
                            "before inflating")


def _header(member: IO[bytes], name: str, error: type[LenetEdgeError]):
    try:
        version = npy_format.read_magic(member)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f".npy format version {version} is not read here")
        shape, _, dtype = reader(member)
    except ValueError as exc:
        raise error(f"{name}: not a .npy array ({exc})") from None
    if dtype.hasobject:
        raise error(f"{name}: holds Python objects (pickled data); not read")
    return shape, dtype
