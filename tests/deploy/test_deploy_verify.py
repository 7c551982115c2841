"""Deploy a real converted bundle and verify it on the "device" (the runtime-only venv behind
the test sshd): results come back into the bundle; a failing verification is rolled back.
"""

from __future__ import annotations

import json

import pytest
from synthetic_bundle import current_release

pytestmark = pytest.mark.ssh

# Two variants keep the device-side verify short; both TFLite and ONNX runtimes are used.
VARIANTS = ["--variant", "fp32", "--variant", "onnx-fp32"]


def deploy(run_cli, model, remote_dir, ssh_args, device_python, *extra, check=True):
    # COLUMNS: the tests read the tables and messages whole, whatever terminal runs pytest.
    return run_cli("deploy", model, "127.0.0.1", *ssh_args, "--remote-dir", remote_dir,
                   "--remote-python", device_python, *extra, check=check, timeout=600,
                   env={"COLUMNS": "200"})


def test_deploy_verifies_and_benchmarks_on_the_device_and_brings_results_back(
    run_cli, fresh_bundle, remote_dir, ssh_args, device_python, sshd
):
    proc = deploy(run_cli, fresh_bundle, remote_dir, ssh_args, device_python, *VARIANTS,
                  "--benchmark", "--min-time", "0.05")

    verify = json.loads((fresh_bundle / "device-127.0.0.1-verify.json").read_text())
    assert verify["passed"] is True
    assert {(r["variant"], r["runtime"], r["status"]) for r in verify["results"]} == {
        ("fp32", "litert", "pass"), ("onnx-fp32", "onnxruntime", "pass")}
    bench = json.loads((fresh_bundle / "device-127.0.0.1-benchmark.json").read_text())
    assert {r["variant"] for r in bench["results"]} == {"fp32", "onnx-fp32"}
    assert all(r["p50_us"] > 0 for r in bench["results"] if r["status"] == "ok")
    # What came back is what the device wrote for this release.
    on_device = remote_dir / "results" / f"{current_release(remote_dir)}-verify.json"
    assert json.loads(on_device.read_text()) == verify
    assert "verify on 127.0.0.1" in proc.stdout and "fp32" in proc.stdout
    assert "[1/2] verified" in proc.stderr  # the device's progress, shown while it ran


def test_device_results_are_printed_beside_local_ones(
    run_cli, fresh_bundle, remote_dir, ssh_args, device_python
):
    run_cli("verify", fresh_bundle, "--variant", "fp32", "--json", fresh_bundle / "verify.json",
            python=device_python)
    proc = deploy(run_cli, fresh_bundle, remote_dir, ssh_args, device_python,
                  "--variant", "fp32")
    assert "local accuracy" in proc.stdout
    local = json.loads((fresh_bundle / "verify.json").read_text())["results"][0]["accuracy"]
    assert proc.stdout.count(f"{local * 100:.2f}%") == 2  # device and local agree here


def test_failing_verification_on_the_device_rolls_back(
    run_cli, fresh_bundle, remote_dir, ssh_args, device_python
):
    good = json.loads(deploy(run_cli, fresh_bundle, remote_dir, ssh_args, device_python,
                             "--variant", "fp32", "--json").stdout)
    # A gate no model can pass: accuracy may not drop by more than -1 points.
    proc = deploy(run_cli, fresh_bundle, remote_dir, ssh_args, device_python,
                  "--variant", "fp32", "--max-drop", "-1", "--json", check=False)

    assert proc.returncode == 1
    bad = json.loads(proc.stdout)
    assert bad["passed"] is False and bad["rolled_back"] is True
    assert current_release(remote_dir) == good["release"] == bad["live"]
    assert (remote_dir / "releases" / f"{bad['release']}.failed").is_dir()
    verify = json.loads((fresh_bundle / "device-127.0.0.1-verify.json").read_text())
    assert verify["passed"] is False


def test_first_deploy_failing_verification_leaves_no_live_release(
    run_cli, fresh_bundle, remote_dir, ssh_args, device_python
):
    proc = deploy(run_cli, fresh_bundle, remote_dir, ssh_args, device_python,
                  "--variant", "fp32", "--max-drop", "-1", check=False)
    assert proc.returncode == 1
    assert not (remote_dir / "current").exists()
    assert "rolled back to no release" in proc.stderr


def test_fleet_deploys_in_parallel_with_a_row_per_host_and_exit_1_on_any_failure(
    run_cli, fresh_bundle, tmp_path, sshd, ssh_args, device_python
):
    from sshd import free_port

    inventory = tmp_path / "inventory.ini"
    # pi1 and pi2 are the same sshd under two names with their own remote dirs; "dead" has
    # nothing listening. One failing host must not stop the others.
    inventory.write_text(
        "[pis]\n"
        f"pi1 ansible_host=127.0.0.1 ansible_port={sshd.port}\n"
        f"pi2 ansible_host=127.0.0.1 ansible_port={sshd.port}\n"
        f"dead ansible_host=127.0.0.1 ansible_port={free_port()}\n")
    options = list(ssh_args)
    del options[options.index("--port"):options.index("--port") + 2]
    proc = run_cli("deploy", fresh_bundle, "--hosts", inventory, *options,
                   "--remote-dir", tmp_path / "fleet", "--remote-python", device_python,
                   "--variant", "fp32", "--json", check=False, timeout=600)

    assert proc.returncode == 1
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["pi1"]["ok"] and rows["pi2"]["ok"]
    assert rows["dead"]["exit_code"] == 7 and "cannot reach" in rows["dead"]["error"]
    for name in ("pi1", "pi2"):
        assert json.loads((fresh_bundle / f"device-{name}-verify.json").read_text())["passed"]
    # Both names are one device and one remote dir: the lock made them take turns.
    releases = sorted(p.name for p in (tmp_path / "fleet" / "releases").iterdir())
    assert len(releases) == 2
