"""Install mechanics against a real sshd: fresh and repeated deploys, tampering, dropped
connections, full or read-only disks, the lock. Bundles here hold random bytes and deploy with
--no-verify (the device never loads them); on-device verification is in test_deploy_verify.py.
"""

from __future__ import annotations

import json
import threading

import pytest
from synthetic_bundle import current_release, make_synthetic_bundle

from lenet_edge import bundle
from lenet_edge.deploy import install
from lenet_edge.deploy.device_bundle import pack
from lenet_edge.deploy.remote_dir import claim as remote_dir_claim
from lenet_edge.deploy.ssh import Transport
from lenet_edge.deploy.target import parse_target
from lenet_edge.errors import DeviceError

pytestmark = pytest.mark.ssh


def deploy_cli(run_cli, model, remote_dir, ssh_args, device_python, *extra, check=True):
    return run_cli("deploy", model, "127.0.0.1", *ssh_args, "--remote-dir", remote_dir,
                   "--remote-python", device_python, "--no-verify", *extra, check=check,
                   timeout=300)


def release_files(remote_dir, release_id) -> dict[str, str]:
    folder = remote_dir / "releases" / release_id
    return {p.name: bundle.sha256_file(p) for p in folder.iterdir()}


def test_fresh_deploy_installs_checked_files_behind_current(
    run_cli, synthetic_bundle, remote_dir, ssh_args, device_python
):
    proc = deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python,
                      "--variant", "fp32", "--json")

    result = json.loads(proc.stdout)
    assert result["live"] == result["release"] == current_release(remote_dir)
    assert result["previous"] == ""
    manifest = json.loads((remote_dir / "current" / "manifest.json").read_text())
    assert set(manifest["artifacts"]) == {"fp32"}  # only the chosen variant travels
    local = bundle.read_manifest(synthetic_bundle)
    assert release_files(remote_dir, result["release"]) == {
        "manifest.json": bundle.sha256_bytes((remote_dir / "current/manifest.json").read_bytes()),
        "lenet5_fp32.tflite": local["artifacts"]["fp32"]["sha256"],
        "reference.npz": local["reference"]["sha256"],
    }
    assert not list((remote_dir / "releases").glob("*.partial"))


def test_redeploy_switches_current_and_keeps_the_previous_release(
    run_cli, synthetic_bundle, tmp_path, remote_dir, ssh_args, device_python
):
    first = json.loads(deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args,
                                  device_python, "--json").stdout)
    newer = make_synthetic_bundle(tmp_path / "newer", seed=1)
    second = json.loads(deploy_cli(run_cli, newer, remote_dir, ssh_args, device_python,
                                   "--json").stdout)
    third = json.loads(deploy_cli(run_cli, newer, remote_dir, ssh_args, device_python,
                                  "--json").stdout)

    assert second["previous"] == first["release"]
    assert third["previous"] == second["release"]
    assert current_release(remote_dir) == third["release"]
    # The live release and the one before it (the rollback target) are kept, older pruned.
    kept = sorted(p.name for p in (remote_dir / "releases").iterdir())
    assert kept == sorted([second["release"], third["release"]])
    new_sha = bundle.read_manifest(newer)["artifacts"]["int8"]["sha256"]
    assert release_files(remote_dir, third["release"])["lenet5_int8.tflite"] == new_sha


@pytest.fixture
def device(sshd, ssh_options, remote_dir):
    """A connected transport and the remote layout, for driving the install steps directly."""
    with Transport(parse_target("127.0.0.1", port=sshd.port), ssh_options) as transport:
        layout = install.RemoteLayout.parse(str(remote_dir))
        remote_dir_claim(transport, layout)  # as deploy does first: the directory is ours
        yield transport, layout


def test_tampered_upload_is_detected_and_nothing_switched(device, synthetic_bundle, remote_dir):
    transport, layout = device
    packed = pack(synthetic_bundle)
    install.install_release(transport, layout, "live", packed)
    install.switch_current(transport, layout, "live")

    install.upload_release(transport, layout, "evil", packed.tar_bytes())
    # Someone changes a model on the device between upload and check.
    victim = remote_dir / "releases" / "evil.partial" / "lenet5_int8.tflite"
    victim.write_bytes(b"\x00" + victim.read_bytes()[1:])
    with pytest.raises(DeviceError, match="sha256 mismatch.*lenet5_int8.tflite"):
        install.check_release(transport, layout, "evil", packed.checksums)

    assert not (remote_dir / "releases" / "evil.partial").exists()
    assert current_release(remote_dir) == "live"


