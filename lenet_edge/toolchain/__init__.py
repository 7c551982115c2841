"""The toolchain half: imports TensorFlow. Never imported by the runtime half or by `--help`."""

import os

# TensorFlow's C++ logging (start-up chatter, a spurious tf.data "NodeDef mentions attribute"
# error) is noise for a CLI user; Python exceptions still surface. Override with the env var.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_tensorflow():
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA stubs) kept off stderr.

    TF 2.21 prints them through absl before any log level applies, so TF_CPP_MIN_LOG_LEVEL
    alone does not silence them.
    """
    import sys

    from lenet_edge.stderr import native_stderr_silenced

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with native_stderr_silenced():
        import tensorflow
    return tensorflow
