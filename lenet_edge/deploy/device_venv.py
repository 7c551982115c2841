"""lenet-edge on the device: use the user's Python, or keep our own venv up to date.

Managed mode (the default) keeps `<remote-dir>/venv`: created with the device's `python3 -m
venv`, filled from a wheel of this very package (built locally, see wheel.py) with its
`runtime` extra (and `tflite-runtime` when asked for). A marker file holds the wheel's sha256,
so an unchanged device costs one probe and no pip. If pip cannot reach an index (or
`--wheelhouse` lacks a wheel), the one-line error names what pip missed and gives the exact
`pip download` to run on the workstation for the device's CPU, glibc and Python
(wheelhouse.py).
"""

from __future__ import annotations

import io
import shlex
import tarfile
from collections.abc import Callable
from pathlib import Path

from lenet_edge.deploy import preflight
from lenet_edge.deploy.preflight import DeviceFacts
from lenet_edge.deploy.remote_dir import WHEEL_MARKER, RemoteLayout
from lenet_edge.deploy.ssh import Transport, last_line
from lenet_edge.deploy.wheelhouse import (
    DEFAULT_DIR,
    download_command,
    index_unreachable,
    install_spec,
    missing_requirement,
    pip_options,
    wheelhouse_files,
)
from lenet_edge.errors import DeviceError

MARKER = WHEEL_MARKER  # in <root>/venv/: the sha256 of the installed wheel
BASE_PYTHON = "python3"

_UPLOAD_WHEELS = r"""
mkdir -p "$1/wheels" && tar -x -f - -C "$1/wheels" --no-same-owner --no-same-permissions
"""

_MARKER = rf"""cat "$1/venv/{MARKER}" 2>/dev/null || true"""

# $1 root, $2 wheel file name, $3 the same with its extras (`install_spec`), $4 wheel sha256,
# then pip options. An f-string (for MARKER): shell braces would need doubling.
_INSTALL = rf"""
root=$1; wheel=$1/wheels/$2; spec=$1/wheels/$3; sha=$4; shift 4
[ -x "$root/venv/bin/python" ] || python3 -m venv "$root/venv" || exit 20
py=$root/venv/bin/python
rm -f "$root/venv/{MARKER}"
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$@" "$wheel" \
  || exit 21
"$py" -m pip install -q --disable-pip-version-check "$@" "$spec" || exit 22
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
    wheel_on_device = f"{layout.root}/wheels/{wheel.name}"
    facts = preflight.probe(transport, python, layout.root)
    marker = transport.run(_MARKER, [layout.root]).stdout.decode().strip()
    # Same wheel and everything the runtimes need: no pip. A runtime asked for since the
    # last install (--runtime tflite-runtime) reinstalls with its extra.
    if facts is not None and marker == wheel_sha and _ready(where, facts, python, runtimes,
                                                            wheel_on_device):
        return python, facts

    if facts is None and not base.ensurepip:
        raise DeviceError(f"{where}: python3 cannot create a venv (no ensurepip); on the device "
                          "run: sudo apt install python3-venv")

    extra_wheels = wheelhouse_files(wheelhouse) if wheelhouse else []
    upload_wheels(transport, layout, [wheel, *extra_wheels])
    options = pip_options(f"{layout.root}/wheels" if wheelhouse else None)
    progress(f"installing {install_spec('lenet-edge', runtimes)} into {layout.root}/venv (pip)")
    proc = transport.run(
        _INSTALL, [layout.root, wheel.name, install_spec(wheel.name, runtimes), wheel_sha,
                   *options], timeout=1800)
    if proc.returncode == 20:
        raise DeviceError(f"{where}: python3 -m venv failed ({last_line(proc.stderr)}); "
                          "on the device run: sudo apt install python3-venv")
    if proc.returncode:
        raise pip_failure(where, proc.stderr, base, runtimes, wheelhouse)
    facts = preflight.probe(transport, python, layout.root)
    if facts is None:
        raise DeviceError(f"{where}: {python} missing after install")
    preflight.check_ready(where, facts, python, runtimes, wheel_on_device)
    return python, facts


def _ready(where: str, facts: DeviceFacts, python: str, runtimes: tuple[str, ...],
           wheel: str) -> bool:
    """Whether `check_ready` passes (if not, a reinstall may fix it; it runs again after)."""
    try:
        preflight.check_ready(where, facts, python, runtimes, wheel)
    except DeviceError:
        return False
    return True


def pip_failure(where: str, stderr: bytes, base: DeviceFacts, runtimes: tuple[str, ...],
                wheelhouse: Path | None) -> DeviceError:
    """One line: what pip missed (from its stderr) and the `pip download` that fetches it."""
    missing = missing_requirement(stderr)
    dest = wheelhouse or DEFAULT_DIR
    device = f"{base.machine}, Python {base.python}, {base.libc or 'unknown libc'}"
    if missing and wheelhouse:
        cause = f"--wheelhouse {wheelhouse} has no {missing} wheel for the device ({device})"
    elif missing and index_unreachable(stderr):
        cause = f"the device cannot reach a package index (pip found no {missing})"
    elif missing:
        cause = f"no {missing} wheel for the device ({device}) from its package index"
    else:
        cause = _pip_error(stderr)
    fix = "on this workstation run" if wheelhouse else (
        "if the device has no internet, on this workstation run")
    return DeviceError(
        f"{where}: pip install on the device failed: {cause}; {fix}: "
        f"{download_command(base, runtimes, dest)} and deploy again with --wheelhouse "
        f"{shlex.quote(str(dest))}"
    )


def _pip_error(stderr: bytes) -> str:
    """pip's first ERROR line (the cause; later ones are hints), else its last line."""
    lines = stderr.decode(errors="replace").splitlines()
    errors = [line.strip() for line in lines if line.startswith("ERROR:")]
    return f"pip: {errors[0]}" if errors else last_line(stderr)


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