def test_wrong_manifest_checksum_is_refused(device, synthetic_bundle, remote_dir):
    transport, layout = device
    packed = pack(synthetic_bundle)
    install.upload_release(transport, layout, "r1", packed.tar_bytes())
    wrong = {**packed.checksums, "reference.npz": "0" * 64}
    with pytest.raises(DeviceError, match="reference.npz"):
        install.check_release(transport, layout, "r1", wrong)
    assert not (remote_dir / "releases").joinpath("r1.partial").exists()


def test_connection_dropped_mid_upload_leaves_the_live_release_intact(
    sshd, device, tmp_path, remote_dir, run_cli, ssh_args, device_python
):
    transport, layout = device
    live = install.new_release_id()  # a later deploy keeps only what has our id
    install.install_release(transport, layout, live, pack(make_synthetic_bundle(
        tmp_path / "small")))
    install.switch_current(transport, layout, live)
    before = release_files(remote_dir, live)
    # 3 MB in 64 KiB chunks: the connection dies after the first chunk, mid-transfer.
    big = pack(make_synthetic_bundle(tmp_path / "big", model_bytes=1 << 20))

    with pytest.raises(DeviceError, match="connection to the device lost|ssh failed"):
        install.upload_release(transport, layout, install.new_release_id(), big.tar_bytes(),
                               on_chunk=lambda sent, total: sshd.drop_connections())

    assert current_release(remote_dir) == live
    assert release_files(remote_dir, live) == before
    # The next deploy cleans the interrupted upload away and goes live.
    result = json.loads(deploy_cli(run_cli, tmp_path / "big", remote_dir, ssh_args,
                                   device_python, "--json").stdout)
    assert current_release(remote_dir) == result["release"]
    assert not list((remote_dir / "releases").glob("*.partial"))


def test_disk_full_during_upload_removes_the_partial_release(device, tmp_path, tmpfs):
    transport, _ = device
    small_disk = tmpfs(256)  # KiB; the bundle below is ~1.5 MB
    layout = install.RemoteLayout.parse(str(small_disk / "lenet-edge"))
    big = pack(make_synthetic_bundle(tmp_path / "big", model_bytes=500_000))

    with pytest.raises(DeviceError, match=r"Wrote only.*KiB free"):
        install.upload_release(transport, layout, "full", big.tar_bytes())
    assert list((small_disk / "lenet-edge" / "releases").iterdir()) == []


def test_preflight_refuses_a_disk_too_small_before_uploading(
    run_cli, tmp_path, tmpfs, ssh_args, device_python
):
    small_disk = tmpfs(256)
    big = make_synthetic_bundle(tmp_path / "big", model_bytes=500_000)
    proc = deploy_cli(run_cli, big, small_disk / "lenet-edge", ssh_args, device_python,
                      check=False)
    assert proc.returncode == 7
    assert "KiB free" in proc.stderr
    assert list(small_disk.iterdir()) == []  # nothing was created


def test_read_only_remote_dir_is_a_clear_error(
    run_cli, synthetic_bundle, tmpfs, ssh_args, device_python
):
    read_only = tmpfs(1024, read_only=True)
    proc = deploy_cli(run_cli, synthetic_bundle, read_only / "lenet-edge", ssh_args,
                      device_python, check=False)
    assert proc.returncode == 7
    assert "Read-only file system" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.returncode != 70


def test_second_deploy_fails_clearly_while_another_holds_the_lock(
    device, run_cli, synthetic_bundle, remote_dir, ssh_args, device_python
):
    transport, layout = device
    with install.remote_lock(transport, layout, wait=5):
        proc = deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python,
                          "--lock-timeout", "1", check=False)
    assert proc.returncode == 7
    assert "another deploy holds" in proc.stderr
    assert current_release(remote_dir) == ""  # the blocked deploy changed nothing


def test_second_deploy_waits_for_the_lock_then_goes_live(
    device, run_cli, synthetic_bundle, remote_dir, ssh_args, device_python
):
    transport, layout = device
    locked, release = threading.Event(), threading.Event()

    def hold():
        with install.remote_lock(transport, layout, wait=5):
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(30)
    # Let the waiting deploy in once it has started waiting (it is blocked on flock).
    threading.Timer(2.0, release.set).start()
    proc = deploy_cli(run_cli, synthetic_bundle, remote_dir, ssh_args, device_python,
                      "--lock-timeout", "60", "--json")
    holder.join()
    assert json.loads(proc.stdout)["live"] == current_release(remote_dir)
