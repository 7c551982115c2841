"""Ansible INI inventories as hosts files, validated like `--hosts` lines, and written back.

An inventory feeds the SSH path (`--hosts`) and the emitted Ansible inventory
(`--emit-ansible`). Both take only what lenet-edge can check:

- host names pass the SSH path's host check (target.check_host): `"my host"` or a name
  carrying `ansible_ssh_common_args=...` is refused, never copied into the inventory we write;
- variables come from an allow-list, each checked by format (`VARIABLES`). Anything else is
  refused with its line: `ansible_ssh_common_args`, `ansible_ssh_extra_args`,
  `ansible_ssh_executable`, `ansible_*_interpreter` with spaces ... make Ansible run commands
  on this workstation or the device (`-o ProxyCommand=...`), and the SSH path would silently
  ignore what it cannot honour. Refusing (not dropping with a warning) keeps both paths equal.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from lenet_edge.deploy.target import Target, check_host, check_user, parse_target
from lenet_edge.errors import UsageError

SECTION = re.compile(r"\[([A-Za-z0-9_.-]+)(?::(vars|children))?\]")
_GROUP = re.compile(r"[A-Za-z0-9_.-]+")
_PORT = re.compile(r"[0-9]{1,5}")
# A path or a command name without spaces or shell syntax: /usr/bin/python3, python3, auto.
_INTERPRETER = re.compile(r"[A-Za-z0-9_./+][A-Za-z0-9_./+-]{0,255}")


def _port(value: str) -> str:
    if not _PORT.fullmatch(value) or not 1 <= int(value) <= 65535:
        raise UsageError(f"invalid port {value!r}: choose 1..65535")
    return value


def _interpreter(value: str) -> str:
    if not _INTERPRETER.fullmatch(value):
        raise UsageError(f"invalid interpreter {value!r}: a path without spaces or shell "
                         "syntax (letters, digits, '.', '_', '/', '+', '-')")
    return value


# The variables an inventory may set, each with its check. Host, port and user reach the SSH
# path too; ansible_python_interpreter only the emitted inventory (deploy's SSH path runs its
# own venv or --remote-python).
VARIABLES = {"ansible_host": check_host, "ansible_port": _port, "ansible_ssh_port": _port,
             "ansible_user": check_user, "ansible_python_interpreter": _interpreter}
PASSED_ON = ("ansible_python_interpreter",)  # written per host beside host, port and user


def check_variable(key: str, value: str) -> str:
    """Return `value` if `key` is on the allow-list and `value` passes its check.

    Raises:
        UsageError: a variable lenet-edge does not pass on, or a value of the wrong form.
    """
    check = VARIABLES.get(key)
    if check is None:
        raise UsageError(
            f"inventory variable {key!r} refused: lenet-edge takes only "
            f"{', '.join(VARIABLES)} (others can run commands, e.g. -o ProxyCommand); give "
            "ssh options with --ssh-option or to ansible-playbook, not in the hosts file")
    return check(value)


@dataclass(frozen=True)
class HostEntry:
    """One device of a fleet: its inventory name (labels result files) and where it is."""

    name: str
    target: Target
    variables: tuple[tuple[str, str], ...] = ()  # PASSED_ON variables for --emit-ansible

    def __post_init__(self) -> None:
        # Every entry, however made, is checked: the name lands in the inventory we write.
        check_host(self.name)
        for key, value in self.variables:
            if key not in PASSED_ON:
                raise UsageError(f"host {self.name}: {key} is not passed on")
            check_variable(key, value)


def read_ini(path: Path, content: list[tuple[int, str]], user, port) -> list[HostEntry]:
    """Hosts of an Ansible INI inventory; group / all vars give ansible_user and ansible_port.

    Args:
        content: (line number, stripped line) pairs without blank and comment lines.

    Raises:
        UsageError: naming `path:line` for a bad host name, variable, value or line.
    """
    group, kind = "ungrouped", "hosts"
    hosts: dict[str, tuple[int, dict, set]] = {}  # name -> (line, own vars, groups)
    group_vars: dict[str, dict] = {}
    for n, line in content:
        section = SECTION.fullmatch(line)
        if section:
            group, kind = section.group(1), section.group(2) or "hosts"
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:  # an unclosed quote
            raise UsageError(f"{path}:{n}: cannot read {line!r}: {exc}") from None
        if not tokens:
            continue
        if kind == "vars":
            group_vars.setdefault(group, {}).update(_pairs(path, n, tokens))
        elif kind == "children":
            if len(tokens) != 1 or not _GROUP.fullmatch(tokens[0]):
                raise UsageError(f"{path}:{n}: expected a group name, got {line!r}")
        else:
            if "[" in tokens[0]:
                raise UsageError(f"{path}:{n}: host ranges like {tokens[0]!r} are not supported")
            try:
                check_host(tokens[0])
            except UsageError as exc:
                raise UsageError(f"{path}:{n}: {exc}") from None
            _, own, groups = hosts.setdefault(tokens[0], (n, {}, set()))
            own.update(_pairs(path, n, tokens[1:]))
            groups.add(group)
    return [_entry(path, name, n, own, groups, group_vars, user, port)
            for name, (n, own, groups) in hosts.items()]


def _entry(path, name, n, own, groups, group_vars, user, port) -> HostEntry:
    merged = dict(group_vars.get("all", {}))
    for g in sorted(groups):
        merged.update(group_vars.get(g, {}))
    merged.update(own)
    try:
        host_port = merged.get("ansible_port") or merged.get("ansible_ssh_port")
        target = parse_target(merged.get("ansible_host", name), merged.get("ansible_user", user),
                              int(host_port) if host_port else port)
        passed = tuple((key, merged[key]) for key in PASSED_ON if key in merged)
        return HostEntry(name=name, target=target, variables=passed)
    except UsageError as exc:
        raise UsageError(f"{path}:{n}: host {name!r}: {exc}") from None


def _pairs(path: Path, n: int, tokens: list[str]) -> dict:
    """`key=value` tokens, each on the allow-list with a value of the right form."""
    pairs = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            raise UsageError(f"{path}:{n}: expected key=value, got {token!r}")
        try:
            pairs[key] = check_variable(key, value)
        except UsageError as exc:
            raise UsageError(f"{path}:{n}: {exc}") from None
    return pairs


def ini_text(entries: list[HostEntry]) -> str:
    """The inventory --emit-ansible writes: one `[devices]` line per checked entry."""
    lines = ["# Generated by lenet-edge deploy --emit-ansible", "[devices]"]
    for entry in entries:
        t = entry.target
        fields = [entry.name, f"ansible_host={t.host}", f"ansible_port={t.port}"]
        fields += [f"ansible_user={t.user}"] if t.user else []
        fields += [f"{key}={check_variable(key, value)}" for key, value in entry.variables]
        lines.append(" ".join(fields))
    return "\n".join(lines) + "\n"
