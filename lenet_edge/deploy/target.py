"""Where a device is and how to reach it: validated host, user, port, and ssh options.

Validation happens before anything runs: a host or user that could be read as an ssh option
(leading '-') or that holds shell syntax (';', '$', '`', spaces, quotes ...) is refused with
a UsageError, so `a;touch SENTINEL` never reaches a shell or ssh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lenet_edge.errors import UsageError

# A hostname, IPv4 or IPv6 literal without brackets (::1, fe80::1%eth0): letters, digits and
# . _ : % -, never starting with '-' (ssh would read it as an option). Nothing a shell treats
# specially.
_HOST_RE = re.compile(r"[A-Za-z0-9_:][A-Za-z0-9._:%-]{0,252}")
# POSIX portable user names (plus the trailing '$' some systems allow is deliberately refused).
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,31}")
# `--ssh-option` names are OpenSSH keywords: letters only.
_OPTION_RE = re.compile(r"[A-Za-z]+=[^\n\r]*")


@dataclass(frozen=True)
class Target:
    """A validated SSH destination."""

    host: str
    user: str | None = None
    port: int = 22

    @property
    def label(self) -> str:
        """A name for messages and result files: host, or host:port when not 22."""
        return self.host if self.port == 22 else f"{self.host}:{self.port}"


def parse_target(host: str, user: str | None = None, port: int | None = None) -> Target:
    """Validate `host` (optionally `user@host`), `user` and `port` before anything runs.

    Raises:
        UsageError: a host or user that could be read as an ssh option or shell syntax.
    """
    if "@" in host:
        host_user, _, host = host.rpartition("@")
        if user is not None and user != host_user:
            raise UsageError(f"host gives user {host_user!r} but --user gives {user!r}")
        user = host_user
    check_host(host)
    if user is not None:
        check_user(user)
    port = 22 if port is None else port
    if not 1 <= port <= 65535:
        raise UsageError(f"invalid port {port}: choose 1..65535")
    return Target(host=host, user=user, port=port)


def check_host(host: str) -> str:
    """Return `host` if it is a hostname or IP address that nothing can read as an option or
    shell syntax; the one host check of every path (--hosts, inventories, --emit-ansible).

    Raises:
        UsageError: naming the host and what is allowed.
    """
    if not isinstance(host, str) or not _HOST_RE.fullmatch(host):
        raise UsageError(
            f"invalid host {host!r}: use a hostname or an IPv4 / IPv6 address without "
            "brackets (letters, digits, '.', '-', '_', ':', '%', not starting with '-')"
        )
    return host


def check_user(user: str) -> str:
    """Return `user` if it is a portable login name.

    Raises:
        UsageError: naming the user and what is allowed.
    """
    if not isinstance(user, str) or not _USER_RE.fullmatch(user):
        raise UsageError(
            f"invalid user {user!r}: letters, digits, '.', '_', '-', not starting with '-'"
        )
    return user


# An hour: a device that does not answer within it is not coming; past ~2**31 ssh itself
# refused the value ("invalid time value", reported as exit 7, a failed connection).
MAX_CONNECT_TIMEOUT = 3600


@dataclass(frozen=True)
class SshOptions:
    """How to reach devices; each field maps to one `lenet-edge deploy` option."""

    identity: Path | None = None  # --identity: private key (IdentitiesOnly=yes with it)
    known_hosts: Path | None = None  # --known-hosts: UserKnownHostsFile
    accept_new_host_key: bool = False  # --accept-new-host-key: trust an unknown key once
    config_file: Path | None = None  # --ssh-config: instead of ~/.ssh/config
    connect_timeout: int = 10  # --connect-timeout, seconds
    extra: tuple[str, ...] = field(default=())  # --ssh-option KEY=VALUE, repeatable

    def __post_init__(self) -> None:
        # ssh silently ignores a missing key file and falls back to others: say so here.
        if self.identity is not None and not self.identity.is_file():
            raise UsageError(f"--identity {self.identity}: no such key file")
        for option in self.extra:
            if not _OPTION_RE.fullmatch(option):
                raise UsageError(f"invalid --ssh-option {option!r}: expected KEY=VALUE")
        if not 1 <= self.connect_timeout <= MAX_CONNECT_TIMEOUT:
            raise UsageError(f"invalid --connect-timeout {self.connect_timeout}: 1 to "
                             f"{MAX_CONNECT_TIMEOUT} s")
