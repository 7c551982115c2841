"""Inventories are checked like `--hosts` lines: host names pass the SSH path's host check and
only allow-listed variables of the right form reach the inventory --emit-ansible writes."""

from __future__ import annotations

import pytest

from lenet_edge.deploy.fleet import read_hosts
from lenet_edge.deploy.inventory import HostEntry, ini_text
from lenet_edge.deploy.target import parse_target
from lenet_edge.errors import UsageError

HOSTILE = {
    "quoted name with spaces": ('"pi one" ansible_host=10.0.0.5\n', 1, "invalid host"),
    "name carrying a variable": (
        "'pi1 ansible_ssh_common_args=\"-o ProxyCommand=touch SENTINEL\"' "
        "ansible_host=10.0.0.5\n", 1, "invalid host"),
    "ssh common args": (
        "pi1 ansible_host=10.0.0.5 ansible_ssh_common_args='-o ProxyCommand=touch SENTINEL'\n",
        1, "inventory variable 'ansible_ssh_common_args' refused"),
    "ssh extra args in group vars": (
        "[pis]\npi1 ansible_host=10.0.0.5\n[pis:vars]\n"
        "ansible_ssh_extra_args=-oProxyCommand=touch_SENTINEL\n",
        4, "inventory variable 'ansible_ssh_extra_args' refused"),
    "ssh executable": ("pi1 ansible_ssh_executable=/tmp/evil\n", 1,
                       "inventory variable 'ansible_ssh_executable' refused"),
    "interpreter with spaces": (
        "pi1 ansible_python_interpreter='touch SENTINEL; python3'\n", 1,
        "invalid interpreter 'touch SENTINEL; python3'"),
    "port with shell syntax": ("pi1 ansible_host=10.0.0.5 ansible_port='22;id'\n", 1,
                               "invalid port '22;id'"),
    "unclosed quote": ('pi1 ansible_host="10.0.0.5\n', 1, "cannot read"),
    "hostile group child": ("[all:children]\npis; touch SENTINEL\n", 2,
                            "expected a group name"),
}


@pytest.mark.parametrize("text, line, message", HOSTILE.values(), ids=HOSTILE)
def test_hostile_inventory_lines_are_refused_with_their_line(tmp_path, text, line, message):
    hosts = tmp_path / "inventory.ini"
    hosts.write_text(text)
    with pytest.raises(UsageError) as caught:
        read_hosts(hosts)
    assert str(caught.value).startswith(f"{hosts}:{line}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text, line, message", HOSTILE.values(), ids=HOSTILE)
def test_emit_ansible_refuses_a_hostile_inventory_in_one_line(
    run_cli, synthetic_bundle, tmp_path, text, line, message
):
    # Before: the quoted name and its ProxyCommand were copied into inventory.ini verbatim,
    # other variables dropped without a word (exit 0); an unclosed quote was exit 70.
    hosts = tmp_path / "inventory.ini"
    hosts.write_text(text)
    out = tmp_path / "ansible"
    proc = run_cli("deploy", synthetic_bundle, "--hosts", hosts, "--emit-ansible", out,
                   check=False, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1  # one line
    assert proc.stderr.startswith(f"lenet-edge: error: {hosts}:{line}: ")
    assert message in proc.stderr
    assert not out.exists()
    assert not (tmp_path / "SENTINEL").exists()


def test_allowed_variables_pass_through_checked(run_cli, synthetic_bundle, tmp_path):
    hosts = tmp_path / "inventory.ini"
    hosts.write_text("[pis]\npi1 ansible_host=10.0.0.5 ansible_python_interpreter=/usr/bin/"
                     "python3\n[all:vars]\nansible_user=pi\nansible_ssh_port=2222\n")
    out = tmp_path / "ansible"
    run_cli("deploy", synthetic_bundle, "--hosts", hosts, "--emit-ansible", out)
    assert (out / "inventory.ini").read_text().splitlines()[1:] == [
        "[devices]", "pi1 ansible_host=10.0.0.5 ansible_port=2222 ansible_user=pi "
                     "ansible_python_interpreter=/usr/bin/python3"]


def test_an_entry_made_in_code_is_checked_too():
    # The library API is a client as much as the CLI: the written inventory sees no raw name.
    with pytest.raises(UsageError, match="invalid host"):
        HostEntry("pi1 ansible_ssh_common_args=x", parse_target("10.0.0.5"))
    with pytest.raises(UsageError, match="not passed on"):
        HostEntry("pi1", parse_target("10.0.0.5"), (("ansible_ssh_executable", "/x"),))
    entry = HostEntry("pi1", parse_target("pi@10.0.0.5"), (("ansible_python_interpreter",
                                                            "python3"),))
    assert ini_text([entry]).endswith(
        "pi1 ansible_host=10.0.0.5 ansible_port=22 ansible_user=pi "
        "ansible_python_interpreter=python3\n")
