"""The one way lenet-edge reads a file it did not just write: bounded, regular files only.

Every input (a bundle's manifest and artifacts, results JSON, train.json, reference.npz,
images, IDX and .npz datasets, a hosts file, an `inspect` target) is read here, so no path
can block on a FIFO, read `/dev/zero` until memory runs out, or crash the JSON parser:

* regular files only: a FIFO, device, socket or directory (or a symlink to one) is refused
  from `os.stat` before opening, and again from `fstat` after an O_NONBLOCK open (the race
  of a path swapped between the two);
* a size limit per kind of file (`InputKind`), checked on the open file and while reading;
* JSON: strict (no NaN/Infinity), nested no deeper than MAX_JSON_DEPTH;
* every failure is the kind's LenetEdgeError with one line naming the file.

TF-free and numpy-free: the runtime on a device imports it.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from typing import IO, Any

from lenet_edge.errors import DataError, LenetEdgeError, ModelError, OutputError, UsageError

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
# Deeper than any file lenet-edge writes (verify.json: 4 levels) by far; far shallower than
# the ~1,000 where Python's parser raises RecursionError.
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class InputKind:
    """A kind of input file: what to call it in errors, its size limit, its error class."""

    what: str  # "a model file": the message says "PATH: a FIFO, not a model file"
    max_bytes: int
    error: type[LenetEdgeError] = ModelError


# A LeNet-5 model is 60 KB (int8) to 250 KB (fp32); 512 MiB also fits any model `inspect`
# can sensibly load on a Raspberry Pi, and stops /dev/zero-like files long before memory.
MODEL = InputKind("a model file (.tflite or .onnx)", 512 * MiB)
# A Keras model to convert (.keras zip or .h5), or one file of a SavedModel folder: LeNet-5
# is under 1 MB; 2 GiB holds any model a 28x28 classifier on a Pi could sensibly be.
KERAS_MODEL = InputKind("a Keras model file", 2 * GiB)
# The Keras weights train writes: 250 KB.
WEIGHTS = InputKind("a weights file", 64 * MiB)
# manifest.json is a few KB, even with every variant's tensors and ops listed.
MANIFEST = InputKind("a JSON manifest", 4 * MiB)
# verify / benchmark / pipeline / device-*.json and train.json: tens of KB (a benchmark of
# every variant x runtime x batch x thread count is still < 1 MB).
RESULTS = InputKind("a JSON results file", 16 * MiB)
# reference.npz: the test set, 28x28 uint8 + 10 float32 logits each; MNIST's 10,000
# images are 8 MB uncompressed, and 256 MiB holds 300,000.
REFERENCE = InputKind("a reference archive (.npz)", 256 * MiB)
# A dataset .npz or IDX file: all of MNIST is 55 MB; 2 GiB is idx.MAX_BYTES, the most a
# header may claim (2.7 million images).
DATASET = InputKind("a dataset file", 2 * GiB + 64 * KiB, DataError)
# A hosts file lists devices, one a line: 1 MiB is ten thousand hosts.
HOSTS = InputKind("a hosts file", 1 * MiB, UsageError)
# The playbook an earlier `deploy --emit-ansible` wrote (a few KB), read for its header.
PLAYBOOK = InputKind("an Ansible playbook", 1 * MiB, OutputError)
# An image or a .npy batch for `predict`; image_files checks pixels and array shapes, this
# only the bytes (its own MAX_FILE_BYTES: 4 bytes a pixel of a 50 MP image, plus headers).
IMAGE = InputKind("an image or .npy file", 4 * 50_000_000 + 1 * MiB, DataError)

_FILE_TYPES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def open_input(path: str | os.PathLike, kind: InputKind, *, name: str | None = None,
               error: type[LenetEdgeError] | None = None) -> IO[bytes]:
    """Open a regular file for reading in binary; the caller closes it (use `with`).

    Args:
        name: how errors name the file (default: the path), e.g. "--compare FILE".
        error: the LenetEdgeError to raise (default: the kind's).

    Raises:
        the error class: missing, not a regular file, unreadable, or over the kind's limit.
    """
    name, error = name or str(path), error or kind.error
    try:
        _check_type(os.stat(path), name, kind, error)  # no open() of a FIFO or device at all
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:  # missing too: "cannot read (No such file or directory)"
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        _check_type(info, name, kind, error)  # the path may have been swapped since stat
        _check_size(info.st_size, name, kind, error)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, kind: InputKind, *, name: str | None = None,
               error: type[LenetEdgeError] | None = None) -> bytes:
    """The whole content of a regular file of at most kind.max_bytes (see open_input)."""
    name, error = name or str(path), error or kind.error
    with open_input(path, kind, name=name, error=error) as handle:
        try:
            data = handle.read(kind.max_bytes + 1)  # +1: a file that grew since fstat
        except OSError as exc:
            raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    _check_size(len(data), name, kind, error)
    return data


def read_text(path: str | os.PathLike, kind: InputKind, *, name: str | None = None,
              error: type[LenetEdgeError] | None = None) -> str:
    """A UTF-8 text file (see read_bytes); undecodable bytes are the kind's error."""
    name, error = name or str(path), error or kind.error
    try:
        return read_bytes(path, kind, name=name, error=error).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start})") from None


def read_json(path: str | os.PathLike, kind: InputKind, *, name: str | None = None,
              error: type[LenetEdgeError] | None = None, missing_ok: bool = False) -> Any:
    """A strict JSON document from a file (see read_text and parse_json).

    Args:
        missing_ok: return None when the file does not exist (an optional results file).
    """
    name, error = name or str(path), error or kind.error
    if missing_ok and not os.path.lexists(path):
        return None
    return parse_json(read_text(path, kind, name=name, error=error), name, error)


def parse_json(text: str, name: str, error: type[LenetEdgeError] = ModelError) -> Any:
    """Parse strict JSON: no NaN/Infinity, no nesting deeper than MAX_JSON_DEPTH.

    Also for JSON that did not come from a file (a child's or a device's stdout).
    """
    depth = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise error(f"{name}: JSON nested deeper than {MAX_JSON_DEPTH} levels; "
                    "not a file lenet-edge writes")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError as exc:  # JSONDecodeError, a constant, an integer of > 4300 digits
        raise error(f"{name}: not valid JSON ({exc})") from None


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: linear time
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, counted before parsing (strings skipped)."""
    depth = deepest = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest


def _refuse_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: valid JSON syntax, but no float holds it
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def _check_type(info: os.stat_result, name: str, kind: InputKind,
                error: type[LenetEdgeError]) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    found = next((label for test, label in _FILE_TYPES if test(info.st_mode)), "not a file")
    raise error(f"{name}: {found}, not {kind.what}")


def _check_size(size: int, name: str, kind: InputKind, error: type[LenetEdgeError]) -> None:
    if size > kind.max_bytes:
        raise error(f"{name}: more than {_human(kind.max_bytes)}; too large for {kind.what}")


def _human(size: int) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"
