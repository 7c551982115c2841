"""Cold start: a fresh Python process from its start to its first inference result.

A device application pays this once per start: the interpreter starting, importing numpy,
lenet_edge's runtime and the interpreter module, reading the model from the bundle (sha256
checked, as everywhere), loading it and running one image. On a Raspberry Pi that is seconds,
against microseconds per warm call, so it gets its own measurement.

The parent times the whole child (spawn to exit) and the child stamps each step. Both read
CLOCK_MONOTONIC (`time.monotonic_ns` on Linux and macOS), which is system-wide, so the
child's stamps can be subtracted from the parent's spawn time. The child reports its own peak
RSS after the first result (machine.peak_rss_mb: VmHWM, as getrusage in the child, or
RUSAGE_CHILDREN in the parent, would include the benchmark process's own peak) and whether
TensorFlow got imported: it must not be.
"""

from __future__ import annotations

import errno
import json
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lenet_edge.runtime.child_python import PYTHON_ENV, python_command, run_python

# Seconds allowed per child: ~0.3 s on x86, seconds on a Pi, tens of seconds under qemu.
TIMEOUT = 300.0
# The first statement stamps the time before anything of lenet_edge is imported.
_CHILD = ("import time; started = time.monotonic_ns()\n"
          "from lenet_edge.runtime.cold_start import child\n"
          "child(started)\n")


@dataclass(frozen=True)
class ColdStart:
    """One variant x runtime started in a fresh process; times in ms from the spawn."""

    variant: str
    runtime: str
    threads: int
    status: str  # ok or failed
    wall_ms: float | None = None  # spawn to exit, measured by the parent
    first_result_ms: float | None = None  # spawn to the first logits
    python_start_ms: float | None = None  # spawn to the child's first statement
    import_ms: float | None = None  # numpy, lenet_edge's runtime and the interpreter module
    load_ms: float | None = None  # manifest, sha256-checked bytes, interpreter ready
    first_ms: float | None = None  # one inference on one image
    peak_rss_mb: float | None = None
    runtime_version: str = ""
    tensorflow_loaded: bool | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_cold_start(bundle_dir: str | Path, variant: str, fmt: str, runtime: str, threads: int,
               timeout: float = TIMEOUT) -> ColdStart:
    """Start a fresh Python on one variant x runtime and time it to its first result.

    A child that fails (or takes longer than `timeout` seconds) gives status "failed" and its
    last line of stderr, not an exception: the other rows are still worth having.
    """
    args = ["-c", _CHILD, str(bundle_dir), variant, fmt, runtime, str(threads)]
    spawned = time.monotonic_ns()
    try:
        proc = run_python(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return ColdStart(variant, runtime, threads, "failed",
                         message=f"no result within {timeout:g} s")
    except OSError as exc:
        # qemu-user without binfmt_misc: this process is emulated, a new one cannot exec.
        hint = f" (emulated? set {PYTHON_ENV} to the command that starts it)" \
            if exc.errno == errno.ENOEXEC else ""
        return ColdStart(variant, runtime, threads, "failed",
                         message=f"cannot start {shlex.join(python_command())}: "
                                 f"{exc.strerror}{hint}")
    wall_ms = (time.monotonic_ns() - spawned) / 1e6
    try:
        stamps = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
            else None
    except (IndexError, json.JSONDecodeError):
        stamps = None
    if not isinstance(stamps, dict):
        lines = proc.stderr.strip().splitlines() or [f"exited {proc.returncode}"]
        return ColdStart(variant, runtime, threads, "failed", wall_ms, message=lines[-1])

    def since_spawn(key: str) -> float:
        return (stamps[key] - spawned) / 1e6

    return ColdStart(
        variant, runtime, threads, "ok", wall_ms,
        first_result_ms=since_spawn("first_result"),
        python_start_ms=since_spawn("started"),
        import_ms=(stamps["imported"] - stamps["started"]) / 1e6,
        load_ms=(stamps["loaded"] - stamps["imported"]) / 1e6,
        first_ms=(stamps["first_result"] - stamps["loaded"]) / 1e6,
        peak_rss_mb=stamps["peak_rss_mb"], runtime_version=stamps["runtime_version"],
        tensorflow_loaded=stamps["tensorflow_loaded"],
    )


def child(started: int) -> None:
    """The child's side: argv is BUNDLE VARIANT FORMAT RUNTIME THREADS; prints one JSON line."""
    bundle_dir, variant, fmt, runtime, threads = sys.argv[1:6]
    import numpy as np

    from lenet_edge import bundle
    from lenet_edge.errors import LenetEdgeError
    from lenet_edge.runtime import machine
    from lenet_edge.runtime.runner import import_runtime, load_runner

    try:
        import_runtime(runtime, fmt)
        imported = time.monotonic_ns()
        entry = bundle.read_manifest(bundle_dir)["artifacts"][variant]
        data = bundle.read_verified(bundle_dir, entry)
        runner = load_runner(data, fmt, runtime, int(threads), source=entry["file"])
        loaded = time.monotonic_ns()
        # Blank images cost the same as digits; the reference set is not read (an app has its
        # own images).
        runner.predict(np.zeros((1, *runner.input_shape), np.float32))
        first_result = time.monotonic_ns()
    except LenetEdgeError as exc:
        print(f"{variant} on {runtime}: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({
        "started": started, "imported": imported, "loaded": loaded,
        "first_result": first_result, "peak_rss_mb": machine.peak_rss_mb(),
        "runtime_version": runner.runtime_version,
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }))
