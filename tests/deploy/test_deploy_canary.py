"""Canary roll-outs: the batch schedule (pure arithmetic), the health check's known answers,
and, against a real OpenSSH server, a canary that fails stopping the roll-out before the
other devices are touched.

Three devices: one sshd listening on three ports, one per inventory alias. A `Match
LocalPort` block gives each port its own login directory (the relative --remote-dir lands
in it) and its own `python3` on PATH, as three Pis each have their own home and Python.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from sshd import SshServer, free_port
from synthetic_bundle import current_release

from lenet_edge import bundle
from lenet_edge.deploy.health_check import HealthCheck, VariantHealth, known_answers
from lenet_edge.deploy.rollout import Rollout, batch_sizes, parse_batches
from lenet_edge.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
TFLITE_ONLY_PYTHON = REPO / ".venv-tflite" / "bin" / "python"  # a device without onnxruntime

# --- the schedule ---------------------------------------------------------------------------


@pytest.mark.parametrize(("entries", "hosts", "sizes"), [
    ((), 5, [5]),  # no schedule: every host at once, as before
    (("1", "100%"), 5, [1, 4]),  # --canary 1
    (("2", "100%"), 2, [2]),  # a canary as big as the fleet: one batch
    (("3", "100%"), 2, [2]),  # bigger: capped to the hosts there are
    (("1", "10%", "100%"), 30, [1, 3, 26]),  # Ansible's own example
    (("1", "10%"), 30, [1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]),  # the last entry repeats
    (("10%",), 5, [1, 1, 1, 1, 1]),  # 10% of 5 rounds down to 0: at least one host
    (("50%",), 5, [2, 2, 1]),  # rounded down, not up
    (("29%",), 100, [28, 28, 28, 16]),  # Ansible's float: 0.29 * 100 = 28.999... -> 28
    (("2",), 5, [2, 2, 1]),
    (("1", "100%"), 0, []),
])
def test_batch_sizes_follow_ansibles_serial(entries, hosts, sizes):
    assert batch_sizes(entries, hosts) == sizes
    assert sum(sizes) == hosts


def test_batch_sizes_equal_ansibles_own_arithmetic():
    # The emitted playbook's serial must split a fleet exactly as the SSH path does.
    from ansible.utils.helpers import pct_to_int

    for hosts in range(1, 120):
        for percent in range(1, 101):
            assert batch_sizes((f"{percent}%",), hosts)[0] == pct_to_int(f"{percent}%", hosts)


@pytest.mark.parametrize("text", ["", "0", "1,,2", "101%", "0%", "-1", "1.5", "10 %x", "abc",
                                  "1;2", "%"])
def test_bad_batch_entries_are_refused_naming_the_entry(text):
    with pytest.raises(UsageError, match="invalid --batches entry"):
        parse_batches(text)


def test_batch_entries_are_read_with_spaces_around_commas():
    assert parse_batches("1, 10%,100%") == ("1", "10%", "100%")


def test_canary_is_the_first_batch_of_a_schedule():
    assert Rollout.from_options(2, None, None).batches == ("2", "100%")
    assert Rollout.from_options(None, "1,10%,100%", 20).batches == ("1", "10%", "100%")
    assert not Rollout.from_options(None, None, None).staged


@pytest.mark.parametrize(("canary", "batches", "limit", "message"), [
    (1, "1,100%", None, "not both"),
    (0, None, None, "--canary must be a number of hosts >= 1"),
    (-2, None, None, "--canary must be a number of hosts >= 1"),
    (None, None, 10, "--max-fail-percent needs batches"),
    (1, None, 101, r"--max-fail-percent must be a number in \[0, 100\]"),
    (1, None, -1, r"--max-fail-percent must be a number in \[0, 100\]"),
    (1, None, float("nan"), r"--max-fail-percent must be a number in \[0, 100\]"),
])
def test_schedules_that_mean_nothing_are_refused(canary, batches, limit, message):
    with pytest.raises(UsageError, match=message):
        Rollout.from_options(canary, batches, limit)


def test_any_canary_failure_stops_the_roll_out():
    rollout = Rollout.from_options(3, None, 100)  # even with the loosest limit
    assert rollout.stop_reason(0, 3, 1) == "roll-out stopped after canary failure"
    assert rollout.stop_reason(0, 3, 0) == ""


def test_max_fail_percent_counts_the_failures_of_each_later_batch():
    rollout = Rollout.from_options(None, "1,10", 20)
    assert rollout.stop_reason(1, 10, 2) == ""  # 20% is not more than 20%
    assert rollout.stop_reason(1, 10, 3) == (
        "roll-out stopped: 3 of 10 hosts of batch 2 failed, more than 20%")
    assert rollout.stop_reason(2, 3, 1) != ""  # 33% of a small batch
    assert Rollout.from_options(None, "1,10", 0).stop_reason(1, 10, 1) != ""  # none allowed


def test_without_a_limit_only_a_batch_that_failed_entirely_stops_it():
    rollout = Rollout.from_options(1, None, None)
    assert rollout.stop_reason(1, 4, 3) == ""
    assert rollout.stop_reason(1, 4, 4) == "roll-out stopped: every host of batch 2 failed"
    assert Rollout().stop_reason(0, 4, 4) == ""  # no schedule: one failing host stops nobody


# --- the health check's known answers -------------------------------------------------------


def test_known_answers_are_one_confident_right_image_per_class():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1, 2, 3])
    logits = np.zeros((6, 10), np.float32)
    logits[[0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 2, 5]] = [2.0, 9.0, 3.0, 1.0, 4.0, 8.0]
    images = rng.integers(0, 255, (6, 28, 28), dtype=np.uint8)
    answers = known_answers(bundle.Reference(images, labels, logits))
    # Class 0: image 1 (widest margin); class 1: image 2; class 2: image 4; the float model
    # gets image 5 wrong (says 5, label 3), so class 3 and 5 have no known answer.
    assert answers.expected == (0, 1, 2)
    assert np.array_equal(answers.images, images[[1, 2, 4]])
    assert np.load(__import__("io").BytesIO(answers.npy_bytes())).shape == (3, 28, 28)


def test_known_answers_of_the_digits_bundle_cover_every_class(committed_bundle):
    answers = known_answers(bundle.load_reference(committed_bundle,
                                                  bundle.read_manifest(committed_bundle)))
    assert answers.expected == tuple(range(10))


def test_a_health_check_fails_on_one_wrong_answer_or_a_failed_predict():
    check = HealthCheck([3, 7], [VariantHealth("fp32", "auto", [3, 7]),
                                 VariantHealth("int8", "auto", [3, 1])])
    assert not check.passed and check.summary == "int8: 1 of 2 known answers wrong"
    check.variants[1] = VariantHealth("int8", "auto", error="exit 4: bad model")
    assert check.summary == "int8: predict failed: exit 4: bad model"
    check.variants.pop()
    assert check.passed and check.summary == "1 variants x 2 known answers right"
    assert not HealthCheck([], []).passed  # nothing to ask is not a pass


def test_the_fleet_table_says_which_hosts_were_not_started():
    from rich.console import Console

    from lenet_edge.deploy.fleet import HostOutcome
    from lenet_edge.deploy.inventory import HostEntry
    from lenet_edge.deploy.release import DeployResult
    from lenet_edge.deploy.tables import fleet_table
    from lenet_edge.deploy.target import parse_target

    def entry(name):
        return HostEntry(name, parse_target("10.0.0.5"))

    why = "roll-out stopped after canary failure"
    outcomes = [HostOutcome(entry("pi1"), DeployResult("pi1", "10.0.0.5", rolled_back=True),
                            "verification failed; rolled back", 1),
                HostOutcome(entry("pi2"), exit_code=1, batch=2, not_started=why)]
    console = Console(record=True, width=200)
    console.print(fleet_table(outcomes))
    text = console.export_text()
    assert "deploy to 2 devices: 0 ok, 1 not started" in text
    assert "rolled back (exit 1)" in text
    assert f"not started ({why})" in text
    assert [o.as_dict()["status"] for o in outcomes] == ["rolled back", f"not started ({why})"]


# --- three devices behind one sshd ----------------------------------------------------------


class Devices:
    """One sshd, one port per device; each port logs in to its own home with its own
    python3 first on PATH."""

    def __init__(self, workdir: Path, names: list[str], python: str) -> None:
        self.server = SshServer(workdir / "sshd")
        self.ports = {name: (self.server.port if i == 0 else free_port())
                      for i, name in enumerate(names)}
        self.homes = {name: workdir / name for name in names}
        config = self.server.config.read_text()
        config += "".join(f"Port {port}\n" for port in list(self.ports.values())[1:])
        for name, port in self.ports.items():
            home = self.homes[name]
            (home / "bin").mkdir(parents=True)
            self.set_python(name, python)
            config += (f"Match LocalPort {port}\n"
                       f"  ForceCommand cd {home} && PATH={home}/bin:$PATH && "
                       'eval "$SSH_ORIGINAL_COMMAND"\n')
        self.server.config.write_text(config)

    def set_python(self, name: str, python: str | Path) -> None:
        """The device's python3: a wrapper, as a venv's python must run from its own path."""
        wrapper = self.homes[name] / "bin" / "python3"
        wrapper.write_text(f'#!/bin/sh\nexec {python} "$@"\n')
        wrapper.chmod(0o755)

    def deploy_dir(self, name: str) -> Path:
        return self.homes[name] / "lenet-edge"

    def state(self, name: str) -> dict:
        """What a deploy could change on the device: `current`, releases, results."""
        root = self.deploy_dir(name)
        return {"current": current_release(root),
                "releases": sorted(p.name for p in (root / "releases").iterdir()),
                "results": sorted(p.name for p in (root / "results").iterdir())}

    def connections(self, name: str) -> int:
        """Connections sshd accepted on this device's port (its VERBOSE log says each)."""
        accepted = re.findall(r"Connection from \S+ port \d+ on \S+ port (\d+)",
                              self.server.log.read_text())
        return accepted.count(str(self.ports[name]))


