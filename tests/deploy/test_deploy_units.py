"""Deploy pieces that need no server: host validation, hosts files, packing, the wheel,
the ssh command line, the offline-install command."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import zipfile

import pytest
from synthetic_bundle import make_synthetic_bundle

from lenet_edge import __version__, bundle
from lenet_edge.deploy.device_bundle import pack
from lenet_edge.deploy.device_venv import download_command, pip_failure
from lenet_edge.deploy.fleet import read_hosts
from lenet_edge.deploy.install import RemoteLayout
from lenet_edge.deploy.preflight import DeviceFacts
from lenet_edge.deploy.ssh import Transport
from lenet_edge.deploy.target import SshOptions, parse_target
from lenet_edge.deploy.wheel import build_wheel
from lenet_edge.deploy.wheelhouse import device_requirements, platform_tags, wheelhouse_files
from lenet_edge.errors import ModelError, UsageError


@pytest.mark.parametrize("host", ["raspberrypi.local", "10.0.0.5", "fe80::1%eth0", "pi-4_b",
                                  "::1", "::ffff:10.0.0.5"])
def test_ordinary_hosts_are_accepted(host):
    assert parse_target(host).host == host


@pytest.mark.parametrize("host", ["a;touch x", "-oProxyCommand=x", "$(id)", "a b", "a`id`",
                                  "", "host\nid", "a|b", "a&b", "'a'"])
def test_hosts_with_shell_or_option_syntax_are_refused(host):
    with pytest.raises(UsageError, match="invalid host"):
        parse_target(host)


def test_user_at_host_and_user_option_must_agree():
    assert parse_target("pi@device").user == "pi"
    assert parse_target("device", user="pi").user == "pi"
    with pytest.raises(UsageError, match="--user"):
        parse_target("pi@device", user="root")
    with pytest.raises(UsageError, match="invalid user"):
        parse_target("device", user="-l")
    with pytest.raises(UsageError, match="invalid port"):
        parse_target("device", port=70000)


def test_ssh_command_checks_host_keys_and_never_prompts():
    strict = Transport(parse_target("pi@device", port=2222), SshOptions()).ssh_argv("true")
    assert "StrictHostKeyChecking=yes" in strict and "BatchMode=yes" in strict
    assert strict[-3:] == ["--", "device", "true"]  # the host can never be read as an option
    assert strict[strict.index("-l") + 1] == "pi" and strict[strict.index("-p") + 1] == "2222"
    opt_in = Transport(parse_target("device"), SshOptions(accept_new_host_key=True))
    assert "StrictHostKeyChecking=accept-new" in opt_in.ssh_argv("true")
    with pytest.raises(UsageError, match="--ssh-option"):
        SshOptions(extra=("no equals sign",))


def test_plain_hosts_file(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# lab\npi1.local\npi@10.0.0.6:2222\n\n10.0.0.7\n")
    entries = read_hosts(hosts, user="admin")
    assert [(e.name, e.target.user, e.target.port) for e in entries] == [
        ("pi1.local", "admin", 22), ("10.0.0.6:2222", "pi", 2222), ("10.0.0.7", "admin", 22)]


def test_ansible_inventory_with_group_vars(tmp_path):
    hosts = tmp_path / "inventory.ini"
    hosts.write_text(
        "[kitchen]\npi1 ansible_host=10.0.0.5\npi2 ansible_host=10.0.0.6 ansible_user=root\n"
        "[garage]\npi3 ansible_host=10.0.0.7 ansible_port=2200\npi1\n"
        "[kitchen:vars]\nansible_user=pi\n[all:vars]\nansible_port=2222\n"
        "[house:children]\nkitchen\ngarage\n")
    entries = {e.name: e.target for e in read_hosts(hosts)}
    assert set(entries) == {"pi1", "pi2", "pi3"}  # pi1 listed twice, deployed once
    assert (entries["pi1"].host, entries["pi1"].user, entries["pi1"].port) == (
        "10.0.0.5", "pi", 2222)
    assert entries["pi2"].user == "root"
    assert entries["pi3"].port == 2200 and entries["pi3"].user is None


def test_inventory_host_ranges_and_bad_lines_are_refused_with_the_line(tmp_path):
    hosts = tmp_path / "inventory.ini"
    hosts.write_text("[pis]\npi[01:10] ansible_host=10.0.0.5\n")
    with pytest.raises(UsageError, match=r"inventory.ini:2: host ranges"):
        read_hosts(hosts)
    hosts.write_text("[pis]\npi1 ansible_host=a;b\n")
    with pytest.raises(UsageError, match=r"inventory.ini:2: invalid host 'a;b'"):
        read_hosts(hosts)
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(UsageError, match="lists no hosts"):
        read_hosts(tmp_path / "empty")


def test_device_bundle_holds_only_the_chosen_variants(tmp_path):
    model = make_synthetic_bundle(tmp_path / "model")
    (model / "lenet5.weights.h5").write_bytes(b"keras weights stay on the workstation")
    packed = pack(model, ["int8"])
    assert set(packed.files) == {"manifest.json", "reference.npz", "lenet5_int8.tflite"}
    manifest = json.loads(packed.files["manifest.json"])
    assert list(manifest["artifacts"]) == ["int8"]
    assert manifest["reference"] == bundle.read_manifest(model)["reference"]
    with pytest.raises(UsageError, match="no variant 'dynamic'; it holds fp32, int8, onnx-fp32"):
        pack(model, ["dynamic"])


def test_device_bundle_refuses_a_file_that_does_not_match_its_manifest(tmp_path):
    model = make_synthetic_bundle(tmp_path / "model")
    (model / "lenet5_fp32.tflite").write_bytes(b"corrupt")
    with pytest.raises(ModelError, match="sha256 does not match"):
        pack(model, ["fp32"])
    assert pack(model, ["int8"]).variants == ("int8",)  # the other variants still ship


def test_wheel_installs_lenet_edge_with_its_cli(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "lenet_edge/deploy/ssh.py" in names
    metadata = zipfile.ZipFile(wheel).read(f"lenet_edge-{__version__}.dist-info/METADATA").decode()
    assert "Provides-Extra: runtime" in metadata
    (tmp_path / "again").mkdir()
    # Deterministic: the same code gives the same bytes, so an up-to-date device is left alone.
    assert build_wheel(tmp_path / "again").read_bytes() == wheel.read_bytes()
    # pip accepts it (no dependencies resolved: offline), and the entry point works.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True)
    assert (target / "lenet_edge" / "deploy" / "wheel.py").is_file()
    assert (target / "bin" / "lenet-edge").is_file()


def device(python="3.11.2", machine="aarch64", libc="glibc-2.36") -> DeviceFacts:
    """Preflight facts of a device; the defaults are a Raspberry Pi 4 on Debian 12."""
    return DeviceFacts(python=python, executable="/usr/bin/python3", machine=machine,
                       system="Linux", libc=libc, modules={}, ensurepip=True,
                       free_bytes=1 << 30, disk_path="/home/pi")


def options(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_download_command_fetches_for_the_device_not_for_this_workstation():
    argv = shlex.split(download_command(device()))
    assert argv[:3] == ["pip", "download", "--only-binary=:all:"]
    assert options(argv, "--dest") == ["wheelhouse"]
    # Without --implementation and --abi pip would take this Python's ABI (cp312 on a 3.12
    # workstation) and find nothing the Pi's 3.11 can install.
    assert (options(argv, "--python-version"), options(argv, "--implementation"),
            options(argv, "--abi")) == (["3.11"], ["cp"], ["cp311"])
    # pip download matches each --platform exactly: every glibc the Pi's pip accepts is there.
    assert options(argv, "--platform") == [
        *(f"manylinux_2_{minor}_aarch64" for minor in range(36, 16, -1)),
        "manylinux2014_aarch64"]
    # Then the requirements: lenet-edge's own and its runtime extra, nothing of the toolchain.
    requirements = argv[argv.index("manylinux2014_aarch64") + 1:]
    assert requirements == device_requirements(device()) == [
        "numpy>=1.23", "typer>=0.12", "rich>=13", "ai-edge-litert>=2.0", "onnxruntime>=1.17",
        "pillow>=10"]


def test_download_command_for_tflite_runtime_adds_its_extra_as_the_device_evaluates_it():
    asked = shlex.split(download_command(device(), ("tflite-runtime",)))
    assert "tflite-runtime>=2.14" in asked and "numpy<2" in asked
    assert "onnxruntime>=1.17" in asked  # the runtime extra stays
    # The extra's markers hold for the device's Python, not this one's: none on 3.12.
    newer = device_requirements(device(python="3.12.3"), ("tflite-runtime",))
    assert not any(r.startswith("tflite-runtime") or r == "numpy<2" for r in newer)
    assert "--abi cp312" in download_command(device(python="3.12.3"))


def test_platform_tags_follow_the_cpu_and_glibc():
    x86 = platform_tags(device(machine="x86_64", libc="glibc-2.31"))
    assert x86[:2] == ["manylinux_2_31_x86_64", "manylinux_2_30_x86_64"]
    assert x86[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64"} <= set(x86)
    assert platform_tags(device(machine="armv7l", libc="glibc-2.17")) == [
        "manylinux_2_17_armv7l", "manylinux2014_armv7l"]
    assert platform_tags(device(libc="")) == []  # no glibc: no manylinux wheel fits


def test_download_command_is_quoted_for_the_shell():
    command = download_command(device(), dest="my wheels")
    assert "--dest 'my wheels'" in command and "'numpy>=1.23'" in command
    assert shlex.split(command)[4] == "my wheels"


PIP_NOT_FOUND = b"""\
Looking in links: lenet-edge/wheels
Processing ./lenet-edge/wheels/lenet_edge-0.1.0-py3-none-any.whl
ERROR: Could not find a version that satisfies the requirement onnxruntime>=1.17 (from \
lenet-edge[runtime]) (from versions: none)
ERROR: No matching distribution found for onnxruntime>=1.17; extra == "runtime"
"""


def test_pip_failure_names_the_missing_wheel_and_the_download_in_one_line(tmp_path):
    error = pip_failure("pi", PIP_NOT_FOUND, device(), (), tmp_path / "wh")
    message = str(error)
    assert "\n" not in message and error.exit_code == 7
    assert message.startswith(f"pi: pip install on the device failed: --wheelhouse "
                              f"{tmp_path / 'wh'} has no onnxruntime>=1.17 wheel for the device "
                              "(aarch64, Python 3.11.2, glibc-2.36)")
    assert f"{download_command(device(), (), tmp_path / 'wh')} and deploy again" in message
    online = str(pip_failure("pi", PIP_NOT_FOUND, device(), (), None))
    assert "if the device has no internet" in online
    assert online.endswith("and deploy again with --wheelhouse wheelhouse")


def test_pip_failure_of_an_offline_device_says_it_cannot_reach_an_index():
    stderr = (b"WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, "
              b"status=None)) after connection broken by 'NewConnectionError('<pip._vendor."
              b"urllib3.connection.HTTPSConnection object at 0x7f0>: Failed to establish a new "
              b"connection: [Errno -2] Name or service not known')': /simple/numpy/\n"
              b"ERROR: Could not find a version that satisfies the requirement numpy>=1.23 "
              b"(from versions: none)\nERROR: No matching distribution found for numpy>=1.23\n")
    message = str(pip_failure("pi", stderr, device(), (), None))
    assert message.startswith("pi: pip install on the device failed: the device cannot reach "
                              "a package index (pip found no numpy>=1.23); if the device has "
                              "no internet, on this workstation run: pip download ")


def test_pip_failure_without_a_missing_wheel_quotes_pips_first_error():
    stderr = (b"ERROR: Cannot install lenet-edge because these package versions have "
              b"conflicting dependencies.\nERROR: ResolutionImpossible: for help visit x\n")
    message = str(pip_failure("pi", stderr, device(), (), None))
    assert message.startswith("pi: pip install on the device failed: pip: ERROR: Cannot "
                              "install lenet-edge because these package versions have")


def test_wheelhouse_that_is_missing_or_empty_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no such directory"):
        wheelhouse_files(tmp_path / "nonexistent")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="is not a directory"):
        wheelhouse_files(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "numpy.tar.gz").write_text("")
    with pytest.raises(UsageError, match="holds no .whl files"):
        wheelhouse_files(tmp_path / "empty")


@pytest.mark.parametrize("given, root", [("lenet-edge", "lenet-edge"), ("~/apps/le/", "apps/le"),
                                         ("/opt/lenet-edge", "/opt/lenet-edge")])
def test_remote_dir_forms(given, root):
    assert RemoteLayout.parse(given).root == root


def test_remote_dir_for_another_users_home_is_refused():
    with pytest.raises(UsageError, match="--remote-dir"):
        RemoteLayout.parse("~pi/lenet-edge")


# Before: "bundle ... has no variant Int8; it holds fp32, int8, onnx-fp32": no suggestion,
# where verify, benchmark and pipeline say "did you mean".
@pytest.mark.parametrize(("names", "message"), [
    (["Int8"], "has no variant 'Int8'; did you mean 'int8'? it holds fp32, int8, onnx-fp32"),
    (["onnx_fp32", "int4"], "has no variant 'onnx_fp32', 'int4'; did you mean 'onnx-fp32'? "
                            "it holds"),
    (["int4"], "has no variant 'int4'; it holds fp32, int8, onnx-fp32"),
])
def test_an_unknown_deploy_variant_gets_a_suggestion(tmp_path, names, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        pack(make_synthetic_bundle(tmp_path / "b"), names)
