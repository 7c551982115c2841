"""SIGINT, SIGTERM and SIGHUP end a run the same way: as an exception, so cleanup runs.

Python turns only SIGINT into KeyboardInterrupt; by default SIGTERM and SIGHUP kill the
process on the spot, skipping the `finally` blocks that remove staging folders and temporary
files. Inside `handled()` all three raise `Interrupted`, a KeyboardInterrupt, so every path
that already copes with Ctrl-C copes with them too; the exit code is 128 + the signal number
(130, 143, 129), as a shell reports a process killed by that signal.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)",
          signal.SIGHUP: "hung up (SIGHUP)"}


class Interrupted(KeyboardInterrupt):
    """A run ended by a signal; `exit_code` is 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class _State:
    received: int | None = None  # the first signal of this run
    deferring = False  # inside deferred(): remember the signal, raise when it ends


def _on_signal(signum: int, frame) -> None:
    if _State.received is not None:
        return  # already unwinding: a second signal must not cut the cleanup short
    _State.received = signum
    if not _State.deferring:
        raise Interrupted(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` for the block; restore afterwards.

    Handlers are installed only in the main thread (Python allows no other) and only for
    the block, so a host process (pytest running the CLI in-process) keeps its own.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    _State.received = None
    try:
        for sig in SIGNALS:
            signal.signal(sig, _on_signal)
        yield
    finally:
        for sig, handler in previous.items():
            # None: a handler installed from C, which cannot be put back; default then
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a signal until the block ends (a few renames that must not stop half-way)."""
    if _State.deferring:
        yield
        return
    before = _State.received  # set: already unwinding, nothing more to raise
    _State.deferring = True
    try:
        yield
    finally:
        _State.deferring = False
    if before is None and _State.received is not None:
        raise Interrupted(_State.received)


def exit_code() -> int:
    """128 + the signal this run received; 130 (SIGINT) when none was seen here.

    Typer turns every KeyboardInterrupt into exit code 130, losing which signal it was.
    """
    return 128 + (_State.received or signal.SIGINT)


def describe(code: int) -> str:
    """The one word (and signal) the CLI prints for an exit code from `exit_code()`."""
    for sig, words in _WORDS.items():
        if code == 128 + sig:
            return words
    return "interrupted"
