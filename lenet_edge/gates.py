"""The accuracy gates a converted variant must pass against the float model, and against a
baseline model (`verify --baseline`).

`Gates` is the one place their defaults, their range checks and the pass/fail rule live:
`verify`, the pipeline and `deploy` (which passes them to verify on the device) take a Gates,
and the command-line options take their defaults and help from its fields. `RegressionGates`
does the same for the model-versus-model budget. TF- and numpy-free, so the CLI can import it
for `--help`.
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


@dataclass(frozen=True)
class RegressionGates:
    """How many accuracy points the new model may lose against a baseline model, overall and
    on any one class (`verify --baseline`): the float model and each variant against the
    baseline's same variant on the same runtime.

    The per-class budget is there because an average hides one class collapsing: a class of
    ten that loses 30 points costs the overall figure only 3. 0.3 points overall is 30 of
    Fashion-MNIST's 10,000 test images; 5 points on a class is 50 of its 1,000 images, above
    what retraining with another seed moves a class by, far below a class collapsing.
    """

    max_regression: float = field(default=0.3, metadata={
        "help": "With --baseline: largest allowed accuracy loss versus the baseline model, "
                "in points (per variant, and for the float model)."})
    max_class_regression: float = field(default=5.0, metadata={
        "help": "With --baseline: largest allowed accuracy loss on any one class versus "
                "the baseline model, in points."})

    def __post_init__(self) -> None:
        """Raises UsageError for a budget that is not a finite number >= 0 (option named)."""
        for option, value in (("--max-regression", self.max_regression),
                              ("--max-class-regression", self.max_class_regression)):
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise UsageError(f"{option} must be a finite number of points >= 0, got {value}")

    def regressed(self, change_points: float, per_class: bool = False) -> bool:
        """True when an accuracy change (new minus baseline, in points) loses more than the
        overall budget, or the per-class one when `per_class`."""
        return change_points < -(self.max_class_regression if per_class else self.max_regression)

    def to_dict(self) -> dict[str, float]:
        """As results files record them."""
        return {"max_regression": self.max_regression,
                "max_class_regression": self.max_class_regression}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


DEFAULT_GATES = Gates()  # the defaults, as one value to pass around
DEFAULT_REGRESSION_GATES = RegressionGates()
