"""How a converted model's logits compare with the float model's, on labelled images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORST_COUNT = 10  # disagreements listed per result: enough to look at, short enough to read


@dataclass(frozen=True)
class Agreement:
    """Accuracy of a converted model next to the float model it came from."""

    count: int
    correct: int
    float_correct: int
    agreeing: int  # images where both models pick the same class
    max_abs_logit_error: float
    mean_abs_logit_error: float
    per_class_delta: list[float | None]  # points per class; None when a class has no images
    worst: list[int]  # indices of disagreements, largest logit error first

    @property
    def accuracy(self) -> float:
        return self.correct / self.count

    @property
    def float_accuracy(self) -> float:
        return self.float_correct / self.count

    @property
    def delta_points(self) -> float:
        # From counts in one division, so a drop of exactly k images is exact on the gate.
        return (self.correct - self.float_correct) * 100.0 / self.count

    @property
    def agreement(self) -> float:
        return self.agreeing / self.count


def compare_logits(logits: np.ndarray, float_logits: np.ndarray, labels: np.ndarray,
                   num_classes: int = 10) -> Agreement:
    """Compare `logits` (N, C) with the float model's on the same N labelled images."""
    if logits.shape != float_logits.shape or logits.shape[0] != labels.shape[0]:
        raise ValueError(f"logits {logits.shape}, float logits {float_logits.shape} and "
                         f"labels {labels.shape} do not describe the same images")
    predicted, float_predicted = logits.argmax(axis=1), float_logits.argmax(axis=1)
    error = np.abs(logits.astype(np.float64) - float_logits.astype(np.float64))
    per_image = error.max(axis=1)
    disagree = np.flatnonzero(predicted != float_predicted)
    worst = disagree[np.argsort(-per_image[disagree], kind="stable")][:WORST_COUNT]
    per_class: list[float | None] = []
    for c in range(num_classes):
        mask = labels == c
        n = int(mask.sum())
        if n == 0:
            per_class.append(None)
            continue
        gained = int((predicted[mask] == c).sum()) - int((float_predicted[mask] == c).sum())
        per_class.append(gained * 100.0 / n)
    return Agreement(
        count=int(labels.shape[0]),
        correct=int((predicted == labels).sum()),
        float_correct=int((float_predicted == labels).sum()),
        agreeing=int((predicted == float_predicted).sum()),
        max_abs_logit_error=float(error.max()),
        mean_abs_logit_error=float(error.mean()),
        per_class_delta=per_class,
        worst=[int(i) for i in worst],
    )
