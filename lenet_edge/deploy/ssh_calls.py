"""Each ssh call of a deploy as a child process that stops when the deploy is stopped.

Python runs signal handlers in the main thread only: a deploy there is interrupted in its
wait, and `child()` terminates the ssh it waited on. A fleet's hosts run in worker threads,
which no signal reaches: the main thread calls `stop_all()`, which terminates every running
ssh call and makes each later call raise `Interrupted`. Calls inside `atomic()` (the
`current` switch) run to the end either way, so a device is never left half-switched and
the deploy knows which release is live (issue 10).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
from collections.abc import Iterator

from lenet_edge import interrupts

_stopping = threading.Event()
_children: dict[subprocess.Popen, bool] = {}  # running ssh calls -> inside atomic()
_children_lock = threading.Lock()
_atomic = threading.local()


def stop_all() -> None:
    """Stop every deploy's ssh calls now, except an atomic step under way (see above)."""
    _stopping.set()
    with _children_lock:
        running = [proc for proc, atomic in _children.items() if not atomic]
    for proc in running:
        with contextlib.suppress(OSError):
            proc.terminate()


@contextlib.contextmanager
def stopping_all_on_interrupt() -> Iterator[None]:
    """Around a wait on worker threads: a signal there stops every ssh call at once, so the
    workers unwind (and release their device locks) in moments, not after their deploys."""
    _stopping.clear()
    try:
        yield
    except KeyboardInterrupt:
        stop_all()
        raise


def raise_if_stopping() -> None:
    if _stopping.is_set():
        raise interrupts.Interrupted(interrupts.received() or signal.SIGINT)


def end(proc: subprocess.Popen) -> None:
    """Terminate an ssh call that is no longer waited for (ssh closes its channel).

    Its stdin is closed too: the ssh master holds a copy of the other end, and EOF is what
    tells a command on the device that nobody waits for it (device_checks._RUN).
    """
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stopping() -> bool:
    """True once `stop_all()` ran: a wait in a worker thread gives up."""
    return _stopping.is_set()


@contextlib.contextmanager
def atomic() -> Iterator[None]:
    """A step that must not stop half-way (the `current` switch): a signal waits for it.

    In the main thread the signal is held (interrupts.deferred) and raised when the
    block ends; in a worker thread `stop_all()` leaves its ssh call running.
    """
    held = (interrupts.deferred() if threading.current_thread() is threading.main_thread()
            else contextlib.nullcontext())
    _atomic.on = True
    try:
        with held:
            yield
    finally:
        _atomic.on = False


@contextlib.contextmanager
def child(argv: list[str], **popen) -> Iterator[subprocess.Popen]:
    """One ssh call, stopped with its caller: on any exception (a signal in the main
    thread) it is terminated, and `stop_all()` can reach it from another thread."""
    raise_if_stopping()
    atomic = getattr(_atomic, "on", False)
    proc = subprocess.Popen(argv, **popen)
    with _children_lock:
        _children[proc] = atomic
    try:
        yield proc
    except BaseException as exc:
        end(proc)
        if not atomic and _stopping.is_set() and not isinstance(exc, KeyboardInterrupt):
            raise_if_stopping()  # stopped: what the killed call looked like means nothing
        raise
    finally:
        with _children_lock:
            _children.pop(proc, None)
    if not atomic:
        raise_if_stopping()  # stopped while it ran: its exit code means nothing


def lines_until_stopped(pipe) -> Iterator[bytes]:
    """The pipe's lines until EOF, or until `stop_all()`: the ssh master holds a copy of a
    session's pipes (they are passed to it), so a terminated ssh call brings no EOF while
    the command still runs on the device."""
    fd, pending = pipe.fileno(), b""
    while True:
        if not select.select([fd], [], [], 0.2)[0]:  # a signal here raises (main thread)
            if _stopping.is_set() and not getattr(_atomic, "on", False):
                raise_if_stopping()
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        *whole, pending = (pending + chunk).split(b"\n")
        yield from (line + b"\n" for line in whole)
    if pending:
        yield pending
