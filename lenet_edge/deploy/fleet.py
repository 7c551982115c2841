"""Several devices at once: read a hosts file, deploy to each in parallel, a row per host.

A hosts file is either a plain list (`[user@]host[:port]`, one per line, `#` comments) or an
Ansible INI inventory (`name ansible_host=... ansible_user=... ansible_port=...`, groups,
`[group:vars]` / `[all:vars]` for user and port; read and checked in inventory.py).

Hosts go in the batches of a Rollout (rollout.py), in hosts-file order, each batch in
parallel: without a schedule, one batch of every host, and one failing host never stops the
others. With `--canary N` / `--batches`, a failing canary (or too many failures in a later
batch) stops the roll-out: the hosts after it are never connected to, and their rows say
why they were not started.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lenet_edge.deploy.inventory import SECTION, HostEntry, read_ini
from lenet_edge.deploy.release import DeployConfig, DeployResult, deploy_to, prepare
from lenet_edge.deploy.rollout import Rollout
from lenet_edge.deploy.ssh_calls import stopping_all_on_interrupt
from lenet_edge.deploy.target import SshOptions, parse_target
from lenet_edge.errors import LenetEdgeError, UsageError
from lenet_edge.files import input_files

_PLAIN_PORT = re.compile(r"(.+):(\d+)")


@dataclass
class HostOutcome:
    """A fleet row: the deploy result, the error that stopped this host, or why it was never
    started (`not_started`: the roll-out stopped before its batch)."""

    entry: HostEntry
    result: DeployResult | None = None
    error: str = ""
    exit_code: int = 0
    batch: int = 1  # its batch in the schedule, from 1 (1: the canary, when staged)
    not_started: str = ""  # why it was skipped, e.g. "roll-out stopped after canary failure"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def status(self) -> str:
        """deployed, rolled back, failed, or "not started (<why>)"."""
        if self.not_started:
            return f"not started ({self.not_started})"
        if self.ok:
            return "deployed"
        return "rolled back" if self.result is not None and self.result.rolled_back else "failed"

    def as_dict(self) -> dict:
        return {"name": self.entry.name, "host": self.entry.target.label, "ok": self.ok,
                "status": self.status, "batch": self.batch, "exit_code": self.exit_code,
                "error": self.error, "result": self.result.as_dict() if self.result else None}


def read_hosts(path: str | Path, user: str | None = None, port: int | None = None
               ) -> list[HostEntry]:
    """Parse a hosts file; every host is validated before anything connects.

    Args:
        user, port: defaults for hosts that do not set their own.

    Raises:
        UsageError: unreadable file, no hosts, or a bad line (named with its line number).
    """
    path = Path(path)
    lines = input_files.read_text(path, input_files.HOSTS, name=f"hosts file {path}"
                                  ).splitlines()
    content = [(n, line.strip()) for n, line in enumerate(lines, 1)
               if line.strip() and not line.strip().startswith(("#", ";"))]
    is_ini = any(SECTION.fullmatch(line) or "ansible_" in line for _, line in content)
    entries = read_ini(path, content, user, port) if is_ini else [
        _plain_entry(path, n, line, user, port) for n, line in content]
    unique = list({entry.name: entry for entry in entries}.values())
    if not unique:
        raise UsageError(f"hosts file {path} lists no hosts")
    return unique


def _plain_entry(path: Path, n: int, line: str, user, port) -> HostEntry:
    host, line_port = line, port
    match = _PLAIN_PORT.fullmatch(line)
    if match and match.group(1).count(":") == 0:  # host:port, not an IPv6 literal
        host, line_port = match.group(1), int(match.group(2))
    try:
        target = parse_target(host, None if "@" in host else user, line_port)
    except UsageError as exc:
        raise UsageError(f"{path}:{n}: {exc}") from None
    return HostEntry(name=target.label, target=target)  # host:port when not 22: unique


def deploy_fleet(
    model_dir: str | Path,
    entries: list[HostEntry],
    config: DeployConfig,
    ssh: SshOptions,
    workers: int = 8,
    progress: Callable[[str, str], None] = lambda name, message: None,
    rollout: Rollout | None = None,
) -> list[HostOutcome]:
    """Deploy to the entries batch by batch, each batch in parallel threads (the work is
    waiting on ssh, not CPU).

    The device bundle and the wheel are built once and shared. Returns one outcome per entry,
    in the order given; an error on one host is recorded in its row. When `rollout` says to
    stop after a batch, the later hosts get a "not started" row (exit code 1) and are never
    connected to.
    """
    rollout = rollout or Rollout()
    with tempfile.TemporaryDirectory(prefix="lenet-edge-fleet-") as tmp:
        prepared = prepare(model_dir, config, Path(tmp))

        def one(entry: HostEntry) -> HostOutcome:
            try:
                result = deploy_to(prepared, entry.target, entry.name, config, ssh,
                                   lambda message: progress(entry.name, message))
            except LenetEdgeError as exc:
                return HostOutcome(entry, error=str(exc), exit_code=exc.exit_code)
            if result.passed is False:
                return HostOutcome(entry, result, _check_failed(result), 1)
            return HostOutcome(entry, result)

        outcomes: list[HostOutcome] = []
        sizes = rollout.sizes(len(entries))
        for index, size in enumerate(sizes):
            batch = entries[len(outcomes):len(outcomes) + size]
            if rollout.staged:
                progress("fleet", f"batch {index + 1} of {len(sizes)}"
                         f"{' (canary)' if index == 0 else ''}: "
                         f"{', '.join(e.name for e in batch)}")
            done = _run_batch(one, batch, workers)
            for outcome in done:
                outcome.batch = index + 1
            outcomes += done
            why = rollout.stop_reason(index, size, sum(not o.ok for o in done))
            if why:
                progress("fleet", why)
                return outcomes + [
                    HostOutcome(entry, exit_code=1, not_started=why,
                                batch=_batch_of(sizes, len(outcomes) + i))
                    for i, entry in enumerate(entries[len(outcomes):])]
        return outcomes


def _run_batch(one, batch: list[HostEntry], workers: int) -> list[HostOutcome]:
    # A signal reaches the main thread only, waiting here: it stops every host's ssh
    # calls (ssh_calls.stop_all), so the pool joins in moments instead of after every deploy.
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batch)))) as pool, \
            stopping_all_on_interrupt():
        return list(pool.map(one, batch))


def _batch_of(sizes: list[int], position: int) -> int:
    """The batch (from 1) that the host at `position` (from 0) belongs to."""
    end = 0
    for index, size in enumerate(sizes):
        end += size
        if position < end:
            return index + 1
    return len(sizes)


def _check_failed(result: DeployResult) -> str:
    """The row's message for a host whose verify or health check failed (rolled back)."""
    if result.health and not result.health["passed"]:
        return f"health check failed ({result.health['summary']}); rolled back"
    return "verification failed; rolled back"
