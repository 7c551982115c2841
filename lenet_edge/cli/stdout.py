"""This process's stdout, guarded: a write that fails is an OutputError, never a traceback.

Python's own stdout turns a full disk (`> /dev/full`) into an OSError deep inside rich or
click (exit 70), a reader that has gone (`| head`) into noise at interpreter exit, and a
closed stdout (`>&-`) into `sys.stdout = None`, where every print is silently dropped. The
console entry point puts the same stream over `_Fd1` instead, so each of these raises
`StdoutError` at the write, which the CLI maps in one place (cli/__init__.py): exit 5 with
one line, or, for EPIPE, the quiet exit 141 of errors.py.
"""

from __future__ import annotations

import errno
import io
import os
import sys

from lenet_edge.errors import StdoutError

BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout has gone (errors.py)


class _Fd1(io.FileIO):
    """fd 1 whose failed writes raise StdoutError: an OutputError, so no `except OSError`
    on the way (output_files, suppress(OSError)) mistakes it for its own file."""

    def __init__(self, closed: bool) -> None:
        super().__init__(1, "wb", closefd=False)
        self.closed_at_start = closed
        self.discard = False  # after a failure: what is still buffered goes nowhere

    def write(self, data) -> int:
        if self.discard:
            return len(data)
        if self.closed_at_start:
            raise StdoutError(OSError(errno.EBADF, "stdout is closed"))
        try:
            return super().write(data)
        except OSError as exc:
            raise StdoutError(exc) from None


_raw: _Fd1 | None = None


def guard() -> None:
    """Put sys.stdout over `_Fd1`; only for the real stdout (a CliRunner's capture stays)."""
    global _raw
    old = sys.stdout
    if _raw is not None or (old is not None and old is not sys.__stdout__):
        return
    if old is None:
        # fd 1 was closed: take it with /dev/null, so no file opened later becomes fd 1
        # (a child process would take that file for its stdout and write into it).
        _point_fd1_at_devnull()
    _raw = _Fd1(closed=old is None)
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_raw), encoding=getattr(old, "encoding", None) or "utf-8",
        errors=getattr(old, "errors", None) or "strict",
        line_buffering=bool(getattr(old, "line_buffering", False)))


def flush() -> None:
    """Flush stdout now, so a failure is exit 5 (or 141) and not noise at exit.

    Raises:
        StdoutError: stdout is full, closed, or its reader has gone (guarded stdout only).
    """
    if sys.stdout is not None:
        sys.stdout.flush()


def silence() -> None:
    """After a failure: drop what is buffered, and point fd 1 at /dev/null, as the Python
    docs recommend for EPIPE, so the interpreter's flush at exit prints no "Exception
    ignored ... BrokenPipeError"."""
    if _raw is not None:
        _raw.discard = True
    _point_fd1_at_devnull()


def flush_quietly() -> None:
    """The last flush before exit: the exit code is decided, a failure only silences."""
    try:
        flush()
    except (StdoutError, OSError):
        silence()


def _point_fd1_at_devnull() -> None:
    fd = os.open(os.devnull, os.O_WRONLY)
    if fd != 1:
        os.dup2(fd, 1)
        os.close(fd)
