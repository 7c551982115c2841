"""Child process that tries to load and run a model in one runtime, for `inspect`.

    python -m lenet_edge.runtime.probe FORMAT RUNTIME < model-bytes

The model arrives on stdin, so the child loads exactly the bytes the parent checked. It
prints one JSON line: {"status": "ok" | "incompatible" | "corrupt", "message", ...}. If the
interpreter crashes, only this process dies and the parent reports the signal.
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
    return {"status": "ok", "message": "", "runtime_version": runner.runtime_version,
            "output_shape": list(logits.shape)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m lenet_edge.runtime.probe FORMAT RUNTIME < MODEL", file=sys.stderr)
        return 2
    result = probe(sys.stdin.buffer.read(), argv[0], argv[1])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
