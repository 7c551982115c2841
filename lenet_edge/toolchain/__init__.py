"""The toolchain half: imports TensorFlow. Never imported by the runtime half or by `--help`."""

import os

# TensorFlow's C++ logging (start-up chatter, a spurious tf.data "NodeDef mentions attribute"
# error) is noise for a CLI user; Python exceptions still surface. Override with the env var.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_tensorflow():
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA stubs) kept off stderr.

    TF 2.21 prints them through absl before any log level applies, so TF_CPP_MIN_LOG_LEVEL
    alone does not silence them. File descriptor 2 is pointed at /dev/null for the import
    only; a failed import still raises its Python exception after stderr is restored.
    """
    import sys

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow
