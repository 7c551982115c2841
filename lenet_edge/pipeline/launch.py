"""The pipeline parent's side of the child protocol: start a child, relay its events.

The child is `python -m lenet_edge.pipeline.worker toolchain|runtime` (worker.py, where the
protocol is described). Apart from it so that the parent, which must never import TensorFlow,
imports nothing that imports the toolchain, not even lazily (checked by `lint-imports`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from lenet_edge import errors

TOOLCHAIN_PACKAGES = ("tensorflow", "keras", "tf2onnx")


def run_worker(kind: str, request: dict[str, Any],
               on_event: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run `python -m lenet_edge.pipeline.worker KIND`; pass it `request`, relay its events.

    The child's stderr (TensorFlow's chatter) goes to a temporary file and is shown only in
    an error message; LENET_EDGE_DEBUG=1 lets it through.

    Returns:
        The child's result.

    Raises:
        The child's expected failure as the same kind of LenetEdgeError (same exit code);
        KeyboardInterrupt if it was interrupted; RuntimeError if it crashed.
    """
    cmd = [sys.executable, "-m", "lenet_edge.pipeline.worker", kind]
    result: dict[str, Any] = {}
    failure: dict[str, Any] | None = None
    with tempfile.TemporaryFile("w+") as log:
        debug = bool(os.environ.get("LENET_EDGE_DEBUG"))
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=None if debug else log, text=True)
        try:
            proc.stdin.write(json.dumps(request))
            proc.stdin.close()
            for line in proc.stdout:
                event = json.loads(line)
                if event["event"] == "error":
                    failure = event
                elif event["event"] == "result":
                    result = event["result"]
                elif event["event"] == "notice":  # e.g. where the previous model was kept
                    print(f"lenet-edge: {event['message']}", file=sys.stderr, flush=True)
                else:
                    on_event(event)
            code = proc.wait()
        except BaseException:  # interrupted, or a bug here: never leave the child running
            _stop(proc)
            raise
        if code != 0:
            log.seek(0)
            raise _child_error(kind, code, failure, _last_line(log.read()))
    return result


def _stop(proc: subprocess.Popen) -> None:
    """End the child, letting it clean up first (its `finally` blocks remove staging folders).

    It gets SIGINT at once, also on a terminal's Ctrl-C, which reached it already: a SIGINT
    sent to this process alone (`kill -INT`, a supervisor) does not reach the child, which
    would otherwise finish converting and swap its bundle into --out. A second signal cannot
    cut the child's cleanup short (interrupts.py). Killed if it is still there after 10 s.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_BY_EXIT_CODE = {cls.exit_code: cls for cls in (
    errors.UsageError, errors.DataError, errors.ModelError, errors.OutputError,
    errors.MissingDependencyError, errors.DeviceError)}


def _child_error(kind: str, code: int, failure: dict[str, Any] | None,
                 stderr_tail: str) -> BaseException:
    """The exception the child raised, rebuilt here so the CLI maps it to the same exit code."""
    if code in (128 + signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGHUP):
        return KeyboardInterrupt()  # the child was interrupted (and cleaned up)
    if failure and failure.get("exit_code") is not None:
        cls = _BY_EXIT_CODE.get(failure["exit_code"], errors.LenetEdgeError)
        return cls(failure["message"])
    detail = failure["message"] if failure else stderr_tail or "no message"
    return RuntimeError(f"the {kind} stage exited with status {code}: {detail}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def toolchain_modules() -> list[str]:
    """Modules of TensorFlow, Keras or tf2onnx loaded in this process (none, in `runtime`)."""
    return sorted(m for m in sys.modules if m.split(".")[0] in TOOLCHAIN_PACKAGES)
