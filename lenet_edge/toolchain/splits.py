"""Which training images serve which purpose after training: calibration and the held-out slice.

All three draws are seeded with the training seed, so convert picks the same images every run:
- validation: the slice `train` held out of fitting (`--validation-split`, 10% by default);
- calibration: `--calibration-samples` images drawn from the whole training split (as before
  the held-out slice existed, so int8's calibration did not change);
- held-out: the validation slice minus the calibration images. The mixed-precision search
  judges its candidates here: images the model was not fitted on and the quantiser did not
  range on, and never the test set that `verify` reports on.
"""

from __future__ import annotations

import hashlib

import numpy as np


def fit_and_validation_indices(num_train: int, validation_split: float,
                               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training images `train` fits on and those it keeps out (none when the split is 0)."""
    if validation_split <= 0:
        return np.arange(num_train), np.arange(0)
    order = np.random.default_rng(seed).permutation(num_train)
    n_val = max(1, int(round(num_train * validation_split)))
    return order[n_val:], order[:n_val]


def calibration_indices(num_train: int, samples: int, seed: int) -> np.ndarray:
    """`samples` training images drawn without replacement, in ascending order."""
    return np.sort(np.random.default_rng(seed).choice(num_train, size=samples, replace=False))


def held_out_indices(num_train: int, validation_split: float, seed: int,
                     calibration: np.ndarray) -> np.ndarray:
    """The validation slice without the calibration images, in ascending order."""
    _, validation = fit_and_validation_indices(num_train, validation_split, seed)
    return np.setdiff1d(validation, calibration)


def images_sha256(images: np.ndarray) -> str:
    """sha256 of uint8 images in the order given (C order): the same draw, the same hash."""
    return hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes()).hexdigest()
