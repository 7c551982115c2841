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
_STATUS = Path("/proc/self/status")
_GOVERNOR = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
_DEVICE_TREE = (Path("/sys/firmware/devicetree/base/compatible"),
                Path("/proc/device-tree/compatible"))
_DMI_VENDOR = Path("/sys/class/dmi/id/sys_vendor")
_CLOCKSOURCES = Path("/sys/devices/system/clocksource/clocksource0/available_clocksource")
EMULATED_ENV = "LENET_EDGE_EMULATED"  # a description, or 0/no/false: "not emulated"


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
        "emulated": emulation(),
    }


def emulation() -> str | None:
    """How this machine is emulated (e.g. "QEMU user-mode aarch64 ..."), or None if it is not.

    Under emulation every latency is the emulator's, not the CPU's: figures are functional only.
    Checked in order: LENET_EDGE_EMULATED (a description; 0, no or false says "not
    emulated"); an x86 KVM guest is not emulated; a /proc/cpuinfo that names QEMU (the arm64
    test sysroot's fake one) or describes another architecture than this process's (qemu-user
    passes the host's through); a QEMU virtual machine: the `virt` board's device tree, or
    DMI vendor QEMU.
    """
    override = os.environ.get(EMULATED_ENV, "").strip()
    if override:
        return None if override.lower() in ("0", "no", "false") else override
    cpuinfo, arch = _read(_CPUINFO) or "", platform.machine().lower()
    x86 = arch in ("x86_64", "amd64", "i686", "i386")
    # An x86 KVM guest may say QEMU (CPU model, DMI) yet runs on the real CPU; kvm-clock tells
    # it apart. Only for an x86 process: under qemu-user /sys is the host's, not the guest's.
    if x86 and "kvm-clock" in (_read(_CLOCKSOURCES) or ""):
        return None
    for line in cpuinfo.splitlines():
        if "QEMU" in line.partition(":")[2]:
            return line.partition(":")[2].strip()
    if arch.startswith(("arm", "aarch")) and "vendor_id" in cpuinfo:
        return f"user-mode emulation: an {arch} process reading an x86 host's /proc/cpuinfo"
    if x86 and "CPU implementer" in cpuinfo:
        return f"user-mode emulation: an {arch} process reading an Arm host's /proc/cpuinfo"
    for path in _DEVICE_TREE:
        if "linux,dummy-virt" in (_read(path) or ""):
            return "QEMU virtual machine (device tree: linux,dummy-virt)"
    if _read(_DMI_VENDOR) == "QEMU":
        return "QEMU virtual machine (DMI sys_vendor QEMU)"
    return None


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
    """The process's peak resident set size in MiB.

    Linux: VmHWM from /proc/self/status. Not getrusage's ru_maxrss, which keeps the peak of
    the process that forked this one (the kernel carries it over at exec): a child spawned
    by a 300 MB parent reads 311 MB there and 11 MB in VmHWM (measured). Elsewhere getrusage
    (KiB on Linux, bytes on macOS).
    """
    for line in (_read(_STATUS) or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
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
