"""`to_mnist_frame` puts any digit image into 28x28 the way MNIST was made."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lenet_edge.data.framing import BOX, FRAME, to_mnist_frame
from lenet_edge.errors import DataError

FRAME_CENTRE = (FRAME - 1) / 2  # 13.5 in pixel-index coordinates
# Placement moves the box by whole pixels, so the centre of mass lands within half a pixel;
# rounding the pixels to uint8 moves it by under 0.01 more.
WHOLE_PIXEL_SHIFT = 0.51


def centre_of_mass(frame: np.ndarray) -> tuple[float, float]:
    weights = frame.astype(np.float64)
    index = np.arange(frame.shape[0])
    total = weights.sum()
    return float(weights.sum(1) @ index / total), float(weights.sum(0) @ index / total)


def ink_box(frame: np.ndarray) -> tuple[int, int]:
    """(height, width) of the smallest box holding every non-zero pixel."""
    rows, cols = np.flatnonzero(frame.any(1)), np.flatnonzero(frame.any(0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def canvas(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width))


def test_centred_square_fills_the_central_20x20_box_exactly():
    image = canvas(30, 30)
    image[10:20, 10:20] = 1.0
    frame = to_mnist_frame(image)
    expected = np.zeros((FRAME, FRAME), np.uint8)
    expected[4:24, 4:24] = 255  # MNIST: a 20x20 box with 4 pixels of margin each side
    np.testing.assert_array_equal(frame, expected)


def test_off_centre_digit_is_scaled_to_the_box_and_centred_by_mass():
    image = canvas(100, 120)
    image[5:20, 90:101] = 1.0  # a small blob in the top-right corner
    image[5:8, 90:96] = 0.0  # ... not symmetric, so mass and box centres differ
    frame = to_mnist_frame(image)
    assert frame.dtype == np.uint8 and frame.shape == (FRAME, FRAME)
    assert max(ink_box(frame)) == BOX
    cy, cx = centre_of_mass(frame)
    assert abs(cy - FRAME_CENTRE) <= WHOLE_PIXEL_SHIFT
    assert abs(cx - FRAME_CENTRE) <= WHOLE_PIXEL_SHIFT


def test_wide_stroke_keeps_its_aspect_ratio():
    image = canvas(50, 200)
    image[20:26, 30:150] = 1.0  # 6 x 120: becomes 20 wide and round(20 * 6 / 120) = 1 tall
    frame = to_mnist_frame(image)
    assert ink_box(frame) == (1, BOX)
    assert frame.max() == 255
    assert abs(centre_of_mass(frame)[0] - FRAME_CENTRE) <= WHOLE_PIXEL_SHIFT


def test_tall_one_stays_thin_and_bright():
    image = canvas(400, 300)
    image[50:350, 140:150] = 0.8  # a '1': 300 tall, 10 wide, grey ink
    frame = to_mnist_frame(image)
    height, width = ink_box(frame)
    assert height == BOX and width == 1  # round(20 * 10 / 300) = 1
    assert frame.max() == 255  # contrast stretched: the brightest ink becomes full ink


def test_thin_diagonal_survives_heavy_downsampling():
    image = canvas(1000, 1000)
    idx = np.arange(1000)
    image[idx, idx] = 1.0  # one pixel wide: point sampling at 1/50 would mostly miss it
    frame = to_mnist_frame(image)
    box = frame[4:24, 4:24]
    assert all(box[i, i] > 0 for i in range(BOX))  # an unbroken line


def test_isolated_speck_does_not_shrink_the_digit():
    image = canvas(200, 200)
    image[150:180, 150:165] = 1.0
    image[2, 2] = 1.0  # dust far away
    frame = to_mnist_frame(image)
    assert max(ink_box(frame)) == BOX


def test_single_dot_is_still_framed():
    image = canvas(9, 9)
    image[4, 4] = 1.0
    assert max(ink_box(to_mnist_frame(image))) == BOX


@pytest.mark.parametrize("peak", [0.0, 0.001])
def test_blank_image_gives_all_zeros(peak):
    image = np.full((40, 30), peak)
    np.testing.assert_array_equal(to_mnist_frame(image), np.zeros((FRAME, FRAME), np.uint8))


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((2, 28, 28)), "2-D"),
        (np.zeros((0, 5)), "2-D"),
        (np.full((5, 5), 255.0), "values in [0, 1]"),
        (np.full((5, 5), -0.5), "values in [0, 1]"),
        (np.full((5, 5), np.nan), "NaN"),
        (np.full((5, 5), "a"), "numeric"),
    ],
)
def test_bad_images_raise_data_error(image, message):
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        to_mnist_frame(image)


@settings(max_examples=150, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 40)),
              elements=st.floats(0.0, 1.0)))
def test_any_image_in_range_gives_a_frame_with_the_digit_inside_a_20x20_box(image):
    frame = to_mnist_frame(image)
    assert frame.dtype == np.uint8 and frame.shape == (FRAME, FRAME)
    if frame.any():
        assert max(ink_box(frame)) <= BOX
