"""Keep native libraries' unconditional start-up lines off the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while native code runs, then restore it.

    For lines that C++ libraries print whatever the log level (TensorFlow's oneDNN and CUDA
    notices at import, LiteRT's "Created TensorFlow Lite XNNPACK delegate" at first load).
    Python exceptions raised inside still carry their messages; they surface after restore.
    Set LENET_EDGE_DEBUG=1 to see everything.
    """
    if os.environ.get("LENET_EDGE_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