@pytest.fixture
def devices(tmp_path, device_python):
    yield from started_devices(tmp_path, ["pi1", "pi2", "pi3"], device_python)


def started_devices(tmp_path, names, python):
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("sshd missing: apt-get install openssh-server openssh-client")
    fleet = Devices(tmp_path / "devices", names, python)
    fleet.server.start()
    yield fleet
    fleet.server.stop()


@pytest.fixture
def fleet_args(devices, tmp_path):
    return fleet_options(devices, tmp_path)


def fleet_options(devices, tmp_path) -> list:
    """deploy's options for these devices: an inventory of their aliases, keys, python3."""
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[pis]\n" + "".join(
        f"{name} ansible_host=127.0.0.1 ansible_port={port}\n"
        for name, port in devices.ports.items()))
    known = tmp_path / "known_hosts"
    key = Path(f"{devices.server.host_key}.pub").read_text().split()
    known.write_text("".join(f"[127.0.0.1]:{port} {key[0]} {key[1]}\n"
                             for port in devices.ports.values()))
    return ["--hosts", inventory, "--identity", devices.server.client_key, "--known-hosts",
            known, "--ssh-config", os.devnull, "--ssh-option", "GlobalKnownHostsFile=/dev/null",
            "--connect-timeout", "5", "--remote-dir", "lenet-edge", "--remote-python", "python3"]


