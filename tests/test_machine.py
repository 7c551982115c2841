"""What machine.py says about the machine: emulation, and a peak RSS that is this process's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lenet_edge.runtime import machine

FAKE_CPUINFO = ("processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\n"
                "Model\t\t: QEMU user-mode aarch64 (emulated Cortex-A72; fake cpuinfo)\n")


@pytest.fixture
def fake_machine(monkeypatch, tmp_path):
    """Point machine.py at files under tmp_path; returns a writer for them."""
    monkeypatch.delenv(machine.EMULATED_ENV, raising=False)
    names = {"_CPUINFO": "cpuinfo", "_DMI_VENDOR": "sys_vendor", "_CLOCKSOURCES": "clocks"}
    for attr, name in names.items():
        monkeypatch.setattr(machine, attr, tmp_path / name)
    monkeypatch.setattr(machine, "_DEVICE_TREE", (tmp_path / "compatible",))

    def write(arch="x86_64", **files):
        monkeypatch.setattr(machine.platform, "machine", lambda: arch)
        for name, text in files.items():
            (tmp_path / name).write_text(text)

    return write


def test_the_arm64_sysroots_fake_cpuinfo_is_emulation(fake_machine):
    fake_machine("aarch64", cpuinfo=FAKE_CPUINFO, clocks="tsc kvm-clock")  # the host's /sys
    assert machine.emulation() == "QEMU user-mode aarch64 (emulated Cortex-A72; fake cpuinfo)"


@pytest.mark.parametrize("arch,files,expected", [
    ("aarch64", {"cpuinfo": "vendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"},
     "an aarch64 process reading an x86 host's /proc/cpuinfo"),
    ("aarch64", {"cpuinfo": "CPU implementer\t: 0x41\n", "compatible": "linux,dummy-virt\0"},
     "QEMU virtual machine (device tree: linux,dummy-virt)"),
    ("x86_64", {"cpuinfo": "model name\t: QEMU Virtual CPU version 2.5+\n"},
     "QEMU Virtual CPU version 2.5+"),
    ("x86_64", {"cpuinfo": "model name\t: Intel Xeon\n", "sys_vendor": "QEMU\n"},
     "QEMU virtual machine (DMI sys_vendor QEMU)"),
    # A KVM guest runs on the real CPU: not emulated, though QEMU built the VM.
    ("x86_64", {"cpuinfo": "model name\t: QEMU Virtual CPU\n", "sys_vendor": "QEMU",
                "clocks": "kvm-clock tsc acpi_pm"}, None),
    ("aarch64", {"cpuinfo": "CPU implementer\t: 0x41\nModel\t: Raspberry Pi 4 Model B\n"}, None),
])
def test_emulation_is_detected_from_the_machine(fake_machine, arch, files, expected):
    fake_machine(arch, **files)
    found = machine.emulation()
    assert found is None if expected is None else expected in found


def test_the_environment_overrides_detection(fake_machine, monkeypatch):
    fake_machine("aarch64", cpuinfo=FAKE_CPUINFO)
    monkeypatch.setenv(machine.EMULATED_ENV, "qemu-system-aarch64 TCG")
    assert machine.emulation() == "qemu-system-aarch64 TCG"
    monkeypatch.setenv(machine.EMULATED_ENV, "0")
    assert machine.emulation() is None


def test_peak_rss_is_the_processs_own_not_its_parents():
    # getrusage's ru_maxrss keeps the forking parent's peak across exec; VmHWM does not.
    code = ("import subprocess, sys\n"
            "ballast = bytearray(300 * 2**20)\n"
            "ballast[::4096] = b'\\1' * len(ballast[::4096])  # touch every page\n"
            "child = 'from lenet_edge.runtime import machine; print(machine.peak_rss_mb())'\n"
            "print(subprocess.run([sys.executable, '-c', child], capture_output=True,\n"
            "                     text=True, check=True).stdout)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert 5 < float(proc.stdout) < 150, proc.stdout  # the child alone: numpy and little else
