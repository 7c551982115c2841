"""Find the digit in a picture: separate ink from paper the way a photo needs (numpy only).

A scan or a drawing has flat paper, so subtracting one background level is enough. A phone
photo does not: the light falls off across the page, the paper is grey, the lens blurs and
the sensor and JPEG add noise, so a single level either drowns the digit or marks half the
page as ink. `find_ink` therefore

1. fits the paper as a smooth surface (a quadratic in x and y: a gradient plus vignetting),
   robustly, so the ink does not pull the fit, and subtracts it;
2. binarises the result with Otsu's threshold;
3. keeps the largest connected piece of ink, plus pieces close to it that are big enough
   to be part of the same digit (a 5's detached bar, a broken pencil stroke), dropping
   specks and marks elsewhere on the page;
4. returns that piece cut out with a margin, light ink on a 0 background, ready for
   `framing.to_mnist_frame`.

On a clean picture (flat paper) the fitted surface is that flat level and the one piece
is the whole digit, so the result is what subtracting the level gave before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_edge.data.framing import BOX

# The paper is fitted on at most this many pixels per side (a strided sample): 64 x 64
# samples pin down six coefficients many times over, in a millisecond on a Pi.
FIT_SAMPLES = 64
FIT_ROUNDS = 5
# A sample is paper when its residual is under this many robust sigmas (1.4826 x MAD)...
PAPER_SIGMAS = 3.0
# ...or under this absolute level: a flat, noiseless background has a MAD of 0.
PAPER_FLOOR = 0.02
# A piece of ink joins the largest one when it has at least this fraction of its pixels and
# its box touches the largest piece's box grown by this fraction of that box's longer side.
PART_AREA = 0.05
PART_REACH = 0.25
# The kept pieces are grown by this fraction of the digit's longer side (at least one pixel)
# before cutting out: the blurred, anti-aliased rim of a stroke is below Otsu's threshold
# but is part of its shape.
RIM = 0.03
MARGIN = 0.10  # cut-out margin around the digit, as a fraction of its longer side
# A digit whose longer side is under this fraction of the picture's shorter side, or under
# the 20-pixel box it is fitted into, is warned about: in a photo of a page it may be a
# speck taken for the digit, and a digit that small is upscaled, its detail guessed.
TINY_DIGIT = 0.10


@dataclass(frozen=True)
class Ink:
    """The digit found in a picture.

    Attributes:
        image: float64, light ink on 0, the digit's pieces cut out with a margin (all other
            ink zeroed).
        box: (top, bottom, left, right) of the digit in the picture, end-exclusive.
        picture_shape: (height, width) of the picture it was found in.
    """

    image: np.ndarray
    box: tuple[int, int, int, int]
    picture_shape: tuple[int, int]

    @property
    def side(self) -> int:
        """The digit's longer side in pixels."""
        top, bottom, left, right = self.box
        return max(bottom - top, right - left)

    @property
    def fraction(self) -> float:
        """The digit's longer side as a fraction of the picture's shorter side."""
        return self.side / min(self.picture_shape)

    @property
    def size_warning(self) -> str | None:
        """Why this digit may be unreliable for its size, or None."""
        if self.fraction >= TINY_DIGIT and self.side >= BOX:
            return None
        top, bottom, left, right = self.box
        height, width = self.picture_shape
        advice = ("crop the picture closer to the digit" if self.fraction < TINY_DIGIT else
                  f"under {BOX} pixels it is upscaled; use a sharper or larger picture")
        return (f"the digit found is tiny: {right - left} x {bottom - top} pixels of a "
                f"{width} x {height} picture; {advice}")


def find_ink(light_ink: np.ndarray) -> Ink:
    """Find the digit in a greyscale picture that has light ink on a darker background.

    Args:
        light_ink: 2-D float array in [0, 1] (invert a photo of dark ink on paper first).

    Returns:
        An Ink; for a picture with no ink at all, `image` is all zeros and `box` the whole
        picture.
    """
    pixels = np.asarray(light_ink, dtype=np.float64)
    height, width = pixels.shape
    ink = np.clip(pixels - paper_surface(pixels), 0.0, None)
    if float(ink.max()) <= 0.0:
        return Ink(ink, (0, height, 0, width), (height, width))
    labels, sizes, boxes = label_components(ink > otsu_threshold(ink))
    kept = _digit_pieces(sizes, boxes)
    top = min(int(boxes[k][0]) for k in kept)
    bottom = max(int(boxes[k][1]) for k in kept)
    left = min(int(boxes[k][2]) for k in kept)
    right = max(int(boxes[k][3]) for k in kept)
    side = max(bottom - top, right - left)
    rim = max(1, round(RIM * side))
    pad = rim + max(1, round(MARGIN * side))
    y0, y1 = max(0, top - pad), min(height, bottom + pad)
    x0, x1 = max(0, left - pad), min(width, right + pad)
    mask = np.isin(labels[y0:y1, x0:x1], np.asarray(kept) + 1)
    cut = ink[y0:y1, x0:x1] * _grow(mask, rim)
    return Ink(cut, (top, bottom, left, right), (height, width))


