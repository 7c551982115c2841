"""What machine a benchmark ran on, and how much memory the process peaked at."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path
from typing import Any

from lenet_edge import __version__
from lenet_edge.runtime.runtimes import installed_runtimes

_CPUINFO = Path("/proc/cpuinfo")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_GOVERNOR = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def machine_info() -> dict[str, Any]:
    """CPU, cores, OS, Python and runtime versions: enough to tell two benchmark runs apart."""
    import numpy

    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu_governor": _read(_GOVERNOR),
        "memory_mb": _memory_mb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "numpy": numpy.__version__,
        "lenet_edge": __version__,
        "runtimes": installed_runtimes(),
    }


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark so the next reading covers only what follows.

    Linux >= 4.0 resets it when "5" is written to /proc/self/clear_refs; elsewhere this
    returns False and peak RSS stays the process's peak since it started.
    """
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """The process's peak resident set size in MiB (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_model() -> str:
    text = _read(_CPUINFO) or ""
    # x86 says "model name"; a Raspberry Pi's kernel says "Model" (board) or "Hardware".
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _memory_mb() -> int | None:
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
