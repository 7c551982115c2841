"""Put one digit into a 28x28 frame the way MNIST was made (numpy only).

LeCun et al. built MNIST by fitting each digit into a 20x20 box with its aspect ratio kept
(anti-aliased), then placing that box in a 28x28 field so that the digit's centre of mass sits
at the field's centre. `to_mnist_frame` does the same to any 2-D image, so the scikit-learn
digits, a user's photo (`lenet-edge predict`) and MNIST itself all look alike to the model.
"""

from __future__ import annotations

import numpy as np

from lenet_edge.errors import DataError

FRAME = 28  # side of an MNIST image
BOX = 20  # side of the box the digit is fitted into
# Pixels dimmer than this fraction of the brightest one do not count as ink for the bounding
# box: 5% keeps the faintest stroke edge of scikit-learn's digits (1/16 = 6%) and drops
# the faint haze a camera leaves around a stroke.
INK_THRESHOLD = 0.05
# An image whose brightest pixel is below this is blank: it would round to 0 in uint8.
BLANK_PEAK = 0.5 / 255
_RANGE_SLACK = 1e-6  # float arithmetic may land a hair outside [0, 1]


def to_mnist_frame(image: np.ndarray, ink_threshold: float = INK_THRESHOLD) -> np.ndarray:
    """Crop a digit to its ink, fit it into a 20x20 box and centre it by mass in 28x28.

    Args:
        image: a 2-D array of any size with values in [0, 1], light ink on a dark background
            (invert a photo of dark ink on paper first). Contrast is stretched so the
            brightest pixel becomes full ink, as in MNIST's binary source images.
        ink_threshold: fraction of the brightest pixel below which a pixel is background
            when finding the bounding box. Isolated specks (ink pixels with no ink
            neighbour) are ignored too, so one speck of dust does not shrink the digit.

    Returns:
        uint8 array (28, 28). A blank image (no pixel above 0.5/255) gives all zeros rather
        than an error, so a caller framing many images need not special-case empty ones.

    Raises:
        DataError: the image is not 2-D, is empty, or has values outside [0, 1] or not finite.
    """
    pixels = _checked(image)
    peak = float(pixels.max())
    if peak < BLANK_PEAK:
        return np.zeros((FRAME, FRAME), np.uint8)
    pixels = pixels / peak
    top, bottom, left, right = _ink_box(pixels >= ink_threshold)
    digit = pixels[top:bottom, left:right]
    box = _resize(digit, *_fitted_size(*digit.shape))
    return _place_by_mass(box)


def _checked(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 2 or array.size == 0:
        raise DataError(f"an image to frame must be a non-empty 2-D array, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise DataError(f"an image to frame must be numeric, got dtype {array.dtype}")
    pixels = array.astype(np.float64)
    if not np.all(np.isfinite(pixels)):
        raise DataError("an image to frame must not contain NaN or infinite values")
    low, high = float(pixels.min()), float(pixels.max())
    if low < -_RANGE_SLACK or high > 1 + _RANGE_SLACK:
        raise DataError(
            f"an image to frame must have values in [0, 1], got [{low:g}, {high:g}]"
            " (scale uint8 images by 1/255)"
        )
    return np.clip(pixels, 0.0, 1.0)


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (top, bottom, left, right; end-exclusive) of the ink, ignoring specks."""
    solid = ink & (_neighbour_count(ink) > 0)
    mask = solid if solid.any() else ink  # a digit that is a single dot is still a digit
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _neighbour_count(mask: np.ndarray) -> np.ndarray:
    """How many of each pixel's 8 neighbours are set."""
    padded = np.pad(mask.astype(np.int8), 1)
    h, w = mask.shape
    total = np.zeros((h, w), np.int8)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if (dy, dx) != (1, 1):
                total += padded[dy : dy + h, dx : dx + w]
    return total


def _fitted_size(height: int, width: int) -> tuple[int, int]:
    """Size of a height x width digit scaled so its longer side is BOX, aspect ratio kept."""
    scale = BOX / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased separable resize with a triangle (bilinear) filter."""
    rows = _resize_weights(pixels.shape[0], height)
    cols = _resize_weights(pixels.shape[1], width)
    return rows @ pixels @ cols.T


def _resize_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) matrix: each output pixel as a weighted mean of input pixels.

    Pixel centres sit at i + 0.5. Upsampling interpolates linearly between the two nearest
    input pixels; downsampling widens the triangle to the output pixel's footprint, so every
    input pixel contributes (anti-aliasing) instead of a thin '1' vanishing between samples.
    """
    scale = size_in / size_out
    radius = max(scale, 1.0)
    centres = (np.arange(size_out) + 0.5) * scale
    taps = np.arange(size_in) + 0.5
    weights = np.clip(1.0 - np.abs(taps[None, :] - centres[:, None]) / radius, 0.0, None)
    # Every row has a positive weight: the nearest tap is at most 0.5 away and radius >= 1.
    return weights / weights.sum(axis=1, keepdims=True)


def _place_by_mass(box: np.ndarray) -> np.ndarray:
    """Paste `box` into a 28x28 frame with its centre of mass at the frame's centre.

    Shifts are whole pixels (no second resampling blur), so the centre of mass lands within
    half a pixel of (13.5, 13.5), the frame's centre in pixel-index coordinates. The shift is
    clipped so the whole box stays inside the frame.
    """
    height, width = box.shape
    mass = box.sum()
    cy = float((box.sum(axis=1) * np.arange(height)).sum() / mass)
    cx = float((box.sum(axis=0) * np.arange(width)).sum() / mass)
    centre = (FRAME - 1) / 2
    top = int(np.clip(round(centre - cy), 0, FRAME - height))
    left = int(np.clip(round(centre - cx), 0, FRAME - width))
    frame = np.zeros((FRAME, FRAME), np.float64)
    frame[top : top + height, left : left + width] = box
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)
