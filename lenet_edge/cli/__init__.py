"""The `lenet-edge` command line: thin commands over the library, one module each.

Every expected failure is a LenetEdgeError; this module alone turns it (and typer's usage
errors) into a one-line message on stderr and an exit code. Nothing here imports TensorFlow:
commands import the toolchain inside their bodies, so `--help` stays instant.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import traceback

import typer
from typer.core import TyperGroup

from lenet_edge import __version__, interrupts
from lenet_edge.cli import stdout
from lenet_edge.errors import LenetEdgeError

INTERNAL_ERROR = 70  # EX_SOFTWARE: a bug, not bad input


def _say(line: str) -> None:
    # After SIGHUP the terminal may be gone (EIO): the exit code must still be the right one.
    with contextlib.suppress(OSError):
        typer.echo(line, err=True)


def _one_line(message: str) -> str:
    """The message on one line, its control characters escaped as repr would.

    A path may hold a newline, a tab or a terminal escape: escaped, the line stays one line,
    keeps the reason that follows the path, and cannot rewrite the user's terminal.
    """
    text = message.strip() or "failed"
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _fail(message: str, code: int) -> None:
    if interrupts.received() is not None:
        # What a signal set off is the signal: raised inside a C extension's import it
        # surfaces as ImportError ("initialization failed"), or as a missing dependency.
        _interrupted()
    interrupts.settle()
    first_line = _one_line(message)
    _say(f"lenet-edge: error: {first_line}")
    sys.exit(code)


def _interrupted() -> None:
    """One line and 128 + the signal: 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP."""
    interrupts.settle()
    code = interrupts.exit_code()
    _say(f"lenet-edge: {interrupts.describe(code)}")
    sys.exit(code)


def _stdout_failed(exc: stdout.StdoutError) -> None:
    """stdout full or closed: exit 5, one line. Its reader gone (EPIPE): exit 141, quietly,
    as `yes | head` does (errors.py); no "Exception ignored" at exit either way."""
    stdout.silence()
    if exc.errno == errno.EPIPE and interrupts.received() is None:
        interrupts.settle()
        sys.exit(stdout.BROKEN_PIPE)
    _fail(str(exc), exc.exit_code)


class _Group(TyperGroup):
    """Maps failures to exit codes in one place (also under typer's CliRunner)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        # SIGTERM and SIGHUP unwind like Ctrl-C, so `finally` blocks remove staging folders
        # and temporary files on the way out (interrupts.py).
        with interrupts.handled():
            try:
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
                stdout.flush()  # a full or closed stdout fails here, as exit 5
            except typer.TyperException as exc:
                if type(exc).__name__ == "NoArgsIsHelpError":
                    typer.echo(exc.format_message(), err=True)
                    sys.exit(0)
                _fail(exc.format_message(), getattr(exc, "exit_code", 2))
            except stdout.StdoutError as exc:
                _stdout_failed(exc)
            except LenetEdgeError as exc:
                _fail(str(exc), exc.exit_code)
            except (KeyboardInterrupt, typer.Abort):
                _interrupted()
            except Exception as exc:  # a bug: say so in one line, keep the traceback on request
                if os.environ.get("LENET_EDGE_DEBUG"):
                    traceback.print_exc()
                _fail(
                    f"internal error: {type(exc).__name__}: {exc} "
                    "(set LENET_EDGE_DEBUG=1 for the traceback)",
                    INTERNAL_ERROR,
                )
            code = rv if isinstance(rv, int) else 0
            # 130: typer turns any KeyboardInterrupt into a silent one. A signal received
            # but swallowed on the way (a C extension's import) may have cut the work short.
            if code == 130 or interrupts.received() is not None:
                _interrupted()
            # Done: a signal from here on is said in one line and the exit code stands
            # (interrupts.settle). The work is complete and its outputs are in place, so
            # 143 would tell a caller it was not; see also main().
            interrupts.settle()
        if standalone_mode:
            sys.exit(code)
        return code


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lenet-edge {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    pretty_exceptions_enable=False,
    help="Train LeNet-5, quantise and convert it, verify and benchmark it on an edge device.",
    epilog="Exit codes: 0 ok, 1 a check failed, 2 usage, 3 data, 4 model or bundle, 5 output, "
    "6 missing dependency, 7 remote device, 70 internal error, 130 interrupted (Ctrl-C), "
    "143 terminated (SIGTERM), 129 hung up (SIGHUP). Start with: "
    "lenet-edge pipeline "
    "--dataset digits",
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Train LeNet-5, quantise and convert it, verify and benchmark it on an edge device."""


def _register() -> None:
    """Commands in the order a user meets them; each module holds one command."""
    from lenet_edge.cli import (
        benchmark,
        convert,
        deploy,
        explain,
        inspect,
        pipeline,
        predict,
        report,
        train,
        verify,
    )

    for name, module in (
        ("pipeline", pipeline),
        ("train", train),
        ("convert", convert),
        ("verify", verify),
        ("explain", explain),
        ("benchmark", benchmark),
        ("predict", predict),
        ("inspect", inspect),
        ("report", report),
        ("deploy", deploy),
    ):
        app.command(name)(getattr(module, name))


_register()


def main() -> None:
    """Console-script entry point: signal handlers and the stdout guard for the whole process."""
    import atexit

    interrupts.for_process()
    # At exit, after the threads are joined and the callbacks of later imports ran (atexit
    # is LIFO): until then a late signal is said by the handler in one line; after it, in
    # Python's own teardown, which restores the default (a silent 143), it is ignored.
    atexit.register(interrupts.ignore_from_now_on)
    stdout.guard()
    try:
        app()
    finally:
        stdout.flush_quietly()  # the exit code is decided: a failure here only silences
