"""The TF-free runtime half: runners, verify, benchmark and inspect.

Imports numpy and one interpreter (ai_edge_litert, tflite_runtime or onnxruntime), never
TensorFlow. Interpreters are imported when a model is loaded, so importing this package is
cheap. Entry points, one module each (a step per file):

    from lenet_edge.runtime import load_runner             # runner.py: one Runner protocol
    from lenet_edge.runtime.verify import verify            # accuracy gates vs the float model
    from lenet_edge.runtime.bench import benchmark          # latency, throughput, memory
    from lenet_edge.runtime.inspect import inspect_model    # what a model file holds
"""

from __future__ import annotations

from lenet_edge.runtime.runner import IncompatibleModelError, Runner, load_runner
from lenet_edge.runtime.runtimes import RUNTIME_NAMES, RUNTIMES, installed_runtimes

__all__ = [
    "RUNTIMES", "RUNTIME_NAMES", "IncompatibleModelError", "Runner", "installed_runtimes",
    "load_runner",
]
