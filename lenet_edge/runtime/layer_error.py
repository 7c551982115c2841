"""How far one layer's quantised output is from the float model's, summed batch by batch.

Only sums are kept (float64), never the tensors, so a 10,000-image reference set costs one
batch of memory. Over every element of every image:

- MSE: mean of (quantised - float)^2.
- RMSE / scale: sqrt(MSE) in quantisation steps. Rounding to a grid of step s alone leaves an
  error spread evenly over [-s/2, s/2]: an RMSE of s/sqrt(12) = 0.29 s. A layer near 0.29 loses
  nothing but the rounding; a higher one carries error from earlier layers, its weights, or
  clipping at the edge of its range.
- SNR: 10 log10(sum float^2 / sum error^2), in dB; each bit of resolution is worth ~6 dB.
- cosine: of the two outputs as flat vectors (1: same direction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ROUNDING_FLOOR = 1 / math.sqrt(12)  # RMSE / scale of pure rounding, see above


@dataclass
class ErrorSums:
    """Running sums for one layer; `add` a batch at a time, then read the figures."""

    count: int = 0
    error2: float = 0.0
    reference2: float = 0.0
    candidate2: float = 0.0
    dot: float = 0.0
    max_abs: float = 0.0

    def add(self, reference: np.ndarray, candidate: np.ndarray) -> None:
        ref = np.asarray(reference, dtype=np.float64).ravel()
        cand = np.asarray(candidate, dtype=np.float64).ravel()
        if ref.shape != cand.shape:
            raise ValueError(f"layer outputs differ in size: {ref.size} and {cand.size}")
        error = cand - ref
        self.count += ref.size
        self.error2 += float(error @ error)
        self.reference2 += float(ref @ ref)
        self.candidate2 += float(cand @ cand)
        self.dot += float(ref @ cand)
        if error.size:
            self.max_abs = max(self.max_abs, float(np.abs(error).max()))

    @property
    def mse(self) -> float:
        return self.error2 / self.count if self.count else 0.0

    def rmse_over_scale(self, scale: float | None) -> float | None:
        return math.sqrt(self.mse) / scale if scale else None

    @property
    def snr_db(self) -> float | None:
        """None when undefined: no error at all (infinite), or an all-zero float output."""
        if self.error2 == 0.0 or self.reference2 == 0.0:
            return None
        return 10.0 * math.log10(self.reference2 / self.error2)

    @property
    def cosine(self) -> float | None:
        """None when an output is all zeros (no direction), unless both are identical."""
        if self.error2 == 0.0:
            return 1.0
        if self.reference2 == 0.0 or self.candidate2 == 0.0:
            return None
        return max(-1.0, min(1.0, self.dot / math.sqrt(self.reference2 * self.candidate2)))
