"""The accuracy gates a converted variant must pass against the float model.

`Gates` is the one place their defaults, their range checks and the pass/fail rule live:
`verify`, the pipeline and `deploy` (which passes them to verify on the device) take a Gates,
and the command-line options take their defaults and help from its fields. TF- and
numpy-free, so the CLI can import it for `--help`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lenet_edge.errors import UsageError


@dataclass(frozen=True)
class Gates:
    """Largest accuracy drop and smallest top-1 agreement a variant may have versus float.

    The defaults pass int8, the lossiest variant, with room: it was measured losing 0.16
    points and agreeing with float on 99.3% of Fashion-MNIST's test set (DESIGN.md), while a
    conversion that went wrong (a bad scale, a swapped channel) loses whole points.
    """

    max_drop: float = field(default=0.5, metadata={
        "help": "Largest allowed accuracy drop versus float, in points (negative: demand "
                "a gain)."})
    min_agreement: float = field(default=0.99, metadata={
        "help": "Smallest allowed top-1 agreement with float, in [0, 1]."})

    def __post_init__(self) -> None:
        """Refuse gates that cannot mean anything.

        Raises:
            UsageError: max_drop is not a finite number, or min_agreement is not in [0, 1];
                the message names the command-line option.
        """
        if not _is_number(self.max_drop) or not math.isfinite(self.max_drop):
            raise UsageError(f"--max-drop must be a finite number of points, got {self.max_drop}")
        # NaN fails both comparisons: refused as well.
        if not _is_number(self.min_agreement) or not 0.0 <= self.min_agreement <= 1.0:
            raise UsageError(f"--min-agreement must be within [0, 1], got {self.min_agreement}")

    def failures(self, delta_points: float, agreement: float) -> list[str]:
        """Why a variant with these figures fails, one phrase per gate; empty if it passes.

        Args:
            delta_points: its accuracy minus the float model's, in percentage points.
            agreement: the share of images where its top-1 class is the float model's.
        """
        reasons = []
        if delta_points < -self.max_drop:
            reasons.append(f"accuracy dropped {-delta_points:.2f} points "
                           f"(max {self.max_drop:g})")
        if agreement < self.min_agreement:
            reasons.append(f"agreement {agreement:.4f} < {self.min_agreement:g}")
        return reasons

    def to_dict(self) -> dict[str, float]:
        """As results files record them: {"max_drop": ..., "min_agreement": ...}."""
        return {"max_drop": self.max_drop, "min_agreement": self.min_agreement}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


DEFAULT_GATES = Gates()  # the defaults, as one value to pass around
