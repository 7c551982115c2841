"""One exception family for expected failures; the CLI maps each to an exit code.

Exit codes (also in the README):
    0 ok, 1 a check failed (accuracy gate, regression), 2 usage,
    3 data, 4 model or bundle, 5 output / file system, 6 missing dependency,
    7 remote device, 70 internal error (a bug),
    130 interrupted (Ctrl-C, SIGINT), 143 terminated (SIGTERM), 129 hung up (SIGHUP).

A signal is 128 + its number, as a shell reports it; all three unwind the same way, removing
staging folders and temporary files (lenet_edge/interrupts.py). An exception that follows a
signal (an ImportError from a C extension whose import it cut short) is reported as the
signal. A signal after the command finished is said in one line and the exit code stands:
the work is done and its outputs are in place.

stdout (cli/stdout.py): full or closed is 5 with one line, like any output. A reader that has
gone (`lenet-edge verify --json - | head -c1`) is 141 = 128 + SIGPIPE with no message, what
`yes | head` gives: the reader chose to stop, nothing failed that needs saying, and
`set -o pipefail` scripts still see that the output was cut short.
"""

from __future__ import annotations


class LenetEdgeError(Exception):
    """An expected failure with a one-line message for the user."""

    exit_code = 1


class UsageError(LenetEdgeError):
    """An option or argument the user gave is not allowed."""

    exit_code = 2


class DataError(LenetEdgeError):
    """A dataset is missing, malformed or cannot be resolved."""

    exit_code = 3


class ModelError(LenetEdgeError):
    """A model, its weights or a bundle is missing, corrupt or does not match its manifest."""

    exit_code = 4


class OutputError(LenetEdgeError):
    """An output cannot be written (permissions, disk, a path that is not ours)."""

    exit_code = 5


class StdoutError(OutputError):
    """Writing to this process's stdout failed; `errno` says why (EPIPE: its reader has gone,
    a quiet 141 at the CLI, see above). Raised by the guarded stdout (cli/stdout.py) and by
    `--json /dev/stdout`."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"cannot write to stdout: {exc.strerror or exc}")
        self.errno = exc.errno


class MissingDependencyError(LenetEdgeError):
    """An optional dependency is not installed; the message names the extra."""

    exit_code = 6


class DeviceError(LenetEdgeError):
    """A remote device cannot be reached or refused a step of a deploy."""

    exit_code = 7


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise MissingDependencyError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' module: pip install 'lenet-edge[{extra}]' ({exc})"
        ) from None
