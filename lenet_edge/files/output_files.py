"""The one way lenet-edge writes a file: atomic for files, straight through for streams.

* A regular file (or a new one) is written to a temporary file beside it, fsync'd, then
  renamed over it: a reader sees the old content or the new, never half of it.
* A symlink: its target is replaced that way and the link is kept (renaming onto the link's
  own path would swap the link for a regular file).
* This process's stdout or stderr (`/dev/stdout`, `/proc/self/fd/1`, or the very file stdout
  is redirected to), a character device or a FIFO: written through the open stream. They
  cannot be renamed over, and `--json /dev/stdout` must work like `--json -`.
* A new file's permissions follow the umask, as for any file a program creates (mkstemp
  makes 0600); a replaced file keeps its mode, and, when running as root, its owner and
  group.

Temporary files are named `.NAME.PID.XXXXXXXX.tmp`. One whose process is gone (killed by
SIGKILL, or a power loss) is removed by the next write into that folder; a signal that
lets Python run (SIGINT, SIGTERM, SIGHUP: see interrupts.py) removes it on the way out.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lenet_edge.errors import OutputError, StdoutError

# .NAME.PID.XXXXXXXX.tmp: mkstemp's eight random characters between our pid and suffix
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp$")


def _umask_from_proc() -> int | None:
    """The umask from /proc/self/status (Linux >= 4.7), read without changing it."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


@functools.cache
def _umask_by_setting() -> int:
    # os.umask only reads by setting: for that instant a file another thread creates gets
    # the temporary mask. Done once (cached) and only where /proc cannot tell us.
    old = os.umask(0o077)
    os.umask(old)
    return old


def umask() -> int:
    """The process umask, read without a window in which it is changed (on Linux)."""
    mask = _umask_from_proc()
    return mask if mask is not None else _umask_by_setting()


def file_mode() -> int:
    """The mode open() would give a new file: 0o666 less the umask (0644 under 022)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode mkdir would give a new folder: 0o777 less the umask (0755 under 022)."""
    return 0o777 & ~umask()


def is_temp_name(name: str) -> bool:
    """True for a temporary file name this module makes."""
    return _TEMP_NAME.match(name) is not None


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process; an id too large to check: leave it be
    return True


def remove_stale_temp_files(folder: Path) -> None:
    """Remove temporary files in `folder` left by a lenet-edge process that is gone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return  # the write itself reports an unusable folder
    for name in names:
        match = _TEMP_NAME.match(name)
        if match and not process_alive(int(match["pid"])):
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(folder / name).st_mode):
                    os.unlink(folder / name)


def _link_target(path: Path) -> Path:
    """The file a symlink finally points to (which may not exist yet)."""
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        return Path(os.path.realpath(path))  # a dangling link: create what it names
    except OSError as exc:  # ELOOP
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`'s file; on success it replaces the file at once.

    For a symlink, the file replaced is the link's target. On any failure or interrupt the
    temporary file is removed and the file keeps its old content.
    """
    path = Path(path)
    target = _link_target(path) if path.is_symlink() else path
    if target.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    remove_stale_temp_files(target.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp_path = Path(tmp)
    try:
        try:
            _take_over_mode(fd, target)
        finally:
            os.close(fd)
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def _take_over_mode(fd: int, target: Path) -> None:
    """Give the temp file the mode (and, as root, the owner) of the file it replaces.

    A new file gets the umask's mode: mkstemp's 0600 would hide a shared report. Replacing
    must not widen a 0640 report to 0644, nor hand a user's file to root.
    """
    try:
        old = target.stat()
    except OSError:
        old = None  # a new file
    if old is None or not stat.S_ISREG(old.st_mode):
        os.fchmod(fd, file_mode())
        return
    if os.geteuid() == 0:
        os.fchown(fd, old.st_uid, old.st_gid)
    elif old.st_gid != os.getegid():
        with contextlib.suppress(OSError):  # a group we belong to: keep it, else ours
            os.fchown(fd, -1, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)  # after chown, which may clear bits


def writes_through(path: str | os.PathLike) -> bool:
    """True when `path` is written through a stream (stdout, stderr, a device, a FIFO)."""
    info = _stat(Path(path))
    return info is not None and (_standard_stream(info) is not None or _is_stream(info))


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path`: atomically (fsync'd before the rename), or through a stream."""
    path = Path(path)
    info = _stat(path)
    std_fd = _standard_stream(info) if info is not None else None
    if std_fd is not None:
        _write_to_fd(path, std_fd, data)
    elif info is not None and _is_stream(info):
        _write_to_stream(path, data)
    else:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()  # follows links: what a write would reach
    except OSError:
        return None  # absent (or unreachable: atomic_path says why)


def _is_stream(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode)


def _standard_stream(info: os.stat_result) -> int | None:
    """1 or 2 when `info` is the file this process's stdout or stderr is open on."""
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            own = os.fstat(fd)
            if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
                return fd
    return None


def _write_to_fd(path: Path, fd: int, data: bytes) -> None:
    """Write after what stdout/stderr already holds, as `--json -` would."""
    stream = sys.stdout if fd == 1 else sys.stderr
    with contextlib.suppress(Exception):
        stream.flush()  # keep the order of what was printed before
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
    except OSError as exc:
        if fd == 1:  # as `--json -` would: exit 5, or 141 when the reader has gone
            raise StdoutError(exc) from None
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_to_stream(path: Path, data: bytes) -> None:
    """A FIFO or a device: no truncation, no rename; a FIFO nobody reads is an error."""
    try:
        # O_NONBLOCK: opening a FIFO without a reader fails (ENXIO) instead of hanging.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(f"cannot write {path}: a FIFO with no reader") from None
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with open(fd, "wb") as f:  # owns (and closes) fd from here
            os.set_blocking(fd, True)
            f.write(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
