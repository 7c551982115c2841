"""Preflight: what the device has (Python, CPU, interpreters, numpy, disk) before we change it.

The probe is a small Python program sent with `python -c`; it only reads, and it is written
for old Pythons too (no f-strings) so a device with Python 3.7 gets a clear "too old" message
instead of a SyntaxError.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from lenet_edge.deploy.ssh import Transport, last_line
from lenet_edge.errors import DeviceError
from lenet_edge.files import input_files
from lenet_edge.runtime.runtimes import RUNTIMES

MIN_PYTHON = (3, 10)  # pyproject requires-python
PYTHON_MISSING = 3  # exit code of _PROBE_SH when the interpreter does not exist
# Interpreter modules the runtime half can use, and their PyPI distributions (the runtime table).
INTERPRETERS = {r.package: r.distribution for r in RUNTIMES}

_PROBE_PY = r"""
import importlib.util, json, os, platform, shutil, sys
def version(module, dist):
    if importlib.util.find_spec(module) is None:
        return None
    try:
        from importlib import metadata
        return metadata.version(dist)
    except Exception:
        return "unknown"
mods = @MODULES@
path = os.path.abspath(os.path.expanduser(sys.argv[1]))
while not os.path.isdir(path):
    path = os.path.dirname(path)
print(json.dumps({
    "python": platform.python_version(), "executable": sys.executable,
    "machine": platform.machine(), "system": platform.system(),
    "libc": "-".join(platform.libc_ver()),
    "modules": dict((m, version(m, d)) for m, d in mods.items()),
    "ensurepip": importlib.util.find_spec("ensurepip") is not None,
    "free_bytes": shutil.disk_usage(path).free, "disk_path": path,
}))
""".replace("@MODULES@", repr({**INTERPRETERS, "numpy": "numpy", "lenet_edge": "lenet-edge"}))

_PROBE_SH = r"""
command -v "$1" >/dev/null 2>&1 || exit 3
exec "$1" -c "$2" "$3"
"""


@dataclass(frozen=True)
class DeviceFacts:
    """What preflight found on the device for one Python interpreter."""

    python: str  # version, e.g. "3.11.2"
    executable: str
    machine: str  # e.g. "aarch64", "armv7l", "x86_64"
    system: str
    libc: str  # e.g. "glibc-2.36"
    modules: dict  # module -> version, "unknown", or None when missing
    ensurepip: bool  # False on Debian without python3-venv
    free_bytes: int
    disk_path: str

    @property
    def python_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.python.split(".")[:2] if p.isdigit())

    @property
    def interpreters(self) -> list[str]:
        return [m for m in INTERPRETERS if self.modules.get(m)]

    def as_dict(self) -> dict:
        return {**self.__dict__, "interpreters": self.interpreters}


def probe(transport: Transport, python: str, remote_dir: str) -> DeviceFacts | None:
    """Run the probe with `python` on the device; None when that interpreter does not exist.

    Raises:
        DeviceError: the device is unreachable or the probe failed.
    """
    proc = transport.run(_PROBE_SH, [python, _PROBE_PY, remote_dir], timeout=60)
    if proc.returncode == PYTHON_MISSING:
        return None
    if proc.returncode:
        raise DeviceError(
            f"{transport.target.label}: preflight with {python} failed: {last_line(proc.stderr)}"
        )
    try:
        answer = input_files.parse_json(proc.stdout.decode(errors="replace"),
                                        f"{transport.target.label}: preflight answer", DeviceError)
        return DeviceFacts(**answer)
    except (ValueError, TypeError) as exc:
        where = transport.target.label
        raise DeviceError(f"{where}: unreadable preflight answer ({exc})") from None


def check_python(where: str, facts: DeviceFacts) -> None:
    """Raise DeviceError if the device's Python is older than lenet-edge supports."""
    if facts.python_tuple < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        raise DeviceError(
            f"{where}: Python {facts.python} at {facts.executable}; lenet-edge needs >= {need} "
            "(Raspberry Pi OS bookworm ships 3.11): upgrade the OS or pass --remote-python"
        )


def check_disk(where: str, facts: DeviceFacts, needed: int) -> None:
    """Raise DeviceError if the remote directory's file system cannot hold `needed` bytes.

    Twice the bundle: the new release and the kept previous one both live there.
    """
    if facts.free_bytes < 2 * needed:
        raise DeviceError(
            f"{where}: only {facts.free_bytes // 1024} KiB free in {facts.disk_path}; "
            f"the release needs {2 * needed // 1024} KiB (itself and the kept previous one)"
        )


def check_ready(
    where: str, facts: DeviceFacts, python: str, runtimes: tuple[str, ...], wheel: str
) -> None:
    """Raise DeviceError, with the exact command to run on the device, if `python` lacks
    lenet-edge, numpy, or an interpreter (`runtimes`: the ones the user asked for, if any).

    Args:
        wheel: path on the device of the uploaded lenet-edge wheel, for the install command.
    """
    check_python(where, facts)
    if not facts.modules.get("lenet_edge"):
        raise DeviceError(
            f"{where}: lenet-edge is not installed for {python}; on the device run: "
            f"{shlex.join([python, '-m', 'pip', 'install', wheel + '[runtime]'])} "
            "(or drop --remote-python: deploy then installs it into its own venv)"
        )
    missing = [] if facts.modules.get("numpy") else ["numpy"]
    wanted = [_RUNTIME_MODULES[r] for r in runtimes if r in _RUNTIME_MODULES]
    missing += [INTERPRETERS[m] for m in wanted if not facts.modules.get(m)]
    if not wanted and not facts.interpreters:
        missing.append("ai-edge-litert")
    if missing:
        looked = ", ".join(wanted or INTERPRETERS)
        raise DeviceError(
            f"{where}: {python} lacks {', '.join(missing)} (looked for {looked}); "
            f"on the device run: {shlex.join([python, '-m', 'pip', 'install', *missing])}"
        )


# `--runtime` names -> the module each needs on the device.
_RUNTIME_MODULES = {r.name: r.package for r in RUNTIMES}