def paper_surface(pixels: np.ndarray) -> np.ndarray:
    """The background as a quadratic surface fitted to the paper, robust to the ink.

    The first fit uses the darker half of the samples (the ink is light and covers well
    under half a picture); each next fit keeps the samples whose residual is within
    PAPER_SIGMAS robust sigmas (or PAPER_FLOOR) of the surface.
    """
    height, width = pixels.shape
    step_y, step_x = max(1, height // FIT_SAMPLES), max(1, width // FIT_SAMPLES)
    ys, xs = np.mgrid[0:height:step_y, 0:width:step_x]
    samples = pixels[ys, xs].ravel()
    design = _quadratic_terms(ys.ravel() / height, xs.ravel() / width)
    paper = samples <= np.median(samples)
    for _ in range(FIT_ROUNDS):
        coefficients = np.linalg.lstsq(design[paper], samples[paper], rcond=None)[0]
        residual = samples - design @ coefficients
        sigma = 1.4826 * float(np.median(np.abs(residual[paper])))
        paper = residual <= max(PAPER_SIGMAS * sigma, PAPER_FLOOR)
    c0, cy, cx, cyy, cxy, cxx = coefficients
    y = (np.arange(height) / height)[:, None]  # broadcast, not a (height * width, 6) matrix
    x = (np.arange(width) / width)[None, :]
    return c0 + cy * y + cx * x + cyy * y * y + cxy * x * y + cxx * x * x


def _quadratic_terms(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(y), y, x, y * y, x * y, x * x], axis=1)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the level that maximises the between-class variance of `values`."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, float(values.max())))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = mass_low / weight_low
        mean_high = (mass_low[-1] - mass_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.nanargmax(between[:-1])) + 1])


def label_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of a boolean image, by runs of set pixels per row.

    Each row's runs are joined (union-find) to the runs they touch in the row above, so the
    Python loop is over runs, a few thousand even for a noisy 1024-pixel picture, not pixels.

    Returns:
        (labels, sizes, boxes): int32 labels (0 = unset, 1..n), the pixel count of each
        component, and its (top, bottom, left, right) box, end-exclusive, as an (n, 4) array.
    """
    padded = np.pad(mask.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    start_rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # same row-major order as the starts
    parent = list(range(len(starts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_first = np.searchsorted(start_rows, np.arange(mask.shape[0] + 1))
    for row in range(1, mask.shape[0]):
        a0, a1, r0, r1 = row_first[row - 1], row_first[row], row_first[row], row_first[row + 1]
        # 8-connected: run i touches run j above when starts[j] <= ends[i] and
        # starts[i] <= ends[j] (one pixel of slack: ends are exclusive). Runs in a row are
        # sorted and disjoint, so the runs above that run i touches are a contiguous range.
        first = a0 + np.searchsorted(ends[a0:a1], starts[r0:r1], side="left")
        last = a0 + np.searchsorted(starts[a0:a1], ends[r0:r1], side="right")
        for i, j0, j1 in zip(range(r0, r1), first.tolist(), last.tolist(), strict=True):
            for j in range(j0, j1):
                parent[root(i)] = root(j)
    roots = np.array([root(i) for i in range(len(starts))], dtype=np.int64)
    _, component = np.unique(roots, return_inverse=True)
    labels = np.zeros(mask.shape, np.int32)
    for row, begin, end, label in zip(start_rows, starts, ends, component, strict=True):
        labels[row, begin:end] = label + 1
    count = int(component.max()) + 1 if component.size else 0
    sizes = np.bincount(component, weights=ends - starts, minlength=count).astype(np.int64)
    boxes = np.zeros((count, 4), np.int64)
    boxes[:, 0], boxes[:, 2] = mask.shape
    np.minimum.at(boxes[:, 0], component, start_rows)
    np.maximum.at(boxes[:, 1], component, start_rows + 1)
    np.minimum.at(boxes[:, 2], component, starts)
    np.maximum.at(boxes[:, 3], component, ends)
    return labels, sizes, boxes


def _digit_pieces(sizes: np.ndarray, boxes: np.ndarray) -> list[int]:
    """The largest component and the big-enough components near it."""
    largest = int(np.argmax(sizes))
    top, bottom, left, right = boxes[largest]
    reach = PART_REACH * max(bottom - top, right - left)
    near = ((boxes[:, 0] < bottom + reach) & (boxes[:, 1] > top - reach)
            & (boxes[:, 2] < right + reach) & (boxes[:, 3] > left - reach))
    return [int(k) for k in np.flatnonzero(near & (sizes >= PART_AREA * sizes[largest]))]


def _grow(mask: np.ndarray, steps: int) -> np.ndarray:
    """Dilate a boolean mask by `steps` pixels (a square, 8-connected)."""
    grown = mask.copy()
    for _ in range(steps):
        padded = np.pad(grown, 1)
        grown = np.zeros_like(mask)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                grown |= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]]
    return grown
