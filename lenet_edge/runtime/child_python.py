"""A fresh Python like this one, for crash-safe probes and cold-start timing.

The child imports this same lenet_edge, installed or not. `LENET_EDGE_PYTHON` is the command
that starts it when `sys.executable` cannot be executed directly: under qemu-user without
binfmt_misc an emulated arm64 binary can only start through qemu (the wrappers that
scripts/emulated_pi.sh writes set it to themselves).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

PYTHON_ENV = "LENET_EDGE_PYTHON"


def python_command() -> list[str]:
    """The argv prefix that starts a Python like this one."""
    return shlex.split(os.environ.get(PYTHON_ENV, "")) or [sys.executable]


def run_python(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """`subprocess.run` of a fresh Python with `args`; OSError when it cannot start at all."""
    env = dict(kwargs.pop("env", None) or os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.run([*python_command(), *args], env=env, **kwargs)
