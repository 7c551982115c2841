"""Deploy's managed install, end to end: the device has python3 but no lenet-edge and no
package index, so deploy ships a wheel of this package plus a wheelhouse, creates
REMOTE_DIR/venv there, installs lenet-edge[runtime] offline and runs verify from that venv.

The wheelhouse is made the way the refusal message tells a user to make it: the exact
`pip download` command deploy prints for the device's CPU, Python and glibc.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lenet_edge.deploy import device_venv, preflight
from lenet_edge.deploy.ssh import Transport
from lenet_edge.deploy.target import SshOptions, parse_target

pytestmark = pytest.mark.ssh

DOWNLOAD_TIMEOUT = 600  # seconds; from the local mirrors it takes ~10 s, a cold index longer
INSTALLING = "installing lenet-edge[runtime] into"  # deploy's progress line before pip runs


def _device_facts(sshd, workdir: Path) -> preflight.DeviceFacts:
    """Preflight of the test device's python3, as deploy sees it."""
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(sshd.known_hosts_line())
    options = SshOptions(identity=sshd.client_key, known_hosts=known_hosts,
                         config_file=Path(os.devnull), extra=("GlobalKnownHostsFile=/dev/null",))
    with Transport(parse_target("127.0.0.1", port=sshd.port), options) as transport:
        facts = preflight.probe(transport, device_venv.BASE_PYTHON, str(workdir))
    assert facts is not None, "the test device has no python3"
    return facts


def _download_command(sshd, workdir: Path) -> list[str]:
    """The `pip download` deploy would print for the test device, as argv for this Python."""
    argv = shlex.split(device_venv.download_command(_device_facts(sshd, workdir)))
    assert argv[:2] == ["pip", "download"] and argv[argv.index("--dest") + 1] == "wheelhouse"
    argv[argv.index("--dest") + 1] = str(workdir / "wheelhouse")
    return [sys.executable, "-m", "pip", *argv[1:]]


@pytest.fixture(scope="session")
def wheelhouse(sshd, tmp_path_factory) -> Path:
    """Wheels of lenet-edge's runtime dependencies for the device (this machine), once.

    Downloading needs this machine's package index (its local mirrors); without it the test
    cannot run: a failure in CI, a skip elsewhere.
    """
    workdir = tmp_path_factory.mktemp("wheelhouse")
    command = _download_command(sshd, workdir)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
        reason = f"exited {proc.returncode}: {proc.stderr.strip()[-500:]}"
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        reason, ok = f"timed out after {DOWNLOAD_TIMEOUT} s", False
    if not ok:
        message = f"cannot build the wheelhouse ({shlex.join(command)} {reason})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return workdir / "wheelhouse"


def deploy(run_cli, model, remote_dir, ssh_args, wheelhouse):
    return run_cli("deploy", model, "127.0.0.1", *ssh_args, "--remote-dir", remote_dir,
                   "--wheelhouse", wheelhouse, "--variant", "fp32", "--variant", "onnx-fp32",
                   "--json", timeout=900)


def test_device_without_lenet_edge_gets_an_offline_venv_and_verifies_from_it(
    run_cli, fresh_bundle, remote_dir, ssh_args, wheelhouse
):
    first = deploy(run_cli, fresh_bundle, remote_dir, ssh_args, wheelhouse)

    venv_python = remote_dir / "venv" / "bin" / "python"
    assert json.loads(first.stdout)["facts"]["executable"].startswith(str(remote_dir / "venv"))
    assert INSTALLING in first.stderr
    verify = json.loads((fresh_bundle / "device-127.0.0.1-verify.json").read_text())
    assert verify["passed"] is True
    assert {(r["variant"], r["runtime"], r["status"]) for r in verify["results"]} == {
        ("fp32", "litert", "pass"), ("onnx-fp32", "onnxruntime", "pass")}
    # As on a Pi: the venv has the runtime half only, and lenet-edge came from our wheel.
    probe = subprocess.run(
        [venv_python, "-I", "-c", "import importlib.util as u, lenet_edge; "
         "print(u.find_spec('tensorflow') is None, u.find_spec('keras') is None, "
         "lenet_edge.__file__)"], capture_output=True, text=True, check=True)
    no_tf, no_keras, package = probe.stdout.split()
    assert (no_tf, no_keras) == ("True", "True")
    assert package.startswith(str(remote_dir / "venv"))

    marker = (remote_dir / "venv" / device_venv.MARKER).read_text()
    second = deploy(run_cli, fresh_bundle, remote_dir, ssh_args, wheelhouse)
    # Same code, same wheel sha256: the venv is reused and pip does not run again.
    assert INSTALLING not in second.stderr
    assert (remote_dir / "venv" / device_venv.MARKER).read_text() == marker
    assert json.loads(second.stdout)["passed"] is True
    assert json.loads(second.stdout)["previous"] == json.loads(first.stdout)["release"]


def test_wheelhouse_missing_onnxruntime_stops_with_one_line_and_the_download(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args, wheelhouse
):
    # The complete wheelhouse minus one wheel: pip on the device finds no onnxruntime.
    partial = tmp_path / "partial"
    partial.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("onnxruntime-"):
            (partial / wheel.name).symlink_to(wheel)
    assert len(list(partial.iterdir())) == len(list(wheelhouse.glob("*.whl"))) - 1

    proc = run_cli("deploy", synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                   remote_dir, "--wheelhouse", partial, "--no-verify", check=False, timeout=900)

    assert proc.returncode == 7, proc.stderr  # DeviceError: a failed remote step
    assert "Traceback" not in proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("lenet-edge: error: 127.0.0.1:")
    assert f"--wheelhouse {partial} has no onnxruntime>=1.17 wheel for the device" in error
    command = shlex.split(error[error.index("pip download"):error.index(" and deploy again")])
    version = command[command.index("--python-version") + 1]
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("--abi") + 1] == "cp" + version.replace(".", "")
    assert command[command.index("--dest") + 1] == str(partial)
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    machine = platform.machine()
    assert {f"manylinux_2_17_{machine}", f"manylinux2014_{machine}"} <= set(platforms)
    assert any(r.startswith("onnxruntime") for r in command)
    assert error.endswith(f"and deploy again with --wheelhouse {partial}")
    assert not (remote_dir / "current").exists()


def test_tflite_runtime_is_installed_as_an_extra_and_in_the_download(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args, sshd, wheelhouse
):
    if _device_facts(sshd, tmp_path).python_tuple >= (3, 12):
        pytest.skip("the tflite-runtime extra is empty on the device's Python >= 3.12")
    # The runtime wheelhouse has no tflite-runtime (nor numpy<2): asking for that runtime
    # makes pip install the extra, fail offline, and the printed command fetch both.
    proc = run_cli("deploy", synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                   remote_dir, "--wheelhouse", wheelhouse, "--runtime", "tflite-runtime",
                   "--no-verify", check=False, timeout=900)
    assert proc.returncode == 7, proc.stderr
    assert "installing lenet-edge[runtime,tflite-runtime] into" in proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("lenet-edge: error: 127.0.0.1:")
    command = shlex.split(error[error.index("pip download"):error.index(" and deploy again")])
    assert {"tflite-runtime>=2.14", "numpy<2", "onnxruntime>=1.17"} <= set(command)
