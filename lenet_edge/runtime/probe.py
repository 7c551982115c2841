"""Child process that tries to load and run a model in one runtime, for `inspect`.

    python -m lenet_edge.runtime.probe FORMAT RUNTIME MEMORY_LIMIT_MB < model-bytes

The model arrives on stdin, so the child loads exactly the bytes the parent checked. It
prints one JSON line: {"status": "ok" | "incompatible" | "corrupt" | "out of memory" |
"failed", "message", ...}. If the interpreter crashes, only this process dies and the parent reports
the signal. The child caps its own address space first: a file whose tensor shapes were
tampered with can make tflite-runtime 2.14 allocate gigabytes (measured: 5 GB in 12 s
before it was stopped), which the cap turns into a MemoryError.
"""

from __future__ import annotations

import json
import sys


def probe(data: bytes, fmt: str, runtime: str) -> dict:
    """Load `data` in `runtime` and run one blank image; never raises for a bad model."""
    import numpy as np

    from lenet_edge.errors import LenetEdgeError
    from lenet_edge.runtime.runner import IncompatibleModelError, load_runner

    try:
        runner = load_runner(data, fmt, runtime)
        logits = runner.predict(np.zeros((1, *runner.input_shape), np.float32))
    except IncompatibleModelError as exc:
        return {"status": "incompatible", "message": str(exc), "op": exc.op,
                "op_version": exc.op_version, "runtime_version": exc.runtime_version}
    except LenetEdgeError as exc:
        return {"status": "corrupt", "message": str(exc)}
    except MemoryError:
        return {"status": "out of memory",
                "message": "the interpreter tried to allocate more than this file could need"}
    except Exception as exc:  # whatever else an interpreter raises on a strange file
        first = (str(exc).strip().splitlines() or [""])[0]
        return {"status": "failed", "message": f"{type(exc).__name__}: {first}"}
    return {"status": "ok", "message": "", "runtime_version": runner.runtime_version,
            "output_shape": list(logits.shape)}


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (POSIX); elsewhere the parent's timeout is the guard."""
    try:
        import resource
    except ImportError:
        return
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].isdigit():
        print("usage: python -m lenet_edge.runtime.probe FORMAT RUNTIME MEMORY_LIMIT_MB < MODEL",
              file=sys.stderr)
        return 2
    limit_memory(int(argv[2]))
    result = probe(sys.stdin.buffer.read(), argv[0], argv[1])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
