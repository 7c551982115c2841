"""The order of a fleet roll-out: a canary batch first, later batches, and when to stop.

A schedule is Ansible's `serial` list, so the emitted playbook carries the same batches:

    --batches 1,10%,100%   first 1 host (the canary), then 10% of the fleet at a time, ...
    --canary 2             shorthand for --batches 2,100%: 2 hosts, then all the others

Batch sizes follow Ansible (`_get_serialized_batches`, `pct_to_int`): a percentage is of the
whole fleet, rounded down as Ansible's float arithmetic does, but at least 1 host; the last
entry repeats until every host has had its turn; a batch takes at most the hosts left.

When to stop (nothing here connects anywhere; fleet.py asks after each batch):
- the first batch is the canary: any failure in it stops the roll-out;
- a later batch stops it when more than --max-fail-percent of its hosts failed, or when every
  host in it failed. This is Ansible's rule for `max_fail_percentage` with `serial` (counted
  per batch), so the SSH path and the emitted playbook stop at the same point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lenet_edge.errors import UsageError

_ENTRY = re.compile(r"([0-9]+)(%?)")


def parse_batches(text: str) -> tuple[str, ...]:
    """`1,10%,100%` -> ("1", "10%", "100%"): host counts >= 1 and whole percentages 1..100.

    Raises:
        UsageError: an empty list, or an entry that is neither (named, with what is allowed).
    """
    entries = tuple(part.strip() for part in text.split(","))
    for entry in entries:
        match = _ENTRY.fullmatch(entry)
        count = int(match.group(1)) if match else 0
        if not match or count < 1 or (match.group(2) and count > 100):
            raise UsageError(
                f"invalid --batches entry {entry!r} in {text!r}: use host counts (1, 5) and "
                "whole percentages of the fleet (10%, 100%), separated by commas")
    return entries


def batch_sizes(entries: tuple[str, ...], hosts: int) -> list[int]:
    """How many hosts each batch takes, for a fleet of `hosts` (Ansible's arithmetic).

    No entries: one batch of every host (the roll-out as it was before schedules).
    """
    if hosts < 1:
        return []
    if not entries:
        return [hosts]
    sizes, left, i = [], hosts, 0
    while left > 0:
        entry = entries[min(i, len(entries) - 1)]
        size = _percent_of(int(entry[:-1]), hosts) if entry.endswith("%") else int(entry)
        sizes.append(min(size, left))
        left -= sizes[-1]
        i += 1
    return sizes


def _percent_of(percent: int, hosts: int) -> int:
    """Ansible's pct_to_int: `int(percent / 100.0 * hosts) or 1`, float rounding included
    (29% of 100 hosts is 28 there: 0.29 * 100 = 28.999...), so both paths make the same
    batches."""
    return int((percent / 100.0) * hosts) or 1


@dataclass(frozen=True)
class Rollout:
    """A fleet's schedule: `--canary` / `--batches` and `--max-fail-percent`."""

    batches: tuple[str, ...] = ()  # Ansible serial entries; () = every host at once
    max_fail_percent: float | None = None  # later batches; None: only a whole batch failing

    def __post_init__(self) -> None:
        """Refuse a limit that cannot mean anything, before anything connects.

        Raises:
            UsageError: --max-fail-percent outside [0, 100] or not a number, or given with
                no schedule (one batch: there is no later batch to hold back).
        """
        for entry in self.batches:  # made in code, not from --batches: checked the same way
            parse_batches(entry)
        limit = self.max_fail_percent
        if limit is None:
            return
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not (
                0 <= limit <= 100):
            raise UsageError(f"--max-fail-percent must be a number in [0, 100], got {limit!r}")
        if not self.batches:
            raise UsageError("--max-fail-percent needs batches to hold back: give --canary N "
                             "or --batches (e.g. 1,10%,100%)")

    @classmethod
    def from_options(cls, canary: int | None, batches: str | None,
                     max_fail_percent: float | None) -> Rollout:
        """The schedule from the command line: --canary N, or --batches LIST, or neither.

        Raises:
            UsageError: both given, a canary below 1, or a bad entry or limit.
        """
        if canary is not None and batches is not None:
            raise UsageError("give --canary N or --batches LIST, not both "
                             "(--canary N is --batches N,100%)")
        if canary is not None:
            if isinstance(canary, bool) or not isinstance(canary, int) or canary < 1:
                raise UsageError(f"--canary must be a number of hosts >= 1, got {canary!r}")
            entries: tuple[str, ...] = (str(canary), "100%")
        else:
            entries = parse_batches(batches) if batches is not None else ()
        return cls(entries, max_fail_percent)

    @property
    def staged(self) -> bool:
        """Whether hosts go in turns (a canary first) rather than all at once."""
        return bool(self.batches)

    def sizes(self, hosts: int) -> list[int]:
        return batch_sizes(self.batches, hosts)

    def stop_reason(self, index: int, size: int, failed: int) -> str:
        """Why the roll-out stops after batch `index` (0: the canary), or "" to go on.

        Args:
            size: hosts in that batch; failed: how many of them failed.
        """
        if not self.staged or failed == 0:
            return ""
        if index == 0:
            return "roll-out stopped after canary failure"
        if failed == size:
            return f"roll-out stopped: every host of batch {index + 1} failed"
        limit = self.max_fail_percent
        if limit is not None and failed * 100 > limit * size:
            return (f"roll-out stopped: {failed} of {size} hosts of batch {index + 1} failed, "
                    f"more than {limit:g}%")
        return ""
