"""What deploy refuses, and how it says so: bad hosts, unknown keys, unreachable devices,
devices without Python, lenet-edge, an interpreter or a package index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lenet_edge import __version__

pytestmark = pytest.mark.ssh

REPO = Path(__file__).resolve().parents[2]


def deploy_cli(run_cli, *args, cwd=None):
    return run_cli("deploy", *args, check=False, timeout=300, cwd=cwd)


@pytest.mark.parametrize("host, user", [
    ("a;touch SENTINEL", None),
    ("$(touch SENTINEL)", None),
    ("-oProxyCommand=touch SENTINEL", None),
    ("pi@-oProxyCommand=touch SENTINEL", None),
    ("device", "-oProxyCommand=touch SENTINEL"),
    ("device", "pi;touch SENTINEL"),
])
def test_hostile_host_or_user_is_rejected_before_anything_runs(
    run_cli, synthetic_bundle, tmp_path, host, user
):
    options = ["--user", user] if user else []
    # After "--" a leading '-' reaches deploy as the HOST argument, not as an option.
    proc = deploy_cli(run_cli, *options, "--", synthetic_bundle, host, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "invalid host" in proc.stderr or "invalid user" in proc.stderr
    assert not (tmp_path / "SENTINEL").exists()


def test_hostile_line_in_a_hosts_file_stops_the_whole_fleet_before_connecting(
    run_cli, synthetic_bundle, tmp_path, sshd
):
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1:{sshd.port}\na;touch SENTINEL\n")
    proc = deploy_cli(run_cli, synthetic_bundle, "--hosts", hosts, cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{hosts}:2" in proc.stderr
    assert not (tmp_path / "SENTINEL").exists()


def test_unreachable_host_is_a_clear_error(run_cli, synthetic_bundle, tmp_path):
    from sshd import free_port

    closed = free_port()  # nothing listens there
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", "--port", closed,
                      "--connect-timeout", "3", "--known-hosts", tmp_path / "kh",
                      "--ssh-config", "/dev/null")
    assert proc.returncode == 7
    assert f"127.0.0.1:{closed}: cannot reach the device" in proc.stderr
    assert "Connection refused" in proc.stderr


def test_unknown_host_key_is_refused_without_the_opt_in(
    run_cli, synthetic_bundle, tmp_path, sshd, remote_dir, device_python
):
    empty = tmp_path / "known_hosts"
    empty.touch()
    args = [synthetic_bundle, "127.0.0.1", "--port", sshd.port, "--identity", sshd.client_key,
            "--known-hosts", empty, "--ssh-config", "/dev/null",
            "--ssh-option", "GlobalKnownHostsFile=/dev/null", "--remote-dir", remote_dir,
            "--remote-python", device_python, "--no-verify"]

    refused = deploy_cli(run_cli, *args)
    assert refused.returncode == 7
    assert "host key not known" in refused.stderr
    assert "--accept-new-host-key" in refused.stderr
    assert not remote_dir.exists()  # nothing ran on the device
    assert empty.read_text() == ""

    accepted = deploy_cli(run_cli, *args, "--accept-new-host-key")
    assert accepted.returncode == 0, accepted.stderr
    assert (remote_dir / "current").is_symlink()
    assert empty.read_text().strip()  # the key is now recorded


def test_changed_host_key_is_refused_even_with_the_opt_in(
    run_cli, synthetic_bundle, tmp_path, sshd, remote_dir
):
    from sshd import keygen

    impostor = keygen(tmp_path / "impostor").with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {impostor[0]} {impostor[1]}\n")
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", "--port", sshd.port,
                      "--identity", sshd.client_key, "--known-hosts", known,
                      "--ssh-config", "/dev/null", "--accept-new-host-key",
                      "--remote-dir", remote_dir, "--no-verify")
    assert proc.returncode == 7
    assert "CHANGED" in proc.stderr
    assert not remote_dir.exists()


def test_device_python_without_lenet_edge_gets_the_exact_install_command(
    run_cli, synthetic_bundle, remote_dir, ssh_args
):
    # The system Python (3.11, no lenet-edge, no numpy) stands for a fresh Raspberry Pi OS.
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                      remote_dir, "--remote-python", "/usr/bin/python3", "--no-verify")
    assert proc.returncode == 7
    wheel = remote_dir / "wheels" / f"lenet_edge-{__version__}-py3-none-any.whl"
    command = f"/usr/bin/python3 -m pip install '{wheel}[runtime]'"
    assert command in proc.stderr
    assert wheel.is_file()  # deploy shipped the wheel the command names
    assert not (remote_dir / "current").exists()


def test_device_python_without_an_interpreter_gets_the_exact_pip_command(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args
):
    # A venv where lenet-edge imports (via a .pth to this checkout) but nothing else is there.
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "lenet_edge_checkout.pth").write_text(f"{REPO}\n")
    python = venv / "bin" / "python"

    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                      remote_dir, "--remote-python", python, "--no-verify")
    assert proc.returncode == 7
    assert f"on the device run: {python} -m pip install numpy ai-edge-litert" in proc.stderr

    asked = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                       remote_dir, "--remote-python", python, "--runtime", "onnxruntime",
                       "--no-verify")
    assert f"{python} -m pip install numpy onnxruntime" in asked.stderr


def test_device_without_a_package_index_stops_with_the_download_command(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args
):
    # Managed install (no --remote-python): deploy creates REMOTE_DIR/venv with the device's
    # python3 and runs pip there. A --wheelhouse holding only an unrelated wheel makes pip
    # offline (--no-index), as on a device without internet, so pip finds no numpy & co.
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "unrelated-1.0-py3-none-any.whl").write_bytes(b"never opened: not needed")
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                      remote_dir, "--wheelhouse", wheels, "--no-verify")
    assert proc.returncode == 7, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(f"lenet-edge: error: 127.0.0.1:{ssh_args[1]}: pip install on the "
                            f"device failed: --wheelhouse {wheels} has no ")
    assert f"pip download --only-binary=:all: --dest {wheels} --python-version 3.11 " in error
    assert "--implementation cp --abi cp311 " in error
    assert "--platform manylinux2014_x86_64" in error
    assert "'ai-edge-litert>=2.0'" in error
    assert error.endswith(f"and deploy again with --wheelhouse {wheels}")
    assert "Traceback" not in proc.stderr
    assert (remote_dir / "venv" / "bin" / "python").exists()  # the venv itself was made
    assert not (remote_dir / "current").exists()


@pytest.mark.parametrize("make, message", [
    (lambda path: None, "no such directory"),
    (lambda path: path.mkdir(), "holds no .whl files"),
    (lambda path: path.write_text(""), "is not a directory"),
])
def test_wheelhouse_without_wheels_is_refused_before_connecting(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args, sshd, make, message
):
    # Before, a missing directory shipped no wheels and an empty one looked like an offline
    # device: both failed in pip on the device after the venv was made.
    wheels = tmp_path / "wheels"
    make(wheels)
    connections = sshd.log.read_text().count("Connection from")
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                      remote_dir, "--wheelhouse", wheels)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"lenet-edge: error: --wheelhouse {wheels}: {message}" + (
            "; fill it with the pip download deploy prints when the device cannot reach a "
            "package index" if message == "holds no .whl files" else ""))
    assert not remote_dir.exists()
    assert sshd.log.read_text().count("Connection from") == connections  # never contacted


def test_shell_syntax_in_the_remote_dir_stays_a_literal_path(
    run_cli, synthetic_bundle, tmp_path, ssh_args, device_python
):
    # Remote commands get their parameters as quoted positional arguments, never spliced.
    odd = tmp_path / "device" / "$(touch SENTINEL); touch SENTINEL `touch SENTINEL`"
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir", odd,
                      "--remote-python", device_python, "--no-verify", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (odd / "current" / "manifest.json").is_file()
    assert not (tmp_path / "SENTINEL").exists()
    assert not (Path.home() / "SENTINEL").exists()  # remote commands start in the home


@pytest.mark.parametrize("option, value, message", [
    ("--min-agreement", "2", "--min-agreement must be within [0, 1]"),
    ("--max-drop", "nan", "--max-drop must be a finite number"),
    ("--threads", "0", "--threads must be an integer >= 1"),
    ("--threads", "1,1", "--threads lists 1 more than once"),
    ("--min-time", "-1", "--min-time must be a number of seconds >= 0"),
    ("--lock-timeout", "-1", "--lock-timeout must be a number of seconds >= 0"),
    ("--lock-timeout", "nan", "--lock-timeout must be a number of seconds >= 0"),
])
def test_bad_gate_or_benchmark_option_is_refused_before_connecting(
    run_cli, synthetic_bundle, remote_dir, ssh_args, device_python, sshd, option, value, message
):
    # Before, these went to the device as given: a bad gate failed after the upload (exit 7
    # after a rollback), a bad benchmark option after the release went live.
    connections = sshd.log.read_text().count("Connection from")
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", *ssh_args, "--remote-dir",
                      remote_dir, "--remote-python", device_python, "--benchmark",
                      option, value)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.returncode != 70
    assert not remote_dir.exists()
    assert sshd.log.read_text().count("Connection from") == connections  # never contacted


def test_missing_hosts_file_is_one_clean_line(run_cli, synthetic_bundle, tmp_path):
    proc = deploy_cli(run_cli, synthetic_bundle, "--hosts", tmp_path / "nonexistent")
    assert proc.returncode == 2, proc.stderr
    assert (f"hosts file {tmp_path / 'nonexistent'}: cannot read (No such file or directory)"
            in proc.stderr)
    assert "[Errno" not in proc.stderr
    assert "Traceback" not in proc.stderr and proc.returncode != 70


def test_missing_identity_file_is_refused_before_connecting(
    run_cli, synthetic_bundle, tmp_path, sshd, known_hosts, remote_dir
):
    # ssh itself only warns and tries other keys, which hides a mistyped path.
    connections = sshd.log.read_text().count("Connection from")
    proc = deploy_cli(run_cli, synthetic_bundle, "127.0.0.1", "--port", sshd.port,
                      "--identity", tmp_path / "nonexistent", "--known-hosts", known_hosts,
                      "--ssh-config", "/dev/null", "--remote-dir", remote_dir, "--no-verify")
    assert proc.returncode == 2, proc.stderr
    assert f"--identity {tmp_path / 'nonexistent'}: no such key file" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.returncode != 70
    assert not remote_dir.exists()
    assert sshd.log.read_text().count("Connection from") == connections


def test_ipv6_loopback_is_a_host_not_a_usage_error(run_cli, synthetic_bundle, tmp_path, sshd):
    # The test sshd listens on 127.0.0.1 only: ::1 passes validation, then cannot be reached.
    proc = deploy_cli(run_cli, synthetic_bundle, "::1", "--port", sshd.port,
                      "--connect-timeout", "3", "--known-hosts", tmp_path / "kh",
                      "--ssh-config", "/dev/null")
    assert proc.returncode == 7, proc.stderr
    assert "invalid host" not in proc.stderr
    assert f"::1:{sshd.port}: cannot reach the device" in proc.stderr


def test_dash_o_is_not_an_ssh_option_alias(run_cli, synthetic_bundle):
    # Elsewhere in the CLI -o means --out; deploy spells ssh options out in full.
    proc = deploy_cli(run_cli, synthetic_bundle, "10.0.0.5", "-o", "Compression=yes")
    assert proc.returncode == 2, proc.stderr
    assert "No such option" in proc.stderr
