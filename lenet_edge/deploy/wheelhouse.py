"""The offline install: which wheels a device needs, and the `pip download` that fetches them.

A device without internet installs lenet-edge from `--wheelhouse DIR`, a directory of wheels
made on the workstation with the command `download_command()` prints. The workstation's
Python, CPU and libc are usually not the device's, so everything pip would otherwise take
from the running interpreter is spelled out from the device's preflight facts:

- `--python-version`, `--implementation cp`, `--abi cp3XY`: without the last two pip keeps
  the workstation's ABI (a workstation on 3.12 fetches nothing a 3.11 device can install);
- one `--platform` per manylinux tag the device's pip accepts: pip download matches each tag
  exactly, so `manylinux_2_36` alone does not find a `manylinux_2_17` wheel;
- the requirements, with their environment markers evaluated for the device here: pip
  download evaluates markers against the workstation (`tflite-runtime; python_version <
  "3.12"` is dropped on a 3.12 workstation even for a 3.11 device).
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
from pathlib import Path

from lenet_edge.deploy.preflight import DeviceFacts
from lenet_edge.errors import UsageError

DIST = "lenet-edge"
DEFAULT_DIR = "wheelhouse"  # the --dest of the printed command when the user gave none
BASE_EXTRA = "runtime"  # every device gets it: numpy, an interpreter, onnxruntime, pillow

# pip's own manylinux tags (packaging.tags): one per glibc minor from the device's down to
# the oldest manylinux of the CPU, plus the PEP 513/571/599 names of 2.5, 2.12 and 2.17.
_FIRST_GLIBC_MINOR = {"x86_64": 5, "i686": 5}  # every other CPU: manylinux2014 (2.17)
_LEGACY_MANYLINUX = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}

# pip's stderr when --no-index / the index has no wheel for a requirement; pip 23 appends
# the requirement's marker (`onnxruntime>=1.17; extra == "runtime"`): not part of the name.
_NOT_FOUND = re.compile(r"No matching distribution found for ([^\s;]+)")
# pip's warnings when it cannot reach the index (no network, DNS, TLS), before _NOT_FOUND.
_UNREACHABLE = re.compile(r"connection broken by|Could not fetch URL")


def device_extras(runtimes: tuple[str, ...]) -> tuple[str, ...]:
    """lenet-edge's extras the device's venv gets: `runtime`, plus those a `--runtime` needs."""
    from lenet_edge.runtime.runtimes import AUTO, get_runtime

    asked = {get_runtime(r).extra for r in runtimes if r != AUTO}
    return (BASE_EXTRA, *sorted(asked - {BASE_EXTRA}))


def install_spec(wheel: str, runtimes: tuple[str, ...]) -> str:
    """What pip installs on the device: the uploaded wheel with `device_extras`."""
    return f"{wheel}[{','.join(device_extras(runtimes))}]"


def pip_options(find_links: str | None) -> list[str]:
    """pip install options on the device: offline from `find_links`, or one short retry."""
    if find_links is not None:
        return ["--no-index", "--find-links", find_links]
    return ["--retries", "1", "--timeout", "20"]


def platform_tags(facts: DeviceFacts) -> list[str]:
    """The manylinux platform tags the device's pip accepts, newest first.

    Empty for a device that is not Linux with glibc (then pip download would pick the
    workstation's own platform; musl and other systems are not handled).
    """
    libc, _, version = facts.libc.partition("-")
    major, _, minor = version.partition(".")
    if facts.system != "Linux" or libc != "glibc" or major != "2" or not minor.isdigit():
        return []
    arch = facts.machine
    tags = []
    for tag_minor in range(int(minor), _FIRST_GLIBC_MINOR.get(arch, 17) - 1, -1):
        tags.append(f"manylinux_2_{tag_minor}_{arch}")
        if tag_minor in _LEGACY_MANYLINUX:
            tags.append(f"{_LEGACY_MANYLINUX[tag_minor]}_{arch}")
    return tags


def device_requirements(facts: DeviceFacts, runtimes: tuple[str, ...] = ()) -> list[str]:
    """lenet-edge's requirements on this device (installed metadata, markers evaluated for
    the device's Python and system), for its base and `device_extras(runtimes)`."""
    environment = {
        "python_version": ".".join(map(str, facts.python_tuple)),
        "python_full_version": facts.python,
        "platform_system": facts.system,
        "platform_machine": facts.machine,
        "sys_platform": facts.system.lower(),
    }
    extras = device_extras(runtimes)
    reqs: list[str] = []
    for req in importlib.metadata.requires(DIST) or []:
        spec, _, marker = (part.strip() for part in req.partition(";"))
        wanted = not marker or any(
            _marker_holds(marker, {**environment, "extra": extra}) for extra in extras)
        if wanted and spec not in reqs:
            reqs.append(spec)
    return reqs


def _marker_holds(marker: str, environment: dict[str, str]) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # lenet-edge's base install does not need packaging; pip vendors it
        from pip._vendor.packaging.markers import Marker
    return Marker(marker).evaluate(environment)


def download_command(facts: DeviceFacts, runtimes: tuple[str, ...] = (),
                     dest: str | Path = DEFAULT_DIR) -> str:
    """`pip download` of every wheel the device needs, runnable on a workstation of any
    Python version: for the device's CPU, glibc, Python version and ABI. Shell-quoted.

    Args:
        runtimes: the `--runtime` names deploy was given (tflite-runtime adds its extra).
        dest: the directory the wheels go to (the `--wheelhouse` to deploy with).
    """
    python = facts.python_tuple
    args = ["pip", "download", "--only-binary=:all:", "--dest", str(dest),
            "--python-version", ".".join(map(str, python)),
            "--implementation", "cp", "--abi", "cp" + "".join(map(str, python))]
    for tag in platform_tags(facts):
        args += ["--platform", tag]
    return shlex.join([*args, *device_requirements(facts, runtimes)])


def missing_requirement(pip_stderr: bytes | str) -> str | None:
    """The requirement pip found no wheel for (e.g. `onnxruntime>=1.17`), if it says so."""
    text = pip_stderr.decode(errors="replace") if isinstance(pip_stderr, bytes) else pip_stderr
    found = _NOT_FOUND.search(text)
    return found.group(1) if found else None


def index_unreachable(pip_stderr: bytes | str) -> bool:
    """Whether pip says it could not reach its package index (then nothing was found)."""
    text = pip_stderr.decode(errors="replace") if isinstance(pip_stderr, bytes) else pip_stderr
    return _UNREACHABLE.search(text) is not None


def wheelhouse_files(wheelhouse: Path) -> list[Path]:
    """The wheels in `--wheelhouse DIR`, sorted.

    Raises:
        UsageError: DIR does not exist, is not a directory, or holds no .whl file.
    """
    if not wheelhouse.is_dir():
        what = "is not a directory" if wheelhouse.exists() else "no such directory"
        raise UsageError(f"--wheelhouse {wheelhouse}: {what}")
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels:
        raise UsageError(
            f"--wheelhouse {wheelhouse}: holds no .whl files; fill it with the pip download "
            "deploy prints when the device cannot reach a package index")
    return wheels
