"""The TF-free runtime half: runners, verify, benchmark and inspect.

Imports numpy and one interpreter (ai_edge_litert, tflite_runtime or onnxruntime), never
TensorFlow. Interpreters are imported when a model is loaded, so importing this package is
cheap. Entry points, one module each (a step per file):

    from lenet_edge.runtime import load_runner             # runner.py: one Runner protocol
    from lenet_edge.runtime.verify import verify            # accuracy gates vs the float model
    from lenet_edge.runtime.bench import benchmark          # latency, throughput, memory
    from lenet_edge.runtime.inspect import inspect_model    # what a model file holds
    from lenet_edge.runtime.verify_file import verify_file  # one .tflite / .onnx on a dataset
    from lenet_edge.runtime.bench_file import benchmark_file  # one file on generated inputs

Every model runs behind the one input adapter (input_adapter.py: any 28x28 layout, float or
integer input, 0-1 or 0-255) and has its outputs read as logits or probabilities
(output_kind.py).
"""

from __future__ import annotations

import importlib

# Where each export lives. Imported on first use (PEP 562): the CLI reads the runtime names
# for its options' choices from runtimes.py, and `--help` must not pay for numpy (runner.py).
_EXPORTS = {
    "IncompatibleModelError": "runner", "Runner": "runner", "load_runner": "runner",
    "RUNTIMES": "runtimes", "RUNTIME_NAMES": "runtimes", "installed_runtimes": "runtimes",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
