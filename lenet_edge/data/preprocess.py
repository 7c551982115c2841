"""The one preprocessing step: uint8 images to the model's float input (numpy only).

Training, calibration and every runtime call go through `preprocess`, so a model sees the same
numbers on the workstation and on the device.
"""

from __future__ import annotations

import numpy as np

from lenet_edge.errors import DataError

IMAGE_SHAPE = (28, 28)


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) or (N, 28, 28, 1) -> float32 (N, 28, 28, 1) in [0, 1].

    The one preprocessing step for training, calibration and inference alike.

    Raises:
        DataError: any other dtype or shape. A DataError rather than a UsageError because
            the array comes from data (a file, a bundle, a photo), not from an option the
            user typed; floats are refused rather than guessed at ([0, 1] or [0, 255]?).
    """
    array = np.asarray(images)
    shape_ok = array.ndim in (3, 4) and array.shape[1:3] == IMAGE_SHAPE
    if array.dtype != np.uint8 or not shape_ok or (array.ndim == 4 and array.shape[3] != 1):
        raise DataError(
            f"images must be uint8 (N, 28, 28) or (N, 28, 28, 1), got {array.dtype} {array.shape}"
        )
    return (array.reshape(-1, *IMAGE_SHAPE, 1).astype(np.float32) / np.float32(255.0))
