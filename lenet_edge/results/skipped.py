"""A variant left out of verify or benchmark because no runtime for its format is installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lenet_edge import schema


@dataclass(frozen=True)
class Skipped:
    variant: str
    reason: str  # e.g. the extra to install

    def to_dict(self) -> dict[str, str]:
        return {"variant": self.variant, "reason": self.reason}

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str) -> Skipped:
        return cls(schema.field(row, "variant", str, where),
                   schema.field(row, "reason", str, where))


def skipped_from(data: dict[str, Any]) -> tuple[Skipped, ...]:
    """`skipped` rows of a results file; an absent list (an older file) is empty."""
    return tuple(Skipped.from_dict(row, f"skipped[{i}]")
                 for i, row in enumerate(schema.rows(data, "skipped", optional=True)))
