"""The Pareto front: items no other item beats on every objective at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def pareto_front(items: Sequence[T], objectives: Sequence[Callable[[T], float]]) -> list[bool]:
    """For each item, whether it is on the front (every objective is minimised).

    An item is dominated when another is at least as good on every objective and strictly
    better on one; items with identical scores do not dominate each other.
    """
    scores = [tuple(f(item) for f in objectives) for item in items]

    def dominates(a: tuple, b: tuple) -> bool:
        return a != b and all(x <= y for x, y in zip(a, b, strict=True))

    return [not any(dominates(other, mine) for other in scores) for mine in scores]
