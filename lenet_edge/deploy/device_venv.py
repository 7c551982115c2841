"""lenet-edge on the device: use the user's Python, or keep our own venv up to date.

Managed mode (the default) keeps `<remote-dir>/venv`: created with the device's `python3 -m
venv`, filled from a wheel of this very package (built locally, see wheel.py) with its
`runtime` extra. A marker file holds the wheel's sha256, so an unchanged device costs one
probe and no pip. If pip cannot reach an index (or `--wheelhouse` lacks a wheel), the error
gives the exact `pip download` to run on the workstation for the device's CPU and Python.
"""

from __future__ import annotations

import importlib.metadata
import io
import shlex
import tarfile
from collections.abc import Callable
from pathlib import Path

from lenet_edge.deploy import preflight
from lenet_edge.deploy.install import RemoteLayout
from lenet_edge.deploy.preflight import DeviceFacts
from lenet_edge.deploy.ssh import Transport, last_line
from lenet_edge.errors import DeviceError

MARKER = "lenet-edge-wheel.sha256"  # in <root>/venv/: the sha256 of the installed wheel
BASE_PYTHON = "python3"

_UPLOAD_WHEELS = r"""
mkdir -p "$1/wheels" && tar -x -f - -C "$1/wheels" --no-same-owner --no-same-permissions
"""

_MARKER = rf"""cat "$1/venv/{MARKER}" 2>/dev/null || true"""

# $1 root, $2 wheel file name, $3 wheel sha256, then pip options.
# An f-string (for MARKER): shell braces would need doubling.
_INSTALL = rf"""
root=$1; wheel=$1/wheels/$2; sha=$3; shift 3
[ -x "$root/venv/bin/python" ] || python3 -m venv "$root/venv" || exit 20
py=$root/venv/bin/python
rm -f "$root/venv/{MARKER}"
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$@" "$wheel" \
  || exit 21
"$py" -m pip install -q --disable-pip-version-check "$@" "$wheel[runtime]" || exit 22
printf '%s\n' "$sha" > "$root/venv/{MARKER}"
"""


def managed_python(layout: RemoteLayout) -> str:
    return f"{layout.root}/venv/bin/python"


def ensure_runtime(
    transport: Transport,
    layout: RemoteLayout,
    base: DeviceFacts,
    wheel: Path,
    wheel_sha: str,
    runtimes: tuple[str, ...],
    wheelhouse: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[str, DeviceFacts]:
    """Make sure the managed venv holds this lenet-edge with an interpreter.

    Call with the deploy lock held; `base` is the preflight of the device's python3.
    Returns the venv's python path and its preflight facts.

    Raises:
        DeviceError: no python3 / python3-venv, or pip failed (message has the fix).
    """
    where = transport.target.label
    python = managed_python(layout)
    facts = preflight.probe(transport, python, layout.root)
    marker = transport.run(_MARKER, [layout.root]).stdout.decode().strip()
    if facts is not None and marker == wheel_sha and facts.modules.get("lenet_edge"):
        preflight.check_ready(where, facts, python, runtimes, f"{layout.root}/wheels/{wheel.name}")
        return python, facts

    if facts is None and not base.ensurepip:
        raise DeviceError(f"{where}: python3 cannot create a venv (no ensurepip); on the device "
                          "run: sudo apt install python3-venv")

    upload_wheels(transport, layout, [wheel, *_wheelhouse_files(wheelhouse)])
    pip_options = ["--no-index", "--find-links", f"{layout.root}/wheels"] if wheelhouse else [
        "--retries", "1", "--timeout", "20"]
    progress(f"installing lenet-edge[runtime] into {layout.root}/venv (pip)")
    proc = transport.run(_INSTALL, [layout.root, wheel.name, wheel_sha, *pip_options],
                         timeout=1800)
    if proc.returncode == 20:
        raise DeviceError(f"{where}: python3 -m venv failed ({last_line(proc.stderr)}); "
                          "on the device run: sudo apt install python3-venv")
    if proc.returncode:
        raise DeviceError(
            f"{where}: pip install on the device failed ({last_line(proc.stderr)}). If the "
            "device has no internet, on this workstation run: "
            f"{download_command(base)} and deploy again with --wheelhouse wheelhouse"
        )
    facts = preflight.probe(transport, python, layout.root)
    if facts is None:
        raise DeviceError(f"{where}: {python} missing after install")
    preflight.check_ready(where, facts, python, runtimes, f"{layout.root}/wheels/{wheel.name}")
    return python, facts


def upload_wheels(transport: Transport, layout: RemoteLayout, wheels: list[Path]) -> None:
    """Copy wheel files into `<root>/wheels/` on the device."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in wheels:
            tar.add(path, arcname=path.name)
    proc = transport.run(_UPLOAD_WHEELS, [layout.root], input=buf.getvalue(), timeout=600)
    if proc.returncode:
        raise DeviceError(f"{transport.target.label}: cannot upload wheels to "
                          f"{layout.root}/wheels: {last_line(proc.stderr)}")


def _wheelhouse_files(wheelhouse: Path | None) -> list[Path]:
    return sorted(wheelhouse.glob("*.whl")) if wheelhouse else []


def runtime_requirements() -> list[str]:
    """lenet-edge's base requirements plus its `runtime` extra, from the installed metadata."""
    reqs = []
    for req in importlib.metadata.requires("lenet-edge") or []:
        spec, _, marker = req.partition(";")
        if not marker.strip() or marker.replace("'", '"').strip() == 'extra == "runtime"':
            reqs.append(spec.strip())
    return reqs


def download_command(facts: DeviceFacts) -> str:
    """`pip download` of every wheel the device needs, for its CPU, Python and glibc."""
    version = ".".join(map(str, facts.python_tuple))
    args = ["pip", "download", "--only-binary=:all:", "--dest", "wheelhouse",
            "--python-version", version]
    libc, _, libc_version = facts.libc.partition("-")
    if facts.system == "Linux" and libc == "glibc" and libc_version.startswith("2."):
        minor = int(libc_version.split(".")[1])
        args += ["--platform", f"manylinux2014_{facts.machine}"]
        for tag_minor in (17, 27, 28, 31, 34, 35, 36, 39):
            if tag_minor <= minor:
                args += ["--platform", f"manylinux_2_{tag_minor}_{facts.machine}"]
    args += [*runtime_requirements()]
    return shlex.join(args)
