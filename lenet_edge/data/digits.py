"""scikit-learn's 8x8 handwritten digits, framed into 28x28 the way MNIST was made.

1,797 digits from 43 writers, each 8x8 pixels counting ink in 4x4 blocks (0..16). Each is
scaled to [0, 1] and framed by `framing.to_mnist_frame` (fitted into a 20x20 box, centred by
mass in 28x28), then split 80/20 per class with a fixed seed that no training option
touches, so the test set is the same in every run. Nothing is cached on disk.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from lenet_edge.data.framing import to_mnist_frame
from lenet_edge.errors import require

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits_split() -> tuple[dict[str, np.ndarray], str]:
    """The framed digits as {"x_train", "y_train", "x_test", "y_test"} and a source line."""
    pixels, labels = _read_digits()
    images = np.stack([to_mnist_frame(image / 16.0) for image in pixels])
    test = stratified_test_indices(labels, TEST_FRACTION, SPLIT_SEED)
    train = np.setdiff1d(np.arange(labels.size), test)
    arrays = {"x_train": images[train], "y_train": labels[train],
              "x_test": images[test], "y_test": labels[test]}
    source = (f"scikit-learn digits ({labels.size} 8x8 images framed into 28x28),"
              f" stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} split, seed {SPLIT_SEED}")
    return arrays, source


def stratified_test_indices(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a test set holding `fraction` of each class, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    picks = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        picks.append(members[: round(fraction * members.size)])
    return np.sort(np.concatenate(picks))


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as float (N, 8, 8) in 0..16 and uint8 labels.

    Reads the CSV scikit-learn ships (the file its `load_digits` parses) without importing
    scikit-learn, which takes about 2 s here as it pulls in scipy; falls back to
    `load_digits` should the file ever move.
    """
    spec = importlib.util.find_spec("sklearn")
    for location in (spec.submodule_search_locations or []) if spec else []:
        table_file = Path(location) / "datasets" / "data" / "digits.csv.gz"
        if table_file.is_file():
            table = np.loadtxt(table_file, delimiter=",", ndmin=2)
            if table.shape[1] == 65 and table.shape[0] > 0:  # 64 pixels, then the label
                return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.uint8)
    bunch = require("sklearn.datasets", "toolchain", "the 'digits' dataset").load_digits()
    return bunch.images, bunch.target.astype(np.uint8)
