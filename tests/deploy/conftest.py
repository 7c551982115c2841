"""Fixtures for the deploy tests: a real sshd on 127.0.0.1, keys, a device Python, bundles.

The "device" is this machine reached through the real OpenSSH server; its Python is the
runtime-only venv (`.[runtime]`, no TensorFlow), as on a Raspberry Pi. Each test gets its own
remote directory in tmp, so tests never share device state.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sshd import SshServer
from synthetic_bundle import make_synthetic_bundle

from lenet_edge.deploy.target import SshOptions


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """One OpenSSH server for the session (tests that drop its connections leave it running)."""
    if not Path("/usr/sbin/sshd").exists() and shutil.which("sshd") is None:
        message = "sshd missing: apt-get install openssh-server openssh-client"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def known_hosts(tmp_path, sshd) -> Path:
    """A known_hosts file that vouches for the test server's host key."""
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line())
    return path


@pytest.fixture
def ssh_options(sshd, known_hosts) -> SshOptions:
    return SshOptions(identity=sshd.client_key, known_hosts=known_hosts,
                      config_file=Path(os.devnull), extra=("GlobalKnownHostsFile=/dev/null",))


@pytest.fixture
def ssh_args(sshd, known_hosts) -> list[str]:
    """The same options as `lenet-edge deploy` flags, as a user would pass them."""
    return ["--port", str(sshd.port), "--identity", str(sshd.client_key),
            "--known-hosts", str(known_hosts), "--ssh-config", os.devnull,
            "--ssh-option", "GlobalKnownHostsFile=/dev/null", "--connect-timeout", "5"]


@pytest.fixture
def remote_dir(tmp_path) -> Path:
    """The deploy directory "on the device" (this machine), private to the test."""
    return tmp_path / "device" / "lenet-edge"


@pytest.fixture(scope="session")
def device_python(runtime_venv) -> str:
    """The device's Python: the venv with only lenet-edge[runtime] installed."""
    return str(runtime_venv("runtime") / "bin" / "python")


@pytest.fixture
def synthetic_bundle(tmp_path) -> Path:
    return make_synthetic_bundle(tmp_path / "model")


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a tiny tmpfs (root only): `mount(size_kib, read_only)` returns its path."""
    mounted: list[Path] = []

    def mount(size_kib: int, read_only: bool = False) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        options = f"size={size_kib}k" + (",ro" if read_only else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if proc.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); needs root")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)
