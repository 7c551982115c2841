"""SIGINT, SIGTERM and SIGHUP end a run the same way: as an exception, so cleanup runs.

Python turns only SIGINT into KeyboardInterrupt; by default SIGTERM and SIGHUP kill the
process on the spot, skipping the `finally` blocks that remove staging folders and temporary
files. Inside `handled()` all three raise `Interrupted`, a KeyboardInterrupt, so every path
that already copes with Ctrl-C copes with them too; the exit code is 128 + the signal number
(130, 143, 129), as a shell reports a process killed by that signal.
"""

from __future__ import annotations

import contextlib
import os
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
    settled = False  # the outcome is decided (see settle()): a signal no longer raises
    whole_process = False  # for_process(): handlers stay installed until the process ends


def _on_signal(signum: int, frame) -> None:
    if _State.received is not None:
        return  # already unwinding: a second signal must not cut the cleanup short
    _State.received = signum
    if _State.settled:
        # os.write: this may run in the middle of a print to stderr (no re-entrant write).
        with contextlib.suppress(OSError):
            os.write(2, f"lenet-edge: {_WORDS[signum]} after the command had finished; "
                        "its exit code stands\n".encode())
        return
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
    _State.received, _State.settled = None, False
    try:
        for sig in SIGNALS:
            signal.signal(sig, _on_signal)
        yield
    finally:
        _State.settled = True  # however the block ended, its outcome is decided
        if not _State.whole_process:  # else: until ignore_from_now_on(), see for_process()
            for sig, handler in previous.items():
                # None: a handler installed from C, which cannot be put back; default then
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def for_process() -> None:
    """Keep the handlers after `handled()` ends: the CLI process is ours to the end.

    Restoring the default there made a signal after the command's last line kill the
    process with a silent 143 (the work done, nothing said). The console entry point calls
    this; a host process (pytest, a notebook) running the CLI in-process does not.
    """
    _State.whole_process = True


def received() -> int | None:
    """The signal this run received, or None: an exception after it is its consequence.

    A signal raised inside a C extension's import surfaces as ImportError ("initialization
    failed"); whatever follows a signal is reported as the signal, not as a bug.
    """
    return _State.received


def settle() -> None:
    """The command's outcome is decided: from now on a signal is said, never raised.

    Raising after this point would turn finished work (or an error being reported) into a
    traceback; the handler writes its one line and the decided exit code stands.
    """
    _State.settled = True


def ignore_from_now_on() -> None:
    """Ignore the three signals for the rest of the process (interpreter shutdown).

    Python puts the default action back on its own handlers while it shuts down, so a
    signal there would end the process with a silent 128 + N. The work is done and said by
    then: the exit code it earned stands (issue 10: never a silent 143).
    """
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


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
