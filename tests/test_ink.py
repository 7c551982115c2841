"""`find_ink` finds the digit in a picture: the paper fitted away, the largest ink kept."""

from __future__ import annotations

import numpy as np
import pytest

from lenet_edge.data.ink import (
    TINY_DIGIT,
    find_ink,
    label_components,
    otsu_threshold,
    paper_surface,
)


def flood_labels(mask: np.ndarray) -> np.ndarray:
    """8-connected components by a plain flood fill, the slow obvious way."""
    labels = np.zeros(mask.shape, int)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if labels[y, x]:
            continue
        count += 1
        labels[y, x] = count
        stack = [(y, x)]
        while stack:
            a, b = stack.pop()
            for c in (a - 1, a, a + 1):
                for d in (b - 1, b, b + 1):
                    inside = 0 <= c < mask.shape[0] and 0 <= d < mask.shape[1]
                    if inside and mask[c, d] and not labels[c, d]:
                        labels[c, d] = count
                        stack.append((c, d))
    return labels


@pytest.mark.parametrize("seed", range(40))
def test_components_match_a_flood_fill(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 40, 2))
    mask = rng.random(shape) < rng.uniform(0.1, 0.7)  # from specks to one big blob
    labels, sizes, boxes = label_components(mask)
    expected = flood_labels(mask)
    assert labels.max() == expected.max() == len(sizes) == len(boxes)
    # The same partition: every component maps to exactly one expected component.
    assert len(set(zip(labels[mask].tolist(), expected[mask].tolist(), strict=True))) == \
        expected.max()
    for k in range(len(sizes)):
        ys, xs = np.nonzero(labels == k + 1)
        assert sizes[k] == ys.size
        assert tuple(boxes[k]) == (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)


def test_diagonal_neighbours_are_connected_and_gaps_are_not():
    mask = np.array([[1, 0, 0, 1],
                     [0, 1, 0, 1],
                     [0, 0, 0, 1]], bool)
    labels, sizes, _ = label_components(mask)
    assert sorted(sizes.tolist()) == [2, 3] and labels[0, 0] == labels[1, 1]


def test_otsu_splits_paper_from_ink():
    rng = np.random.default_rng(0)
    paper, ink = rng.normal(0.05, 0.01, 9000), rng.normal(0.5, 0.05, 1000)
    threshold = otsu_threshold(np.clip(np.concatenate([paper, ink]), 0, None))
    # Otsu leans towards the wider class (the ink): a few paper pixels 3 sigma out may pass.
    assert (ink <= threshold).sum() == 0 and (paper > threshold).mean() < 0.001


def test_paper_surface_follows_uneven_light_under_the_ink():
    ys, xs = np.mgrid[0:300, 0:200] / 300.0
    light = 0.2 + 0.1 * xs - 0.05 * ys + 0.08 * (xs - 0.3) ** 2  # a lamp to one side
    picture = light.copy()
    picture[100:220, 60:90] += 0.5  # a thick stroke over 6% of the picture
    picture[50:60, 120:180] += 0.5
    np.testing.assert_allclose(paper_surface(picture), light, atol=1e-6)


def page(height=400, width=300) -> np.ndarray:
    """Paper 0.2 with a 10% gradient, light ink (an inverted photo of a page)."""
    return 0.2 + 0.02 * np.mgrid[0:height, 0:width][1] / width


def test_the_digit_is_kept_and_specks_and_far_marks_are_dropped():
    picture = page()
    picture[100:200, 100:110] += 0.6  # the digit: a stroke...
    picture[100:108, 115:160] += 0.6  # ...and its detached bar, 5 pixels away (a 5's top)
    for y, x in ((20, 20), (350, 250), (30, 280)):
        picture[y:y + 2, x:x + 2] += 0.6  # dust
    picture[300:310, 20:40] += 0.6  # a mark far from the digit, bigger than the bar's 5%
    ink = find_ink(picture)
    assert ink.box == (100, 200, 100, 160)
    assert ink.image.max() == pytest.approx(0.6, abs=0.01)
    assert (ink.image > 0.3).sum() == 100 * 10 + 8 * 45  # all the digit, nothing else
    assert ink.size_warning is None  # 100 pixels of a 300-pixel side


def test_a_flat_picture_gives_its_ink_as_is():
    picture = np.zeros((50, 40))
    picture[9:41, 14:26] = 0.3  # the anti-aliased rim of...
    picture[10:40, 15:25] = 1.0  # ...one stroke
    ink = find_ink(picture)
    assert ink.box == (10, 40, 15, 25)  # Otsu's threshold: the stroke without its rim
    assert ink.image.sum() == pytest.approx(picture.sum())  # the cut-out keeps the rim


def test_a_tiny_digit_is_warned_about():
    picture = page()
    size = int(TINY_DIGIT * 300) - 2  # just under a tenth of the shorter side
    picture[200:200 + size, 150:150 + size // 2] += 0.6
    warning = find_ink(picture).size_warning
    assert warning is not None and f"{size // 2} x {size} pixels of a 300 x 400" in warning
    assert "crop the picture closer" in warning


def test_a_digit_under_the_box_size_is_warned_about_even_when_it_fills_its_picture():
    picture = np.zeros((12, 10))
    picture[2:10, 3:7] = 1.0  # a scikit-learn-sized digit: 4 x 8 pixels
    warning = find_ink(picture).size_warning
    assert warning is not None and "4 x 8 pixels of a 10 x 12 picture" in warning
    assert "upscaled" in warning


def test_a_blank_picture_has_no_ink():
    ink = find_ink(page())
    assert ink.image.max() == pytest.approx(0.0, abs=1e-9)
