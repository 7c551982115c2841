"""The pipeline's child processes: `python -m lenet_edge.pipeline.worker toolchain|runtime`.

`main` is the child; the parent's side, `run_worker`, is in launch.py, which imports no
toolchain (a static contract in pyproject.toml checks that the parent never does).

The request arrives as one JSON object on stdin. Events leave as JSON lines on stdout:
`start` / `progress` / `finished` per stage, then one `result`, or an `error` (an expected
failure: its exit code and one-line message). Anything else a library prints goes to
stderr, so stray output cannot corrupt the event stream.

`toolchain` trains and converts (imports TensorFlow). `runtime` verifies and benchmarks
(never imports it) and reports which toolchain modules it found loaded at the end.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lenet_edge import interrupts
from lenet_edge.errors import LenetEdgeError
from lenet_edge.files import output_dirs
from lenet_edge.pipeline.launch import toolchain_modules

INTERNAL_ERROR = 70
Emit = Callable[..., None]


def cpu_seconds() -> float:
    """User + system CPU of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 3)


def run_toolchain(request: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Train, then convert in the same process (TensorFlow is imported once).

    Both happen in train's staging folder, swapped in only once the bundle is complete:
    an interrupted or failed run leaves `--out` (and its `.previous`) as they were.
    """
    from lenet_edge.gates import Gates
    from lenet_edge.toolchain.convert import convert
    from lenet_edge.toolchain.train import train
    from lenet_edge.train_config import TrainConfig
    from lenet_edge.variants import resolve_variants

    config = TrainConfig(**request["train"])
    epochs = config.resolved().epochs
    emit(event="start", stage="train", total=epochs, detail="loading TensorFlow")

    def on_epoch(row: dict) -> None:
        val = f", val acc {row['val_accuracy']:.3f}" if "val_accuracy" in row else ""
        emit(event="progress", stage="train", done=row["epoch"], total=epochs,
             detail=f"loss {row['loss']:.3f}, acc {row['accuracy']:.3f}{val}")

    variants = request["variants"] or None
    total = len(resolve_variants(variants))
    converted: list[str] = []

    def on_variant(name: str, seconds: float) -> None:
        converted.append(name)
        emit(event="progress", stage="convert", done=len(converted), total=total,
             detail=f"{name} ({seconds:.1f} s)")

    def convert_staged(staging: Path, record: dict[str, Any]) -> None:
        emit(event="finished", stage="train", cpu_seconds=cpu_seconds(), summary={
            "epochs": epochs, "test_accuracy": record["test_accuracy"],
            "train_seconds": record["train_seconds"]})
        emit(event="start", stage="convert", total=total, detail="loading the model and data")
        gates = Gates(request["max_drop"], request["min_agreement"])
        manifest = convert(staging, variants, request["calibration_samples"],
                           progress=on_variant, gates=gates)
        emit(event="finished", stage="convert", cpu_seconds=cpu_seconds(), summary={
            "variants": converted, "float_test_accuracy": manifest["float_test_accuracy"]})

    train(config, request["out"], on_epoch=on_epoch, then=convert_staged)
    return {}


def run_runtime(request: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Verify, then benchmark; write both reports into the bundle atomically."""
    from lenet_edge import bundle
    from lenet_edge.gates import Gates
    from lenet_edge.runtime.bench import benchmark
    from lenet_edge.runtime.plan import plan_jobs
    from lenet_edge.runtime.verify import verify

    out = Path(request["bundle"])
    variants, runtimes = request["variants"] or None, request["runtimes"] or ["auto"]
    jobs, _ = plan_jobs(bundle.read_manifest(out), variants, runtimes)

    def relay(stage: str):
        return lambda label, done, total: emit(event="progress", stage=stage, done=done,
                                               total=total, detail=label)

    emit(event="start", stage="verify", total=len(jobs), detail="reading the bundle")
    checked = verify(out, variants, runtimes, Gates(request["max_drop"], request["min_agreement"]),
                     progress=relay("verify"))
    bundle.write_json(out / request["verify_json"], checked.to_dict())
    emit(event="finished", stage="verify", cpu_seconds=cpu_seconds(),
         summary={"passed": checked.passed, "images": checked.images})

    emit(event="start", stage="benchmark", total=len(jobs), detail="timing")
    b = request["bench"]
    timed = benchmark(out, variants, runtimes, threads=1, runs=b["runs"], warmup=b["warmup"],
                      batch=b["batch"], min_time=b["min_time"], warmup_time=b["warmup_time"],
                      progress=relay("benchmark"))
    bundle.write_json(out / request["benchmark_json"], timed.to_dict())
    emit(event="finished", stage="benchmark", cpu_seconds=cpu_seconds(),
         summary={"rows": len(timed.results)})
    return {"toolchain_modules": toolchain_modules()}


WORKERS = {"toolchain": run_toolchain, "runtime": run_runtime}



def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in WORKERS:
        print(f"usage: python -m lenet_edge.pipeline.worker {{{','.join(WORKERS)}}}",
              file=sys.stderr)
        return 2
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints go to stderr

    def emit(**event: Any) -> None:
        events.write(json.dumps(event) + "\n")

    # This process's stderr goes to a log the user sees only on failure: notices go to the
    # parent, which prints them.
    output_dirs.notify = lambda message: emit(event="notice", message=message)
    try:
        with interrupts.handled():  # SIGTERM/SIGHUP/SIGINT: clean up, exit 128 + signal
            result = WORKERS[argv[0]](json.load(sys.stdin), emit)
    except KeyboardInterrupt:
        return interrupts.exit_code()
    except Exception as exc:
        if interrupts.received() is not None:
            # What a signal set off is the signal (an ImportError from a C extension's import
            # it cut short, or the missing dependency that makes of it), as in the CLI.
            return interrupts.exit_code()
        if isinstance(exc, LenetEdgeError):
            emit(event="error", exit_code=exc.exit_code, message=str(exc))
            return exc.exit_code
        traceback.print_exc()  # a bug: the traceback goes to stderr, the parent shows one line
        emit(event="error", exit_code=None, message=f"{type(exc).__name__}: {exc}")
        return INTERNAL_ERROR
    emit(event="result", result=result)
    return 0


def _exit_now(code: int) -> None:
    """Exit without interpreter teardown: TensorFlow's took 13 s here once its work was done.

    Safe because every output is already written atomically and fsync'd, and the event
    stream is line-buffered (flushed below with stderr).
    """
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main(sys.argv[1:]))