def roll_out(run_cli, model, fleet_args, *extra):
    proc = run_cli("deploy", model, *fleet_args, "--json", *extra, check=False, timeout=600,
                   env={"COLUMNS": "200"})
    try:
        rows = {row["name"]: row for row in json.loads(proc.stdout)}
    except json.JSONDecodeError:
        pytest.fail(f"deploy exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return proc, rows


@pytest.mark.ssh
def test_a_canary_failing_verification_stops_the_roll_out_before_other_hosts_are_touched(
    run_cli, fresh_bundle, devices, fleet_args
):
    variants = ["--variant", "fp32", "--variant", "int8"]
    proc, rows = roll_out(run_cli, fresh_bundle, fleet_args, "--canary", "1", *variants)
    assert proc.returncode == 0, proc.stderr
    assert [(r["status"], r["batch"]) for r in rows.values()] == [
        ("deployed", 1), ("deployed", 2), ("deployed", 2)]
    for row in rows.values():  # every host ran predict on its known answers, all right
        health = row["result"]["health"]
        assert health["passed"] and health["expected"] == list(range(10))
        assert [v["variant"] for v in health["variants"]] == ["fp32", "int8"]
    before = {name: devices.state(name) for name in rows}
    connections = {name: devices.connections(name) for name in rows}

    # A gate no model can pass (accuracy may not drop by more than -1 points): the canary
    # fails verification on its device.
    proc, rows = roll_out(run_cli, fresh_bundle, fleet_args, "--canary", "1", *variants,
                          "--max-drop", "-1")

    assert proc.returncode == 1
    assert rows["pi1"]["status"] == "rolled back"
    assert rows["pi1"]["result"]["verify"]["passed"] is False
    for name in ("pi2", "pi3"):
        assert rows[name]["status"] == "not started (roll-out stopped after canary failure)"
        assert rows[name]["result"] is None and rows[name]["exit_code"] == 1
        assert devices.state(name) == before[name]  # `current`, releases, results: as they were
        assert devices.connections(name) == connections[name]  # never even connected to
    assert devices.connections("pi1") > connections["pi1"]  # the count sees connections
    canary = devices.state("pi1")
    assert canary["current"] == before["pi1"]["current"]  # rolled back
    assert f"{rows['pi1']['result']['release']}.failed" in canary["releases"]
    assert "fleet: roll-out stopped after canary failure" in proc.stderr


@pytest.mark.ssh
def test_a_canary_whose_device_cannot_run_a_variant_fails_the_health_check_and_stops_the_rest(
    run_cli, fresh_bundle, devices, fleet_args
):
    # pi2, the second of two canaries, lost onnxruntime (its Python has tflite-runtime only).
    # verify passes there (it skips a variant no interpreter on the device runs), but
    # `predict` with that variant fails: the health check rolls pi2 back and stops the
    # roll-out. pi1 keeps the new release it checked; pi3 is never touched.
    if not TFLITE_ONLY_PYTHON.exists():
        pytest.skip(f"{TFLITE_ONLY_PYTHON} is missing: run 'make test' (it builds it)")
    variants = ["--variant", "fp32", "--variant", "onnx-fp32"]
    first, _ = roll_out(run_cli, fresh_bundle, fleet_args, *variants)
    assert first.returncode == 0, first.stderr
    before = {name: devices.state(name) for name in devices.homes}
    devices.set_python("pi2", TFLITE_ONLY_PYTHON)

    proc, rows = roll_out(run_cli, fresh_bundle, fleet_args, "--canary", "2", *variants)

    assert proc.returncode == 1
    assert rows["pi1"]["status"] == "deployed"
    assert devices.state("pi1")["current"] == rows["pi1"]["result"]["release"]
    pi2 = rows["pi2"]
    assert pi2["status"] == "rolled back" and pi2["exit_code"] == 1
    assert pi2["result"]["verify"]["passed"] is True
    assert [s["variant"] for s in pi2["result"]["verify"]["skipped"]] == ["onnx-fp32"]
    health = pi2["result"]["health"]
    assert not health["passed"]
    assert [(v["variant"], v["passed"]) for v in health["variants"]] == [
        ("fp32", True), ("onnx-fp32", False)]
    assert "no onnx runtime is installed" in health["variants"][1]["error"]
    assert pi2["error"].startswith("health check failed (onnx-fp32: predict failed: exit 6")
    assert devices.state("pi2")["current"] == before["pi2"]["current"]
    assert rows["pi3"]["status"] == "not started (roll-out stopped after canary failure)"
    assert devices.state("pi3") == before["pi3"]


def test_canary_options_are_refused_before_anything_connects(run_cli, synthetic_bundle,
                                                             tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1:{free_port()}\n")  # nothing listens: a connection would fail
    for extra, message in (
            (["--hosts", hosts, "--canary", "0"], "--canary must be a number of hosts >= 1"),
            (["--hosts", hosts, "--canary", "1", "--batches", "1,100%"], "not both"),
            (["--hosts", hosts, "--batches", "1,0%"], "invalid --batches entry '0%'"),
            (["--hosts", hosts, "--max-fail-percent", "5"], "needs batches"),
            (["127.0.0.1", "--canary", "1"], "one HOST has no batches")):
        proc = run_cli("deploy", synthetic_bundle, *extra, check=False)
        assert proc.returncode == 2, proc.stderr
        [line] = proc.stderr.splitlines()
        assert line.startswith("lenet-edge: error: ") and message in line


def test_help_documents_the_schedule(run_cli):
    text = run_cli("deploy", "--help", env={"COLUMNS": "200"}).stdout
    for option in ("--canary", "--batches", "--max-fail-percent"):
        assert option in text
    assert "1,10%,100%" in text and "max_fail_percentage" in text


# --- the same schedule in the emitted Ansible playbook --------------------------------------


def emit(run_cli, model, inventory: Path, out: Path, *extra):
    run_cli("deploy", model, "--hosts", inventory, "--emit-ansible", out, *extra)
    return (out / "inventory.ini").read_text(), (out / "deploy.yml").read_text()


def test_emitted_playbook_has_the_canary_play_then_serial_batches(
    run_cli, synthetic_bundle, tmp_path
):
    from test_deploy_ansible import ansible

    hosts = tmp_path / "inventory.ini"
    hosts.write_text("".join(f"pi{i} ansible_host=10.0.0.{i}\n" for i in range(1, 11)))
    inventory, playbook = emit(run_cli, synthetic_bundle, hosts, tmp_path / "out",
                               "--batches", "2,30%", "--max-fail-percent", "25")

    ansible("--syntax-check", "-i", "inventory.ini", "deploy.yml", cwd=tmp_path / "out",
            tmp_path=tmp_path)
    assert inventory.endswith("[canary]\npi1\npi2\n[after_canary]\n"
                              + "".join(f"pi{i}\n" for i in range(3, 11)))
    # The SSH path's batches for these 10 hosts: 2 canaries, then 30% = 3 at a time.
    assert batch_sizes(("2", "30%"), 10) == [2, 3, 3, 2]
    assert playbook.count("\n- name: ") == 2
    assert '  hosts: "canary"\n' in playbook and '  hosts: "after_canary"\n' in playbook
    assert "  serial: [3, 3, 2]\n  max_fail_percentage: 25\n" in playbook
    assert "roll-out stopped after canary failure" in playbook

    _, unstaged = emit(run_cli, synthetic_bundle, hosts, tmp_path / "out")
    assert unstaged.count("\n- name: ") == 1 and "serial" not in unstaged


@pytest.mark.ssh
def test_emitted_playbook_stops_after_a_failing_canary_before_the_other_devices(
    run_cli, fresh_bundle, devices, tmp_path, device_python
):
    from test_deploy_ansible import ansible

    hosts, known = _ansible_inventory(devices, tmp_path)
    # Absolute: Ansible puts a relative --remote-dir in the login's home from its facts,
    # the same for the three aliases. The device that would fail is the canary alone.
    remote = tmp_path / "device" / "lenet-edge"
    out = tmp_path / "ansible"
    emit(run_cli, fresh_bundle, hosts, out, "--canary", "1", "--variant", "fp32",
         "--max-drop", "-1", "--remote-dir", remote, "--remote-python", device_python)

    proc = ansible("-i", "inventory.ini", "deploy.yml",
                   "-e", f"ansible_ssh_private_key_file={devices.server.client_key}",
                   "-e", f"ansible_python_interpreter={device_python}",
                   "-e", f"ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile={known}"
                         " -o GlobalKnownHostsFile=/dev/null'",
                   cwd=out, tmp_path=tmp_path, check=False)

    assert proc.returncode != 0
    assert "verify failed on the device (exit 1: " in proc.stdout
    assert "after_canary" not in proc.stdout.split("PLAY RECAP")[0]  # the later play never ran
    assert "pi2" not in proc.stdout and "pi3" not in proc.stdout
    assert devices.connections("pi1") > 0
    assert devices.connections("pi2") == devices.connections("pi3") == 0
    assert current_release(remote) == ""  # the canary's first release rolled back
    assert len(list((remote / "releases").glob("*.failed"))) == 1


@pytest.mark.ssh
def test_emitted_playbook_rolls_back_when_the_health_check_fails(
    run_cli, fresh_bundle, tmp_path, sshd, known_hosts, remote_dir, device_python
):
    # A device Python with tflite-runtime only: verify passes (it skips the ONNX variant it
    # cannot run), predict with that variant fails, so the health check rolls back.
    from test_deploy_ansible import ansible

    if not TFLITE_ONLY_PYTHON.exists():
        pytest.skip(f"{TFLITE_ONLY_PYTHON} is missing: run 'make test' (it builds it)")
    out = tmp_path / "ansible"
    run_cli("deploy", fresh_bundle, "127.0.0.1", "--port", sshd.port, "--emit-ansible", out,
            "--remote-dir", remote_dir, "--remote-python", TFLITE_ONLY_PYTHON,
            "--variant", "fp32", "--variant", "onnx-fp32")
    assert np.load(out / "known-answers.npy").shape == (10, 28, 28)

    proc = ansible("-i", "inventory.ini", "deploy.yml",
                   "-e", f"ansible_ssh_private_key_file={sshd.client_key}",
                   "-e", f"ansible_python_interpreter={device_python}",
                   "-e", f"ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile="
                         f"{known_hosts} -o GlobalKnownHostsFile=/dev/null'",
                   cwd=out, tmp_path=tmp_path, check=False)

    assert proc.returncode != 0
    assert "health check failed on the device" in proc.stdout
    assert "no onnx runtime is installed" in proc.stdout
    verify = json.loads((fresh_bundle / "device-127.0.0.1-verify.json").read_text())
    assert verify["passed"] is True  # verify alone would have let it go live
    assert current_release(remote_dir) == ""  # rolled back: the first release is not live
    assert len(list((remote_dir / "releases").glob("*.failed"))) == 1
    assert not (remote_dir / ".deploy.lock.d").exists()
    assert not list(Path("/tmp").glob("ansible.*.npy"))  # the images were removed


@pytest.mark.ssh
def test_one_host_failing_its_health_check_is_rolled_back_and_says_why(
    run_cli, fresh_bundle, remote_dir, ssh_args
):
    if not TFLITE_ONLY_PYTHON.exists():
        pytest.skip(f"{TFLITE_ONLY_PYTHON} is missing: run 'make test' (it builds it)")
    proc = run_cli("deploy", fresh_bundle, "127.0.0.1", *ssh_args, "--remote-dir", remote_dir,
                   "--remote-python", TFLITE_ONLY_PYTHON, "--variant", "fp32",
                   "--variant", "onnx-fp32", check=False, timeout=600, env={"COLUMNS": "200"})

    assert proc.returncode == 1
    assert ("health check (onnx-fp32: predict failed: exit 6: lenet-edge: error: no onnx "
            "runtime is installed") in proc.stderr
    assert "failed on 127.0.0.1: rolled back to no release" in proc.stderr
    assert "FAILED, rolled back" in proc.stdout and "health check" in proc.stdout
    assert "127.0.0.1: health check: predict 10 known answers with fp32" in proc.stderr
    assert current_release(remote_dir) == ""


@pytest.mark.ssh
def test_emitted_playbook_goes_on_in_batches_after_a_passing_canary(
    run_cli, synthetic_bundle, devices, tmp_path, device_python
):
    from test_deploy_ansible import ansible

    hosts, known = _ansible_inventory(devices, tmp_path)
    remote = tmp_path / "device" / "lenet-edge"  # one directory: batches of one take turns
    out = tmp_path / "ansible"
    emit(run_cli, synthetic_bundle, hosts, out, "--batches", "1", "--max-fail-percent", "0",
         "--no-verify", "--remote-dir", remote, "--remote-python", device_python)

    proc = ansible("-i", "inventory.ini", "deploy.yml",
                   "-e", f"ansible_ssh_private_key_file={devices.server.client_key}",
                   "-e", f"ansible_python_interpreter={device_python}",
                   "-e", f"ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile={known}"
                         " -o GlobalKnownHostsFile=/dev/null'",
                   cwd=out, tmp_path=tmp_path)

    plays = proc.stdout.split("PLAY [")[1:]
    assert [p.split("]")[0].split(":")[0] for p in plays[:3]] == [
        "Canary", "After the canary, in batches", "After the canary, in batches"]
    # One host per batch, in the inventory's order; the canary's stop task was skipped.
    assert [sorted(set(re.findall(r"\[(pi\d)\]", p))) for p in plays[:3]] == [
        ["pi1"], ["pi2"], ["pi3"]]
    assert "roll-out stopped" not in proc.stdout
    assert all(devices.connections(name) > 0 for name in devices.ports)
    assert len(list((remote / "releases").iterdir())) == 2  # the live one and the one before


@pytest.fixture
def four_devices(tmp_path, device_python):
    yield from started_devices(tmp_path, ["pi1", "pi2", "pi3", "pi4"], device_python)


@pytest.mark.ssh
def test_a_later_batch_over_max_fail_percent_stops_the_roll_out(
    run_cli, fresh_bundle, four_devices, tmp_path
):
    # Batches: pi1 (the canary), then pi2 + pi3, then pi4. pi3 fails its health check:
    # 1 of 2 in batch 2 is 50%, more than 40%, so pi4 is never started.
    if not TFLITE_ONLY_PYTHON.exists():
        pytest.skip(f"{TFLITE_ONLY_PYTHON} is missing: run 'make test' (it builds it)")
    devices = four_devices
    devices.set_python("pi3", TFLITE_ONLY_PYTHON)  # fails the health check of onnx-fp32
    proc, rows = roll_out(run_cli, fresh_bundle, fleet_options(devices, tmp_path),
                          "--batches", "1,2", "--max-fail-percent", "40",
                          "--variant", "onnx-fp32")

    assert proc.returncode == 1
    assert [(r["status"], r["batch"]) for r in rows.values()] == [
        ("deployed", 1), ("deployed", 2), ("rolled back", 2),
        ("not started (roll-out stopped: 1 of 2 hosts of batch 2 failed, more than 40%)", 3)]
    assert not devices.deploy_dir("pi4").exists() and devices.connections("pi4") == 0


def _ansible_inventory(devices, tmp_path):
    """An inventory with every device alias, and a known_hosts file that trusts each port."""
    hosts = tmp_path / "hosts.ini"
    hosts.write_text("".join(f"{name} ansible_host=127.0.0.1 ansible_port={port}\n"
                             for name, port in devices.ports.items()))
    known = tmp_path / "known_hosts"
    key = Path(f"{devices.server.host_key}.pub").read_text().split()
    known.write_text("".join(f"[127.0.0.1]:{port} {key[0]} {key[1]}\n"
                             for port in devices.ports.values()))
    return hosts, known
